"""Funnels: how many journeys reach each step, in order and within time windows.

A step is an event name or a group of names (any of them counts). In a
``closed`` funnel a journey reaches step *k* when an occurrence of step *k*
follows (in log order: time, then source order) a reachable occurrence of step
*k-1*, at most ``within`` later. Every reachable occurrence is kept, not only
the first, so a journey that starts the funnel twice is credited with its best
attempt, as a window demands. An ``open`` funnel counts journeys that ever did
each step, whatever the order.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Literal, Sequence, Union

import numpy as np
import pandas as pd

from ..core.params import micros
from ..core.protocol import By, JourneyLog
from ..engine.funnel import (
    first_arrivals,
    group_owners,
    groups,
    reachable_step,
    step_rows,
)
from ..errors import JourneyLensError

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
        """``[segment,] step_index, step, <users|sessions>, [users,] conversion_from_start,
        conversion_from_previous, median_time_from_previous_s``."""
        return self.table.copy()

    def plot(self):
        """A plotly funnel chart, one trace per segment."""
        import plotly.graph_objects as go

        unit = "users" if self.per == "user" else "sessions"
        fig = go.Figure()
        groups = self.table.groupby(self.segment, sort=True) if self.segment else [("all", self.table)]
        for name, t in groups:
            fig.add_trace(go.Funnel(name=str(name), y=t["step"], x=t[unit], textinfo="value+percent initial"))
        fig.update_layout(title=f"{self.mode.capitalize()} funnel ({unit})")
        return fig

    def _repr_html_(self) -> str:
        head = f"{self.mode} funnel per {self.per}" + (f", by {self.segment}" if self.segment else "")
        return f"<div><strong>{html.escape(head)}</strong>{self.table.to_html(index=False, escape=True)}</div>"


def _step_codes(log: JourneyLog, steps: Sequence[Step]) -> list[tuple[tuple[str, ...], np.ndarray]]:
    if isinstance(steps, str) or len(steps) == 0:
        raise JourneyLensError("steps must be a non-empty list of event names (or lists of names)")
    known = pd.Index(log.event_names.astype(str))
    out = []
    for step in steps:
        names = (step,) if isinstance(step, str) else tuple(step)
        if not names or not all(isinstance(n, str) for n in names):
            raise JourneyLensError(f"a funnel step must be an event name or a list of names, not {step!r}")
        unknown = [n for n in names if n not in known]
        if unknown:
            raise JourneyLensError(
                f"funnel step {unknown[0]!r} is not an event of the log (events: {', '.join(known[:12])}"
                + (", …)" if len(known) > 12 else ")")
            )
        out.append((names, known.get_indexer(list(names))))
    return out


def funnel(
    log: JourneyLog,
    steps: Sequence[Step],
    *,
    within: str | pd.Timedelta | None = None,
    mode: Literal["closed", "open"] = "closed",
    per: Literal["user", "session"] = "user",
    by: By = None,
) -> Funnel:
    """Count the journeys reaching each step of a funnel.

    ``steps``: event names; a list inside the list is a step any of whose events
    counts (``["catalog", ["product1", "product2"], "cart"]``). ``within``: the
    longest time allowed from one step to the next (closed mode). ``per="session"``
    counts sessions (the log needs ``session_id``) and also reports distinct users.
    ``by``: a segment column or ``user_id → label`` mapping; one funnel per segment.
    ``median_time_from_previous_s`` is measured on each journey's first arrival at
    the step, from the previous-step occurrence it came through. Runs on every engine.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({
    ...     "user": ["a", "a", "a", "b", "b", "c"],
    ...     "time": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:05", "2024-01-01 10:30",
    ...                             "2024-01-01 09:00", "2024-01-01 09:01", "2024-01-01 08:00"]),
    ...     "event": ["home", "cart", "buy", "cart", "home", "home"]}))
    >>> jl.funnel(log, ["home", "cart", "buy"]).to_frame()["users"].tolist()
    [3, 1, 1]
    """
    if mode not in ("closed", "open"):
        raise JourneyLensError(f"mode must be 'closed' or 'open', not {mode!r}")
    if per not in ("user", "session"):
        raise JourneyLensError(f"per must be 'user' or 'session', not {per!r}")
    if within is not None and mode == "open":
        raise JourneyLensError("within= applies to closed funnels only (an open funnel has no order)")
    coded = _step_codes(log, steps)
    window = None if within is None else micros(within, "within")
    seg_of_user, labels, seg_name = log.segments(by)
    rows = log.journeys(per=per, window=False)  # every event has a code: all rows, in log order
    user_of_group = group_owners(rows)
    seg_of_group = seg_of_user[user_of_group]
    n_groups = len(user_of_group)

    reached: list[np.ndarray] = []  # per step: the groups reaching it
    delays: list[tuple[np.ndarray, np.ndarray]] = []  # per step: (groups, µs from previous step)
    previous: Any = None  # the reachable rows of the previous step (numpy columns or a held table)
    for k, (_, codes) in enumerate(coded):
        candidates = step_rows(rows, codes)
        if mode == "open":
            reached.append(groups(candidates))
            delays.append((np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)))
            continue
        if k == 0:
            hit = candidates
            first_g = groups(hit)
            delays.append((np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)))
        else:
            hit = reachable_step(previous, candidates, window)
            first_g, delay = first_arrivals(hit)
            delays.append((first_g, delay))
        reached.append(first_g)
        previous = hit
    table = _table(coded, reached, delays, seg_of_group, user_of_group, n_groups, labels, per)
    if by is None:
        table = table.drop(columns="segment")
    else:
        table = table.rename(columns={"segment": seg_name})
    return Funnel(table=table, steps=tuple(n for n, _ in coded), mode=mode, per=per,
                  segment=seg_name if by is not None else None)


def _table(coded, reached, delays, seg_of_group, user_of_group, n_groups, labels, per) -> pd.DataFrame:
    """Counts, conversion rates and median delays per (segment, step)."""
    n_seg = len(labels)
    unit = "users" if per == "user" else "sessions"
    frames = []
    base = None
    prev = None
    for k, ((names, _), arrived, (delay_g, delay_us)) in enumerate(zip(coded, reached, delays)):
        counts = np.bincount(seg_of_group[arrived], minlength=n_seg) if len(arrived) else np.zeros(n_seg, dtype=np.int64)
        part = pd.DataFrame({"segment": labels, "step_index": k + 1, "step": " | ".join(names), unit: counts})
        if per == "session":
            users = pd.Series(user_of_group[arrived]).groupby(seg_of_group[arrived]).nunique()
            part["users"] = users.reindex(range(n_seg), fill_value=0).to_numpy()
        base = counts if base is None else base
        part["conversion_from_start"] = _ratio(counts, base)
        part["conversion_from_previous"] = _ratio(counts, prev) if prev is not None else np.where(counts > 0, 1.0, np.nan)
        median = pd.Series(delay_us / 1e6).groupby(seg_of_group[delay_g]).median() if len(delay_g) else pd.Series(dtype=float)
        part["median_time_from_previous_s"] = median.reindex(range(n_seg)).to_numpy(dtype=float)
        frames.append(part)
        prev = counts
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["segment", "step_index"], kind="stable").reset_index(drop=True)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1), np.nan)
