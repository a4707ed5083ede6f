"""Package hygiene: a quiet, light import, the declared licence/extras/version, the sample's one home."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_import_is_silent_and_light():
    code = (
        "import sys, journeylens as jl; "
        "heavy = [m for m in ('pm4py', 'pyspark', 'matplotlib', 'plotly') if m in sys.modules]; "
        "print('HEAVY', heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr == ""
    assert done.stdout.strip() == "HEAVY []"


def test_pyproject_declares_licence_and_extras():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["license"] == "Apache-2.0"
    assert meta["requires-python"] == ">=3.10"
    extras = meta["optional-dependencies"]
    assert {"pm4py", "spark", "all", "dev"} <= set(extras)
    assert not any(dep.startswith("pm4py") for dep in meta["dependencies"])
    assert not any(dep.startswith("pyspark") for dep in meta["dependencies"])


def test_required_top_level_layout():
    for name in ("journeylens", "notebooks", "data/samples", "tests", "pyproject.toml", "README.md", "Makefile"):
        assert (ROOT / name).exists(), name
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test\n" in ci and "make test-min\n" in ci  # the suite, then the minimum-versions lane
    readme = (ROOT / "README.md").read_text()
    quick = readme.index("make demo")
    assert quick < readme.index("make test") < quick + 400


def test_version_is_written_once():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["hatch"]["version"]["path"] == "journeylens/__init__.py"


def test_sample_has_one_home_and_the_wheel_maps_it_into_the_package():
    import journeylens as jl

    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["sources"] == {"data/samples": "journeylens/_samples"} and "data/samples" in wheel["only-include"]
    assert not (ROOT / "journeylens" / "_samples").exists()  # no second copy in the checkout
    assert jl.datasets.sample_path() == ROOT / "data" / "samples" / "retail_journeys.csv"


def test_dev_extra_can_build_the_wheel_test_needs():
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    assert any(dep.startswith("build") for dep in dev)  # tests/test_wheel.py skips without it
