"""Where journeys are abandoned: the last touchpoint of every journey that dropped off.

Each journey is converted, lost, dropped off or censored (the rules are in
:mod:`journeylens.outcomes.common`). Only dropped-off journeys have a drop-off
point, so a censored customer (maybe still on their way) and a lost one (a
declined application is a decision, not an abandonment) never count, and a
goal or lost event is never a drop-off point.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Literal, Sequence

import numpy as np
import pandas as pd

from ..core.protocol import By, JourneyLog
from ..engine.outcomes import (
    CENSORED,
    CONVERTED,
    DROPPED,
    LOST,
    dropoff_points,
    outcome_counts,
)
from .common import OutcomeJourneys, decode, outcome_journeys


@dataclass(frozen=True)
class DropOffs:
    """``table``: the last touchpoint of dropped-off journeys, ranked per segment; ``summary``: how
    the journeys of each segment ended."""

    table: pd.DataFrame
    summary: pd.DataFrame
    segment: str | None
    per: str

    def to_frame(self) -> pd.DataFrame:
        """``[segment,] event, [stage,] <users|sessions>, share_of_dropoffs, rank``."""
        return self.table.copy()

    def plot(self, top: int = 10):
        """Bars of the ``top`` drop-off points (one facet per segment)."""
        import plotly.express as px

        unit = "users" if self.per == "user" else "sessions"
        from ..viz.text import plain

        t = self.table[self.table["rank"] <= top].copy()
        t["event"] = [plain(e) for e in t["event"]]
        if self.segment:
            t[self.segment] = [plain(s) for s in t[self.segment]]
        fig = px.bar(t, x="share_of_dropoffs", y="event", orientation="h", facet_col=self.segment,
                     hover_data=[unit], title="Where journeys are abandoned (last event before leaving)")
        fig.update_yaxes(autorange="reversed")
        fig.update_xaxes(tickformat=".0%")
        return fig

    def _repr_html_(self) -> str:
        return (f"<div><strong>Drop-off points</strong> (per {html.escape(self.per)})"
                f"{self.summary.to_html(index=False, escape=True)}"
                f"{self.table.head(20).to_html(index=False, escape=True)}</div>")


def dropoffs(
    log: JourneyLog,
    goal: str | Sequence[str],
    *,
    lost: str | Sequence[str] | None = None,
    per: Literal["user", "session"] = "user",
    by: By = None,
    observation_end: Any = None,
    inactivity: Any = "7d",
) -> DropOffs:
    """The last touchpoints of journeys that ended without reaching ``goal`` (nor a ``lost`` event).

    ``goal``/``lost``: event names ending a journey in success/failure (see
    :mod:`journeylens.outcomes.common` for how every journey is classified; the
    first terminal event wins). ``per``: users or sessions; ``by``: a segment of
    the user; ``observation_end``: a point in time (default: the last event);
    ``inactivity``: how long a journey must be quiet before it counts as dropped.

    ``to_frame()``: per segment, each drop-off point (the last event, and its
    stage when the log has stages), the journeys that left there and their
    share of the segment's drop-offs, ranked. ``summary``: per segment, the
    journeys (``users`` or ``sessions``), how many ``converted``, were ``lost``,
    ``dropped_off`` or are ``censored``, and ``conversion_rate``, ``loss_rate``,
    ``dropoff_rate`` over all of them. Runs on every engine.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({
    ...     "user": ["a", "a", "b", "b", "c", "d", "d"],
    ...     "time": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-03", "2024-01-30",
    ...                             "2024-01-01", "2024-01-02"]),
    ...     "event": ["home", "cart", "home", "buy", "home", "home", "declined"]}))
    >>> d = jl.dropoffs(log, "buy", lost="declined", inactivity="7d")
    >>> d.to_frame()[["event", "users"]].values.tolist()
    [['cart', 1]]
    >>> d.summary[["users", "converted", "lost", "dropped_off", "censored"]].values.tolist()
    [[4, 1, 1, 1, 1]]
    """
    j = outcome_journeys(log, goal, lost, per=per, by=by, observation_end=observation_end, inactivity=inactivity,
                         stage=True)
    points = dropoff_points(j.jo)
    table = pd.DataFrame({"segment": points["s"].astype(np.int64),
                          "event": decode(log.event_names, points["e"]),
                          "stage": points["stage"].astype(np.int64),
                          j.unit: points["n"].astype(np.int64)})
    table["share_of_dropoffs"] = table[j.unit] / table.groupby("segment")[j.unit].transform("sum")
    table = table.sort_values(["segment", j.unit, "event", "stage"], ascending=[True, False, True, True],
                              kind="stable").reset_index(drop=True)
    table["rank"] = table.groupby("segment").cumcount() + 1
    if j.stage:
        table["stage"] = decode(log.names("stage"), table["stage"].to_numpy())
    else:
        table = table.drop(columns="stage")
    return DropOffs(table=j.name_segments(table), summary=j.name_segments(summary(j)), segment=j.segment,
                    per=j.per)


def summary(j: OutcomeJourneys) -> pd.DataFrame:
    """Per segment code: journeys, how they ended, and the rates over all of them."""
    counts = outcome_counts(j.jo)
    n = len(j.labels)
    grid = np.zeros((n, 4), dtype=np.int64)
    grid[counts["s"].astype(np.int64), counts["outcome"].astype(np.int64)] = counts["n"].astype(np.int64)
    total = grid.sum(axis=1)
    out = pd.DataFrame({"segment": np.arange(n), j.unit: total, "converted": grid[:, CONVERTED],
                        "lost": grid[:, LOST], "dropped_off": grid[:, DROPPED], "censored": grid[:, CENSORED]})
    with np.errstate(divide="ignore", invalid="ignore"):
        for rate, count in (("conversion_rate", "converted"), ("loss_rate", "lost"), ("dropoff_rate", "dropped_off")):
            out[rate] = np.where(total > 0, out[count] / np.maximum(total, 1), np.nan)
    return out
