"""Journey flows: how customers move from their first step to their ``depth``-th (a Sankey's links)."""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.params import positive_int
from ..core.protocol import JourneyLog, check_per
from ..engine import mining as kernels
from .dfg import Level, Per

END = "(end)"
COLUMNS = ["step", "source", "target", "journeys"]


@dataclass(frozen=True)
class JourneyFlows:
    """Flows between consecutive journey positions: ``step`` (1-based), ``source``, ``target``, ``journeys``."""

    table: pd.DataFrame
    depth: int
    level: str
    per: str

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def plot(self):
        """A Sankey (plotly), one column per journey position; ``(end)`` where journeys stop."""
        from ..viz.sankey import sankey_figure

        return sankey_figure(self)

    def _repr_html_(self) -> str:
        head = f"Journey flows (first {self.depth} steps, per {html.escape(self.per)})"
        return f"<div><strong>{head}</strong>{self.table.head(30).to_html(index=False, escape=True)}</div>"


def journey_flows(log: JourneyLog, *, depth: int = 5, per: Per = "user", top_links: int = 12,
                  level: Level = "event") -> JourneyFlows:
    """Count journeys moving from their node at position k to the one at k + 1, for k < ``depth``.

    Per step only the ``top_links`` largest flows are kept, so the picture stays
    readable (the table's totals per step show what was left out). A journey
    ending at position k flows into ``(end)``. ``per`` is the journey (user or
    session); nodes are names at ``level``. Counted in the engine, on every engine.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "b"], "time": ["2024-01-01", "2024-01-02", "2024-01-01"],
    ...     "event": ["home", "buy", "home"]}))
    >>> jl.journey_flows(log, depth=2).to_frame().values.tolist()
    [[1, 'home', '(end)', 1], [1, 'home', 'buy', 1]]
    """
    check_per(per)
    depth = positive_int(depth, "depth")
    top_links = positive_int(top_links, "top_links")
    ev = log.journeys(level=level, per=per)
    found = pd.DataFrame(kernels.flows(ev, depth)).astype(np.int64)
    # the largest flows of each step (ties: by codes), then named
    found = found.sort_values(["step", "journeys", "a", "b"], ascending=[True, False, True, True], kind="stable")
    found = found.groupby("step").head(top_links)
    names = np.append(np.asarray(log.names(level).astype(str), dtype=object), END)  # code -1 → (end)
    table = pd.DataFrame({"step": found["step"].to_numpy(), "source": names[found["a"].to_numpy()],
                          "target": names[found["b"].to_numpy()], "journeys": found["journeys"].to_numpy()},
                         columns=COLUMNS)
    table = table.sort_values(["step", "source", "target"], kind="stable").reset_index(drop=True)
    return JourneyFlows(table=table, depth=depth, level=level, per=per)
