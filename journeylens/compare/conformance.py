"""Designed vs observed: how customers' journeys conform to the designed journey map.

A *journey* is the unit ``per`` names: a user's whole history (``per="user"``,
the default, right for case logs where a case is one journey) or each session
(``per="session"``, right for clickstream, where a user's months of visits are
many journeys). A history cut at its first conversion is no better a unit on
clickstream: on the public ecom log it still spans a median of 34 events and no
user's conforms, while one session in ten does.

Journeys are read at the map's level: events the map does not name are left out
(and listed in ``unmapped``), and a touchpoint repeated back to back counts once
(a page refresh is not a step). On what remains:

* a *transition* is allowed when the map designs it (any is, when the map lists none);
* a journey *starts as designed* when its first touchpoint is a designed start;
* it *follows the stage order* when it never steps back to an earlier stage;
* its ``fitness`` is ``(allowed transitions + started as designed) / (transitions + 1)``,
  and it *conforms* when that is 1.0: a walk on the designed map.

Only journeys with at least one transition are judged: a journey with one
touchpoint (a bounce) has no step to judge and is counted apart
(``single_touchpoint``), as are journeys that touch no part of the map.

Outcomes: a journey *converted* when it reached one of the map's conversion
events, or was *lost* when it reached a failure event first (``lost=``, or the
map's ``lost:`` key: a declined application, an unsubscribe); the first such
event decides. Lost journeys ended as the business decided, not by missing the
conversion: they are counted apart (``lost``, ``lost_rate``) beside the
conversion rates, for conforming journeys and for the others.

Every rate that cannot be computed (no journey to divide by) is NaN with the
reason in the table's ``note`` column.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from ..core.journey_map import JourneyMap, as_journey_map
from ..core.params import event_names, fraction
from ..core.protocol import By, JourneyLog, check_per
from ..engine import compare as kernels
from ..engine.sql import query, ship
from ..errors import JourneyMapError, ParameterError

_DAY_US = 86_400e6

if TYPE_CHECKING:
    import networkx as nx


@dataclass(frozen=True)
class Comparison:
    """The observed journeys held against a designed map (see the module docstring).

    ``conformance``: one row per journey; ``overall``: one row (per segment with
    ``by``); ``unexpected``: observed steps the map does not design; ``missing``:
    designed steps never or rarely taken; ``skipped_stages``, ``stage_order_violations``,
    ``targets``, ``unmapped`` (events off the map); ``observed``: every observed step
    at map level; ``reached``: journeys reaching each touchpoint of the map.
    """

    conformance: pd.DataFrame
    overall: pd.DataFrame
    unexpected: pd.DataFrame
    missing: pd.DataFrame
    skipped_stages: pd.DataFrame
    stage_order_violations: pd.DataFrame
    targets: pd.DataFrame
    unmapped: pd.DataFrame
    observed: pd.DataFrame
    reached: pd.DataFrame
    journey_map: JourneyMap
    per: str = "user"
    segment: str | None = None
    lost: tuple[str, ...] = ()
    model_fitness: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """Per journey: ``user_id, [session_id,] touchpoints, transitions, allowed, allowed_share,
        started_as_designed, follows_stage_order, fitness, conforming, converted, lost,
        days_to_convert, [segment,] note``."""
        return self.conformance.copy()

    @property
    def graph(self) -> nx.DiGraph:
        """The map's touchpoints (``stage``, ``journeys``, ``users`` reaching them) and every designed or
        observed step (``designed``, ``count``, ``journeys``, ``users``; 0 for a designed step never taken)."""
        import networkx as nx

        g = nx.DiGraph(name=self.journey_map.name, per=self.per)
        for r in self.reached.itertuples(index=False):
            g.add_node(r.touchpoint, stage=r.stage, journeys=int(r.journeys), users=int(r.users))
        for a, b in self.journey_map.transitions:
            g.add_edge(a, b, designed=True, count=0, journeys=0, users=0)
        for r in self.observed.itertuples(index=False):
            g.add_edge(r.source, r.target, designed=bool(r.designed), count=int(r.count), journeys=int(r.journeys),
                       users=int(r.users))
        return g

    def plot(self, top_unexpected: int = 10):
        """The designed map with observed volumes: designed steps by use (dotted when never taken),
        the ``top_unexpected`` unexpected steps in red, inside a stage as well as across."""
        from ..viz.overlay import designed_vs_observed_figure

        return designed_vs_observed_figure(self, top_unexpected=top_unexpected)

    def _repr_html_(self) -> str:
        esc = lambda df: df.head(15).to_html(index=False, escape=True)  # noqa: E731
        unit = "sessions" if self.per == "session" else "users"
        return (
            f"<div><strong>Designed vs observed: {html.escape(self.journey_map.name)}</strong> "
            f"(journeys = {unit}){esc(self.overall)}<p>Unexpected transitions</p>{esc(self.unexpected)}"
            f"<p>Designed transitions missing or rare</p>{esc(self.missing)}</div>"
        )


def compare(
    log: JourneyLog,
    journey_map: JourneyMap | dict | str,
    *,
    per: str = "user",
    by: By = None,
    lost: str | Sequence[str] | None = None,
    rare: float = 0.01,
    model_fitness: bool = False,
) -> Comparison:
    """Hold the observed journeys against a designed journey map (see the module docstring).

    ``per``: the journey, ``"user"`` (whole history, the default) or ``"session"``
    (each session; the log needs sessions). ``by``: the user's segment, for
    ``overall`` per segment. ``lost``: failure events (default: the map's
    ``lost:`` key). ``rare``: a designed transition is reported in ``missing``
    when fewer than this share of the journeys reaching its source take it
    (``never`` when none does). ``model_fitness=True`` also replays the journeys
    on the map as a Petri net with pm4py (:func:`~journeylens.compare.model_fitness.map_fitness`).
    Runs on every engine.

    >>> import pandas as pd, journeylens as jl
    >>> jmap = jl.JourneyMap.from_dict({"name": "m", "stages": [
    ...     {"name": "aware", "touchpoints": ["ad"]}, {"name": "buy", "touchpoints": ["cart", "order"]}],
    ...     "transitions": [["ad", "cart"], ["cart", "order"]], "start": ["ad"], "conversion": "order"})
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "a", "b", "b", "c"],
    ...     "time": pd.date_range("2024-01-01", periods=6, freq="h"),
    ...     "event": ["ad", "cart", "order", "cart", "ad", "ad"]}))
    >>> r = jl.compare(log, jmap)
    >>> r.to_frame()[["user_id", "fitness", "conforming"]].values.tolist()
    [['a', 1.0, True], ['b', 0.0, False], ['c', nan, <NA>]]
    >>> print(r.overall[["journeys", "judged", "single_touchpoint", "conforming_share"]].to_string(index=False))
     journeys  judged  single_touchpoint  conforming_share
            3       2                  1               0.5
    """
    check_per(per)
    rare = fraction(rare, "rare")
    jmap = as_journey_map(journey_map)
    known = pd.Index(log.event_names.astype(str))
    touchpoints = list(jmap.touchpoints)
    event_of_tp = known.get_indexer(touchpoints)
    if not (event_of_tp >= 0).any():
        shown = ", ".join(touchpoints[:5]) + (", …" if len(touchpoints) > 5 else "")
        events = ", ".join(known[:8]) + (", …" if len(known) > 8 else "")
        raise JourneyMapError(f"the map {jmap.name!r} shares no touchpoint with the log: none of its touchpoints "
                              f"({shown}) is an event of the log (events: {events})")
    goal = _present(known, jmap.conversion)
    lost_names = (event_names(lost, known, "lost") if lost is not None
                  else tuple(n for n in getattr(jmap, "lost", ()) if n in set(known)))
    both = set(goal) & set(lost_names)
    if both:
        raise ParameterError(f"lost {min(both)!r} is also the map's conversion: an event ends a journey "
                             "in success or in failure, not both", "lost")
    seg_of_user, labels, seg_name = log.segments(by)

    # the map as small tables of codes: touchpoint code = position in the map, stage = its rank
    stage_rank = np.repeat(np.arange(len(jmap.stages), dtype=np.int64), [len(s.touchpoints) for s in jmap.stages])
    tp_code = {t: k for k, t in enumerate(touchpoints)}
    present = np.flatnonzero(event_of_tp >= 0)
    ev = log.journeys(per=per, window=False, columns=("session_id",) if per == "session" else ())
    mapping = ship({"e": event_of_tp[present].astype(np.int64), "c": present.astype(np.int64),
                    "s": stage_rank[present]}, ev)
    pairs = np.array([(tp_code[a], tp_code[b]) for a, b in jmap.transitions] + [(-1, -1)], dtype=np.int64)
    designed = ship({"a": pairs[:, 0], "b": pairs[:, 1]}, ev)  # (-1, -1) matches nothing: never an empty table
    start_codes = [tp_code[s] for s in jmap.start] if jmap.start else list(range(len(touchpoints)))
    starts = ship({"c": np.array(start_codes + [-1], dtype=np.int64)}, ev)
    any_step = not jmap.transitions
    goal_codes, lost_codes = known.get_indexer(list(goal)), known.get_indexer(list(lost_names))

    label = None
    if per == "session":
        label = next(c for c in query("SELECT * FROM ev LIMIT 0", {"ev": ev}).column_names
                     if c.endswith("_session_id"))
    mt = kernels.map_level(ev, mapping)
    jt = kernels.journey_table(ev, mt, designed, starts, goal_codes, lost_codes, any_step, label)
    journeys = _journeys(kernels.journey_rows(jt), log, seg_of_user, labels, label)
    names = np.asarray(touchpoints, dtype=object)
    observed = _observed(kernels.observed_pairs(mt, jt, designed, any_step), names)
    conforming = journeys["conforming"].fillna(False).to_numpy(dtype=bool)
    designed_rate = _rate(int(journeys["converted"].to_numpy()[conforming].sum()), int(conforming.sum()))
    reached = _reached(kernels.reached(mt), names, jmap, stage_rank)
    result = Comparison(
        conformance=_named(journeys, by, seg_name),
        overall=_overall(journeys, by, seg_name),
        unexpected=_unexpected(observed, designed_rate),
        missing=_missing(observed, reached, jmap, rare),
        skipped_stages=_skipped(*kernels.stage_spans(mt, len(jmap.stages)), jmap),
        stage_order_violations=_violations(kernels.backward_steps(mt), jmap),
        targets=_targets(journeys, jmap, goal),
        unmapped=_unmapped(kernels.unmapped(ev, mapping), known),
        observed=observed.drop(columns=["converted", "lost"]),
        reached=reached,
        journey_map=jmap,
        per=per,
        segment=seg_name if by is not None else None,
        lost=lost_names,
    )
    if model_fitness:
        from .model_fitness import map_fitness

        result = replace(result, model_fitness=map_fitness(log, jmap))
    return result


def _present(known: pd.Index, names: Sequence[str]) -> tuple[str, ...]:
    """The names that are events of the log (a map may name events a log never has)."""
    have = set(known)
    return tuple(n for n in names if n in have)


def _rate(num: int, den: int) -> float:
    return num / den if den else float("nan")


def _journeys(rows: dict[str, np.ndarray], log: JourneyLog, seg_of_user: np.ndarray, labels: pd.Index,
              label: str | None) -> pd.DataFrame:
    """The per-journey table from the kernel's rows (codes decoded, judgements, reasons)."""
    u = rows["u"].astype(np.int64)
    n_tp, n_tr = rows["touchpoints"].astype(np.int64), rows["transitions"].astype(np.int64)
    allowed, started = rows["allowed"].astype(np.int64), rows["started"].astype(np.int64)
    judged = n_tr > 0
    out = pd.DataFrame({"user_id": np.asarray(log.users.astype(str), dtype=object)[u]})
    if label is not None:
        values = rows["label"]
        out["session_id"] = (pd.array(values.astype(object), dtype="string") if label.startswith("x_")
                             else pd.array(values, dtype="Float64").astype("Int64"))
    with np.errstate(divide="ignore", invalid="ignore"):
        out["touchpoints"] = n_tp
        out["transitions"] = n_tr
        out["allowed"] = allowed
        out["allowed_share"] = np.where(judged, allowed / np.maximum(n_tr, 1), np.nan)
        out["started_as_designed"] = _where(n_tp > 0, started == 1)
        out["follows_stage_order"] = _where(judged, rows["backward"].astype(np.int64) == 0)
        out["fitness"] = np.where(judged, (allowed + started) / (n_tr + 1), np.nan)
        out["conforming"] = _where(judged, rows["conforming"].astype(np.int64) == 1)
    out["converted"] = rows["converted"].astype(np.int64) == 1
    out["lost"] = rows["lost"].astype(np.int64) == 1
    goal_t = rows["goal_t"].astype(np.int64)
    out["days_to_convert"] = np.where(out["converted"], (goal_t - rows["t0"].astype(np.int64)) / _DAY_US, np.nan)
    out["segment"] = np.asarray(labels, dtype=object)[seg_of_user[u]]
    out["note"] = np.select([n_tp == 0, n_tp == 1], ["no touchpoint of the map",
                                                     "one touchpoint: no transition to judge"], "")
    out["note"] = out["note"].replace("", None)
    return out


def _where(mask: np.ndarray, values: np.ndarray) -> pd.arrays.BooleanArray:
    """``values`` where ``mask``, missing elsewhere (not judged)."""
    return pd.arrays.BooleanArray(np.asarray(values, dtype=bool), ~np.asarray(mask, dtype=bool))


def _named(journeys: pd.DataFrame, by: By, seg_name: str) -> pd.DataFrame:
    """The per-journey table with the segment column named (or dropped without ``by``)."""
    if by is None:
        return journeys.drop(columns="segment")
    if seg_name in journeys.columns and seg_name != "segment":
        raise ParameterError(f"the segment name {seg_name!r} is a column of the result: rename the labels", "by")
    cols = [c for c in journeys.columns if c != "note"] + ["note"]
    return journeys[cols].rename(columns={"segment": seg_name})


def _overall(journeys: pd.DataFrame, by: By, seg_name: str) -> pd.DataFrame:
    """One row per segment: how many journeys were judged, how many conform, and their outcomes."""
    rows = []
    for segment, j in journeys.groupby("segment", sort=True):
        judged = j["transitions"].to_numpy() > 0
        conforming = j["conforming"].fillna(False).to_numpy(dtype=bool)
        other = judged & ~conforming
        converted, lost = j["converted"].to_numpy(), j["lost"].to_numpy()
        with_tp = j["touchpoints"].to_numpy() > 0
        n, n_judged, n_conf = len(j), int(judged.sum()), int(conforming.sum())
        row = {
            "segment": segment, "journeys": n, "no_touchpoint": int((~with_tp).sum()),
            "single_touchpoint": int((j["touchpoints"].to_numpy() == 1).sum()), "judged": n_judged,
            "conforming": n_conf, "conforming_share": _rate(n_conf, n_judged),
            "mean_fitness": float(j["fitness"].to_numpy()[judged].mean()) if n_judged else float("nan"),
            "started_as_designed_share": _rate(int(j["started_as_designed"].fillna(False).sum()), int(with_tp.sum())),
            "follows_stage_order_share": _rate(int(j["follows_stage_order"].fillna(False).sum()), n_judged),
            "converted": int(converted.sum()), "lost": int(lost.sum()),
            "conversion_rate": _rate(int(converted.sum()), n), "lost_rate": _rate(int(lost.sum()), n),
            "conforming_conversion_rate": _rate(int(converted[conforming].sum()), n_conf),
            "conforming_lost_rate": _rate(int(lost[conforming].sum()), n_conf),
            "other_conversion_rate": _rate(int(converted[other].sum()), int(other.sum())),
            "other_lost_rate": _rate(int(lost[other].sum()), int(other.sum())),
        }
        notes = []
        if not n_judged:
            notes.append("no journey has two touchpoints of the map: none to judge")
        elif not n_conf:
            notes.append("no journey conforms: no conversion rate of conforming journeys")
        elif not other.any():
            notes.append("every judged journey conforms: no conversion rate of the others")
        row["note"] = "; ".join(notes) or None
        rows.append(row)
    out = pd.DataFrame(rows)
    return out.drop(columns="segment") if by is None else out.rename(columns={"segment": seg_name})


def _observed(pairs: dict[str, np.ndarray], names: np.ndarray) -> pd.DataFrame:
    a, b = pairs["a"].astype(np.int64), pairs["b"].astype(np.int64)
    return pd.DataFrame({"source": names[a], "target": names[b], "count": pairs["n"].astype(np.int64),
                         "journeys": pairs["journeys"].astype(np.int64), "users": pairs["users"].astype(np.int64),
                         "designed": pairs["designed"].astype(np.int64) == 1,
                         "converted": pairs["converted"].astype(np.int64), "lost": pairs["lost"].astype(np.int64)})


def _unexpected(observed: pd.DataFrame, designed_rate: float) -> pd.DataFrame:
    """Observed steps the map does not design, most journeys first, with the outcomes of their journeys."""
    t = observed[~observed["designed"]]
    journeys = t["journeys"].to_numpy()
    out = pd.DataFrame({"source": t["source"], "target": t["target"], "count": t["count"], "journeys": journeys,
                        "users": t["users"], "conversion_rate": t["converted"].to_numpy() / journeys,
                        "lost_rate": t["lost"].to_numpy() / journeys,
                        "designed_path_conversion_rate": designed_rate})
    out["note"] = None if not np.isnan(designed_rate) else "no journey conforms: no designed-path conversion rate"
    out = out.sort_values(["journeys", "count", "source", "target"], ascending=[False, False, True, True],
                          kind="stable")
    return out.reset_index(drop=True)


def _reached(rows: dict[str, np.ndarray], names: np.ndarray, jmap: JourneyMap, rank: np.ndarray) -> pd.DataFrame:
    """Every touchpoint of the map with the journeys and users reaching it (0: designed but unused)."""
    journeys = np.zeros(len(names), dtype=np.int64)
    users = np.zeros(len(names), dtype=np.int64)
    c = rows["c"].astype(np.int64)
    journeys[c], users[c] = rows["journeys"], rows["users"]
    stages = np.asarray(jmap.stage_names, dtype=object)
    return pd.DataFrame({"touchpoint": names, "stage": stages[rank], "journeys": journeys, "users": users})


def _missing(observed: pd.DataFrame, reached: pd.DataFrame, jmap: JourneyMap, rare: float) -> pd.DataFrame:
    """Designed steps that no journey, or fewer than ``rare`` of those reaching their source, takes."""
    cols = ["source", "target", "journeys", "journeys_at_source", "share_of_source_journeys", "users", "status",
            "note"]
    if not jmap.transitions:
        return pd.DataFrame(columns=cols)
    design = pd.DataFrame(list(jmap.transitions), columns=["source", "target"])
    taken = design.merge(observed[["source", "target", "journeys", "users"]], on=["source", "target"], how="left")
    at_source = reached.set_index("touchpoint")["journeys"].reindex(design["source"]).to_numpy()
    journeys = taken["journeys"].fillna(0).to_numpy(dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(at_source > 0, journeys / np.maximum(at_source, 1), np.nan)
    out = pd.DataFrame({"source": design["source"], "target": design["target"], "journeys": journeys,
                        "journeys_at_source": at_source, "share_of_source_journeys": share,
                        "users": taken["users"].fillna(0).to_numpy(dtype=np.int64),
                        "status": np.where(journeys == 0, "never", "rare"),
                        "note": np.where(at_source == 0, "no journey reaches the source", None)})
    out = out[(journeys == 0) | (share < rare)]
    return out.sort_values(["source", "target"], kind="stable").reset_index(drop=True)[cols]


def _violations(rows: dict[str, np.ndarray], jmap: JourneyMap) -> pd.DataFrame:
    stages = np.asarray(jmap.stage_names, dtype=object)
    out = pd.DataFrame({"from_stage": stages[rows["a"].astype(np.int64)], "to_stage": stages[rows["b"].astype(np.int64)],
                        "count": rows["n"].astype(np.int64), "journeys": rows["journeys"].astype(np.int64),
                        "users": rows["users"].astype(np.int64), "_a": rows["a"], "_b": rows["b"]})
    out = out.sort_values(["journeys", "_a", "_b"], ascending=[False, True, True], kind="stable")
    return out.drop(columns=["_a", "_b"]).reset_index(drop=True)


def _skipped(passing: np.ndarray, skipping: np.ndarray, jmap: JourneyMap) -> pd.DataFrame:
    """Per stage: journeys reaching a later stage from an earlier one without visiting it."""
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(passing > 0, skipping / np.maximum(passing, 1), np.nan)
    return pd.DataFrame({"stage": list(jmap.stage_names), "journeys_skipping": skipping, "journeys_passing": passing,
                         "skip_share": share,
                         "note": np.where(passing > 0, None, "no journey passes from an earlier to a later stage")})


def _targets(journeys: pd.DataFrame, jmap: JourneyMap, goal: tuple[str, ...]) -> pd.DataFrame:
    """The map's targets against the observed journeys."""
    targets = dict(jmap.targets or {})
    converted = journeys["converted"].to_numpy()
    days = journeys["days_to_convert"].to_numpy()[converted]
    no_goal = ("the map names no conversion" if not jmap.conversion
               else None if goal else "none of the map's conversion events is in the log")
    none_converted = no_goal or ("no journey converted" if not converted.any() else None)
    rows = [{"target": "conversion_rate", "designed": targets.get("conversion_rate"),
             "observed": _rate(int(converted.sum()), len(converted)), "note": no_goal},
            {"target": "median_days_to_convert", "designed": None,
             "observed": float(np.median(days)) if len(days) else float("nan"), "note": none_converted}]
    if "max_days_to_convert" in targets:
        limit = float(targets["max_days_to_convert"])
        rows.append({"target": "max_days_to_convert", "designed": limit,
                     "observed": float((days <= limit).mean()) if len(days) else float("nan"),
                     "note": none_converted or "observed = share of converting journeys within the limit"})
    out = pd.DataFrame(rows)
    met = []
    for r in out.itertuples():
        if pd.isna(r.observed) or r.designed is None or pd.isna(r.designed):
            met.append(None)
        else:
            met.append(bool(r.observed >= r.designed) if r.target == "conversion_rate" else bool(r.observed == 1.0))
    out["met"] = met
    return out[["target", "designed", "observed", "met", "note"]]


def _unmapped(rows: dict[str, np.ndarray], known: pd.Index) -> pd.DataFrame:
    names = np.asarray(known, dtype=object)
    out = pd.DataFrame({"event": names[rows["e"].astype(np.int64)], "events": rows["n"].astype(np.int64),
                        "users": rows["users"].astype(np.int64)})
    return out.sort_values(["events", "event"], ascending=[False, True], kind="stable").reset_index(drop=True)
