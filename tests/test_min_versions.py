"""The minimum-versions lane pins exactly the floors that pyproject.toml declares, and runs on them."""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "ci" / "constraints-min.txt"


def pins() -> dict[str, Version]:
    """``name → version`` of ci/constraints-min.txt, where every line is ``name==version``."""
    lines = [line.split("#")[0].strip() for line in CONSTRAINTS.read_text().splitlines()]
    reqs = [Requirement(line) for line in lines if line]
    assert all([spec.operator for spec in r.specifier] == ["=="] for r in reqs)
    return {r.name.lower(): Version(next(iter(r.specifier)).version) for r in reqs}


def test_every_dependency_has_a_floor_and_the_lane_pins_exactly_it():
    tomllib = pytest.importorskip("tomllib", reason="Python 3.10 has no tomllib; the main suite checks this")
    floors = {}
    for dep in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        req = Requirement(dep)
        assert [spec.operator for spec in req.specifier] == [">="], req  # one bound: the floor
        floors[req.name.lower()] = Version(next(iter(req.specifier)).version)
    assert pins() == floors


@pytest.mark.skipif(not os.environ.get("JOURNEYLENS_MIN_LANE"), reason="only in the lane (make test-min)")
def test_the_lane_runs_on_the_floors():
    assert {name: Version(metadata.version(name)) for name in pins()} == pins()
