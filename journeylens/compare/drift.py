"""Drift between two periods: which paths appeared, vanished or changed, and how outcomes moved.

Every comparison is on users (a customer counts once per period): the share of
a period's users who took an edge or followed a variant, tested with a
chi-square test on the 2×2 table (period × took it / did not), Benjamini–Hochberg
adjusted across the items of a table, with Cohen's *h* as effect size
(0.2 small, 0.5 medium, 0.8 large).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..core.eventlog import EventLog
from ..core.segments import By
from ..errors import JourneyLensError


@dataclass(frozen=True)
class Drift:
    """``edges``, ``variants`` and ``outcomes`` (conversion/drop-off per segment), before vs after."""

    edges: pd.DataFrame
    variants: pd.DataFrame
    outcomes: pd.DataFrame
    periods: tuple[str, str]

    def to_frame(self) -> pd.DataFrame:
        """The edge table: ``source, target, users_before, users_after, share_before, share_after,
        cohens_h, p_value, p_adjusted, status``."""
        return self.edges.copy()

    def plot(self, top: int = 20):
        """Dumbbell chart of the edges whose share changed most."""
        import plotly.graph_objects as go

        t = self.edges[self.edges["status"] != "stable"].head(top)
        label = t["source"] + " → " + t["target"]
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=t["share_before"], y=label, mode="markers", name=self.periods[0]))
        fig.add_trace(go.Scatter(x=t["share_after"], y=label, mode="markers", name=self.periods[1]))
        fig.update_layout(title="Drift: share of users taking each transition", xaxis_tickformat=".0%")
        return fig

    def _repr_html_(self) -> str:
        changed = self.edges[self.edges["status"] != "stable"].head(20)
        return (f"<div><strong>Drift {html.escape(self.periods[0])} → {html.escape(self.periods[1])}</strong>"
                f"{changed.to_html(index=False, escape=True)}{self.outcomes.to_html(index=False, escape=True)}</div>")


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values."""
    p = np.asarray(p, dtype=float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = stats.false_discovery_control(p[ok])
    return out


def _p_2x2(x: int, n1: int, y: int, n2: int) -> float:
    """Chi-square p-value of x/n1 vs y/n2; NaN when a margin is empty (no test possible)."""
    table = np.array([[x, n1 - x], [y, n2 - y]])
    if (table.sum(axis=0) == 0).any() or (table.sum(axis=1) == 0).any():
        return float("nan")
    return float(stats.chi2_contingency(table)[1])


def _compare_counts(before: pd.Series, after: pd.Series, n_before: int, n_after: int,
                    alpha: float, min_effect: float) -> pd.DataFrame:
    """Users per item in each period → shares, chi-square p, BH-adjusted p, Cohen's h, status."""
    both = pd.concat([before.rename("users_before"), after.rename("users_after")], axis=1).fillna(0).astype(np.int64)
    b, a = both["users_before"].to_numpy(), both["users_after"].to_numpy()
    pb, pa = b / max(n_before, 1), a / max(n_after, 1)
    p_values = np.array([_p_2x2(x, n_before, y, n_after) for x, y in zip(b, a)], dtype=float)
    both["share_before"], both["share_after"] = pb, pa
    both["cohens_h"] = 2 * np.arcsin(np.sqrt(pa)) - 2 * np.arcsin(np.sqrt(pb))
    both["p_value"] = p_values
    both["p_adjusted"] = _bh(p_values)
    significant = (both["p_adjusted"] < alpha) & (both["cohens_h"].abs() >= min_effect)
    both["status"] = np.select(
        [(b == 0) & (a > 0), (b > 0) & (a == 0), significant & (pa > pb), significant & (pa < pb)],
        ["appeared", "vanished", "increased", "decreased"], "stable")
    order = both.sort_index().assign(_abs=both["cohens_h"].abs()).sort_values("_abs", ascending=False, kind="stable")
    return order.drop(columns="_abs")


def _edge_users(log: EventLog) -> tuple[pd.Series, int]:
    e, u = log.event_codes, log.user_codes
    same = u[1:] == u[:-1]
    names = np.asarray(log.event_names.astype(str), dtype=object)
    frame = pd.DataFrame({"source": names[e[:-1][same]], "target": names[e[1:][same]], "u": u[1:][same]})
    users = frame.drop_duplicates().groupby(["source", "target"]).size()
    return users, int(len(np.unique(u)))


def _variant_users(log: EventLog, top: int) -> pd.Series:
    from ..mining.variants import variants

    t = variants(log, top=top).table
    return pd.Series(t["count"].to_numpy(), index=[" > ".join(v) for v in t["variant"]])


def drift(
    log_before: EventLog,
    log_after: EventLog | None = None,
    split_at: Any = None,
    goal: str | Sequence[str] | None = None,
    by: By = None,
    alpha: float = 0.05,
    min_effect: float = 0.1,
    top_variants: int = 50,
    inactivity: str = "7d",
) -> Drift:
    """Compare two periods: two logs, or one log cut at ``split_at`` (users by their first event).

    ``status`` is ``appeared``/``vanished`` (absent in one period), ``increased``/
    ``decreased`` (BH-adjusted p < ``alpha`` and ``|h| ≥ min_effect``) or ``stable``.
    With ``goal``: conversion and drop-off rates per segment (``by``), with the same test.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "b", "b"],
    ...     "time": ["2024-01-01", "2024-01-02", "2024-02-01", "2024-02-02"], "event": ["x", "y", "x", "z"]}))
    >>> d = jl.drift(log, split_at="2024-01-15")
    >>> d.edges[["source", "target", "status"]].values.tolist()
    [['x', 'y', 'vanished'], ['x', 'z', 'appeared']]
    """
    if log_after is None:
        if split_at is None:
            raise JourneyLensError("give two logs, or one log and split_at=<timestamp>")
        log_before, log_after = _split(log_before, split_at)
        periods = (f"before {split_at}", f"from {split_at}")
    else:
        periods = ("before", "after")
    eb, nb = _edge_users(log_before)
    ea, na = _edge_users(log_after)
    edges = _compare_counts(eb, ea, nb, na, alpha, min_effect).reset_index()
    variants = _compare_counts(_variant_users(log_before, top_variants), _variant_users(log_after, top_variants),
                               nb, na, alpha, min_effect).rename_axis("variant").reset_index()
    outcomes = _outcomes(log_before, log_after, goal, by, alpha, inactivity) if goal is not None else pd.DataFrame()
    return Drift(edges=edges.reset_index(drop=True), variants=variants, outcomes=outcomes, periods=periods)


def _split(log: EventLog, split_at: Any) -> tuple[EventLog, EventLog]:
    try:
        cut = pd.Timestamp(split_at)
    except (ValueError, TypeError):
        raise JourneyLensError(f"split_at={split_at!r} is not a timestamp") from None
    cut = cut.tz_localize("UTC") if cut.tzinfo is None else cut.tz_convert("UTC")
    first = pd.Series(log.time_us).groupby(log.user_codes).transform("min").to_numpy()
    after = first >= cut.value // 1_000
    frame = log._frame
    return log._derive(frame.loc[~after]), log._derive(frame.loc[after])


def _outcomes(before: EventLog, after: EventLog, goal, by, alpha: float, inactivity: str) -> pd.DataFrame:
    from ..outcomes.dropoffs import dropoffs

    rows = []
    s_b, s_a = dropoffs(before, goal, by=by, inactivity=inactivity).summary, dropoffs(after, goal, by=by, inactivity=inactivity).summary
    key = s_b.columns[0] if by is not None else None
    merged = (s_b.merge(s_a, on=key, how="outer", suffixes=("_before", "_after")) if key
              else s_b.add_suffix("_before").join(s_a.add_suffix("_after")))
    for r in merged.fillna(0).itertuples(index=False):
        r = r._asdict()
        for metric, count in (("conversion_rate", "converted"), ("dropoff_rate", "dropped_off")):
            nb, na = int(r["users_before"]), int(r["users_after"])
            xb, xa = int(r[f"{count}_before"]), int(r[f"{count}_after"])
            p = _p_2x2(xb, nb, xa, na)
            pb, pa = xb / max(nb, 1), xa / max(na, 1)
            rows.append({**({key: r[key]} if key else {}), "metric": metric, "before": pb, "after": pa,
                         "cohens_h": 2 * np.arcsin(np.sqrt(pa)) - 2 * np.arcsin(np.sqrt(pb)), "p_value": p,
                         "significant": bool(p < alpha) if not np.isnan(p) else False})
    return pd.DataFrame(rows)
