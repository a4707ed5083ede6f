"""Process models with pm4py (optional extra), fed our small results, never the raw log.

Discovery gets pm4py's ``DFG`` object built from our directly-follows counts
(the inductive miner then runs in milliseconds); fitness is token replay on the
distinct variants, weighted by how many journeys follow each. Both results are
counted in the log's engine, so a held log never leaves it; only they reach pm4py.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ..core.eventlog import EventLog
from ..core.params import choice, fraction, positive_int
from ..core.protocol import JourneyLog, check_per
from ..errors import MissingDependencyError
from .dfg import Per, dfg
from .variants import variants

if TYPE_CHECKING:  # networkx is imported when a graph is asked for
    import networkx as nx


XES_NAMES = {"user_id": "case:concept:name", "event": "concept:name", "timestamp": "time:timestamp"}


def _pm4py():
    os.environ.setdefault("PM4PY_SHOW_PROGRESS_BAR", "False")
    try:
        import pm4py
    except ImportError:
        raise MissingDependencyError("this needs pm4py: pip install 'journeylens[pm4py]'") from None
    return pm4py


@dataclass(frozen=True)
class ProcessModel:
    """A discovered Petri net with its markings and a summary (size, fitness on variants)."""

    net: Any
    initial_marking: Any
    final_marking: Any
    algorithm: str
    summary: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The summary as a one-row table."""
        return pd.DataFrame([self.summary])

    @property
    def graph(self) -> "nx.DiGraph":
        """The Petri net as a bipartite ``DiGraph`` (nodes have ``kind`` place/transition and ``label``)."""
        import networkx as nx

        g = nx.DiGraph()
        for p in self.net.places:
            g.add_node(f"p:{p.name}", kind="place", label=None)
        for t in self.net.transitions:
            g.add_node(f"t:{t.name}", kind="transition", label=t.label)
        for arc in self.net.arcs:
            src = ("p:" if arc.source in self.net.places else "t:") + arc.source.name
            dst = ("p:" if arc.target in self.net.places else "t:") + arc.target.name
            g.add_edge(src, dst)
        return g

    def write_pnml(self, path: str) -> None:
        """Save the net as PNML for other process-mining tools."""
        _pm4py().write_pnml(self.net, self.initial_marking, self.final_marking, str(path))

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in self.summary.items())
        return f"<div><strong>Process model ({html.escape(self.algorithm)})</strong><table>{rows}</table></div>"


def to_pm4py(log: JourneyLog) -> pd.DataFrame:
    """The whole log as a pm4py-ready DataFrame (``case:concept:name``, ``concept:name``, ``time:timestamp``).

    Rows are sorted by case and time, as pm4py's variant functions require. A held
    log is collected into memory first: this is an export, for logs that fit.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a"], "time": ["2024-01-01"], "event": ["x"]}))
    >>> list(jl.to_pm4py(log).columns[:3])
    ['case:concept:name', 'concept:name', 'time:timestamp']
    """
    df = log.collect().to_pandas()
    df = df.rename(columns={k: v for k, v in XES_NAMES.items() if v not in df.columns})
    for col in ("case:concept:name", "concept:name"):
        df[col] = df[col].astype(str)
    front = list(XES_NAMES.values())
    return df[front + [c for c in df.columns if c not in front]]


def from_pm4py(df: pd.DataFrame, **options: Any) -> EventLog:
    """An EventLog from a pm4py-style DataFrame (XES column names); options as in ``from_pandas``."""
    from ..io import from_pandas

    defaults = {"user": "case:concept:name", "event": "concept:name", "time": "time:timestamp"}
    return from_pandas(df, **{**defaults, **options})


ALGORITHMS = ("inductive", "heuristics")


def discover(
    log: JourneyLog,
    *,
    algorithm: Literal["inductive", "heuristics"] = "inductive",
    noise: float = 0.2,
    per: Per = "user",
    evaluate_top: int | None = 1000,
    precision: bool = False,
) -> ProcessModel:
    """Discover a Petri net from the log's directly-follows graph with pm4py.

    ``inductive`` is pm4py's inductive miner with ``noise`` as its noise threshold;
    ``heuristics`` is the heuristics miner with ``noise`` as ``1 - dependency threshold``.
    Fitness (token replay) is computed on the ``evaluate_top`` most frequent variants
    (None: all; 0: no evaluation), weighted by their journeys; ``variants_covered``
    says which share that is. ``precision=True`` adds pm4py's token-replay precision
    on those variants (each counted once; it can take seconds to minutes). On
    journey logs models are often loose ("flower" models fit everything): read
    fitness with precision. ``per`` is the journey (a case): user or session.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "b", "b"],
    ...     "time": pd.date_range("2024-01-01", periods=4, freq="h"), "event": ["x", "y", "x", "y"]}))
    >>> jl.discover(log).summary["fitness"]   # doctest: +SKIP
    1.0
    """
    check_per(per)
    choice(algorithm, "algorithm", ALGORITHMS)
    noise = fraction(noise, "noise")
    evaluate_top = positive_int(evaluate_top, "evaluate_top", minimum=0, allow_none=True)
    pm4py = _pm4py()
    from pm4py.objects.dfg.obj import DFG as PmDFG

    graph = dfg(log, per=per)
    edges = graph.to_frame()
    counts = {(a, b): int(n) for a, b, n in zip(edges["source"], edges["target"], edges["count"])}
    starts, ends = {k: int(v) for k, v in graph.starts.items()}, {k: int(v) for k, v in graph.ends.items()}
    if algorithm == "inductive":
        net, im, fm = pm4py.discover_petri_net_inductive(PmDFG(counts, starts, ends), noise_threshold=noise)
    else:
        from pm4py.algo.discovery.heuristics.variants import classic

        # every event of a journey is its start or follows another: occurrences = starts + steps into it
        into = edges.groupby("target")["count"].sum()
        occurrences = into.add(graph.starts, fill_value=0).astype(np.int64).sort_index()
        activities = {str(n): int(c) for n, c in occurrences.items()}
        params = {classic.Parameters.DEPENDENCY_THRESH: 1.0 - noise}
        net, im, fm = classic.apply_dfg(counts, activities=list(activities), activities_occurrences=activities,
                                        start_activities=starts, end_activities=ends, parameters=params)
    summary = {
        "algorithm": algorithm,
        "noise": noise,
        "places": len(net.places),
        "transitions": len(net.transitions),
        "silent_transitions": sum(t.label is None for t in net.transitions),
        "arcs": len(net.arcs),
    }
    if evaluate_top != 0:
        summary.update(replay_variants(log, net, im, fm, per=per, top=evaluate_top, precision=precision))
    return ProcessModel(net=net, initial_marking=im, final_marking=fm, algorithm=algorithm, summary=summary)


def replay_variants(log: JourneyLog, net: Any, im: Any, fm: Any, *, per: Per = "user", top: int | None = None,
                    precision: bool = False) -> dict:
    """Token replay of the distinct variants on a Petri net (``net`` with its initial and final
    markings), weighted by their journeys.

    Gives what pm4py's token-based fitness gives on the whole log (``log_fitness``
    from the pooled missing/consumed/remaining/produced tokens, ``fitness`` the mean
    trace fitness, ``fitting_journeys_share``) while replaying each variant once;
    ``top`` replays only the most frequent variants.
    """
    check_per(per)
    top = positive_int(top, "top", allow_none=True)
    pm4py = _pm4py()
    table = variants(log, per=per, top=top).to_frame()
    case = np.repeat(np.arange(len(table)), table["length"].to_numpy())
    acts = [a for variant in table["variant"] for a in variant]  # one row per step of each distinct variant
    df = pd.DataFrame({
        "case:concept:name": case.astype(str),
        "concept:name": acts,
        "time:timestamp": pd.Timestamp("2000-01-01", tz="UTC") + pd.to_timedelta(np.arange(len(acts)), unit="s"),
    })
    diag = pm4py.conformance_diagnostics_token_based_replay(df, net, im, fm, return_diagnostics_dataframe=True)
    diag = diag.set_index(diag["case_id"].astype(int)).sort_index()  # back to variant order
    w = table["count"].to_numpy(dtype=float)
    tokens = {k: float((diag[k].to_numpy(dtype=float) * w).sum())
              for k in ("missing", "consumed", "remaining", "produced")}
    total = w.sum()
    out = {
        "fitness": float(np.average(diag["trace_fitness"].to_numpy(dtype=float), weights=w)) if total else float("nan"),
        "log_fitness": (0.5 * (1 - tokens["missing"] / tokens["consumed"]) + 0.5 * (1 - tokens["remaining"] / tokens["produced"])
                        if tokens["consumed"] > 0 and tokens["produced"] > 0 else float("nan")),
        "fitting_journeys_share": float(w[diag["is_fit"].to_numpy(dtype=bool)].sum() / total) if total else float("nan"),
        "variants_evaluated": int(len(table)),
        "variants_covered": float(min(table["share"].sum(), 1.0)),
    }
    if precision:
        out["precision_variants"] = float(pm4py.precision_token_based_replay(df, net, im, fm))
    return out
