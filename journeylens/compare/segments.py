"""Segment A vs segment B: two named segments of users compared user by user, with tests.

Every user counts once. Shares (conversion, loss, the reach of each event) are
compared with Fisher's exact test on the 2×2 table of the two segments;
distributions per user (events, sessions, active days, journey length in days,
days to convert among converters, value) with the two-sided Mann–Whitney U test,
the table showing their medians (and the mean value). The reach of events is
tested for every event, so ``events`` also has Benjamini–Hochberg ``q_value``\\ s.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..core.params import event_codes, event_names
from ..core.protocol import UNASSIGNED, By, JourneyLog
from ..engine.sql import with_user_values
from ..engine.users import reach, user_summary
from ..errors import ParameterError

_DAY_US = 86_400e6


@dataclass(frozen=True)
class SegmentComparison:
    """``table``: one row per metric (``metric, a, b, difference, test, p_value``); ``events``: per event, the
    share of each segment's users who did it (``event, users_a, users_b, share_a, share_b, share_difference,
    p_value, q_value``), largest differences first; ``a``/``b``: the labels, ``segment``: the segment's name."""

    table: pd.DataFrame
    events: pd.DataFrame
    segment: str
    a: str
    b: str

    def to_frame(self) -> pd.DataFrame:
        """The metrics table (see the class docstring)."""
        return self.table.copy()

    def plot(self, top: int = 15):
        """Bars: the share of each segment's users doing the ``top`` events whose reach differs most."""
        import plotly.graph_objects as go

        from ..viz.text import plain

        t = self.events.head(top).iloc[::-1]
        fig = go.Figure()
        for label, column in ((self.a, "share_a"), (self.b, "share_b")):
            fig.add_trace(go.Bar(x=t[column], y=[plain(e) for e in t["event"]], orientation="h", name=plain(label),
                                 hovertemplate="%{y}: %{x:.1%}<extra>" + plain(label) + "</extra>"))
        fig.update_layout(barmode="group", title=plain(f"{self.segment}: {self.a} vs {self.b}, share of users "
                                                       "doing each event (largest differences)"),
                          xaxis={"tickformat": ".0%", "title": "share of the segment's users"},
                          height=max(360, 34 * len(t) + 140))
        return fig

    def _repr_html_(self) -> str:
        head = html.escape(f"{self.segment}: {self.a} vs {self.b}")
        return (f"<div><strong>{head}</strong>{self.table.to_html(index=False, escape=True)}"
                f"{self.events.head(15).to_html(index=False, escape=True)}</div>")


def _fisher(x: int, n: int, y: int, m: int) -> float:
    from scipy import stats

    if n == 0 or m == 0 or (x + y == 0) or (x + y == n + m):
        return float("nan")
    return float(stats.fisher_exact([[x, n - x], [y, m - y]])[1])


def _mwu(a: np.ndarray, b: np.ndarray) -> float:
    from scipy import stats

    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) == 0 or len(b) == 0 or np.unique(np.r_[a, b]).size < 2:
        return float("nan")
    return float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (NaN stays NaN)."""
    out = np.full(len(p), np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if len(ok):
        order = ok[np.argsort(p[ok], kind="stable")]
        scaled = p[order] * len(ok) / np.arange(1, len(ok) + 1)
        out[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return out


def compare_segments(log: JourneyLog, by: By, *, segments: Sequence[Any] | None = None,
                     goal: str | Sequence[str] | None = None,
                     lost: str | Sequence[str] | None = None) -> SegmentComparison:
    """Compare two segments of users: ``segments = [a, b]``, two labels of ``by`` (a column or labels per user
    id; may be left out when ``by`` has exactly two labels). ``goal``/``lost``: events ending a journey in
    success/failure (the first of them decides), for conversion and loss. Runs on every engine; the per-user
    numbers come back for the tests (one row per user of the two segments).

    >>> import pandas as pd, journeylens as jl
    >>> from journeylens.compare.segments import compare_segments
    >>> log = jl.from_pandas(pd.DataFrame({"user": list("aabbccd"), "time": pd.date_range("2024-01-01", periods=7),
    ...     "event": ["x", "buy", "x", "x", "x", "buy", "x"], "tier": list("ggnnggn")}))
    >>> r = compare_segments(log, "tier", segments=["g", "n"], goal="buy")
    >>> r.to_frame().set_index("metric").loc[["users", "conversion_rate"], ["a", "b"]].values.tolist()
    [[2.0, 2.0], [1.0, 0.0]]
    """
    seg_of_user, labels, name = log.segments(by)
    if segments is None:
        present = [str(s) for s in labels if s != UNASSIGNED]
        if len(present) != 2:
            raise ParameterError(f"segments must name the two labels of {name} to compare (it has {len(present)}: "
                                 f"{', '.join(present[:12])})", "segments")
        segments = present
    if isinstance(segments, str) or len(segments) != 2 or str(segments[0]) == str(segments[1]):
        raise ParameterError("segments must be two different segment labels, e.g. ['test', 'control']", "segments")
    a, b = (str(s) for s in segments)
    for s in (a, b):
        if s not in set(labels):
            raise ParameterError(f"segments: {s!r} is not a label of {name} (labels: {', '.join(labels[:12])})",
                                 "segments")
    goals = event_names(goal, log.event_names, "goal", required=False)
    losts = event_names(lost, log.event_names, "lost", required=False)
    if set(goals) & set(losts):
        raise ParameterError("an event cannot be both a goal and lost", "lost")
    code_a, code_b = int(labels.get_loc(a)), int(labels.get_loc(b))
    sessions, valued = log.has("session_id"), log.has("value")
    ev = log.journeys(window=False, columns=(("session",) if sessions else ()) + (("value",) if valued else ()))
    per_user = pd.DataFrame(user_summary(ev, event_codes(goals, log.event_names), event_codes(losts, log.event_names),
                                         sessions=sessions, value=valued))
    per_user["s"] = seg_of_user[per_user["u"].to_numpy(dtype=np.int64)]
    goal_i = per_user["goal_i"].to_numpy(dtype=np.float64)
    lost_i = per_user["lost_i"].to_numpy(dtype=np.float64)
    per_user["converted"] = np.isfinite(goal_i) & ~(lost_i < goal_i)
    per_user["lost"] = np.isfinite(lost_i) & ~(goal_i < lost_i)
    per_user["journey_days"] = (per_user["last_t"] - per_user["first_t"]).to_numpy(dtype=np.float64) / _DAY_US
    per_user["days_to_convert"] = np.where(per_user["converted"], (per_user["goal_t"].to_numpy(dtype=np.float64)
                                                                   - per_user["first_t"].to_numpy(dtype=np.float64))
                                           / _DAY_US, np.nan)
    ua, ub = per_user[per_user["s"] == code_a], per_user[per_user["s"] == code_b]
    n, m = len(ua), len(ub)
    rows: list[dict[str, Any]] = [{"metric": "users", "a": float(n), "b": float(m), "test": "", "p_value": np.nan}]
    for metric, column, wanted in (("conversion_rate", "converted", goals), ("lost_rate", "lost", losts)):
        if wanted:
            x, y = int(ua[column].sum()), int(ub[column].sum())
            rows.append({"metric": metric, "a": x / n if n else np.nan, "b": y / m if m else np.nan,
                         "test": "Fisher exact", "p_value": _fisher(x, n, y, m)})
    medians = [("median_events", "events"), ("median_active_days", "active_days"),
               ("median_journey_days", "journey_days")]
    if sessions:
        medians.insert(1, ("median_sessions", "sessions"))
    if goals:
        medians.append(("median_days_to_convert", "days_to_convert"))
    for metric, column in medians:
        va, vb = ua[column].to_numpy(dtype=np.float64), ub[column].to_numpy(dtype=np.float64)
        rows.append({"metric": metric, "a": float(np.nanmedian(va)) if np.isfinite(va).any() else np.nan,
                     "b": float(np.nanmedian(vb)) if np.isfinite(vb).any() else np.nan,
                     "test": "Mann–Whitney U", "p_value": _mwu(va, vb)})
    if valued:
        va, vb = (u["value"].fillna(0.0).to_numpy(dtype=np.float64) for u in (ua, ub))
        rows.append({"metric": "mean_value_per_user", "a": float(va.mean()) if n else np.nan,
                     "b": float(vb.mean()) if m else np.nan, "test": "Mann–Whitney U", "p_value": _mwu(va, vb)})
    table = pd.DataFrame(rows)
    table.insert(3, "difference", table["a"] - table["b"])

    found = reach(with_user_values(ev, "s", seg_of_user))
    counts = pd.DataFrame({"s": found["s"].astype(np.int64), "e": found["e"].astype(np.int64),
                           "users": found["users"].astype(np.int64)})
    grid = counts[counts["s"].isin([code_a, code_b])].pivot_table(index="e", columns="s", values="users",
                                                                  aggfunc="sum", fill_value=0)
    grid = grid.reindex(columns=[code_a, code_b], fill_value=0)
    events = pd.DataFrame({"event": np.asarray(log.event_names.astype(str), dtype=object)[grid.index.to_numpy()],
                           "users_a": grid[code_a].to_numpy(dtype=np.int64),
                           "users_b": grid[code_b].to_numpy(dtype=np.int64)})
    events["share_a"] = events["users_a"] / n if n else np.nan
    events["share_b"] = events["users_b"] / m if m else np.nan
    events["share_difference"] = events["share_a"] - events["share_b"]
    events["p_value"] = [_fisher(x, n, y, m) for x, y in zip(events["users_a"], events["users_b"])]
    events["q_value"] = _bh(events["p_value"].to_numpy(dtype=np.float64))
    events = events.assign(_size=events["share_difference"].abs())
    events = events.sort_values(["_size", "event"], ascending=[False, True], kind="stable")
    return SegmentComparison(table=table, events=events.drop(columns="_size").reset_index(drop=True), segment=name,
                             a=a, b=b)
