"""Path exploration: what journeys do right after (or right before) a touchpoint."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Iterable, Literal

import numpy as np
import pandas as pd

from ..core.params import choice, event_names, positive_int
from ..core.protocol import JourneyLog, check_per
from ..engine import mining as kernels
from ..errors import ParameterError
from .dfg import Level, Per

END = "(end)"
START = "(start)"
DIRECTIONS = ("after", "before")


@dataclass(frozen=True)
class Paths:
    """Distinct ``depth``-long paths from an anchor: ``path``, ``journeys``, ``share``
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

        from ..viz.text import plain

        t = self.table.head(top).iloc[::-1].copy()
        t["label"] = [" › ".join(map(plain, p)) for p in t["path"]]
        colour = "conversion_rate" if "conversion_rate" in t else None
        fig = px.bar(t, x="share", y="label", color=colour, orientation="h")
        fig.update_layout(title=f"Paths {self.direction} {plain(self.anchor)}", xaxis_tickformat=".0%",
                          height=140 + 28 * len(t))
        return fig

    def _repr_html_(self) -> str:
        t = self.table.head(20).copy()
        t["path"] = [" › ".join(p) for p in t["path"]]
        head = f"Paths {html.escape(self.direction)} {html.escape(self.anchor)} ({self.n_journeys:,} journeys)"
        return f"<div><strong>{head}</strong>{t.to_html(index=False, escape=True)}</div>"


def paths(
    log: JourneyLog,
    anchor: str,
    *,
    direction: Literal["after", "before"] = "after",
    depth: int = 3,
    top: int | None = 20,
    goal: str | Iterable[str] | None = None,
    level: Level = "event",
    per: Per = "user",
) -> Paths:
    """The next (or previous) ``depth`` nodes from each journey's anchor, counted.

    ``after`` starts at a journey's first ``anchor``; ``before`` ends at its last.
    Journeys that end (start) early show ``(end)`` (``(start)``). With ``goal``, a
    journey converts when it reaches a goal at or after the anchor. ``anchor`` and
    ``goal`` are names at ``level``; ``per`` is the journey (user or session).
    ``top`` keeps the most frequent paths (None: all); shares are of all journeys
    through the anchor. Runs in the engine, on every engine.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "a", "b", "b"],
    ...     "time": pd.date_range("2024-01-01", periods=5, freq="h"),
    ...     "event": ["home", "cart", "buy", "home", "cart"]}))
    >>> jl.paths(log, "home", depth=2, goal="buy").to_frame()[["path", "journeys", "converted"]].values.tolist()
    [[('cart', '(end)'), 1, 0], [('cart', 'buy'), 1, 1]]
    """
    check_per(per)
    choice(direction, "direction", DIRECTIONS)
    depth = positive_int(depth, "depth")
    top = positive_int(top, "top", allow_none=True)
    names = pd.Index(log.names(level).astype(str))
    if not isinstance(anchor, str):
        raise ParameterError(f"anchor must be one name at level {level!r}, not {type(anchor).__name__}", "anchor")
    anchor = event_names(anchor, names, "anchor")
    goals = event_names(goal, names, "goal", required=False)
    ev = log.journeys(level=level, per=per, window=False)
    found = kernels.anchored_paths(ev, int(names.get_loc(anchor[0])), depth, direction == "after",
                                   names.get_indexer(list(goals)))
    filler = END if direction == "after" else START
    labels = np.append(np.asarray(names, dtype=object), filler)  # code -1 → filler
    cols = [labels[found[f"y{j}"].astype(np.int64)] for j in range(1, depth + 1)]
    path = list(zip(*cols)) if direction == "after" else [tuple(reversed(p)) for p in zip(*cols)]
    journeys = found["journeys"].astype(np.int64)
    total = int(journeys.sum())
    table = pd.DataFrame({"path": path, "journeys": journeys, "share": journeys / total if total else journeys * 0.0})
    if goals:
        table["converted"] = found["converted"].astype(np.int64)
        table["conversion_rate"] = table["converted"] / table["journeys"]
    table = table.sort_values(["journeys", "path"], ascending=[False, True], kind="stable").reset_index(drop=True)
    if top:
        table = table.head(top)
    return Paths(table=table, anchor=anchor[0], direction=direction, n_journeys=total)
