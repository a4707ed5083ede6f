"""Shared fixtures: the real public logs beside the project (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_file(*parts: str) -> Path:
    """Path of a file under ``../shared/data``; skips the test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real log {path} not available (../shared/data is not beside this checkout)")
    return path


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside this checkout")
    return SHARED_DATA


def minutes_frame(rows, **extra):
    """A DataFrame from ``(user, minutes after 2024-01-01 00:00 UTC, event)`` tuples plus extra columns."""
    import pandas as pd

    users, minutes, events = zip(*rows)
    start = pd.Timestamp("2024-01-01 00:00", tz="UTC")
    frame = pd.DataFrame({"user": users, "time": [start + pd.Timedelta(minutes=m) for m in minutes], "event": events})
    for name, values in extra.items():
        frame[name] = values
    return frame


def minutes_log(rows, **extra):
    """:func:`minutes_frame` as an EventLog (duplicates kept)."""
    import journeylens as jl

    return jl.from_pandas(minutes_frame(rows, **extra), duplicates="keep")
