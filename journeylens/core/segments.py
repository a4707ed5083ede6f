"""Segments: one label per user, for every ``by=`` that compares groups of customers.

A segment comes from a column of the log (the user's first non-missing value,
so a persona or cohort column works, and a per-event column such as channel
means "first channel") or from a mapping ``user_id → label`` such as the
personas a :class:`~journeylens.PersonaModel` predicted. The rule lives in
:meth:`JourneyLog.segments <journeylens.core.protocol.JourneyLog.segments>`;
:func:`add_segment` makes labels a column of the log, on any engine.
"""

from __future__ import annotations

from typing import Mapping

import pandas as pd

from .protocol import UNASSIGNED, By, JourneyLog

__all__ = ["UNASSIGNED", "By", "add_segment"]


def add_segment(log: JourneyLog, labels: pd.Series | Mapping, name: str = "segment") -> JourneyLog:
    """A new log with column ``name`` holding each event's user label (``(none)`` when unlabelled).

    Makes a per-user labelling (personas, test groups) a column that every
    ``by=`` accepts; it stays on the log's engine.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "b"], "time": ["2024-01-01"] * 2, "event": ["x", "y"]}))
    >>> jl.add_segment(log, {"a": "p1"}, "persona").to_pandas()["persona"].tolist()
    ['p1', '(none)']
    """
    codes, uniques, _ = log.segments(pd.Series(labels) if isinstance(labels, Mapping) else labels)
    return log.with_codes(name, codes, list(uniques), of="user")
