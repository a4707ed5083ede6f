"""The EventLog: one validated, encoded, sorted table of journey events.

Every reader returns an :class:`EventLog`; every analysis takes one. It holds

* canonical columns ``user_id``, ``timestamp`` (UTC) and ``event``, the optional
  ``channel``, ``session_id``, ``stage``, ``device``, ``value``, and any extra
  source columns as they came;
* the integer codes of users and events, held once: ``user_id`` and ``event``
  are categoricals whose categories are the sorted dictionaries, so kernels read
  ``.codes`` and decode only small results;
* a stable order: user, timestamp, then source row (ties keep file order);
* where each role came from, how many rows were read, and the quarantine of
  rows that could not be accepted, with a reason each.

It is immutable: preparation steps return a new log.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

#: mapping keyword (the readers' vocabulary) → canonical column name
ROLES: dict[str, str] = {
    "user": "user_id",
    "time": "timestamp",
    "event": "event",
    "channel": "channel",
    "session": "session_id",
    "device": "device",
    "stage": "stage",
    "value": "value",
}
REQUIRED_ROLES = ("user", "time", "event")
CANONICAL_COLUMNS = tuple(ROLES.values())
#: source row number of each accepted row (1 = first data row); kept for tie-breaking
SOURCE_ROW = "source_row"
QUARANTINE_COLUMNS = (SOURCE_ROW, "reason", "column")


@dataclass(frozen=True, eq=False)
class EventLog:
    """A validated multichannel event log (see the module docstring).

    Build one with a reader (``jl.read_csv``, ``jl.from_pandas`` …), not directly.

    Example
    -------
    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({
    ...     "customer": ["a", "a", "b"],
    ...     "ts": ["2024-01-01 10:00", "2024-01-01 10:05", "2024-01-02"],
    ...     "action": ["visit", "buy", "visit"]}))
    >>> log.summary()["users"], len(log)
    (2, 3)
    """

    _frame: pd.DataFrame
    roles: Mapping[str, str] = field(default_factory=dict)
    source: str = "DataFrame"
    rows_read: int = 0
    quarantine: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(QUARANTINE_COLUMNS)))
    parameters: Mapping[str, Any] = field(default_factory=dict)

    # -- construction ------------------------------------------------------
    def _derive(self, frame: pd.DataFrame | None = None, **changes: Any) -> "EventLog":
        """A new log sharing everything but what changed (used by prepare steps)."""
        values = {
            "_frame": self._frame if frame is None else frame,
            "roles": self.roles,
            "source": self.source,
            "rows_read": self.rows_read,
            "quarantine": self.quarantine,
            "parameters": self.parameters,
        }
        values.update(changes)
        return EventLog(**values)

    # -- sizes and dictionaries -------------------------------------------
    def __len__(self) -> int:
        return len(self._frame)

    @property
    def columns(self) -> list[str]:
        """Column names of :meth:`to_pandas` (canonical first, then extras)."""
        return [c for c in self._frame.columns if c != SOURCE_ROW]

    @property
    def users(self) -> pd.Index:
        """Sorted user ids; position = integer user code."""
        return self._frame["user_id"].cat.categories

    @property
    def event_names(self) -> pd.Index:
        """Sorted event names; position = integer event code."""
        return self._frame["event"].cat.categories

    @property
    def user_codes(self) -> np.ndarray:
        """Integer user code of every row, in log order (read-only view)."""
        return _readonly(self._frame["user_id"].cat.codes.to_numpy())

    @property
    def event_codes(self) -> np.ndarray:
        """Integer event code of every row, in log order (read-only view)."""
        return _readonly(self._frame["event"].cat.codes.to_numpy())

    @property
    def time_us(self) -> np.ndarray:
        """Timestamps as int64 microseconds since the epoch (UTC), in log order."""
        ts = self._frame["timestamp"].dt.tz_convert(None).to_numpy()
        return _readonly(ts.astype("datetime64[us]").view("int64"))

    def journey_codes(self, within: str = "user") -> np.ndarray:
        """Integer id of each row's journey: its user, or its (user, session) pair.

        ``within="session"`` needs a ``session_id`` column (``jl.sessionize`` or a
        source session column); a session id reused by two users stays two journeys.
        """
        from ..errors import JourneyLensError

        if within == "user":
            return self.user_codes
        if within != "session":
            raise JourneyLensError(f"within must be 'user' or 'session', not {within!r}")
        if "session_id" not in self._frame:
            raise JourneyLensError("the log has no session_id: call jl.sessionize(log, gap=...) first")
        # one int64 key per (user, session): factorising integers is far faster than tuples
        session, uniques = pd.factorize(self._frame["session_id"], sort=True)
        key = self.user_codes.astype(np.int64) * (len(uniques) + 1) + session
        codes, _ = pd.factorize(key, sort=True)
        return codes.astype(np.int64)

    def level_codes(self, level: str = "event") -> tuple[np.ndarray, pd.Index]:
        """Codes and names of each row at ``level`` (event, stage or channel); -1 where absent."""
        from ..errors import JourneyLensError

        column = {"event": "event", "stage": "stage", "channel": "channel"}.get(level)
        if column is None:
            raise JourneyLensError(f"level must be 'event', 'stage' or 'channel', not {level!r}")
        if column not in self._frame:
            hint = "call jl.assign_stages(log, journey_map) first" if level == "stage" else "load it with channel=…"
            raise JourneyLensError(f"the log has no {column} column: {hint}")
        values = self._frame[column]
        if not isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype("category")
        return values.cat.codes.to_numpy().astype(np.int32), values.cat.categories

    def has(self, column: str) -> bool:
        """Whether the log carries ``column`` (e.g. ``"session_id"``, ``"stage"``)."""
        return column in self._frame.columns

    # -- views -------------------------------------------------------------
    def to_pandas(self, source_row: bool = False) -> pd.DataFrame:
        """A copy of the events as a DataFrame (``user_id``/``event`` categorical).

        ``source_row=True`` adds the 1-based row number each event had in its source.
        """
        frame = self._frame if source_row else self._frame.drop(columns=[SOURCE_ROW])
        return frame.copy()

    @property
    def rows_quarantined(self) -> int:
        return len(self.quarantine)

    def summary(self) -> dict[str, Any]:
        """Counts and ranges as a JSON-ready dict; ``rows_read == rows_accepted + rows_quarantined``."""
        f = self._frame
        ts = f["timestamp"]
        reasons = self.quarantine["reason"].value_counts().sort_index() if len(self.quarantine) else []
        out: dict[str, Any] = {
            "source": self.source,
            "rows_read": int(self.rows_read),
            "rows_accepted": int(len(f)),
            "rows_quarantined": int(len(self.quarantine)),
            "quarantine_reasons": {str(k): int(v) for k, v in dict(reasons).items()},
            "users": int(f["user_id"].nunique()),
            "events": int(len(f)),
            "event_types": int(f["event"].nunique()),
            "sessions": int(f["session_id"].nunique()) if "session_id" in f else None,
            "time_start": ts.min().isoformat() if len(f) else None,
            "time_end": ts.max().isoformat() if len(f) else None,
            "channels": _channel_counts(f["channel"]) if "channel" in f else None,
            "roles": dict(self.roles),
        }
        return out

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"EventLog({s['events']:,} events, {s['users']:,} users, {s['event_types']} event types, "
            f"{s['rows_quarantined']:,} quarantined, source={self.source!r})"
        )

    def _repr_html_(self) -> str:
        s = self.summary()
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in s.items()
            if k not in ("roles", "channels")
        )
        head = self.to_pandas().head(10).to_html(escape=True, index=False, max_cols=12)
        return (
            f"<div><strong>EventLog</strong> from {html.escape(self.source)}"
            f"<table>{rows}</table><details><summary>first rows</summary>{head}</details></div>"
        )


def _channel_counts(channel: pd.Series) -> dict[str, int]:
    """Events per channel, sorted by name; events without a channel under ``(missing)``."""
    counts = {str(k): int(v) for k, v in channel.value_counts(dropna=True).sort_index().items() if v}
    missing = int(channel.isna().sum())
    return {**counts, "(missing)": missing} if missing else counts


def _readonly(a: np.ndarray) -> np.ndarray:
    a = a.view()
    a.flags.writeable = False
    return a
