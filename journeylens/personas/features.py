"""Per-user behaviour features: one row per user, computed by the engine, usable alone as an ML table.

Columns (present when the log has what they need):

==========================  ==============================================================
``n_events``                events of the user
``n_sessions``              distinct sessions (log with ``session_id``)
``active_days``             distinct calendar days (UTC) with an event
``tenure_days``             last minus first event
``recency_days``            observation end (the log's last timestamp) minus last event
``events_per_active_day``   ``n_events / active_days``
``median_gap_s``            median / mean time between consecutive events
``mean_gap_s``
``channel:<c>``             share of the user's events on channel ``c``
``device:<d>``              share of events on device ``d``
``stage:<s>``               1 if the user reached stage ``s`` (log with stages)
``stage_max``               index (1-based) of the furthest stage reached
``event:<e>``               count of event ``e`` (TF-IDF weight with ``tfidf=True``)
``bigram:<a>><b>``          share of the user's transitions that are ``a → b``, for the
                            ``bigrams`` pairs done by most users
``converted``               1 if the user did a ``goal`` event (with ``goal=``)
==========================  ==============================================================
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..core.protocol import JourneyLog
from ..engine.features import feature_sql, top_pairs, user_feature_table
from ..errors import JourneyLensError


def user_features(
    log: JourneyLog,
    goal: str | Sequence[str] | None = None,
    tfidf: bool = False,
    bigrams: int = 30,
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
    >>> f.loc["a", ["n_events", "active_days", "channel:web", "event:buy", "converted"]].tolist()
    [2.0, 2.0, 0.5, 1.0, 1.0]
    """
    if as_table and log.engine == "memory":
        raise JourneyLensError("as_table=True needs an engine-held log (jl.from_spark, jl.read_parquet(engine=...))")
    if as_table and tfidf:
        raise JourneyLensError("tfidf=True weighs against all users in memory: use it without as_table")
    goal_codes = None
    if goal is not None:
        names = [goal] if isinstance(goal, str) else list(goal)
        unknown = [g for g in names if g not in set(log.event_names)]
        if unknown:
            raise JourneyLensError(f"goal {unknown[0]!r} is not an event of the log")
        goal_codes = log.event_names.get_indexer(names)
    levels = [c for c in ("channel", "device", "stage") if log.has(c)]
    ev = log.journeys(per="user", columns=("session", *levels) if log.has("session_id") else tuple(levels))
    names = {f"c_{c}": [str(n) for n in log.names(c)] for c in levels}
    shares = [(f"c_{c}", c, names[f"c_{c}"]) for c in ("channel", "device") if f"c_{c}" in names]
    stages = ("c_stage", names["c_stage"]) if "c_stage" in names else None
    pairs = top_pairs(ev, bigrams) if bigrams else []
    sql = feature_sql(ev, shares, [str(e) for e in log.event_names], pairs, goal_codes,
                      sessions=log.has("session_id"), stages=stages, user_table=as_table)
    if as_table:
        return user_feature_table(ev, sql, log.dictionary("user"))
    table = user_feature_table(ev, sql).to_pandas()
    table.index = pd.Index(log.users[table.pop("u").to_numpy()].astype(str), name="user_id")
    if tfidf:
        from sklearn.feature_extraction.text import TfidfTransformer

        cols = [c for c in table.columns if c.startswith("event:")]
        table[cols] = TfidfTransformer().fit_transform(table[cols].to_numpy()).toarray()
    return table.astype(np.float64)
