"""Sessions: cut each user's events into visits separated by inactivity.

A session is a run of one user's events in which no pause between two
consecutive events is longer than ``gap``. A pause of *exactly* ``gap`` does
not split (the break condition is ``pause > gap``), the rule most web
analytics tools follow. ``max_duration`` further cuts a long session into
consecutive windows of that length counted from its first event, so every
session lasts strictly less than ``max_duration``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import engine
from ..core.eventlog import CANONICAL_COLUMNS, EventLog
from ..core.params import micros
from ..core.tablelog import TableLog
from ..engine import sql as dialect
from ..engine.tables import is_table_log
from ..errors import ValidationError


def sessionize(log: EventLog | TableLog, gap: Any = "30min", max_duration: Any = None) -> EventLog | TableLog:
    """A new log with ``session_id`` (int64) numbering the sessions of every user.

    Sessions are numbered from 0 in (user, start time) order, so the ids are the
    same whatever the order of the source rows. ``gap`` and ``max_duration`` are
    pandas durations (``"30min"``, ``"2h"``, ``"7d"``, a ``Timedelta``). A session
    column that came from the source is kept as ``source_session_id``; the
    parameters are recorded in ``log.parameters["sessionize"]``. A
    :class:`~journeylens.core.tablelog.TableLog` is sessionized by its engine into a new TableLog.

    >>> import pandas as pd, journeylens as jl
    >>> from journeylens.prepare.sessions import sessionize
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "a", "b"],
    ...     "time": ["2024-01-01 10:00", "2024-01-01 10:30", "2024-01-01 11:01", "2024-01-01 10:00"],
    ...     "event": ["home", "cart", "home", "home"]}))
    >>> sessionize(log, gap="30min").to_pandas()["session_id"].tolist()
    [0, 0, 1, 2]
    """
    require_log(log, "sessionize", held=True)
    gap_us = micros(gap, "gap")
    max_us = None if max_duration is None else micros(max_duration, "max_duration")
    record = {
        "gap": str(gap),
        "gap_seconds": gap_us / 1e6,
        "max_duration": None if max_duration is None else str(max_duration),
        "max_duration_seconds": None if max_us is None else max_us / 1e6,
    }
    if is_table_log(log):
        return log.sessionize(gap_us, max_us, record)
    starts = engine.session_starts(log.user_codes, log.time_us, gap_us, max_us)
    ids = np.cumsum(starts, dtype=np.int64) - 1

    frame, roles = log._frame, dict(log.roles)
    if "session_id" in frame and "sessionize" not in log.parameters:
        # The source's own sessions are data too: keep them beside ours.
        frame = set_column(frame, "source_session_id", frame["session_id"], after="session_id")
        roles.pop("session", None)
    frame = set_column(frame, "session_id", ids)
    record["sessions"] = int(starts.sum())
    return log._derive(frame, roles=roles, parameters={**log.parameters, "sessionize": record})


def sessions(log: EventLog | TableLog) -> pd.DataFrame:
    """One row per session, in (user, start) order.

    Columns: ``session_id``, ``user_id``, ``start``, ``end`` (UTC), ``duration_s``,
    ``n_events``, ``channels`` (the session's distinct channels sorted and joined
    by ``|``, e.g. ``"email|web"``; missing when the log has no channel or the
    session's events have none), ``first_event``, ``last_event``.
    The log needs a ``session_id`` (from :func:`sessionize` or the source; a source
    id reused by two users counts as two sessions); otherwise a
    :class:`~journeylens.errors.ValidationError` asks to sessionize first. A
    :class:`~journeylens.core.tablelog.TableLog` is summarised by its engine.

    >>> import pandas as pd, journeylens as jl
    >>> from journeylens.prepare.sessions import sessionize, sessions
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "a"],
    ...     "time": ["2024-01-01 10:00", "2024-01-01 10:10", "2024-01-01 12:00"],
    ...     "event": ["home", "cart", "home"], "channel": ["web", "email", "web"]}))
    >>> sessions(sessionize(log))[["session_id", "n_events", "duration_s", "channels"]].values.tolist()
    [[0, 2, 600.0, 'email|web'], [1, 1, 0.0, 'web']]
    """
    require_log(log, "sessions", held=True)
    if not log.has("session_id"):
        raise ValidationError("the log has no session_id: call jl.sessionize(log, gap='30min') first")
    tag_names = log.levels["channel"] if is_table_log(log) and log.has("channel") else (
        log.level_codes("channel")[1] if log.has("channel") else pd.Index([]))
    out = engine.session_summary(_session_table(log), np.asarray(tag_names, dtype=object))
    ids = out["g"] if is_table_log(log) or "sessionize" in log.parameters else (
        log._frame["session_id"].to_numpy()[out["i0"].astype(np.int64)])
    events = log.event_names
    return pd.DataFrame(
        {
            "session_id": ids,
            "user_id": pd.array(log.users.take(out["u"].astype(np.int64)), dtype="string"),
            "start": pd.to_datetime(out["t0"].astype(np.int64), unit="us", utc=True),
            "end": pd.to_datetime(out["t1"].astype(np.int64), unit="us", utc=True),
            "duration_s": (out["t1"] - out["t0"]).astype(np.float64) / 1e6,
            "n_events": out["n"].astype(np.int64),
            "channels": pd.array(out["tags"], dtype="string"),
            "first_event": pd.array(events.take(out["first"].astype(np.int64)), dtype="string"),
            "last_event": pd.array(events.take(out["last"].astype(np.int64)), dtype="string"),
        }
    )


def _session_table(log: EventLog | TableLog) -> Any:
    """``ev(i, g, u, t, e, c)``: rows with their session ``g`` and channel code ``c`` (-1: none)."""
    if is_table_log(log):
        c = "c_channel" if log.has("channel") else "-1"
        return dialect.frame(f"SELECT i, {log._journeys('session')} AS g, u, t, e, {c} AS c FROM log",
                             {"log": log.frame})
    tags = log.level_codes("channel")[0] if log.has("channel") else np.full(len(log), -1, dtype=np.int32)
    # Ids from sessionize already number the sessions in log order; a source's ids need pairing with users.
    group = log._frame["session_id"].to_numpy() if "sessionize" in log.parameters else log.journey_codes("session")
    return {"i": np.arange(len(log), dtype=np.int64), "g": group, "u": log.user_codes, "t": log.time_us,
            "e": log.event_codes, "c": tags}


def require_log(log: Any, caller: str, held: bool = False) -> None:
    """An EventLog (or, where ``held`` says the caller runs in engines too, a TableLog), else a one-line error."""
    if not isinstance(log, EventLog) and not (held and isinstance(log, TableLog)):
        raise ValidationError(
            f"{caller} expects an EventLog (jl.read(...), jl.from_pandas(...)), got {type(log).__name__}"
        )


def set_column(frame: pd.DataFrame, name: str, values: Any, after: str | None = None) -> pd.DataFrame:
    """A copy of ``frame`` with column ``name`` set: replaced where it is, else inserted
    after ``after`` or, for a canonical column, after the canonical columns that precede it.
    """
    out = frame.copy(deep=False)
    if name in out.columns:
        out[name] = values
        return out
    if after is None:
        rank = CANONICAL_COLUMNS.index(name) if name in CANONICAL_COLUMNS else len(CANONICAL_COLUMNS)
        before = [c for c in CANONICAL_COLUMNS[:rank] if c in out.columns]
        position = out.columns.get_loc(before[-1]) + 1 if before else 0
    else:
        position = out.columns.get_loc(after) + 1
    out.insert(position, name, values)
    return out
