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
from ..core.params import micros, optional_micros
from ..core.protocol import JourneyLog
from ..errors import ParameterError


def sessionize(log: JourneyLog, gap: Any = "30min", max_duration: Any = None) -> JourneyLog:
    """A new log with ``session_id`` (int64) numbering the sessions of every user.

    Sessions are numbered from 0 in (user, start time) order, so the ids are the
    same whatever the order of the source rows. ``gap`` and ``max_duration`` are
    durations with a unit (``"30min"``, ``"2h"``, ``"7d"``, a ``timedelta``). A session
    column that came from the source is kept as ``source_session_id``; the
    parameters are recorded in ``log.parameters["sessionize"]``. Runs on every
    engine: an engine-held log is sessionized by its engine into a new held log.

    >>> import pandas as pd, journeylens as jl
    >>> from journeylens.prepare.sessions import sessionize
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "a", "b"],
    ...     "time": ["2024-01-01 10:00", "2024-01-01 10:30", "2024-01-01 11:01", "2024-01-01 10:00"],
    ...     "event": ["home", "cart", "home", "home"]}))
    >>> sessionize(log, gap="30min").to_pandas()["session_id"].tolist()
    [0, 0, 1, 2]
    """
    require_log(log, "sessionize")
    gap_us = micros(gap, "gap")
    max_us = optional_micros(max_duration, "max_duration")
    record = {
        "gap": str(gap),
        "gap_seconds": gap_us / 1e6,
        "max_duration": None if max_duration is None else str(max_duration),
        "max_duration_seconds": None if max_us is None else max_us / 1e6,
    }
    return log.with_sessions(gap_us, max_us, record)


def sessions(log: JourneyLog) -> pd.DataFrame:
    """One row per session, in (user, start) order.

    Columns: ``session_id``, ``user_id``, ``start``, ``end`` (UTC), ``duration_s``,
    ``n_events``, ``channels`` (the session's distinct channels sorted and joined
    by ``|``, e.g. ``"email|web"``; missing when the log has no channel or the
    session's events have none), ``first_event``, ``last_event``.
    The log needs a ``session_id`` (from :func:`sessionize` or the source; a source
    id reused by two users counts as two sessions, numbered in (user, id) order);
    otherwise a :class:`~journeylens.errors.ParameterError` asks to sessionize first.

    >>> import pandas as pd, journeylens as jl
    >>> from journeylens.prepare.sessions import sessionize, sessions
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "a"],
    ...     "time": ["2024-01-01 10:00", "2024-01-01 10:10", "2024-01-01 12:00"],
    ...     "event": ["home", "cart", "home"], "channel": ["web", "email", "web"]}))
    >>> sessions(sessionize(log))[["session_id", "n_events", "duration_s", "channels"]].values.tolist()
    [[0, 2, 600.0, 'email|web'], [1, 1, 0.0, 'web']]
    """
    require_log(log, "sessions")
    channel = log.has("channel")
    given = "sessionize" not in log.parameters  # the source's session ids are shown as they are
    columns = (("channel",) if channel else ()) + (("session_id",) if given else ())
    ev = log.journeys(per="session", window=False, columns=columns)
    tag_names = log.names("channel") if channel else pd.Index([])
    out = engine.session_summary(ev, np.asarray(tag_names, dtype=object), tags="c_channel" if channel else None,
                                 label="x_session_id" if given else None)
    events = log.event_names
    return pd.DataFrame(
        {
            "session_id": out["label"] if given else out["g"].astype(np.int64),
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


def require_log(log: Any, caller: str) -> None:
    """A log of any engine (the protocol), else a one-line error."""
    if not isinstance(log, JourneyLog):
        raise ParameterError(
            f"{caller} expects an event log (jl.read(...), jl.from_pandas(...)), got {type(log).__name__}", "log"
        )
