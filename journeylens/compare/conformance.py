"""Designed vs observed: how customers' journeys conform to the designed journey map.

Journeys are read at the map's level: events the map does not name are left
out (and listed in ``unmapped``), and a touchpoint repeated back to back counts
once (a page refresh is not a step). On what remains:

* a *transition* is allowed when the map designs it;
* a journey *starts as designed* when its first mapped touchpoint is a designed start;
* it *follows the stage order* when it never steps back to an earlier stage;
* its ``fitness`` is ``(allowed transitions + started as designed) / (transitions + 1)``,
  1.0 for a journey that is a walk on the designed map.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core.eventlog import EventLog
from ..core.journey_map import JourneyMap, as_journey_map
from ..core.segments import By


@dataclass(frozen=True)
class Comparison:
    """The observed journeys held against a designed map (see the module docstring)."""

    conformance: pd.DataFrame  # one row per user
    overall: pd.DataFrame  # one row per segment (or one row)
    unexpected: pd.DataFrame
    missing: pd.DataFrame
    skipped_stages: pd.DataFrame
    stage_order_violations: pd.DataFrame
    targets: pd.DataFrame
    unmapped: pd.DataFrame
    observed: pd.DataFrame  # every observed transition at map level (source, target, count, users, designed)
    journey_map: JourneyMap
    segment: str | None = None
    model_fitness: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """Per-user conformance (``user_id, transitions, allowed, allowed_share, started_as_designed,
        follows_stage_order, fitness, converted`` [, segment])."""
        return self.conformance.copy()

    def plot(self):
        """The designed map with observed volumes: designed edges grey→blue by use, unexpected edges red."""
        from ..viz.overlay import designed_vs_observed_figure

        return designed_vs_observed_figure(self)

    def _repr_html_(self) -> str:
        esc = lambda df: df.head(15).to_html(index=False, escape=True)  # noqa: E731
        return (
            f"<div><strong>Designed vs observed: {html.escape(self.journey_map.name)}</strong>"
            f"{esc(self.overall)}<p>Unexpected transitions</p>{esc(self.unexpected)}"
            f"<p>Designed transitions missing or rare</p>{esc(self.missing)}</div>"
        )


def _map_level(log: EventLog, jmap: JourneyMap) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Rows of mapped touchpoints with consecutive repeats collapsed: (positions, user codes, touchpoint codes, names)."""
    touchpoints = list(jmap.touchpoints)
    lookup = pd.Index(touchpoints).get_indexer(log.event_names.astype(str))  # event code → touchpoint code or -1
    tp = lookup[log.event_codes] if len(log) else np.zeros(0, dtype=np.int64)
    rows = np.flatnonzero(tp >= 0)
    u, c = log.user_codes[rows], tp[rows]
    repeat = np.r_[False, (u[1:] == u[:-1]) & (c[1:] == c[:-1])]
    return rows[~repeat], u[~repeat], c[~repeat], touchpoints


def compare(
    log: EventLog,
    journey_map: JourneyMap | dict | str,
    by: By = None,
    rare: float = 0.01,
    model_fitness: bool = False,
) -> Comparison:
    """Hold the observed journeys against a designed journey map.

    ``rare``: a designed transition is reported in ``missing`` when fewer than
    this share of the users who reached its source took it (``never`` when no one
    did). ``model_fitness=True`` also turns the map into a Petri net and replays
    the variants on it with pm4py (see :func:`journeylens.compare.model_fitness`).

    >>> import pandas as pd, journeylens as jl
    >>> jmap = jl.JourneyMap.from_dict({"name": "m", "stages": [
    ...     {"name": "aware", "touchpoints": ["ad"]}, {"name": "buy", "touchpoints": ["cart", "order"]}],
    ...     "transitions": [["ad", "cart"], ["cart", "order"]], "start": ["ad"], "conversion": "order"})
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "a", "b", "b"],
    ...     "time": pd.date_range("2024-01-01", periods=5, freq="h"),
    ...     "event": ["ad", "cart", "order", "cart", "ad"]}))
    >>> r = jl.compare(log, jmap)
    >>> r.to_frame()["fitness"].tolist(), r.unexpected[["source", "target"]].values.tolist()
    ([1.0, 0.0], [['cart', 'ad']])
    """
    jmap = as_journey_map(journey_map)
    rows, u, c, touchpoints = _map_level(log, jmap)
    n_tp = len(touchpoints)
    stage_names = list(jmap.stage_names)
    stage_of_tp = np.array([stage_names.index(jmap.stage_of[t]) for t in touchpoints], dtype=np.int64)
    designed = np.zeros((n_tp, n_tp), dtype=bool)
    index = {t: k for k, t in enumerate(touchpoints)}
    for a, b in jmap.transitions:
        designed[index[a], index[b]] = True
    is_start = np.isin(np.arange(n_tp), [index[s] for s in jmap.start]) if jmap.start else np.ones(n_tp, dtype=bool)

    same = u[1:] == u[:-1]
    a, b = c[:-1][same], c[1:][same]
    pair_user = u[1:][same]
    allowed = designed[a, b]
    backward = stage_of_tp[b] < stage_of_tp[a]

    users_all = np.unique(log.user_codes)
    n_users = len(log.users)
    trans = np.bincount(pair_user, minlength=n_users)
    ok = np.bincount(pair_user, weights=allowed, minlength=n_users)
    back = np.bincount(pair_user, weights=backward, minlength=n_users)
    first = np.flatnonzero(np.r_[True, ~same]) if len(u) else np.zeros(0, dtype=np.int64)
    started = np.zeros(n_users, dtype=bool)
    has_mapped = np.zeros(n_users, dtype=bool)
    started[u[first]] = is_start[c[first]]
    has_mapped[u[first]] = True
    converted = np.zeros(n_users, dtype=bool)
    goal_codes = log.event_names.get_indexer(list(jmap.conversion))
    goal_codes = goal_codes[goal_codes >= 0]
    converted[log.user_codes[np.isin(log.event_codes, goal_codes)]] = True

    seg_of_user, labels, seg_name = log.segments(by)
    per_user = pd.DataFrame({
        "user_id": log.users.astype(str)[users_all],
        "transitions": trans[users_all],
        "allowed": ok[users_all].astype(np.int64),
        "started_as_designed": started[users_all],
        "follows_stage_order": back[users_all] == 0,
        "converted": converted[users_all],
    })
    per_user["allowed_share"] = per_user["allowed"] / per_user["transitions"].where(per_user["transitions"] > 0)
    per_user["fitness"] = np.where(has_mapped[users_all],
                                   (per_user["allowed"] + per_user["started_as_designed"]) / (per_user["transitions"] + 1),
                                   np.nan)
    per_user["segment"] = labels[seg_of_user[users_all]]
    conforming = (per_user["fitness"] == 1.0).to_numpy()

    observed = _observed(a, b, pair_user, designed, touchpoints, n_tp)
    unexpected = _unexpected(a, b, pair_user, designed, touchpoints, converted, conforming, users_all, n_users)
    missing = _missing(observed, jmap, c, u, index, rare)
    violations = _violations(a, b, pair_user, backward, stage_of_tp, stage_names)
    skipped = _skipped(u, c, stage_of_tp, stage_names, n_users)
    targets = _targets(log, jmap, per_user, u, converted)
    unmapped = _unmapped(log, set(touchpoints))
    overall = _overall(per_user)
    cols = ["user_id", "transitions", "allowed", "allowed_share", "started_as_designed", "follows_stage_order",
            "fitness", "converted"]
    if by is not None:
        per_user = per_user.rename(columns={"segment": seg_name})
        overall = overall.rename(columns={"segment": seg_name})
        cols.append(seg_name)
    else:
        overall = overall.drop(columns="segment")
    result = Comparison(
        conformance=per_user[cols], overall=overall, unexpected=unexpected, missing=missing,
        skipped_stages=skipped, stage_order_violations=violations, targets=targets, unmapped=unmapped,
        observed=observed, journey_map=jmap, segment=seg_name if by is not None else None,
    )
    if model_fitness:
        from .model_fitness import map_fitness

        result = Comparison(**{**result.__dict__, "model_fitness": map_fitness(log, jmap)})
    return result


def _observed(a, b, pair_user, designed, touchpoints, n_tp) -> pd.DataFrame:
    key = a * n_tp + b
    frame = pd.DataFrame({"k": key, "u": pair_user})
    g = frame.groupby("k").agg(count=("u", "size"), users=("u", "nunique")).reset_index()
    names = np.asarray(touchpoints, dtype=object)
    src, dst = g["k"].to_numpy() // n_tp, g["k"].to_numpy() % n_tp
    return pd.DataFrame({"source": names[src], "target": names[dst], "count": g["count"], "users": g["users"],
                         "designed": designed[src, dst]})


def _unexpected(a, b, pair_user, designed, touchpoints, converted, conforming, users_all, n_users) -> pd.DataFrame:
    names = np.asarray(touchpoints, dtype=object)
    mask = ~designed[a, b]
    frame = pd.DataFrame({"a": a[mask], "b": b[mask], "u": pair_user[mask]})
    g = frame.groupby(["a", "b"]).agg(count=("u", "size"), users=("u", "nunique")).reset_index()
    takers = frame.drop_duplicates(["a", "b", "u"])
    rate = pd.Series(converted[takers["u"].to_numpy()]).groupby([takers["a"].to_numpy(), takers["b"].to_numpy()]).mean()
    g["conversion_rate"] = rate.reindex(pd.MultiIndex.from_frame(g[["a", "b"]])).to_numpy()
    designed_users = users_all[conforming]
    g["designed_path_conversion_rate"] = converted[designed_users].mean() if len(designed_users) else np.nan
    g.insert(0, "source", names[g["a"].to_numpy()])
    g.insert(1, "target", names[g["b"].to_numpy()])
    g = g.drop(columns=["a", "b"]).sort_values(["users", "count", "source", "target"],
                                               ascending=[False, False, True, True], kind="stable")
    return g.reset_index(drop=True)


def _missing(observed, jmap, c, u, index, rare) -> pd.DataFrame:
    reached = pd.Series(u).groupby(c).nunique() if len(c) else pd.Series(dtype=np.int64)
    rows = []
    seen = observed.set_index(["source", "target"])
    for a, b in sorted(jmap.transitions):
        users = int(seen["users"].get((a, b), 0)) if len(seen) else 0
        base = int(reached.get(index[a], 0))
        share = users / base if base else 0.0
        if users == 0 or share < rare:
            rows.append({"source": a, "target": b, "users": users, "users_at_source": base,
                         "share_of_source_users": share, "status": "never" if users == 0 else "rare"})
    return pd.DataFrame(rows, columns=["source", "target", "users", "users_at_source", "share_of_source_users", "status"])


def _violations(a, b, pair_user, backward, stage_of_tp, stage_names) -> pd.DataFrame:
    names = np.asarray(stage_names, dtype=object)
    frame = pd.DataFrame({"from": stage_of_tp[a[backward]], "to": stage_of_tp[b[backward]], "u": pair_user[backward]})
    g = frame.groupby(["from", "to"]).agg(count=("u", "size"), users=("u", "nunique")).reset_index()
    g["from_stage"], g["to_stage"] = names[g["from"].to_numpy()], names[g["to"].to_numpy()]
    g = g.sort_values(["users", "from", "to"], ascending=[False, True, True], kind="stable")
    return g[["from_stage", "to_stage", "count", "users"]].reset_index(drop=True)


def _skipped(u, c, stage_of_tp, stage_names, n_users) -> pd.DataFrame:
    """Users who reached a later stage without ever visiting an earlier one (after their first stage)."""
    n_st = len(stage_names)
    visited = np.zeros((n_users, n_st), dtype=bool)
    visited[u, stage_of_tp[c]] = True
    any_visit = visited.any(axis=1)
    first = np.where(any_visit, visited.argmax(axis=1), n_st)
    last = np.where(any_visit, n_st - 1 - visited[:, ::-1].argmax(axis=1), -1)
    k = np.arange(n_st)
    skipped = (~visited) & (k[None, :] > first[:, None]) & (k[None, :] < last[:, None])
    passed = (k[None, :] > first[:, None]) & (k[None, :] < last[:, None])
    return pd.DataFrame({"stage": stage_names, "users_skipping": skipped.sum(axis=0),
                         "users_passing": passed.sum(axis=0),
                         "skip_share": skipped.sum(axis=0) / np.maximum(passed.sum(axis=0), 1)})


def _targets(log, jmap, per_user, u, converted) -> pd.DataFrame:
    targets = dict(jmap.targets or {})
    rows = []
    rate = float(per_user["converted"].mean()) if len(per_user) else float("nan")
    rows.append({"target": "conversion_rate", "designed": targets.get("conversion_rate"), "observed": rate})
    goal_codes = log.event_names.get_indexer(list(jmap.conversion))
    t, uc = log.time_us, log.user_codes
    first = pd.Series(t).groupby(uc).min()
    goal = pd.Series(t[np.isin(log.event_codes, goal_codes[goal_codes >= 0])]).groupby(
        uc[np.isin(log.event_codes, goal_codes[goal_codes >= 0])]).min()
    days = (goal - first.reindex(goal.index)) / 86_400e6
    rows.append({"target": "median_days_to_convert", "designed": None,
                 "observed": float(days.median()) if len(days) else float("nan")})
    if "max_days_to_convert" in targets:
        limit = float(targets["max_days_to_convert"])
        rows.append({"target": "max_days_to_convert", "designed": limit,
                     "observed": float((days <= limit).mean()) if len(days) else float("nan"),
                     "note": "observed = share of converters within the limit"})
    out = pd.DataFrame(rows)
    if "note" not in out:
        out["note"] = None
    out["met"] = [
        (r.observed >= r.designed) if r.target == "conversion_rate" and r.designed is not None and not pd.isna(r.designed)
        else (r.observed == 1.0) if r.target == "max_days_to_convert" else None
        for r in out.itertuples()
    ]
    return out


def _unmapped(log: EventLog, touchpoints: set) -> pd.DataFrame:
    names = log.event_names.astype(str)
    out_of_map = ~np.isin(np.asarray(names), list(touchpoints))
    mask = out_of_map[log.event_codes]
    frame = pd.DataFrame({"e": log.event_codes[mask], "u": log.user_codes[mask]})
    g = frame.groupby("e").agg(events=("u", "size"), users=("u", "nunique")).reset_index()
    g.insert(0, "event", names[g["e"].to_numpy()])
    return g.drop(columns="e").sort_values(["events", "event"], ascending=[False, True]).reset_index(drop=True)


def _overall(per_user: pd.DataFrame) -> pd.DataFrame:
    g = per_user.groupby("segment", sort=True)
    out = pd.DataFrame({
        "users": g.size(),
        "mean_fitness": g["fitness"].mean(),
        "conforming_share": g["fitness"].apply(lambda s: float((s == 1.0).mean())),
        "allowed_transition_share": g["allowed"].sum() / g["transitions"].sum().where(g["transitions"].sum() > 0),
        "started_as_designed_share": g["started_as_designed"].mean(),
        "follows_stage_order_share": g["follows_stage_order"].mean(),
        "conversion_rate": g["converted"].mean(),
    }).reset_index()
    return out
