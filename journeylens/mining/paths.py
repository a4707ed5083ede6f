"""Path exploration: what journeys do right after (or right before) a touchpoint."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Iterable, Literal

import numpy as np
import pandas as pd

from .. import engine
from ..core.eventlog import EventLog
from ..errors import JourneyLensError
from .dfg import Level, Per

END = "(end)"
START = "(start)"


@dataclass(frozen=True)
class Paths:
    """Distinct ``steps``-long paths from an anchor: ``path``, ``journeys``, ``share``
    and, with a goal, ``converted`` and ``conversion_rate``."""

    table: pd.DataFrame
    anchor: str
    direction: str
    n_journeys: int

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def plot(self, top: int = 15):
        """Bars of the ``top`` paths' shares, coloured by conversion rate when known (plotly)."""
        import plotly.express as px

        t = self.table.head(top).iloc[::-1].copy()
        t["label"] = [" › ".join(p) for p in t["path"]]
        colour = "conversion_rate" if "conversion_rate" in t else None
        fig = px.bar(t, x="share", y="label", color=colour, orientation="h")
        fig.update_layout(title=f"Paths {self.direction} {self.anchor}", xaxis_tickformat=".0%", height=140 + 28 * len(t))
        return fig

    def _repr_html_(self) -> str:
        t = self.table.head(20).copy()
        t["path"] = [" › ".join(p) for p in t["path"]]
        head = f"Paths {html.escape(self.direction)} {html.escape(self.anchor)} ({self.n_journeys:,} journeys)"
        return f"<div><strong>{head}</strong>{t.to_html(index=False, escape=True)}</div>"


def _codes_of(names: pd.Index, values: Iterable[str], what: str) -> np.ndarray:
    idx = names.get_indexer(list(values))
    if (idx < 0).any():
        missing = [v for v, i in zip(values, idx) if i < 0]
        raise JourneyLensError(f"{what} {missing!r} does not occur in the log (known: {list(names[:10])}…)")
    return idx


def paths(
    log: EventLog,
    anchor: str,
    direction: Literal["after", "before"] = "after",
    steps: int = 3,
    top: int | None = 20,
    goal: str | Iterable[str] | None = None,
    *,
    level: Level = "event",
    per: Per = "user",
) -> Paths:
    """The next (or previous) ``steps`` events from each journey's anchor, counted.

    ``after`` starts at a journey's first ``anchor``; ``before`` ends at its last.
    Journeys that end (start) early show ``(end)`` (``(start)``). With ``goal``, a
    journey converts when it reaches a goal event at or after the anchor.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "a", "b", "b"],
    ...     "time": pd.date_range("2024-01-01", periods=5, freq="h"),
    ...     "event": ["home", "cart", "buy", "home", "cart"]}))
    >>> jl.paths(log, "home", steps=2, goal="buy").to_frame()[["path", "journeys", "converted"]].values.tolist()
    [[('cart', '(end)'), 1, 0], [('cart', 'buy'), 1, 1]]
    """
    if direction not in ("after", "before"):
        raise JourneyLensError(f"direction must be 'after' or 'before', not {direction!r}")
    if int(steps) < 1:
        raise JourneyLensError(f"steps must be at least 1, not {steps!r}")
    codes, names = log._coded(level)
    group = log._journey_codes(per)
    keep = codes >= 0
    anchor_code = int(_codes_of(names, [anchor], level)[0])
    goals = [goal] if isinstance(goal, str) else list(goal or [])
    goal_codes = _codes_of(names, goals, "goal") if goals else np.array([], dtype=int)
    found = engine.anchored_paths(group[keep], codes[keep], anchor_code, int(steps), direction == "after", goal_codes)
    filler = END if direction == "after" else START
    labels = np.append(np.asarray(names, dtype=object), filler)  # code -1 → filler
    cols = [labels[found[f"y{j}"]] for j in range(1, int(steps) + 1)]
    path = list(zip(*cols)) if direction == "after" else [tuple(reversed(p)) for p in zip(*cols)]
    journeys = found["journeys"].astype(np.int64)
    total = int(journeys.sum())
    table = pd.DataFrame({"path": path, "journeys": journeys, "share": journeys / total if total else journeys * 0.0})
    if goals:
        table["converted"] = found["converted"].astype(np.int64)
        table["conversion_rate"] = table["converted"] / table["journeys"]
    table = table.sort_values(["journeys", "path"], ascending=[False, True], kind="stable").reset_index(drop=True)
    if top:
        table = table.head(int(top))
    return Paths(table=table, anchor=anchor, direction=direction, n_journeys=total)
