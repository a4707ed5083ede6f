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

from ..engine.features import user_bigrams, user_code_counts, user_summary
from ..engine.tables import feature_table, is_spark_log
from ..errors import JourneyLensError
from ..io.spark import SparkLog
from ..log import EventLog

_US_PER_DAY = 86_400e6


def _scatter(user: np.ndarray, code: np.ndarray, n: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    out = np.zeros(shape, dtype=np.float64)
    out[user, code] = n
    return out


def user_features(
    log: EventLog | SparkLog,
    goal: str | Sequence[str] | None = None,
    tfidf: bool = False,
    bigrams: int = 30,
    as_spark: bool = False,
):
    """The per-user feature table described in the module docstring, indexed by ``user_id``.

    A SparkLog's counts are computed by Spark and the table assembled on the driver;
    ``as_spark=True`` returns it as a Spark DataFrame (``user_id`` a column) for joining there.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "b"],
    ...     "time": ["2024-01-01 10:00", "2024-01-02 10:00", "2024-01-02 12:00"],
    ...     "event": ["visit", "buy", "visit"], "channel": ["web", "app", "web"]}))
    >>> f = jl.user_features(log, goal="buy")
    >>> f.loc["a", ["n_events", "active_days", "channel:web", "event:buy", "converted"]].tolist()
    [2.0, 2.0, 0.5, 1.0, 1.0]
    """
    ev, level_names = feature_table(log)  # an EventLog's arrays, or a SparkLog's DataFrame
    n_users = len(log.users)
    s = user_summary(ev)
    present = s["u"].astype(np.int64)
    cols: dict[str, np.ndarray] = {}
    dense = lambda values: _scatter(present, np.zeros(len(present), dtype=np.int64), values, (n_users, 1))[:, 0]  # noqa: E731
    n_events = dense(s["n"])
    cols["n_events"] = n_events
    if log.has("session_id"):
        cols["n_sessions"] = dense(s["sessions"])
    cols["active_days"] = dense(s["active_days"])
    end = s["last_t"].max() if len(s["last_t"]) else 0
    cols["tenure_days"] = dense((s["last_t"] - s["first_t"]) / _US_PER_DAY)
    cols["recency_days"] = dense((end - s["last_t"]) / _US_PER_DAY)
    cols["events_per_active_day"] = n_events / np.maximum(cols["active_days"], 1)
    cols["median_gap_s"] = dense(s["median_gap"] / 1e6)
    cols["mean_gap_s"] = dense(s["mean_gap"] / 1e6)
    frame = pd.DataFrame(cols)
    blocks = [frame]
    for column, prefix in (("channel", "channel"), ("device", "device")):
        if log.has(column):
            names = level_names[f"c_{column}"]
            c = user_code_counts(ev, f"c_{column}")
            counts = _scatter(c["u"], c["c"], c["n"], (n_users, len(names)))
            blocks.append(pd.DataFrame(counts / np.maximum(n_events, 1)[:, None],
                                       columns=[f"{prefix}:{n}" for n in names]))
    if log.has("stage"):
        names = level_names["c_stage"]
        c = user_code_counts(ev, "c_stage")
        reached = (_scatter(c["u"], c["c"], c["n"], (n_users, len(names))) > 0).astype(np.float64)
        stages = pd.DataFrame(reached, columns=[f"stage:{n}" for n in names])
        furthest = np.where(reached.any(axis=1), len(names) - np.argmax(reached[:, ::-1], axis=1), 0)
        stages["stage_max"] = furthest.astype(np.float64)
        blocks.append(stages)
    c = user_code_counts(ev, "e")
    counts = _scatter(c["u"], c["c"], c["n"], (n_users, len(log.event_names)))
    if tfidf:
        from sklearn.feature_extraction.text import TfidfTransformer

        counts = TfidfTransformer().fit_transform(counts).toarray()
    blocks.append(pd.DataFrame(counts, columns=[f"event:{n}" for n in log.event_names]))
    if bigrams:
        blocks.append(_bigram_shares(ev, log.event_names, n_users, int(bigrams)))
    if goal is not None:
        names = [goal] if isinstance(goal, str) else list(goal)
        unknown = [g for g in names if g not in set(log.event_names)]
        if unknown:
            raise JourneyLensError(f"goal {unknown[0]!r} is not an event of the log")
        idx = log.event_names.get_indexer(names)
        blocks.append(pd.DataFrame({"converted": (counts[:, idx] > 0).any(axis=1).astype(np.float64)}))
    out = pd.concat(blocks, axis=1)
    out.index = pd.Index(log.users.astype(str), name="user_id")
    out = out.loc[n_events > 0]
    if not as_spark:
        return out
    if not is_spark_log(log):
        raise JourneyLensError("as_spark=True needs a SparkLog (jl.from_spark(...))")
    import pyarrow as pa

    return ev.sparkSession.createDataFrame(pa.Table.from_pandas(out.reset_index(), preserve_index=False))


def _bigram_shares(ev, names: pd.Index, n_users: int, top: int) -> pd.DataFrame:
    """Shares of each user's transitions for the ``top`` pairs done by most users (ties by pair)."""
    b = user_bigrams(ev)
    pair = b["a"].astype(np.int64) * len(names) + b["b"].astype(np.int64)
    users_per_pair = pd.Series(1, index=pair).groupby(level=0).sum()
    chosen = users_per_pair.sort_values(ascending=False, kind="stable").index[:top].sort_values()
    keep = np.isin(pair, chosen)
    col = np.searchsorted(chosen.to_numpy(), pair[keep])
    counts = _scatter(b["u"][keep].astype(np.int64), col, b["n"][keep], (n_users, len(chosen)))
    totals = np.bincount(b["u"].astype(np.int64), weights=b["n"], minlength=n_users)
    labels = [f"bigram:{names[p // len(names)]}>{names[p % len(names)]}" for p in chosen]
    return pd.DataFrame(counts / np.maximum(totals, 1)[:, None], columns=labels)
