"""Decision points: touchpoints where journeys branch, and whether segments branch differently."""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .. import engine
from ..core.eventlog import EventLog
from ..core.segments import By
from ..errors import JourneyLensError
from .dfg import Level, Per


@dataclass(frozen=True)
class DecisionPoints:
    """``branches``: node, next, count, share (per segment with ``by``);
    ``tests``: per node, the chi-square test of segment × branch (with ``by``)."""

    branches: pd.DataFrame
    tests: pd.DataFrame
    by: str | None

    def to_frame(self) -> pd.DataFrame:
        return self.branches.copy()

    def plot(self, node: str | None = None):
        """Stacked branch shares at ``node`` (default: the busiest decision point), per segment (plotly)."""
        import plotly.express as px

        b = self.branches
        node = node or b.groupby("node")["count"].sum().idxmax()
        sub = b[b["node"] == node]
        fig = px.bar(sub, x="share", y=self.by or "node", color="next", orientation="h")
        fig.update_layout(title=f"Branches after {node}", xaxis_tickformat=".0%", barmode="stack")
        return fig

    def _repr_html_(self) -> str:
        parts = [f"<strong>{self.branches['node'].nunique()} decision points</strong>"]
        parts.append(self.branches.head(30).to_html(index=False, escape=True))
        if len(self.tests):
            parts.append(f"<p>Does the branch mix differ by {html.escape(str(self.by))}?</p>")
            parts.append(self.tests.to_html(index=False, escape=True))
        return "<div>" + "".join(parts) + "</div>"


def decision_points(
    log: EventLog,
    by: By = None,
    *,
    level: Level = "event",
    per: Per = "user",
    min_count: int = 1,
) -> DecisionPoints:
    """Branch shares at every node with two or more successors.

    With ``by``, shares are per segment and each node gets a chi-square test of independence
    between segment and branch (transitions as units), with Cramér's V as effect size.
    ``by`` is a column (the segment of the branching event, e.g. its device) or
    labels per user id (e.g. ``PersonaModel.personas()``: the user's segment).
    Branches seen fewer than ``min_count`` times are left out.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "b", "b", "c", "c"],
    ...     "time": pd.date_range("2024-01-01", periods=6, freq="h"),
    ...     "event": ["cart", "pay", "cart", "pay", "cart", "leave"]}))
    >>> jl.decision_points(log).to_frame()[["node", "next", "count"]].values.tolist()
    [['cart', 'pay', 2], ['cart', 'leave', 1]]
    """
    codes, names = log._coded(level)
    group = log._journey_codes(per)
    keep = codes >= 0
    segment_label = by if isinstance(by, str) else "segment"
    if by is None:
        seg_codes, seg_names = np.zeros(len(codes), dtype=np.int32), pd.Index(["all"])
    elif isinstance(by, str):
        if by not in log.columns:
            raise JourneyLensError(f"by={by!r} is not a column of the log (columns: {log.columns})")
        seg = log._frame[by].astype("category")
        seg_codes, seg_names = seg.cat.codes.to_numpy().astype(np.int32), seg.cat.categories
        keep &= seg_codes >= 0
    else:
        seg_of_user, seg_names, segment_label = log.segments(by)
        seg_codes = seg_of_user[log.user_codes]
    pairs = engine.directly_follows(group[keep], codes[keep], log.user_codes[keep], log.time_us[keep], seg_codes[keep])
    names_arr = np.asarray(names, dtype=object)
    b = pd.DataFrame(
        {
            segment_label: np.asarray(seg_names, dtype=object)[pairs["s"]],
            "node": names_arr[pairs["a"]],
            "next": names_arr[pairs["b"]],
            "count": pairs["n"].astype(np.int64),
        }
    )
    b = b[b["count"] >= min_count]
    overall = b.groupby(["node", "next"], as_index=False)["count"].sum()
    branching = overall.groupby("node")["next"].nunique()
    nodes = branching[branching >= 2].index
    if by is None:
        b = overall[overall["node"].isin(nodes)].copy()
        b["share"] = b["count"] / b.groupby("node")["count"].transform("sum")
        b = b.sort_values(["node", "count", "next"], ascending=[True, False, True]).reset_index(drop=True)
        return DecisionPoints(branches=b, tests=pd.DataFrame(), by=None)
    b = b[b["node"].isin(nodes)].copy()
    b["share"] = b["count"] / b.groupby([segment_label, "node"])["count"].transform("sum")
    b = b.sort_values(["node", segment_label, "count", "next"], ascending=[True, True, False, True]).reset_index(drop=True)
    return DecisionPoints(branches=b, tests=_tests(b, segment_label), by=segment_label)


def _tests(branches: pd.DataFrame, segment: str) -> pd.DataFrame:
    rows = []
    for node, sub in branches.groupby("node", sort=True):  # one test per decision node
        table = sub.pivot_table(index=segment, columns="next", values="count", aggfunc="sum", fill_value=0, observed=True)
        if table.shape[0] < 2 or table.shape[1] < 2:
            continue
        chi2, p, dof, _ = stats.chi2_contingency(table.to_numpy())
        n = table.to_numpy().sum()
        v = float(np.sqrt(chi2 / (n * (min(table.shape) - 1)))) if n else float("nan")
        rows.append({"node": node, "chi2": float(chi2), "dof": int(dof), "p_value": float(p), "cramers_v": v, "transitions": int(n)})
    return pd.DataFrame(rows, columns=["node", "chi2", "dof", "p_value", "cramers_v", "transitions"])
