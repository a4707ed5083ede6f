"""Cohort retention: of the customers first seen in a week (or month), how many come back k periods later.

A customer's *cohort* is the calendar period (UTC; weeks start on Monday) of
their first event; they are *active* in a period when they have at least one
event in it. The cell (cohort, k) is the share of the cohort active k periods
after their first, so k = 0 is always 100 %. A cell later than the log's last
period cannot be observed yet: it is missing (NaN), not zero. The last period
may be observed only in part.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.params import choice
from ..core.protocol import JourneyLog
from ..engine.retention import DAY_US, retention_counts
from ..engine.sql import ship

PERIODS = ("week", "month")


@dataclass(frozen=True)
class Retention:
    """``matrix``: cohorts (rows, by the start of their period) × periods since the first (0, 1, …), shares
    of the cohort active (NaN: not observable yet); ``users``: each cohort's size; ``counts``:
    ``cohort, since, users`` (the active users behind every share)."""

    matrix: pd.DataFrame
    users: pd.Series
    counts: pd.DataFrame
    period: str

    def to_frame(self) -> pd.DataFrame:
        """One row per cohort: ``cohort``, ``users`` (its size), then one column per period since (0, 1, …)."""
        out = self.matrix.copy()
        out.insert(0, "users", self.users.to_numpy())
        return out.reset_index()

    def plot(self):
        """A heatmap of the shares, cohorts down, periods since across."""
        from ..viz.heatmap import matrix_figure

        rows = [f"{c} ({n:,})" for c, n in zip(self.matrix.index, self.users)]
        return matrix_figure(self.matrix.set_axis(rows, axis=0), title=f"Retention by first-touch {self.period}: "
                             f"share of each cohort active again", x_title=f"{self.period}s since the first",
                             y_title="cohort (customers)")

    def _repr_html_(self) -> str:
        return (f"<div><strong>Retention by {html.escape(self.period)}</strong>"
                f"{self.to_frame().to_html(index=False, escape=True)}</div>")


def _periods(lo_us: int, hi_us: int, period: str) -> tuple[int, np.ndarray, np.ndarray, list[str]]:
    """The anchor (µs, a UTC midnight), each day's period index and the label of every period."""
    first_day = np.datetime64(lo_us // DAY_US, "D")
    if period == "week":  # back to Monday (1970-01-01 was a Thursday)
        first_day = first_day - np.timedelta64((first_day.astype(np.int64) + 3) % 7, "D")
    last_day = np.datetime64(hi_us // DAY_US, "D")
    days = np.arange(first_day, last_day + np.timedelta64(1, "D"), dtype="datetime64[D]")
    if period == "week":
        k = np.arange(len(days)) // 7
        labels = [str(d) for d in days[::7]]
    else:
        months = days.astype("datetime64[M]")
        k = (months - months[0]).astype(np.int64)
        labels = [str(m) for m in np.arange(months[0], months[-1] + np.timedelta64(1, "M"), dtype="datetime64[M]")]
    return int(first_day.astype(np.int64)) * DAY_US, k.astype(np.int64), np.arange(len(days), dtype=np.int64), labels


def retention(log: JourneyLog, *, period: str = "week") -> Retention:
    """The cohort retention matrix by first-touch ``period`` (``"week"`` or ``"month"``; see the module docstring).

    Counted in the engine (each event's period through a small day → period table), on every engine.

    >>> import pandas as pd, journeylens as jl
    >>> from journeylens.outcomes.retention import retention
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "b", "b", "c"],
    ...     "time": ["2024-01-01", "2024-01-09", "2024-01-02", "2024-01-03", "2024-01-10"], "event": ["x"] * 5}))
    >>> retention(log).to_frame()
           cohort  users    0    1
    0  2024-01-01      2  1.0  0.5
    1  2024-01-08      1  1.0  NaN
    """
    period = choice(period, "period", PERIODS)
    lo, hi = log.time_range()
    anchor, k, day, labels = _periods(lo, hi, period)
    ev = log.journeys(window=False)
    found = retention_counts(ev, ship({"day": day, "k": k}, ev), anchor)
    counts = pd.DataFrame({"cohort": found["cohort"].astype(np.int64), "since": found["since"].astype(np.int64),
                           "users": found["users"].astype(np.int64)}).sort_values(["cohort", "since"])
    last = len(labels) - 1
    grid = counts.pivot(index="cohort", columns="since", values="users")
    cohorts = grid.index.to_numpy(dtype=np.int64)
    grid = grid.reindex(columns=range(0, last - int(cohorts.min(initial=last)) + 1))
    size = grid[0].to_numpy(dtype=np.float64) if len(grid) else np.zeros(0)
    share = grid.to_numpy(dtype=np.float64) / size[:, None]
    observable = cohorts[:, None] + np.arange(grid.shape[1])[None, :] <= last
    share = np.where(observable, np.nan_to_num(share, nan=0.0), np.nan)
    names = [labels[c] for c in cohorts]
    matrix = pd.DataFrame(share, index=pd.Index(names, name="cohort"), columns=list(grid.columns))
    counts["cohort"] = [labels[c] for c in counts["cohort"]]
    return Retention(matrix=matrix, users=pd.Series(size.astype(np.int64), index=matrix.index, name="users"),
                     counts=counts.reset_index(drop=True), period=period)
