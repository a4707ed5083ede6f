"""Package hygiene: a quiet, light import and the declared licence/extras."""

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
    assert "make test" in ci
    readme = (ROOT / "README.md").read_text()
    quick = readme.index("make demo")
    assert quick < readme.index("make test") < quick + 400
