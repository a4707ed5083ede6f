"""Funnels: how many journeys reach each step, in order and within time windows.

A step is an event name or a group of names (any of them counts). In a
``closed`` funnel a journey reaches step *k* when an occurrence of step *k*
follows (in log order: time, then source order) a reachable occurrence of step
*k-1*, at most ``within`` later. Every reachable occurrence is kept, not only
the first, so a journey that starts the funnel twice is credited with its best
attempt, as a window demands. An ``open`` funnel counts journeys that ever did
each step, whatever the order.

Timing: each journey's first arrival at step *k* (its first reachable
occurrence, in log order) is timed twice. ``median_s_from_latest_previous``
measures from the latest reachable occurrence of step *k-1* before it (the
one it came through: "minutes after the last product view");
``median_s_from_first_previous`` from the journey's first reachable occurrence
of step *k-1* ("weeks after the first product view"), whatever ``within``.

With ``lost=`` (events that end a journey in failure), a journey ends at its
first lost event: later events do not count for any step, and ``lost``
counts, per step, the journeys that reached it and were then lost.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Literal, Sequence, Union

import numpy as np
import pandas as pd

from ..core.params import choice, event_names, optional_micros
from ..core.protocol import By, JourneyLog, check_per
from ..engine.funnel import (
    cut_at_first,
    first_arrivals,
    group_owners,
    groups,
    reachable_step,
    step_rows,
)
from ..errors import ParameterError

Step = Union[str, Sequence[str]]


@dataclass(frozen=True)
class Funnel:
    """Per step (and segment): journeys reaching it, conversion rates, median time from the previous step."""

    table: pd.DataFrame
    steps: tuple[tuple[str, ...], ...]
    mode: str
    per: str
    segment: str | None

    def to_frame(self) -> pd.DataFrame:
        """``[segment,] step_index, step, <users|sessions>, [users,] [lost,] conversion_from_start,
        conversion_from_previous, median_s_from_latest_previous, median_s_from_first_previous``."""
        return self.table.copy()

    def plot(self):
        """A plotly funnel chart, one trace per segment."""
        import plotly.graph_objects as go

        from ..viz.text import plain

        unit = "users" if self.per == "user" else "sessions"
        fig = go.Figure()
        groups = self.table.groupby(self.segment, sort=True) if self.segment else [("all", self.table)]
        for name, t in groups:
            fig.add_trace(go.Funnel(name=plain(name), y=[plain(s) for s in t["step"]], x=t[unit],
                                    textinfo="value+percent initial"))
        fig.update_layout(title=f"{self.mode.capitalize()} funnel ({unit})")
        return fig

    def _repr_html_(self) -> str:
        head = f"{self.mode} funnel per {self.per}" + (f", by {self.segment}" if self.segment else "")
        return f"<div><strong>{html.escape(head)}</strong>{self.table.to_html(index=False, escape=True)}</div>"


def _step_codes(log: JourneyLog, steps: Sequence[Step]) -> list[tuple[tuple[str, ...], np.ndarray]]:
    if isinstance(steps, str) or not isinstance(steps, Sequence) or len(steps) == 0:
        raise ParameterError("steps must be a non-empty list of event names (or lists of names)", "steps")
    out = []
    for step in steps:
        names = event_names(step, log.event_names, "steps")
        out.append((names, log.event_codes_of(names)))
    return out


def funnel(
    log: JourneyLog,
    steps: Sequence[Step],
    *,
    within: str | pd.Timedelta | None = None,
    mode: Literal["closed", "open"] = "closed",
    per: Literal["user", "session"] = "user",
    by: By = None,
    lost: str | Sequence[str] | None = None,
) -> Funnel:
    """Count the journeys reaching each step of a funnel.

    ``steps``: event names; a list inside the list is a step any of whose events
    counts (``["catalog", ["product1", "product2"], "cart"]``). ``within``: the
    longest time allowed from one step to the next (closed mode). ``per="session"``
    counts sessions (the log needs ``session_id``) and also reports distinct users.
    ``by``: a segment column or ``user_id → label`` mapping; one funnel per segment.
    ``lost``: events ending a journey in failure (see the module docstring, as
    for the two timings). Runs on every engine.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({
    ...     "user": ["a", "a", "a", "b", "b", "c"],
    ...     "time": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:05", "2024-01-01 10:30",
    ...                             "2024-01-01 09:00", "2024-01-01 09:01", "2024-01-01 08:00"]),
    ...     "event": ["home", "cart", "buy", "cart", "home", "home"]}))
    >>> jl.funnel(log, ["home", "cart", "buy"]).to_frame()["users"].tolist()
    [3, 1, 1]
    >>> jl.funnel(log, ["home", "cart", "buy"]).to_frame()["median_s_from_first_previous"].tolist()
    [nan, 300.0, 1500.0]
    """
    choice(mode, "mode", ("closed", "open"))
    check_per(per)
    if within is not None and mode == "open":
        raise ParameterError("within= applies to closed funnels only (an open funnel has no order)", "within")
    coded = _step_codes(log, steps)
    window = optional_micros(within, "within")
    lost_codes = log.event_codes_of(event_names(lost, log.event_names, "lost", required=False))
    seg_of_user, labels, seg_name = log.segments(by)
    rows = log.journeys(per=per, window=False)  # every event has a code: all rows, in log order
    if len(lost_codes):
        rows = cut_at_first(rows, lost_codes)
    user_of_group = group_owners(rows)
    seg_of_group = seg_of_user[user_of_group]
    n_groups = len(user_of_group)

    none = np.zeros(0, dtype=np.int64)
    reached: list[np.ndarray] = []  # per step: the groups reaching it
    delays: list[tuple[np.ndarray, ...]] = []  # per step: (groups, µs from the latest and the first previous)
    previous: Any = None  # the reachable rows of the previous step (numpy columns or a held table)
    for k, (_, codes) in enumerate(coded):
        candidates = step_rows(rows, codes)
        if mode == "open":
            reached.append(groups(candidates))
            delays.append((none, none, none))
            continue
        if k == 0:
            hit = candidates
            first_g = groups(hit)
            delays.append((none, none, none))
        else:
            hit = reachable_step(previous, candidates, window)
            first_g, latest, first = first_arrivals(previous, hit)
            delays.append((first_g, latest, first))
        reached.append(first_g)
        previous = hit
    lost_groups = groups(step_rows(rows, lost_codes)) if len(lost_codes) else None
    table = _table(coded, reached, delays, seg_of_group, user_of_group, n_groups, labels, per, lost_groups)
    if by is None:
        table = table.drop(columns="segment")
    else:
        table = table.rename(columns={"segment": seg_name})
    return Funnel(table=table, steps=tuple(n for n, _ in coded), mode=mode, per=per,
                  segment=seg_name if by is not None else None)


def _table(coded, reached, delays, seg_of_group, user_of_group, n_groups, labels, per, lost_groups) -> pd.DataFrame:
    """Counts, conversion rates and median delays per (segment, step); ``lost_groups``: the lost journeys."""
    n_seg = len(labels)
    unit = "users" if per == "user" else "sessions"
    frames = []
    base = None
    prev = None
    for k, ((names, _), arrived, (delay_g, latest_us, first_us)) in enumerate(zip(coded, reached, delays)):
        counts = np.bincount(seg_of_group[arrived], minlength=n_seg)
        part = pd.DataFrame({"segment": labels, "step_index": k + 1, "step": " | ".join(names), unit: counts})
        if per == "session":
            users = pd.Series(user_of_group[arrived]).groupby(seg_of_group[arrived]).nunique()
            part["users"] = users.reindex(range(n_seg), fill_value=0).to_numpy()
        if lost_groups is not None:
            part["lost"] = np.bincount(seg_of_group[arrived[np.isin(arrived, lost_groups)]], minlength=n_seg)
        base = counts if base is None else base
        part["conversion_from_start"] = _ratio(counts, base)
        part["conversion_from_previous"] = (_ratio(counts, prev) if prev is not None
                                            else np.where(counts > 0, 1.0, np.nan))
        for column, delay_us in (("median_s_from_latest_previous", latest_us),
                                 ("median_s_from_first_previous", first_us)):
            median = pd.Series(delay_us / 1e6).groupby(seg_of_group[delay_g]).median()
            part[column] = median.reindex(range(n_seg)).to_numpy(dtype=float)
        frames.append(part)
        prev = counts
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["segment", "step_index"], kind="stable").reset_index(drop=True)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1), np.nan)
