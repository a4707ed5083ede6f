"""Per-customer journey export: one row per customer with the path, the outcome, the persona, first and last touch.

``converted`` and ``lost`` follow the first terminal event: a customer converted
when their first ``goal`` or ``lost`` event is a goal event, was lost when it is a
lost event (neither without one). ``days_to_convert``: from the first touch to
the first goal event, for those who converted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..core.params import event_codes, event_names, positive_int
from ..core.protocol import By, JourneyLog
from ..engine.users import first_codes, user_summary
from ..errors import ParameterError

_DAY_US = 86_400e6


@dataclass(frozen=True)
class JourneyExport:
    """``table``: ``user_id, path, events, converted, lost, [<segment>,] first_touch, last_touch, days_to_convert``."""

    table: pd.DataFrame
    segment: str | None = None

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def write(self, path: str | Path, format: str = "csv") -> Path:
        """Write the table as formula-safe CSV or as Parquet (``format="parquet"``); returns the path."""
        from ..io.writers import write_table

        if format not in ("csv", "parquet"):
            raise ParameterError(f"format must be 'csv' or 'parquet', not {format!r}", "format")
        return write_table(self.table, path, fmt=format)

    def plot(self):
        """Histogram of days to convert (converted customers), one colour per segment."""
        import plotly.express as px

        from ..viz.text import plain

        t = self.table[self.table["converted"]]
        colour = None
        if self.segment is not None:
            t = t.assign(**{self.segment: t[self.segment].map(plain)})
            colour = self.segment
        fig = px.histogram(t, x="days_to_convert", color=colour, nbins=40,
                           title=f"Days from first touch to conversion ({len(t):,} customers)")
        fig.update_layout(xaxis_title="days to convert", yaxis_title="customers", bargap=0.05)
        return fig

    def _repr_html_(self) -> str:
        return (f"<div><strong>Journeys of {len(self.table):,} customers</strong>"
                f"{self.table.head(20).to_html(index=False, escape=True)}</div>")


def journey_export(log: JourneyLog, *, goal: str | Sequence[str] | None = None,
                   lost: str | Sequence[str] | None = None, by: By = None, depth: int | None = None) -> JourneyExport:
    """One row per customer: their path (the first ``depth`` events, all when None, as ``a > b``; ``> …`` marks
    a path cut at ``depth``), the number of events, ``converted``/``lost`` (module docstring), their segment (``by``, e.g. personas), first and
    last touch (UTC) and days to convert. Runs on every engine (one row per customer comes back).

    >>> import pandas as pd, journeylens as jl
    >>> from journeylens.app.export import journey_export
    >>> log = jl.from_pandas(pd.DataFrame({"user": list("aabbc"), "time": pd.date_range("2024-01-01", periods=5),
    ...     "event": ["ad", "buy", "ad", "quit", "ad"]}))
    >>> journey_export(log, goal="buy", lost="quit").to_frame()[["user_id", "path", "converted", "lost",
    ...                                                            "days_to_convert"]].values.tolist()
    [['a', 'ad > buy', True, False, 1.0], ['b', 'ad > quit', False, True, nan], ['c', 'ad', False, False, nan]]
    """
    goals = event_names(goal, log.event_names, "goal", required=False)
    losts = event_names(lost, log.event_names, "lost", required=False)
    if set(goals) & set(losts):
        raise ParameterError("an event cannot be both a goal and lost", "lost")
    depth = positive_int(depth, "depth", allow_none=True)
    ev = log.journeys(window=False)
    s = user_summary(ev, event_codes(goals, log.event_names), event_codes(losts, log.event_names))
    users = s["u"].astype(np.int64)
    order = np.argsort(users, kind="stable")
    s = {k: np.asarray(v)[order] for k, v in s.items()}
    users = users[order]
    goal_i, lost_i = (np.asarray(s[c], dtype=np.float64) for c in ("goal_i", "lost_i"))
    converted = np.isfinite(goal_i) & ~(lost_i < goal_i)
    was_lost = np.isfinite(lost_i) & ~(goal_i < lost_i)
    owners, offsets, codes = first_codes(ev, depth)
    # the paths joined in Arrow, one list of event names per customer, not a Python join per customer
    steps = pa.array(np.asarray(log.event_names.astype(str), dtype=object), type=pa.string()).take(pa.array(codes))
    lists = pa.LargeListArray.from_arrays(pa.array(np.asarray(offsets, dtype=np.int64)), steps)
    paths = pd.Series(pc.binary_join(lists, " > ").to_numpy(zero_copy_only=False), index=owners,
                      dtype=object).reindex(users)
    if depth is not None:
        paths = paths.where(np.asarray(s["events"], dtype=np.int64) <= depth, paths + " > …")
    first_t, last_t = (np.asarray(s[c], dtype=np.int64) for c in ("first_t", "last_t"))
    goal_t = np.asarray(s["goal_t"], dtype=np.float64)
    table = pd.DataFrame({
        "user_id": np.asarray(log.users.astype(str), dtype=object)[users],
        "path": paths.to_numpy(dtype=object),
        "events": np.asarray(s["events"], dtype=np.int64),
        "converted": converted,
        "lost": was_lost,
    })
    segment = None
    if by is not None:
        seg_of_user, labels, segment = log.segments(by)
        if segment in table.columns:
            raise ParameterError(f"the segment name {segment!r} is a column of the export: rename the labels", "by")
        table[segment] = np.asarray(labels, dtype=object)[seg_of_user[users]]
    table["first_touch"] = pd.to_datetime(first_t, unit="us", utc=True)
    table["last_touch"] = pd.to_datetime(last_t, unit="us", utc=True)
    table["days_to_convert"] = np.where(converted, (goal_t - first_t) / _DAY_US, np.nan)
    return JourneyExport(table=table, segment=segment)
