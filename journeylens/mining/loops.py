"""Loops: where journeys go round — repeats, back-and-forth, and longer cycles."""

from __future__ import annotations

import html
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd

from .. import engine
from ..core.eventlog import EventLog
from .dfg import Level, Per, dfg

KINDS = {1: "self", 2: "ping_pong"}


@dataclass(frozen=True)
class Loops:
    """One row per loop: ``loop`` ("a > b > a"), ``events``, ``kind`` (self, ping_pong, cycle),
    ``length``, ``occurrences``, ``users``, ``user_share``, ``median_repetitions`` (per user who loops)."""

    table: pd.DataFrame
    n_users: int
    level: str

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def plot(self, top: int = 15):
        """Bars of the share of users caught in each of the ``top`` loops (plotly)."""
        import plotly.express as px

        t = self.table.head(top).iloc[::-1]
        fig = px.bar(t, x="user_share", y="loop", color="kind", orientation="h", hover_data=["occurrences", "median_repetitions"])
        fig.update_layout(title="Loops by share of users", xaxis_tickformat=".0%", height=140 + 28 * len(t))
        return fig

    def _repr_html_(self) -> str:
        body = self.table.head(20).to_html(index=False, escape=True)
        return f"<div><strong>{len(self.table)} loops</strong> ({html.escape(self.level)} level){body}</div>"


def loops(
    log: EventLog,
    *,
    level: Level = "event",
    per: Per = "user",
    max_length: int = 4,
    min_support: float = 0.01,
) -> Loops:
    """Find the loops journeys make, ranked by how many users make them.

    A loop is a closed walk ``x0 → … → xk = x0`` with distinct inner steps and
    ``k ≤ max_length``: ``self`` (k = 1), ``ping_pong`` (k = 2, "a > b > a") or
    ``cycle``. Candidate cycles come from the directly-follows graph
    (``networkx.simple_cycles`` on the edges used by at least ``min_support`` of
    users); their occurrences are then counted in the journeys by the engine.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a"] * 4 + ["b"] * 3,
    ...     "time": pd.date_range("2024-01-01", periods=7, freq="h"),
    ...     "event": ["product", "compare", "product", "cart", "product", "compare", "product"]}))
    >>> jl.loops(log).to_frame()[["loop", "kind", "users"]].values.tolist()[0]
    ['product > compare > product', 'ping_pong', 2]
    """
    if not 1 <= int(max_length) <= 8:
        from ..errors import JourneyLensError

        raise JourneyLensError(f"max_length must be between 1 and 8, not {max_length!r}")
    codes, names = log._coded(level)
    group = log._journey_codes(per)
    keep = codes >= 0
    n_users = int(len(np.unique(log.user_codes[keep])))
    graph = dfg(log, level=level, per=per).to_frame()
    supported = graph[graph["users"] >= min_support * n_users]
    g = nx.DiGraph()
    g.add_edges_from(zip(supported["source"], supported["target"]))
    candidates = {_canonical(tuple(c)) for c in nx.simple_cycles(g, length_bound=int(max_length))}

    found = engine.loop_instances(group[keep], codes[keep], log.user_codes[keep], int(max_length))
    names_arr = np.asarray(names, dtype=object)
    rows = []
    for j in range(len(found["k"])):  # one iteration per distinct loop, not per event
        k = int(found["k"][j])
        walk = tuple(names_arr[[found[f"x{i}"][j] for i in range(k + 1)]])
        if _canonical(walk[:-1]) not in candidates:
            continue
        rows.append((" > ".join(walk), walk, KINDS.get(k, "cycle"), k, int(found["occurrences"][j]),
                     int(found["users"][j]), float(found["median_reps"][j])))
    table = pd.DataFrame(rows, columns=["loop", "events", "kind", "length", "occurrences", "users", "median_repetitions"])
    table.insert(6, "user_share", table["users"] / n_users if n_users else 0.0)
    table = table.sort_values(["users", "occurrences", "loop"], ascending=[False, False, True], kind="stable")
    return Loops(table=table.reset_index(drop=True), n_users=n_users, level=level)


def _canonical(cycle: tuple) -> tuple:
    """The rotation of a cycle that starts at its smallest node, so rotations compare equal."""
    if not cycle:
        return cycle
    keys = [str(c) for c in cycle]
    start = keys.index(min(keys))
    return tuple(cycle[start:] + cycle[:start])
