"""A newcomer's install: the sdist and the wheel built from it, installed with no extras into a fresh venv
outside the checkout, run the first hour (load_sample → sessionize → dfg → report, and the console script)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests import sample_reference as ref

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

FIRST_HOUR = """
import json, sys
import journeylens as jl
log = jl.datasets.load_sample()
s = jl.sessionize(log, gap="30min")
dfg = jl.dfg(log).to_frame()
html = jl.report(log, "report.html", journey_map=jl.datasets.sample_map_path()).read_text(encoding="utf-8")
extras = []
for name in ("pm4py", "pyspark"):
    try:
        __import__(name)
        extras.append(name)
    except ImportError:
        pass
print(json.dumps({
    "module": jl.__file__, "sample": str(jl.datasets.sample_path()), "summary": log.summary(),
    "sessions": int(s.to_pandas()["session_id"].nunique()),
    "dfg": [[a, b, int(c)] for a, b, c in dfg[["source", "target", "count"]].itertuples(index=False)],
    "report": len(html), "extras": extras,
}, default=str))
"""


def _ok(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-4000:])
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    pytest.importorskip("build", reason="building the sdist and the wheel needs the dev extra's 'build'")
    out = tmp_path_factory.mktemp("dist")
    # no --sdist/--wheel: the sdist is built, then the wheel from the unpacked sdist, as pip would
    _ok(subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], capture_output=True,
                       text=True, timeout=600))
    return out


def test_sdist_holds_what_the_tests_need(dist):
    (sdist,) = dist.glob("journeylens-*.tar.gz")
    with tarfile.open(sdist) as tar:
        members = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    tracked = subprocess.run(["git", "ls-files", "journeylens", "tests", "data/samples", "notebooks", ".ci"],
                             cwd=ROOT, capture_output=True, text=True)
    wanted = set(tracked.stdout.split()) if tracked.returncode == 0 else set()
    wanted |= {"pyproject.toml", "README.md", "LICENSE", "Makefile", "data/samples/retail_journeys.csv",
               "data/samples/retail_map.yaml", "tests/conftest.py", "tests/sample_reference.py"}
    assert wanted - members == set()


def test_wheel_carries_the_sample(dist):
    (wheel,) = dist.glob("journeylens-*.whl")
    with zipfile.ZipFile(wheel) as whl:
        for name in ("retail_journeys.csv", "retail_map.yaml"):
            assert whl.read(f"journeylens/_samples/{name}") == (ROOT / "data" / "samples" / name).read_bytes()
        assert not any(name.startswith(("tests/", "data/")) for name in whl.namelist())


def test_first_hour_from_the_installed_wheel(dist, tmp_path):
    (wheel,) = dist.glob("journeylens-*.whl")
    venv = tmp_path / "venv"
    _ok(subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True))
    python, script = venv / "bin" / "python", venv / "bin" / "journeylens"
    _ok(subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], capture_output=True, text=True,
                       timeout=900))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    work = tmp_path / "work"  # outside the checkout: nothing of it can be imported or found
    work.mkdir()
    done = _ok(subprocess.run([str(python), "-c", FIRST_HOUR], cwd=work, env=env, capture_output=True, text=True,
                              timeout=600))
    got = json.loads(done.stdout)
    assert Path(got["module"]).is_relative_to(venv) and Path(got["sample"]).is_relative_to(venv)
    assert got["extras"] == []
    want = ref.counts()
    assert {k: got["summary"][k] for k in ("rows_read", "rows_accepted", "rows_quarantined", "users")} == {
        k: want[k] for k in ("rows_read", "rows_accepted", "rows_quarantined", "users")}
    assert got["sessions"] == want["sessions"]
    assert {(a, b): c for a, b, c in got["dfg"]} == ref.dfg()
    assert len((work / "report.html").read_text(encoding="utf-8")) == got["report"] > 100_000

    # the console script, as the README's quickstart runs it
    version = _ok(subprocess.run([str(script), "--version"], cwd=work, env=env, capture_output=True, text=True))
    assert version.stdout.startswith("journeylens ")
    sample = Path(got["sample"])
    mapping = ["--user", "Customer Ref", "--time", "When", "--event", "Touchpoint", "--channel", "Medium"]
    _ok(subprocess.run([str(script), "analyze", str(sample), *mapping, "--map", str(sample.with_name("retail_map.yaml")),
                        "--out", "out", "--quiet"], cwd=work, env=env, capture_output=True, text=True, timeout=600))
    summary = json.loads((work / "out" / "summary.json").read_text())
    assert summary["reconciled"] and summary["sessions"] == want["sessions"]
