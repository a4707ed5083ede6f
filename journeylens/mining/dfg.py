"""Directly-follows graphs between touchpoints, lifecycle stages or channels."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from .. import engine
from ..core.protocol import By, JourneyLog, check_per
from ..engine.sql import with_user_values
from ..errors import ParameterError

Level = Literal["event", "stage", "channel"]
Per = Literal["user", "session"]
if TYPE_CHECKING:  # networkx is imported when a graph is asked for
    import networkx as nx


EDGE_COLUMNS = ["source", "target", "count", "users", "mean_s", "median_s", "p90_s"]


@dataclass(frozen=True)
class DFG:
    """A directly-follows graph: edge table, start and end counts, and a networkx view.

    ``edges`` has one row per observed step ``source → target`` with its number
    of occurrences, distinct users, and the mean/median/90th-percentile gap in
    seconds. For ``level="stage"``, ``backward`` flags steps from a later stage
    back to an earlier one (by the map's stage order), and ``self`` flags staying.
    With segments (``dfg(..., by=...)``), ``segment_edges`` has the same columns
    per segment, after a first column named ``segment``; ``edges``, ``starts``,
    ``ends``, ``graph`` and ``plot`` stay those of all journeys.
    """

    edges: pd.DataFrame
    starts: pd.Series
    ends: pd.Series
    level: str
    per: str
    segment: str | None = None
    segment_edges: pd.DataFrame | None = None

    def to_frame(self) -> pd.DataFrame:
        """The edge table (a copy); with segments, one row per segment and edge."""
        return (self.edges if self.segment_edges is None else self.segment_edges).copy()

    @property
    def graph(self) -> "nx.DiGraph":
        """A ``networkx.DiGraph``: edges carry the table's columns; nodes carry ``starts``/``ends``."""
        import networkx as nx

        g = nx.DiGraph(level=self.level, per=self.per)
        nodes = pd.Index(self.edges["source"]).append(pd.Index(self.edges["target"]))
        for node in nodes.append(self.starts.index).append(self.ends.index).unique():
            g.add_node(node, starts=int(self.starts.get(node, 0)), ends=int(self.ends.get(node, 0)))
        for row in self.edges.to_dict("records"):
            a, b = row.pop("source"), row.pop("target")
            g.add_edge(a, b, **row)
        return g

    def plot(self, top: int | None = 40):
        """A process-graph figure (plotly) of the ``top`` most frequent edges."""
        from ..viz.process_graph import process_graph_figure

        return process_graph_figure(self, top=top)

    def _repr_html_(self) -> str:
        title = f"Directly-follows graph ({html.escape(self.level)} level, per {html.escape(self.per)})"
        table = self.edges.sort_values("count", ascending=False).head(20).to_html(index=False, escape=True)
        return f"<div><strong>{title}</strong>: {len(self.edges)} edges, {len(self.starts)} start nodes{table}</div>"


def dfg(log: JourneyLog, *, level: Level = "event", per: Per = "user", by: By = None) -> DFG:
    """Count the directly-follows steps of every journey.

    ``level`` is what a node is (event, lifecycle stage, channel); events with no
    value at that level are left out. ``per`` is the journey: the user's whole
    history or each session. ``by`` (a column, or labels per user id such as
    ``PersonaModel.personas()``) also counts the steps per segment of the user:
    ``to_frame()`` then has one row per segment and edge, and the counts of an edge
    over the segments add up to its overall count (the graph and plot stay the
    overall ones). Runs on every engine.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "a", "b", "b"],
    ...     "time": pd.date_range("2024-01-01", periods=5, freq="h"),
    ...     "event": ["home", "cart", "home", "home", "cart"]}))
    >>> jl.dfg(log).to_frame()[["source", "target", "count", "users"]].values.tolist()
    [['cart', 'home', 1, 1], ['home', 'cart', 2, 2]]
    >>> jl.dfg(log, by={"a": "new", "b": "loyal"}).to_frame()[["segment", "source", "target", "count"]].values.tolist()
    [['loyal', 'home', 'cart', 1], ['new', 'cart', 'home', 1], ['new', 'home', 'cart', 1]]
    """
    check_per(per)
    ev = log.journeys(level=level, per=per)
    names = log.names(level)
    edges = _edges(engine.directly_follows_table(ev), names, level)
    ends = engine.endpoints_table(ev)
    names_arr = np.asarray(names, dtype=object)
    starts, finals = _count(names_arr, ends["e"], ends["starts"]), _count(names_arr, ends["e"], ends["ends"])
    if by is None:
        return DFG(edges=edges, starts=starts, ends=finals, level=level, per=per)
    seg_of_user, labels, name = log.segments(by)
    if name in edges.columns:
        raise ParameterError(f"the segment name {name!r} is an edge column: rename the labels (Series.rename)", "by")
    # a journey belongs to one user, so a step's segment is its user's and the counts add up
    pairs = engine.directly_follows_table(with_user_values(ev, "s", seg_of_user), segmented=True)
    per_segment = _edges(pairs, names, level)
    per_segment.insert(0, name, np.asarray(labels, dtype=object)[pairs["s"].astype(np.int64)])
    return DFG(edges=edges, starts=starts, ends=finals, level=level, per=per, segment=name,
               segment_edges=per_segment)


def _edges(pairs: dict[str, np.ndarray], names: pd.Index, level: str) -> pd.DataFrame:
    """The edge table of a directly-follows kernel result (codes decoded, gaps in seconds)."""
    names_arr = np.asarray(names, dtype=object)
    edges = pd.DataFrame(
        {
            "source": names_arr[pairs["a"]],
            "target": names_arr[pairs["b"]],
            "count": pairs["n"].astype(np.int64),
            "users": pairs["users"].astype(np.int64),
            "mean_s": pairs["mean_us"] / 1e6,
            "median_s": pairs["median_us"] / 1e6,
            "p90_s": pairs["p90_us"] / 1e6,
        },
        columns=EDGE_COLUMNS,
    )
    if level == "stage":
        rank = pd.Series(np.arange(len(names)), index=names)
        src, dst = rank.reindex(edges["source"]).to_numpy(), rank.reindex(edges["target"]).to_numpy()
        edges["backward"] = dst < src
        edges["self"] = dst == src
    return edges


def _count(names: np.ndarray, codes: np.ndarray, counts: np.ndarray) -> pd.Series:
    """Journeys per name (names with none left out), in name order."""
    out = pd.Series(counts.astype(np.int64), index=pd.Index(names[codes.astype(np.int64)]), name="count")
    return out[out > 0].sort_index()
