"""Per-user behaviour features: one row per user, computed by the engine, usable alone as an ML table.

Columns (present when the log has what they need):

==========================  ==============================================================
``n_events``                events of the user (every event, outcomes included)
``n_sessions``              distinct sessions (log with ``session_id``)
``active_days``             distinct calendar days (UTC) with an event
``tenure_days``             last minus first event
``recency_days``            observation end (the log's last timestamp) minus last event
``events_per_active_day``   ``n_events / active_days``
``median_gap_s``            median / mean time between consecutive events; a user with a
``mean_gap_s``              single event has no gap: NaN, never 0
``channel:<c>``             share of the user's behaviour events on channel ``c``
``device:<d>``              share of behaviour events on device ``d``
``stage:<s>``               1 if the user reached stage ``s`` (log with stages)
``stage_max``               index (1-based) of the furthest stage reached
``event:<e>``               share of the user's behaviour events that are ``e``, for the
                            ``top_events`` events done by most users (TF-IDF weight with
                            ``tfidf=True``)
``event:(other)``           share of the user's other behaviour events (when the log has more
                            event types than ``top_events``)
``bigram:<a>><b>``          share of the user's behaviour steps that are ``a → b``, for the
                            ``bigrams`` pairs done by most users
``converted``               1 if the user did a ``goal`` event (with ``goal=``)
``lost``                    1 if the user did a ``lost`` event (with ``lost=``)
==========================  ==============================================================

*Behaviour* events are the events that are neither ``goal`` nor ``lost``: the
outcomes describe personas after clustering, they are not clustered on. So by
default (``include_goal=False``) no ``event:`` column, no bigram and no share is
computed over an outcome event; ``include_goal=True`` treats them as behaviour.
Event and bigram columns are shares, not counts: activity volume is the
business of ``n_events`` alone. The table is at most ``top_events + bigrams``
plus a few dozen columns wide, whatever the number of event types.

This module is also where the persona code reads a log (:func:`feature_rows`,
:func:`journey_rows`, :func:`outcome_events`): everything else works on what
they return.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..core.params import choice, event_codes, event_names, positive_int
from ..core.protocol import JourneyLog
from ..engine.features import feature_sql, top_events_and_pairs, user_feature_frame, user_feature_table
from ..engine.sql import Table
from ..errors import ParameterError

#: default number of event columns; the other events fold into ``event:(other)``
TOP_EVENTS = 50
#: name of the column (and state) rare events fold into
OTHER = "(other)"


def feature_rows(log: JourneyLog) -> tuple[Table, dict[str, list[str]]]:
    """The window pass by user over ``ev(i, u, t, e, c_session?, c_*)`` and the names of each ``c_*`` code."""
    levels = [c for c in ("channel", "device", "stage") if log.has(c)]
    ev = log.journeys(per="user", columns=(("session",) if log.has("session_id") else ()) + tuple(levels))
    return ev, {f"c_{c}": [str(n) for n in log.names(c)] for c in levels}


def journey_rows(log: JourneyLog, per: str) -> Table:
    """``ev(i, g, e, u, t)``: the events of each journey (user or session ``g``), without the window pass."""
    return log.journeys(per=per, window=False)


def window_rows(log: JourneyLog) -> tuple[Table, list[str]]:
    """The window pass over each user's events ``ev(i, g, e, u, t, e2, ...)`` and the event names."""
    return log.journeys(per="user"), [str(n) for n in log.event_names]


def outcome_events(log: JourneyLog, goal: Any, lost: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``goal`` and ``lost`` checked against the log's events (``()`` when not given)."""
    known = log.event_names
    return event_names(goal, known, "goal", required=False), event_names(lost, known, "lost", required=False)


def excluded_codes(log: JourneyLog, goals: Sequence[str], losts: Sequence[str],
                   include_goal: bool) -> np.ndarray:
    """Codes of the events left out of behaviour: the outcomes, unless ``include_goal``."""
    return np.zeros(0, dtype=np.int64) if include_goal else event_codes([*goals, *losts], log.event_names)


def check_per(per: Any, log: JourneyLog) -> str:
    """``per`` checked: ``"session"`` needs sessions in the log."""
    choice(per, "per", ("user", "session"))
    if per == "session" and not log.has("session_id"):
        raise ParameterError("per='session' needs sessions: call jl.sessionize(log, gap=...) first", "per")
    return per


def user_features(
    log: JourneyLog,
    *,
    goal: str | Sequence[str] | None = None,
    lost: str | Sequence[str] | None = None,
    include_goal: bool = False,
    top_events: int = TOP_EVENTS,
    bigrams: int = 30,
    tfidf: bool = False,
    as_table: bool = False,
):
    """The per-user feature table described in the module docstring, indexed by ``user_id``.

    One query computes it in the engine that holds the log. For a
    :class:`~journeylens.core.tablelog.TableLog`, ``as_table=True`` keeps the result
    there (a Spark DataFrame, or a DuckDB table for logs larger than memory) with
    ``user_id`` as a column, for joining or writing out without pandas.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "b"],
    ...     "time": ["2024-01-01 10:00", "2024-01-02 10:00", "2024-01-02 12:00"],
    ...     "event": ["visit", "buy", "visit"], "channel": ["web", "app", "web"]}))
    >>> f = jl.user_features(log, goal="buy")
    >>> f.loc["a", ["n_events", "active_days", "channel:web", "event:visit", "converted"]].tolist()
    [2.0, 2.0, 1.0, 1.0, 1.0]
    >>> "event:buy" in f, bool(pd.isna(f.loc["b", "median_gap_s"]))  # the goal is an outcome; b has no gap
    (False, True)
    """
    goals, losts = outcome_events(log, goal, lost)
    top_events = positive_int(top_events, "top_events")
    bigrams = positive_int(bigrams, "bigrams", minimum=0)
    if as_table and log.engine == "memory":
        raise ParameterError("as_table=True needs an engine-held log (jl.from_spark, jl.read_parquet(engine=...))",
                             "as_table")
    if as_table and tfidf:
        raise ParameterError("tfidf=True weighs against all users in memory: use it without as_table", "tfidf")
    excluded = excluded_codes(log, goals, losts, include_goal)
    ev, names = feature_rows(log)
    events = [str(e) for e in log.event_names]
    shares = [(f"c_{c}", c, names[f"c_{c}"]) for c in ("channel", "device") if f"c_{c}" in names]
    stages = ("c_stage", names["c_stage"]) if "c_stage" in names else None
    ranked, found = top_events_and_pairs(ev, top_events + 1, bigrams, excluded)  # one more: do others remain?
    shown = [(int(k), events[k]) for k in np.sort(ranked[:top_events])]
    pairs = [(a, b, f"{events[a]}>{events[b]}") for a, b in found]
    outcomes = [(column, event_codes(chosen, log.event_names)) for column, chosen in (("converted", goals),
                                                                                      ("lost", losts)) if chosen]
    spec = (shares, shown, len(ranked) > top_events, pairs, excluded, outcomes, log.has("session_id"), stages)
    if as_table:
        return user_feature_table(ev, feature_sql(ev, *spec, user_table=True), log.dictionary("user"))
    table = user_feature_frame(ev, *spec)
    table.index = pd.Index(log.users[table.pop("u").to_numpy()].astype(str), name="user_id")
    if tfidf:
        from sklearn.feature_extraction.text import TfidfTransformer

        cols = [c for c in table.columns if c.startswith("event:")]
        table[cols] = TfidfTransformer().fit_transform(table[cols].to_numpy()).toarray()
    return table.astype(np.float64)  # copy-on-write: no copy of columns already float64
