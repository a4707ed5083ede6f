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

It is immutable: preparation steps return a new log. It implements the log
protocol (:class:`~journeylens.core.protocol.JourneyLog`), so every analysis
runs on it exactly as on an engine-held log.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..engine.backends import Backend, backend_named
from ..engine.backends.duckdb import MEMORY
from ..engine.sql import Table
from ..engine.window import neighbours
from ..errors import ParameterError
from .protocol import JourneyLog, check_per

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
class EventLog(JourneyLog):
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
    accepted: int | None = None  # rows accepted at load; None: every row of the frame
    coded: tuple[str, ...] = ()  # columns added as codes (segments, original ids), beside channel/device/stage
    _cache: dict = field(default_factory=dict, repr=False)  # journey tables, computed once per log

    # -- construction ------------------------------------------------------
    def _derive(self, frame: pd.DataFrame | None = None, **changes: Any) -> "EventLog":
        """A new log sharing everything but what changed."""
        values = {
            "_frame": self._frame if frame is None else frame,
            "roles": self.roles,
            "source": self.source,
            "rows_read": self.rows_read,
            "quarantine": self.quarantine,
            "parameters": self.parameters,
            "accepted": self.rows_accepted,
            "coded": self.coded,
        }
        values.update(changes)
        frame = values["_frame"]
        order = column_order(list(frame.columns), values["coded"])
        if order != list(frame.columns):
            values["_frame"] = frame[order]
        return EventLog(**values)

    # -- sizes and dictionaries -------------------------------------------
    def __len__(self) -> int:
        return len(self._frame)

    @property
    def rows_accepted(self) -> int:
        return len(self._frame) if self.accepted is None else int(self.accepted)

    @property
    def rows_quarantined(self) -> int:
        return len(self.quarantine)

    @property
    def backend(self) -> Backend:
        return MEMORY

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

    def names(self, level: str) -> pd.Index:
        return self._coded(level)[1]

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
        return _readonly(ts.astype("datetime64[us]", copy=False).view("int64"))  # a view of µs times

    def has(self, column: str) -> bool:
        """Whether the log carries ``column`` (e.g. ``"session_id"``, ``"stage"``)."""
        return column in self._frame.columns

    # -- the protocol's tables ------------------------------------------------
    def journeys(self, *, level: str = "event", per: str = "user", window: bool = True,
                 columns: Sequence[str] = ()) -> Table:
        key = (level, check_per(per), bool(window), tuple(columns))
        if key not in self._cache:  # built on the table without columns, itself on the one without window
            if columns:
                ev = self.journeys(level=level, per=per, window=window)
                self._cache[key] = {**ev, **self._columns(level, per, tuple(columns))}
            elif window:
                self._cache[key] = neighbours(self.journeys(level=level, per=per, window=False))
            else:
                take = self._take(level, per)
                u = take(self.user_codes)
                self._cache[key] = {"i": take(np.arange(len(self), dtype=np.int64)),
                                    "g": u if per == "user" else take(self._journey_codes(per)),  # read-only: shared
                                    "u": u, "t": take(self.time_us), "e": take(self._coded(level)[0])}
        return self._cache[key]

    def _columns(self, level: str, per: str, columns: tuple[str, ...]) -> dict[str, np.ndarray]:
        """The ``columns`` of the journey table of ``level`` and ``per``, in that table's row order."""
        take, ev = self._take(level, per), {}
        for name in columns:
            if name == "session":  # the session journey code, for per-user tables that count sessions
                ev["c_session"] = take(self._journey_codes("session"))
            elif name == "event" or name in self._levels():
                ev[f"c_{name}"] = take(self._coded(name)[0])
            elif pd.api.types.is_numeric_dtype(self._frame[name].dtype):
                ev[f"v_{name}"] = take(self._frame[name].to_numpy(dtype=np.float64, na_value=np.nan))
            else:  # text, as it is
                ev[f"x_{name}"] = take(self._frame[name].to_numpy(dtype=object, na_value=None))
        return ev

    def _take(self, level: str, per: str) -> Callable[[np.ndarray], np.ndarray]:
        """The rows of the journey table of ``level`` and ``per`` picked from a column in log order: the rows
        with a ``level`` code, each journey's rows together in log order."""
        key = ("rows", level, per)
        if key not in self._cache:
            codes = self._coded(level)[0]
            rows = None if (codes >= 0).all() else np.flatnonzero(codes >= 0)
            g = self._journey_codes(per) if rows is None else self._journey_codes(per)[rows]
            # a user's given sessions can interleave in time: gather each journey's rows together,
            # keeping log order inside it, so the window pass sees whole journeys
            order = np.argsort(g, kind="stable") if len(g) > 1 and (g[1:] < g[:-1]).any() else None
            self._cache[key] = rows, order
        rows, order = self._cache[key]

        def take(values: np.ndarray) -> np.ndarray:  # int64 codes; without a gather the table shares
            values = values if rows is None else values[rows]  # the log's arrays: read-only
            values = values if order is None else values[order]
            return _readonly(values.astype(np.int64, copy=False) if values.dtype.kind in "iu" else values)

        return take

    def _journey_codes(self, per: str) -> np.ndarray:
        """Journey code of every row: its user, or its (user, session) pair in (user, session) order."""
        if per == "user":
            return self.user_codes.astype(np.int64)
        if "session_id" not in self._frame:
            raise ParameterError("per='session' needs sessions: call jl.sessionize(log, gap='30min') first, "
                                 "or load the log with session=<column>", "per")
        key = ("journey codes", per)
        if key not in self._cache:
            self._cache[key] = _session_codes(self._frame["session_id"], self.user_codes)
        return self._cache[key]

    def _levels(self) -> tuple[str, ...]:
        """The coded columns: channel, device and stage when present, and those added as codes."""
        return tuple(c for c in ("channel", "device", "stage", *self.coded) if c in self._frame.columns)

    def _coded(self, level: str) -> tuple[np.ndarray, pd.Index]:
        """Codes (-1 = missing) and names of a coded column, ``"event"`` and ``"user"`` included."""
        if level == "event":
            return self.event_codes, self.event_names
        if level == "user":
            return self.user_codes, self.users
        if level not in self._levels():
            hint = ("call jl.assign_stages(log, journey_map) first" if level == "stage"
                    else f"load it with {level}=<column>" if level in ROLES else None)
            if hint is None:
                raise ParameterError(f"level must be 'event', 'stage', 'channel' or a coded column of the log, "
                                     f"not {level!r}", "level")
            raise ParameterError(f"the log has no {level} column: {hint}", "level")
        values = self._frame[level]
        if not isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype("category")
        return values.cat.codes.to_numpy().astype(np.int64), values.cat.categories

    def user_values(self, column: str) -> pd.Series:
        values = self._frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype):  # the codes, not the values, in the users' order
            codes = values.cat.codes.to_numpy()
            present = codes >= 0
            users, codes = self.user_codes[present], codes[present]
            first = np.r_[True, users[1:] != users[:-1]] if len(users) else np.zeros(0, dtype=bool)
            labels = np.asarray(values.cat.categories.astype(str), dtype=object)
            return pd.Series(labels[codes[first]], index=users[first], dtype=object).astype(str)
        present = values.notna().to_numpy()
        first = pd.Series(values.to_numpy()[present], dtype=object).groupby(self.user_codes[present], sort=True).first()
        return first.astype(str)

    # -- new logs ----------------------------------------------------------------
    def with_codes(self, name: str, codes: np.ndarray, categories: Sequence[Any], *, of: str = "event",
                   ordered: bool = False, keep_as: str | None = None, parameters: Mapping[str, Any] | None = None
                   ) -> "EventLog":
        source = self.event_codes if of == "event" else self.user_codes
        column = pd.Categorical.from_codes(np.asarray(codes, dtype=np.int64)[source],
                                           categories=pd.Index(list(categories), dtype=object), ordered=ordered)
        frame, roles = self._frame, dict(self.roles)
        if keep_as is not None and name in frame:
            frame = set_column(frame, keep_as, frame[name], after=name)
            roles = {r: c for r, c in roles.items() if ROLES.get(r) != name}
        coded = tuple(dict.fromkeys([*self.coded, name, *([keep_as] if keep_as is not None and name in self._frame
                                                           else [])]))
        return self._derive(set_column(frame, name, column), roles=roles, coded=coded,
                            parameters={**self.parameters, **(parameters or {})})

    def with_users(self, codes: np.ndarray, users: pd.Index, parameters: Mapping[str, Any]) -> "EventLog":
        from ..engine.kernels import sort_order

        frame = self._frame
        new_user = pd.Categorical.from_codes(np.asarray(codes, dtype=np.int64)[self.user_codes],
                                             categories=pd.Index(users))
        original = frame["original_user_id"] if "original_user_id" in frame else frame["user_id"]
        frame = set_column(frame, "original_user_id", original, after="user_id")
        frame = set_column(frame, "user_id", new_user)
        order = sort_order(new_user.codes.astype(np.int64), self.time_us, frame[SOURCE_ROW].to_numpy())
        return self._derive(frame.take(order).reset_index(drop=True), coded=tuple(dict.fromkeys([*self.coded, "original_user_id"])),
                            parameters={**self.parameters, **parameters})

    def take(self, rows: Table, record: Mapping[str, Any]) -> "EventLog":
        kept = np.zeros(len(self._frame), dtype=bool)
        kept[np.asarray(rows["i"], dtype=np.int64)] = True
        positions = np.flatnonzero(kept)
        filters = [*self.parameters.get("filters", []), dict(record)]
        return self._derive(self._frame.iloc[positions].reset_index(drop=True),
                            parameters={**self.parameters, "filters": filters})

    def with_sessions(self, gap_us: int, max_us: int | None, record: Mapping[str, Any]) -> "EventLog":
        from ..engine.kernels import session_starts

        starts = session_starts(self.user_codes, self.time_us, gap_us, max_us)
        frame, roles = self._frame, dict(self.roles)
        if "session_id" in frame and "sessionize" not in self.parameters:
            # The source's own sessions are data too: keep them beside ours.
            frame = set_column(frame, "source_session_id", frame["session_id"], after="session_id")
            roles.pop("session", None)
        frame = set_column(frame, "session_id", np.cumsum(starts, dtype=np.int64) - 1)
        record = {**record, "sessions": int(starts.sum())}
        return self._derive(frame, roles=roles, parameters={**self.parameters, "sessionize": record})

    # -- moving between engines ------------------------------------------------------
    def collect(self, sample: int | float | None = None, *, random_state: int = 0) -> "EventLog":
        """This log, or a seeded sample of whole users (``n`` users or a fraction of them)."""
        if sample is None:
            return self
        chosen = sample_users(len(self.users), sample, random_state)
        keep = np.isin(self.user_codes, chosen)
        return self.take({"i": np.flatnonzero(keep)}, {"sample": sample, "random_state": random_state})

    def hold(self, engine: str = "duckdb") -> Any:
        """This log held by ``engine`` (``"duckdb"``: a database on disk; ``"spark"``: the active session)."""
        from .tablelog import held_from_frame

        if engine not in ("duckdb", "spark"):
            raise ParameterError(f"engine must be 'duckdb' or 'spark', not {engine!r}", "engine")
        return held_from_frame(self, backend_named(engine))

    # -- views -------------------------------------------------------------
    def to_pandas(self, source_row: bool = False) -> pd.DataFrame:
        """A copy of the events as a DataFrame (``user_id``/``event`` categorical).

        ``source_row=True`` adds the 1-based row number each event had in its source.
        """
        frame = self._frame if source_row else self._frame.drop(columns=[SOURCE_ROW])
        return frame.copy()

    def quarantine_frame(self) -> pd.DataFrame:
        return self.quarantine.copy()

    def summary(self) -> dict[str, Any]:
        """Counts and ranges as a JSON-ready dict; ``rows_read == rows_accepted + rows_quarantined``."""
        f = self._frame
        ts = f["timestamp"]
        reasons = self.quarantine["reason"].value_counts().sort_index() if len(self.quarantine) else []
        out: dict[str, Any] = {
            "source": self.source,
            "engine": "memory",
            "rows_read": int(self.rows_read),
            "rows_accepted": self.rows_accepted,
            "rows_quarantined": int(len(self.quarantine)),
            "quarantine_reasons": {str(k): int(v) for k, v in dict(reasons).items()},
            "users": int(f["user_id"].nunique()),
            "events": int(len(f)),
            "event_types": int(f["event"].nunique()),
            # sessions are journeys: an id two users share is two sessions
            "sessions": int(self._journey_codes("session").max(initial=-1)) + 1 if "session_id" in f else None,
            "time_start": ts.min().isoformat() if len(f) else None,
            "time_end": ts.max().isoformat() if len(f) else None,
            "channels": _channel_counts(f["channel"]) if "channel" in f else None,
            "roles": dict(self.roles),
        }
        if self.parameters.get("filters"):
            out["filters"] = list(self.parameters["filters"])
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


def column_order(columns: Sequence[str], coded: Sequence[str]) -> list[str]:
    """The order of a log's columns on every engine: the canonical roles present, then the columns
    added as codes, then the others as they came; a kept original (``source_stage``,
    ``original_user_id`` …) right after the column that replaced it; ``source_row`` last."""
    present = [c for c in columns if c != SOURCE_ROW]
    kept = {c for c in present for p in ("source_", "original_") if c.startswith(p) and c[len(p):] in present}
    first = [c for c in CANONICAL_COLUMNS if c in present] + [c for c in coded if c in present and c not in kept
                                                             and c not in CANONICAL_COLUMNS]
    out: list[str] = []
    for name in first + [c for c in present if c not in first and c not in kept]:
        out.append(name)
        out += [f"{p}{name}" for p in ("source_", "original_") if f"{p}{name}" in kept]
    return out + ([SOURCE_ROW] if SOURCE_ROW in columns else [])


def sample_users(n_users: int, sample: int | float, random_state: int) -> np.ndarray:
    """Sorted codes of a seeded sample of ``sample`` users (a count, or a fraction in (0, 1])."""
    if isinstance(sample, (bool, np.bool_)) or not isinstance(sample, (int, float, np.integer, np.floating)):
        raise ParameterError(f"sample must be a number of users or a fraction, not {sample!r}", "sample")
    if isinstance(sample, (float, np.floating)):
        if not 0 < sample <= 1:
            raise ParameterError(f"sample={sample!r}: a fraction must be in (0, 1]", "sample")
        size = int(round(sample * n_users))
    else:
        if sample < 1:
            raise ParameterError(f"sample={sample!r}: give at least one user", "sample")
        size = min(int(sample), n_users)
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(n_users, size=size, replace=False)).astype(np.int64)


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


def _session_codes(session_id: pd.Series, user: np.ndarray) -> np.ndarray:
    """Code of each row's (user, session) pair, in (user, session) order, for a log sorted by user."""
    values = session_id.to_numpy()
    if values.dtype.kind in "iu" and len(values):
        # sessionize's numbers (kept in order by a filter, gaps and all) rise along the log and at each
        # new user: the pairs are then in row order, and a pair's code counts the runs of numbers before it
        step = np.diff(values)
        if (step >= 0).all() and (step[np.diff(user) != 0] > 0).all():
            head = np.ones(len(values), dtype=bool)
            head[1:] = step != 0
            return np.cumsum(head, dtype=np.int64) - 1
    # one int64 key per (user, session): factorising integers is far faster than tuples
    session, uniques = pd.factorize(session_id, sort=True)
    key = user.astype(np.int64) * (len(uniques) + 1) + session
    codes, _ = pd.factorize(key, sort=True)
    return codes.astype(np.int64)


def _channel_counts(channel: pd.Series) -> dict[str, int]:
    """Events per channel, sorted by name; events without a channel under ``(missing)``."""
    counts = {str(k): int(v) for k, v in channel.value_counts(dropna=True).sort_index().items() if v}
    missing = int(channel.isna().sum())
    return {**counts, "(missing)": missing} if missing else counts


def _readonly(a: np.ndarray) -> np.ndarray:
    a = a.view()
    a.flags.writeable = False
    return a
