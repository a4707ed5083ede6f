"""Drift between two periods: which paths appeared, vanished or changed, and how outcomes moved.

The periods are two logs, or one log cut at ``split_at`` in one of two ways:

* ``mode="cohort"`` (default): the users first seen before the cut against those
  first seen from it, each with their whole journey (events after the cut
  included);
* ``mode="calendar"``: the events before the cut against the events from it,
  whoever they belong to (a user active in both periods counts in both).

Cohorts split this way are followed for unequal times: the earlier cohort has had
longer to convert, drop off or take a rare step, which biases every share. With
``window="14d"`` each user is followed for the same time, their first 14 days
in the period; users followed for less before the period ends (the end of the
log, or the cut for the first calendar period) are left out, and ``exposure``
says how many.

Every comparison is on users (a customer counts once per period): the share of
a period's users who took an edge, followed a variant or reached an outcome,
tested on the 2×2 table (period × did / did not) with a chi-square test with
Yates' correction, or Fisher's exact test when an expected count is below 5,
Benjamini–Hochberg adjusted across the rows of a table, with Cohen's *h* as the
effect size (0.2 small, 0.5 medium, 0.8 large). A row is ``increased`` or
``decreased`` when the adjusted p is below ``alpha`` and ``|h| ≥ min_effect``;
``appeared`` and ``vanished`` (seen in one period only) pass the same test;
everything else is ``stable`` (no significant change).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .. import engine
from ..core.params import choice, event_names, fraction, micros, positive_int, timestamp
from ..core.protocol import By, JourneyLog
from ..engine import compare as kernels
from ..engine.sql import ship, with_user_values
from ..errors import ParameterError

MODES = ("cohort", "calendar")


@dataclass(frozen=True)
class Drift:
    """``edges``, ``variants`` and ``outcomes`` (conversion, drop-off, lost per segment),
    before vs after; ``exposure``: each period's users, those left out, and how they were followed."""

    edges: pd.DataFrame
    variants: pd.DataFrame
    outcomes: pd.DataFrame
    exposure: pd.DataFrame
    periods: tuple[str, str]
    mode: str
    window: str | None = None

    def to_frame(self) -> pd.DataFrame:
        """The edge table: ``source, target, users_before, users_after, share_before, share_after,
        cohens_h, p_value, p_adjusted, status, note`` (why a row has no test)."""
        return self.edges.copy()

    def plot(self, top: int = 20):
        """Dumbbell chart of the edges whose share changed most."""
        import plotly.graph_objects as go

        from ..viz.text import plain

        t = self.edges[self.edges["status"] != "stable"].head(top)
        label = [plain(f"{a} → {b}") for a, b in zip(t["source"], t["target"])]
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=t["share_before"], y=label, mode="markers", name=plain(self.periods[0])))
        fig.add_trace(go.Scatter(x=t["share_after"], y=label, mode="markers", name=plain(self.periods[1])))
        exposure = f", each user's first {self.window}" if self.window else ""
        fig.update_layout(title=f"Drift ({self.mode}{exposure}): share of users taking each transition",
                          xaxis_tickformat=".0%")
        return fig

    def _repr_html_(self) -> str:
        changed = self.edges[self.edges["status"] != "stable"].head(20)
        return (f"<div><strong>Drift {html.escape(self.periods[0])} → {html.escape(self.periods[1])}</strong>"
                f"{self.exposure.to_html(index=False, escape=True)}{changed.to_html(index=False, escape=True)}"
                f"{self.outcomes.to_html(index=False, escape=True)}</div>")


@dataclass(frozen=True)
class _Period:
    log: JourneyLog
    label: str
    segments: np.ndarray  # segment code per user code of ``log``
    labels: pd.Index
    segment_name: str
    end_us: int  # end of observation: the last event of the log, or the cut ending a first calendar period
    users: int  # users in the period before the exposure rule
    kept: int  # users followed for the whole window (all without one)


def drift(
    log: JourneyLog,
    other: JourneyLog | None = None,
    *,
    split_at: Any = None,
    mode: str = "cohort",
    window: Any = None,
    goal: str | Sequence[str] | None = None,
    lost: str | Sequence[str] | None = None,
    by: By = None,
    alpha: float = 0.05,
    min_effect: float = 0.1,
    top_variants: int = 50,
    inactivity: Any = "7d",
) -> Drift:
    """Compare two periods (see the module docstring): ``log`` against ``other``, or ``log`` cut at
    ``split_at`` by ``mode`` (``"cohort"`` or ``"calendar"``).

    ``window``: equal exposure, each user's first ``window`` (``"14d"``) in the period.
    With ``goal`` (and ``lost``): the share of users converting, lost, and dropped off
    (neither, and inactive for ``inactivity`` before the end of their observation)
    per segment of the user (``by``). ``top_variants``: the most frequent variants of
    each period, counted in both. Runs on every engine.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "b", "b"],
    ...     "time": ["2024-01-01", "2024-01-02", "2024-02-01", "2024-02-02"], "event": ["x", "y", "x", "z"]}))
    >>> d = jl.drift(log, split_at="2024-01-15")
    >>> d.edges[["source", "target", "users_before", "users_after", "status"]].values.tolist()
    [['x', 'y', 1, 0, 'stable'], ['x', 'z', 0, 1, 'stable']]
    """
    mode = choice(mode, "mode", MODES)
    window_us = None if window is None else micros(window, "window")
    alpha = fraction(alpha, "alpha")
    min_effect = fraction(min_effect, "min_effect", high=np.pi)
    top_variants = positive_int(top_variants, "top_variants")
    idle_us = micros(inactivity, "inactivity")
    if other is None:
        if split_at is None:
            raise ParameterError("give two logs, or one log and split_at=<timestamp>", "split_at")
        periods = _split(log, timestamp(split_at, "split_at"), mode, window_us, by)
    else:
        if split_at is not None:
            raise ParameterError("give two logs or split_at, not both", "split_at")
        if mode != "cohort":
            raise ParameterError("mode applies to one log cut at split_at; two logs are the periods as given",
                                 "mode")
        periods = tuple(_whole(x, label, window_us, by) for x, label in ((log, "before"), (other, "after")))
    first, second = periods
    exposure = _exposure(periods, mode if other is None else "logs", window)
    n_before, n_after = first.kept, second.kept
    edges = _compare_counts(_edge_users(first.log), _edge_users(second.log), n_before, n_after, alpha, min_effect)
    edges = _split_index(edges, ["source", "target"])
    variants = _compare_counts(*_variant_users(first.log, second.log, top_variants), n_before, n_after, alpha,
                               min_effect).rename_axis("variant").reset_index()
    outcomes = (_outcomes(first, second, goal, lost, by, window_us, idle_us, alpha, min_effect)
                if goal is not None else pd.DataFrame())
    return Drift(edges=edges, variants=variants, outcomes=outcomes, exposure=exposure,
                 periods=(first.label, second.label), mode=mode if other is None else "logs",
                 window=None if window is None else str(window))


# -- the periods -------------------------------------------------------------------------------
def _split(log: JourneyLog, cut: pd.Timestamp, mode: str, window_us: int | None, by: By) -> tuple[_Period, _Period]:
    if not len(log):
        raise ParameterError("the log is empty: no periods to compare", "log")
    lo, hi = log.time_range()
    cut_us = int(cut.value // 1_000)
    stamp = cut.strftime("%Y-%m-%d") if cut == cut.normalize() else cut.isoformat()
    shown = lambda us: pd.Timestamp(us, unit="us", tz="UTC").isoformat()  # noqa: E731
    if cut_us <= lo:
        raise ParameterError(f"split_at={stamp} leaves the first period empty: the log starts {shown(lo)}",
                             "split_at")
    if cut_us > hi:
        raise ParameterError(f"split_at={stamp} leaves the second period empty: the log ends {shown(hi)}",
                             "split_at")
    segments, labels, name = log.segments(by)
    ev = log.journeys(window=False)
    names = ((f"first seen before {stamp}", f"first seen from {stamp}") if mode == "cohort"
             else (f"before {stamp}", f"from {stamp}"))
    out = []
    for side, label in enumerate(names):
        end = cut_us if (mode == "calendar" and side == 0) else hi
        rows, users, kept = kernels.period_rows(ev, mode=mode, side=side, cut_us=cut_us, window_us=window_us,
                                                end_us=end)
        _check_kept(users, kept, label, window_us, f"split_at={stamp}")
        record = {"drift_period": label, "mode": mode, "split_at": cut.isoformat(),
                  **({"window_us": window_us} if window_us is not None else {})}
        out.append(_Period(log.take(rows, record), label, segments, labels, name, end, users, kept))
    return out[0], out[1]


def _whole(log: JourneyLog, label: str, window_us: int | None, by: By) -> _Period:
    """A log given as a period: all of it, or each user's first ``window_us`` in it."""
    if not len(log):
        raise ParameterError(f"the {label} log is empty: no period to compare", "log" if label == "before" else "other")
    segments, labels, name = log.segments(by)
    end = log.time_range()[1]
    if window_us is None:
        users = int(kernels.period_size(log.journeys(window=False))["users"])
        return _Period(log, label, segments, labels, name, end, users, users)
    rows, users, kept = kernels.period_rows(log.journeys(window=False), mode="calendar", side=0, cut_us=None,
                                            window_us=window_us, end_us=end)
    _check_kept(users, kept, label, window_us, f"the {label} log")
    return _Period(log.take(rows, {"drift_period": label, "window_us": window_us}), label, segments, labels, name,
                   end, users, kept)


def _check_kept(users: int, kept: int, label: str, window_us: int | None, cause: str) -> None:
    if users == 0:
        raise ParameterError(f"{cause} leaves the period {label!r} without users", "split_at")
    if kept == 0:
        raise ParameterError(f"window={pd.Timedelta(microseconds=window_us)} leaves no user in the period "
                             f"{label!r}: all {users:,} are followed for less", "window")


def _exposure(periods: Sequence[_Period], mode: str, window: Any) -> pd.DataFrame:
    rows = []
    for p in periods:
        size = kernels.period_size(p.log.journeys(window=False))
        stamp = lambda us: pd.Timestamp(us, unit="us", tz="UTC")  # noqa: E731
        rows.append({"period": p.label, "mode": mode, "followed": f"first {window}" if window is not None
                     else "to the end of the period", "users": p.kept, "users_left_out": p.users - p.kept,
                     "events": size["events"], "first_event": stamp(size["lo"]), "last_event": stamp(size["hi"])})
    return pd.DataFrame(rows)


# -- what is compared --------------------------------------------------------------------------
def _edge_users(log: JourneyLog) -> pd.Series:
    """Users per directly-follows edge ``(source, target)`` (names)."""
    out = kernels.edge_users(log.journeys())
    names = np.asarray(log.event_names.astype(str), dtype=object)
    index = pd.MultiIndex.from_arrays([names[out["a"].astype(np.int64)], names[out["b"].astype(np.int64)]],
                                      names=["source", "target"])
    return pd.Series(out["users"].astype(np.int64), index=index)


def _top_variants(log: JourneyLog, top: int) -> list[tuple[str, ...]]:
    offsets, codes, _, _, _ = engine.variants(log.journeys(window=False), top=top)
    named = np.asarray(log.event_names.astype(str), dtype=object)[codes].tolist()
    return [tuple(named[a:b]) for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]


def _count_variants(log: JourneyLog, wanted: list[tuple[str, ...]]) -> np.ndarray:
    """Journeys of ``log`` following each wanted variant (0 for one with an event the log lacks)."""
    known = pd.Index(log.event_names.astype(str))
    codes = [known.get_indexer(list(v)) for v in wanted]
    ok = np.array([bool((c >= 0).all()) for c in codes], dtype=bool)
    out = np.zeros(len(wanted), dtype=np.int64)
    if not ok.any():
        return out
    kept = [c for c, good in zip(codes, ok) if good]
    ev = log.journeys(window=False)
    table = ship({"g": np.repeat(np.arange(len(kept), dtype=np.int64), [len(c) for c in kept]),
                  "i": np.concatenate([np.arange(len(c), dtype=np.int64) for c in kept]),
                  "e": np.concatenate(kept).astype(np.int64)}, ev)
    out[ok] = kernels.variant_counts(ev, table)
    return out


def _variant_users(before: JourneyLog, after: JourneyLog, top: int) -> tuple[pd.Series, pd.Series]:
    """Users following each of the ``top`` variants of either period, counted in both periods."""
    wanted = list(dict.fromkeys(_top_variants(before, top) + _top_variants(after, top)))
    index = pd.Index([" > ".join(v) for v in wanted], dtype=object)
    return (pd.Series(_count_variants(before, wanted), index=index),
            pd.Series(_count_variants(after, wanted), index=index))


def _outcomes(first: _Period, second: _Period, goal, lost, by: By, window_us: int | None, idle_us: int,
              alpha: float, min_effect: float) -> pd.DataFrame:
    """Conversion, lost and drop-off shares per segment, before vs after, with the same test."""
    counts = []
    for p in (first, second):
        known = pd.Index(p.log.event_names.astype(str))
        goal_codes = known.get_indexer(list(event_names(goal, known, "goal")))
        lost_codes = known.get_indexer(list(event_names(lost, known, "lost", required=False)))
        ev = with_user_values(p.log.journeys(window=False), "s", p.segments)
        c = kernels.outcome_counts(ev, goal_codes, lost_codes, window_us=window_us, end_us=p.end_us,
                                   idle_us=idle_us)
        labels = np.asarray(p.labels, dtype=object)[c["s"].astype(np.int64)]
        counts.append(pd.DataFrame({k: c[k].astype(np.int64) for k in ("users", "converted", "lost", "dropped")},
                                   index=pd.Index(labels, name="segment")))
    before, after = (c.reindex(counts[0].index.union(counts[1].index), fill_value=0) for c in counts)
    metrics = [("conversion_rate", "converted"), ("dropoff_rate", "dropped")] + (
        [("lost_rate", "lost")] if lost is not None else [])
    rows = []
    for segment in before.index:
        for metric, column in metrics:
            rows.append({"segment": segment, "metric": metric, "users_before": before.at[segment, "users"],
                         "users_after": after.at[segment, "users"], "count_before": before.at[segment, column],
                         "count_after": after.at[segment, column]})
    t = pd.DataFrame(rows)
    tested = _test(t["count_before"].to_numpy(), t["users_before"].to_numpy(), t["count_after"].to_numpy(),
                   t["users_after"].to_numpy(), alpha, min_effect)
    out = pd.concat([t, tested.rename(columns={"share_before": "before", "share_after": "after"})], axis=1)
    absent = [f"no user of this segment in {p.label!r}" for p in (first, second)]
    out["note"] = np.select([out["users_before"] == 0, out["users_after"] == 0], absent, out["note"])
    cols = ["segment", "metric", "before", "after", "users_before", "users_after", "count_before", "count_after",
            "cohens_h", "p_value", "p_adjusted", "status", "note"]
    out = out[cols]
    return out.drop(columns="segment") if by is None else out.rename(columns={"segment": first.segment_name})


# -- the test ----------------------------------------------------------------------------------
def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (NaN stays NaN)."""
    from scipy import stats

    p = np.asarray(p, dtype=float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = stats.false_discovery_control(p[ok])
    return out


def p_values(x: np.ndarray, n1: np.ndarray, y: np.ndarray, n2: np.ndarray) -> np.ndarray:
    """Two-sided p of x/n1 against y/n2 for each row: chi-square with Yates' correction on the 2×2
    table, Fisher's exact test where an expected count is below 5; NaN where a margin is empty
    (nothing to test: no one in a period, or everyone or no one in both).

    >>> p_values(np.array([9]), np.array([300]), np.array([0]), np.array([30])).round(3).tolist()
    [1.0]
    """
    from scipy import stats

    x, n1, y, n2 = (np.asarray(v, dtype=np.float64) for v in (x, n1, y, n2))
    observed = np.stack([x, n1 - x, y, n2 - y], axis=1)
    rows = np.stack([n1, n1, n2, n2], axis=1)
    cols = np.stack([x + y, n1 + n2 - x - y] * 2, axis=1)
    total = (n1 + n2)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = rows * cols / total
        diff = expected - observed
        corrected = observed + np.sign(diff) * np.minimum(0.5, np.abs(diff))  # Yates, as scipy applies it
        chi2 = np.sum((corrected - expected) ** 2 / expected, axis=1)
    p = stats.chi2.sf(chi2, 1)
    empty = (rows[:, [0, 2]] == 0).any(axis=1) | (cols[:, :2] == 0).any(axis=1)
    small = ~empty & (expected < 5).any(axis=1)
    for k in np.flatnonzero(small):  # few rows: the small counts of rare items
        p[k] = stats.fisher_exact([[x[k], n1[k] - x[k]], [y[k], n2[k] - y[k]]])[1]
    p[empty] = np.nan
    return p


def _test(x: np.ndarray, n1: np.ndarray, y: np.ndarray, n2: np.ndarray, alpha: float,
          min_effect: float) -> pd.DataFrame:
    """Shares, Cohen's h, p, BH-adjusted p and status of each row of counts."""
    x, n1, y, n2 = (np.asarray(v, dtype=np.int64) for v in (x, n1, y, n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        pb, pa = np.where(n1 > 0, x / np.maximum(n1, 1), np.nan), np.where(n2 > 0, y / np.maximum(n2, 1), np.nan)
    h = 2 * np.arcsin(np.sqrt(pa)) - 2 * np.arcsin(np.sqrt(pb))
    p = p_values(x, n1, y, n2)
    adjusted = _bh(p)
    significant = (adjusted < alpha) & (np.abs(h) >= min_effect)
    status = np.select([significant & (x == 0), significant & (y == 0), significant & (pa > pb),
                        significant & (pa < pb)], ["appeared", "vanished", "increased", "decreased"], "stable")
    note = np.select([(n1 == 0) | (n2 == 0), (x == 0) & (y == 0), (x == n1) & (y == n2)],
                     ["no user in one of the periods: no test", "no user in either period: no test",
                      "every user in both periods: no test"], "")
    return pd.DataFrame({"share_before": pb, "share_after": pa, "cohens_h": h, "p_value": p, "p_adjusted": adjusted,
                         "status": status, "note": pd.Series(note).replace("", None).to_numpy()})


def _compare_counts(before: pd.Series, after: pd.Series, n_before: int, n_after: int,
                    alpha: float, min_effect: float) -> pd.DataFrame:
    """Users per item in each period → shares, p, adjusted p, Cohen's h and status; largest |h| first."""
    both = pd.concat([before.rename("users_before"), after.rename("users_after")], axis=1).fillna(0)
    both = both.astype(np.int64).sort_index()
    b, a = both["users_before"].to_numpy(), both["users_after"].to_numpy()
    tested = _test(b, np.full(len(b), n_before), a, np.full(len(a), n_after), alpha, min_effect)
    tested.index = both.index
    out = pd.concat([both, tested], axis=1)
    order = np.argsort(-np.abs(out["cohens_h"].to_numpy()), kind="stable")
    return out.iloc[order]


def _split_index(table: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    table = table.copy()
    table.index = pd.MultiIndex.from_tuples(list(table.index), names=names)
    return table.reset_index()
