"""Decision points: touchpoints where journeys branch, and whether segments of users branch differently."""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.params import positive_int
from ..core.protocol import By, JourneyLog, check_per
from ..engine import mining as kernels
from ..engine.sql import with_user_values
from ..errors import ParameterError
from .dfg import Level, Per

BRANCH_COLUMNS = ["node", "next", "count", "users", "first_choices", "share"]
TEST_COLUMNS = ["node", "users", "test", "chi2", "dof", "p_value", "p_adjusted", "cramers_v"]


@dataclass(frozen=True)
class DecisionPoints:
    """``branches``: per node with two or more next steps (and per segment with ``by``), each next
    step's transitions (``count``), ``users``, ``first_choices`` (users whose first step out of
    the node went there) and ``share`` of the node's transitions; ``tests``: with ``by``, one test
    per node of segment × first choice over users."""

    branches: pd.DataFrame
    tests: pd.DataFrame
    segment: str | None

    def to_frame(self) -> pd.DataFrame:
        return self.branches.copy()

    def plot(self, node: str | None = None):
        """Stacked branch shares at ``node`` (default: the busiest decision point), per segment (plotly)."""
        import plotly.express as px

        from ..viz.text import plain

        b = self.branches
        if node is None:
            node = b.groupby("node")["count"].sum().idxmax()
        elif node not in set(b["node"]):
            raise ParameterError(f"node {node!r} is not a decision point (decision points: "
                                 f"{', '.join(sorted(set(b['node']))[:12])})", "node")
        sub = b[b["node"] == node]
        axis = self.segment or "node"
        shown = pd.DataFrame({plain(axis): sub[axis].map(plain), "next": sub["next"].map(plain), "share": sub["share"]})
        fig = px.bar(shown, x="share", y=plain(axis), color="next", orientation="h")
        fig.update_layout(title=f"Branches after {plain(node)}", xaxis_tickformat=".0%", barmode="stack")
        return fig

    def _repr_html_(self) -> str:
        parts = [f"<strong>{self.branches['node'].nunique()} decision points</strong>"]
        parts.append(self.branches.head(30).to_html(index=False, escape=True))
        if len(self.tests):
            parts.append(f"<p>Do users' first choices differ by {html.escape(str(self.segment))}?</p>")
            parts.append(self.tests.to_html(index=False, escape=True))
        return "<div>" + "".join(parts) + "</div>"


def decision_points(
    log: JourneyLog,
    *,
    by: By = None,
    level: Level = "event",
    per: Per = "user",
    min_count: int = 1,
) -> DecisionPoints:
    """Branch shares at every node with two or more next steps, and, with ``by``, whether segments choose differently.

    The branches are the directly-follows steps of the journeys, exactly those
    :func:`dfg` counts (``per``: a user's history or each session; nodes at
    ``level``, whose events without a value there are not part of the journeys);
    no event is dropped for its segment. Next steps taken fewer than ``min_count``
    times in all are left out, and a node needs two of them left.

    ``by`` is the user's segment, as everywhere (a column: each user's first value;
    or labels per user id such as ``PersonaModel.personas()``); shares are then per
    segment. The test per node counts users, not transitions: each user's **first
    choice** at the node (the next step the first time the user leaves it, in log
    order; ``first_choices``) gives one independent observation per user, so a user
    who passes a node a hundred times weighs as much as one who passes it once and
    the test's assumption of independent units holds. The segment × first-choice
    table of users gets Fisher's exact test when it is 2 × 2 and Pearson's
    chi-square otherwise (no continuity correction), Cramér's V as its effect
    size, and Benjamini–Hochberg adjusted p-values over the nodes tested. Choices
    of branches left out by ``min_count`` are not counted. This runs in the engine
    and needs no random seed (a permutation test over users would need every
    user's choices to leave the engine).

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "b", "b", "c", "c"],
    ...     "time": pd.date_range("2024-01-01", periods=6, freq="h"),
    ...     "event": ["cart", "pay", "cart", "pay", "cart", "leave"]}))
    >>> jl.decision_points(log).to_frame()[["node", "next", "count", "first_choices"]].values.tolist()
    [['cart', 'pay', 2, 2], ['cart', 'leave', 1, 1]]
    """
    check_per(per)
    min_count = positive_int(min_count, "min_count")
    ev = log.journeys(level=level, per=per)
    names = np.asarray(log.names(level).astype(str), dtype=object)
    seg_of_user, labels, name = log.segments(by)
    if by is not None and name in BRANCH_COLUMNS:
        raise ParameterError(f"the segment name {name!r} is a column of the result: rename the labels "
                             "(Series.rename)", "by")
    found = kernels.branches(with_user_values(ev, "s", seg_of_user))
    b = pd.DataFrame({
        name: np.asarray(labels, dtype=object)[found["s"].astype(np.int64)],
        "node": names[found["a"].astype(np.int64)],
        "next": names[found["b"].astype(np.int64)],
        "count": found["n"].astype(np.int64),
        "users": found["users"].astype(np.int64),
        "first_choices": found["firsts"].astype(np.int64),
    })
    overall = b.groupby(["node", "next"])["count"].transform("sum")
    b = b[overall >= min_count]
    branching = b.groupby("node")["next"].nunique()
    b = b[b["node"].isin(branching.index[branching >= 2])].copy()
    if by is None:  # one segment: users counted once across segments need no merging
        b = b.drop(columns=name)
        b["share"] = b["count"] / b.groupby("node")["count"].transform("sum")
        b = b.sort_values(["node", "count", "next"], ascending=[True, False, True]).reset_index(drop=True)
        return DecisionPoints(branches=b[BRANCH_COLUMNS], tests=pd.DataFrame(columns=TEST_COLUMNS), segment=None)
    b["share"] = b["count"] / b.groupby([name, "node"])["count"].transform("sum")
    b = b.sort_values(["node", name, "count", "next"], ascending=[True, True, False, True]).reset_index(drop=True)
    return DecisionPoints(branches=b[[name, *BRANCH_COLUMNS]], tests=_tests(b, name), segment=name)


def _tests(branches: pd.DataFrame, segment: str) -> pd.DataFrame:
    """Per node, the test of independence of segment and first choice over users (see :func:`decision_points`)."""
    from scipy import stats

    rows = []
    for node, sub in branches.groupby("node", sort=True):  # one test per decision point
        table = sub.pivot_table(index=segment, columns="next", values="first_choices", aggfunc="sum", fill_value=0)
        table = table.loc[table.sum(axis=1) > 0, table.sum(axis=0) > 0].to_numpy()
        if min(table.shape) < 2:
            continue
        n = int(table.sum())
        chi2, p, dof, _ = stats.chi2_contingency(table, correction=False)
        test = "chi2"
        if table.shape == (2, 2):
            p, test = float(stats.fisher_exact(table).pvalue), "fisher"
        v = float(np.sqrt(chi2 / (n * (min(table.shape) - 1))))
        rows.append({"node": node, "users": n, "test": test, "chi2": float(chi2), "dof": int(dof),
                     "p_value": float(p), "cramers_v": v})
    out = pd.DataFrame(rows, columns=[c for c in TEST_COLUMNS if c != "p_adjusted"])
    adjusted = stats.false_discovery_control(out["p_value"].to_numpy(dtype=float)) if len(out) else []
    out.insert(TEST_COLUMNS.index("p_adjusted"), "p_adjusted", np.asarray(adjusted, dtype=float))
    return out
