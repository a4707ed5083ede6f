"""Event logs that stay in an engine: a DuckDB database on disk, or Spark.

A :class:`TableLog` is what :func:`~journeylens.read_parquet` with
``engine="duckdb"`` (logs larger than memory), :func:`~journeylens.from_spark`
and :meth:`EventLog.hold <journeylens.core.eventlog.EventLog.hold>` return. Its
rows are integer codes held by the engine. It implements the log protocol
(:class:`~journeylens.core.protocol.JourneyLog`), so every analysis runs its SQL
kernels there, and only small results and the dictionaries of users, event
names and levels come back to Python. Validation follows the in-memory readers'
rules (:mod:`journeylens.engine.ingest`): the codes and the order equal those an
:class:`~journeylens.EventLog` of the same rows has.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from ..engine import sql as dialect
from ..engine.backends import Backend, backend_of
from ..engine.kernels import SESSION_ID_SQL, session_starts, session_starts_sql
from ..engine.sql import Table
from ..engine.window import neighbours
from ..errors import ParameterError
from .eventlog import ROLES, SOURCE_ROW, EventLog, column_order, sample_users
from .protocol import JourneyLog, check_per

#: the coded roles: their codes are the column ``c_<role>`` (-1 = missing), their names a level
LEVEL_ROLES = ("channel", "device", "stage")
#: column names of the coded table; a source column of the same name is kept as ``<name>_source``
_RESERVED = {"i", "u", "t", "e", "session_id", "value", SOURCE_ROW, *(f"c_{r}" for r in LEVEL_ROLES)}
_CORE = ("i", "u", "t", "e", SOURCE_ROW)


@dataclass(frozen=True, eq=False)
class TableLog(JourneyLog):
    """An event log held by an engine (see the module docstring).

    ``frame`` is the coded table: ``i`` (increasing in user, time, source-row order),
    ``u`` (user code), ``t`` (epoch µs), ``e`` (event code), ``c_<level>`` codes of the
    coded columns (channel, device, stage, added segments; -1 = missing), ``session_id``
    and ``value`` when present, ``source_row``, and the extra source columns. ``users``,
    ``event_names`` and ``levels`` are the dictionaries (position = code). ``quarantine``
    is the held table of rejected rows (:meth:`quarantine_frame` brings it to pandas).

    >>> import pathlib, tempfile, pandas as pd, journeylens as jl
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "events.parquet"
    >>> pd.DataFrame({"user_id": ["a", "a", "b", "b"], "event": ["home", "cart", "home", "home"],
    ...               "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:05", "2024-01-01 09:00",
    ...                                            "2024-01-01 09:00"], utc=True)}).to_parquet(path)
    >>> log = jl.read_parquet(path, engine="duckdb")
    >>> log.rows_read, log.rows_accepted, log.summary()["quarantine_reasons"]
    (4, 3, {'duplicate': 1})
    >>> jl.dfg(log).to_frame()[["source", "target", "count"]].values.tolist()
    [['home', 'cart', 1]]
    >>> log.collect().summary()["events"]
    3
    """

    frame: Any
    user_names: pd.Index
    event_index: pd.Index
    levels: Mapping[str, pd.Index] = field(default_factory=dict)
    roles: Mapping[str, str] = field(default_factory=dict)
    rows_read: int = 0
    accepted: int = 0
    quarantine: Any = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    dictionaries: Mapping[str, Any] = field(default_factory=dict)  # held ``name, code`` tables, e.g. "users"
    _cache: dict = field(default_factory=dict, repr=False)  # journey tables and counts, computed once per log

    # -- sizes, dictionaries ------------------------------------------------------
    @property
    def backend(self) -> Backend:
        return backend_of({"log": self.frame})

    @property
    def users(self) -> pd.Index:
        return self.user_names

    @property
    def event_names(self) -> pd.Index:
        return self.event_index

    def names(self, level: str) -> pd.Index:
        return self._level(level)[1]

    def dictionary(self, level: str) -> Any:
        held = {"user": "users", "event": "events"}.get(level)
        return self.dictionaries[held] if held in self.dictionaries else super().dictionary(level)

    @property
    def rows_accepted(self) -> int:
        return int(self.accepted)

    @property
    def rows_quarantined(self) -> int:
        return self._count("quarantined", "SELECT count(*) AS n FROM q", q=self.quarantine)

    def __len__(self) -> int:
        return self._count("events", "SELECT count(*) AS n FROM log", log=self.frame)

    def _count(self, key: str, sql: str, **tables: Any) -> int:
        if key not in self._cache:
            self._cache[key] = int(dialect.run(sql, tables)["n"][0])
        return self._cache[key]

    @property
    def columns(self) -> list[str]:
        """The log's columns under the names and in the order an EventLog gives them."""
        held = list(self.frame.columns)
        names = [*("user_id", "timestamp", "event"), *(c[2:] if c.startswith("c_") else c for c in held
                                                        if c not in _CORE)]
        return column_order(names, [c for c in self.levels if c not in LEVEL_ROLES])

    def has(self, column: str) -> bool:
        return column in self.columns

    # -- the protocol's tables ------------------------------------------------
    def journeys(self, *, level: str = "event", per: str = "user", window: bool = True,
                 columns: Sequence[str] = ()) -> Table:
        key = self._journey_key(level, per, window, columns)
        if key not in self._cache:
            code = self._level(level)[0]
            items, grouped = self._journey_columns(level, per, key[4])
            cols = ", ".join(items)
            tables = {"log": self.frame, **({"sg": self._session_groups()} if grouped else {})}
            join = " JOIN sg ON log.i = sg.i" if grouped else ""
            # a projection of the log is read as fast as a copy of it: only a join is worth keeping
            rows = dialect.frame(f"SELECT {cols} FROM log{join} WHERE {code} >= 0", tables,
                                 materialise=grouped and not window)
            self._cache[key] = neighbours(rows) if window else rows
        return self._cache[key]

    def _journey_key(self, level: str, per: str, window: bool, columns: Sequence[str]) -> tuple:
        """The cache key of :meth:`journeys`; its last item is the columns the table carries."""
        if window and set(columns) <= set(self._coded()):
            # One window pass serves every kernel: it carries all the codes, so a later kernel that
            # wants some of them reads the cached pass instead of running (and holding) another
            columns = self._coded()
        return ("journeys", level, check_per(per), bool(window), tuple(columns))

    def _journey_columns(self, level: str, per: str, columns: Sequence[str]) -> tuple[list[str], bool]:
        """The select items of :meth:`journeys` over the log as ``log``, and whether they read ``sg``
        (the session groups, joined on ``i``)."""
        sessions = self._group("session") if "session" in columns or per == "session" else None
        extra = [f"{sessions} AS c_session" if c == "session"
                 else f"{self._level(c)[0]} AS c_{c}" if c in self.levels or c == "event"
                 else f"CAST({self._column(c)} AS DOUBLE) AS v_{c}" if self._numeric(c)
                 else f"{self._column(c)} AS x_{c}" for c in columns]
        return (["log.i AS i", f"{self._group(per)} AS g", "log.u AS u", "log.t AS t",
                 f"{self._level(level)[0]} AS e", *extra], sessions == "sg.g")

    def _coded(self) -> tuple[str, ...]:
        """The coded columns that the shared window pass carries."""
        return (("session",) if "sessionize" in self.parameters else ()) + \
            tuple(c for c in LEVEL_ROLES if c in self.levels)

    def _level(self, level: str) -> tuple[str, pd.Index]:
        """Code column (qualified) and names of a coded column."""
        if level == "event":
            return "log.e", self.event_index
        if level == "user":
            return "log.u", self.user_names
        if level not in self.levels:
            hint = ("call jl.assign_stages(log, journey_map) first" if level == "stage"
                    else f"load it with {level}=<column>" if level in ROLES else None)
            if hint is None:
                raise ParameterError(f"level must be 'event', 'stage', 'channel' or a coded column of the log, "
                                     f"not {level!r}", "level")
            raise ParameterError(f"the log has no {level} column: {hint}", "level")
        return f"log.c_{level}", self.levels[level]

    def _column(self, column: str) -> str:
        if column not in self.frame.columns or column in ("i", "u", "t", "e"):
            raise ParameterError(f"the log has no column {column!r} (columns: {', '.join(self.columns)})", "columns")
        return "log." + dialect.quote(column, self.backend.dialect)

    def _numeric(self, column: str) -> bool:
        """Whether a held column holds numbers (its values come as ``v_<name>``; text as ``x_<name>``)."""
        if "schema" not in self._cache:
            schema = dialect.query("SELECT * FROM log LIMIT 0", {"log": self.frame}).schema
            self._cache["schema"] = dict(zip(schema.names, schema.types))
        kind = self._cache["schema"].get(column)
        return kind is not None and (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind))

    def _group(self, per: str) -> str:
        """The SQL of each row's journey code."""
        if per == "user":
            return "log.u"
        if "session_id" not in self.frame.columns:
            raise ParameterError("per='session' needs sessions: call jl.sessionize(log, gap='30min') first, "
                                 "or load the log with session=<column>", "per")
        return "log.session_id" if "sessionize" in self.parameters else "sg.g"

    def _session_groups(self) -> Any:
        """``(i, g)``: a source session's journey code, numbered in (user, session id) order."""
        if "session_groups" not in self._cache:
            sql = """
            WITH d AS (SELECT DISTINCT u, session_id FROM log),
            n AS (SELECT u, session_id, row_number() OVER (ORDER BY u, session_id NULLS FIRST) - 1 AS g FROM d)
            SELECT log.i AS i, n.g AS g FROM log JOIN n ON log.u = n.u AND log.session_id IS NOT DISTINCT FROM n.session_id
            """
            self._cache["session_groups"] = dialect.frame(sql, {"log": self.frame}, materialise=True)
        return self._cache["session_groups"]

    def user_values(self, column: str) -> pd.Series:
        if column in self.levels:
            value, present = f"c_{column}", f"c_{column} >= 0"
        else:
            value = dialect.quote(column, self.backend.dialect)
            self._column(column)
            present = f"{value} IS NOT NULL"
        first = dialect.run(f"SELECT u, min_by({value}, i) AS v FROM log WHERE {present} GROUP BY u ORDER BY u",
                            {"log": self.frame})
        values = np.asarray(first["v"], dtype=object)
        if column in self.levels:
            values = np.asarray(self.levels[column], dtype=object)[values.astype(np.int64)]
        return pd.Series([str(v) for v in values], index=first["u"].astype(np.int64), dtype=object)

    # -- new logs ------------------------------------------------------------------
    def _derived(self, frame: Any, *, unchanged_but: str | None = None, **changes: Any) -> "TableLog":
        """A new log of ``frame``; with ``unchanged_but``, the rows and other columns are this log's, so the
        journey tables that do not read that column are shared rather than computed (and held) again."""
        cache = {} if unchanged_but is None else {
            key: value for key, value in self._cache.items()
            if key[0] == "journeys" and unchanged_but != key[1] and unchanged_but not in key[4]}
        return replace(self, frame=frame, _cache=cache, **changes)

    def with_codes(self, name: str, codes: np.ndarray, categories: Sequence[Any], *, of: str = "event",
                   ordered: bool = False, keep_as: str | None = None, parameters: Mapping[str, Any] | None = None
                   ) -> "TableLog":
        d = self.backend.dialect
        levels, roles = dict(self.levels), dict(self.roles)
        held = list(self.frame.columns)
        kept = []
        if keep_as is not None and name in levels:
            kept = [f"c_{name} AS {dialect.quote('c_' + keep_as, d)}"]
            levels[keep_as] = levels[name]
            roles.pop(name, None)
        mapping = dialect.ship({"k": np.arange(len(codes), dtype=np.int64), "code": np.asarray(codes, dtype=np.int64)},
                               self.frame)
        cols = [f"log.{dialect.quote(c, d)}" for c in held if c != f"c_{name}"]
        key = "e" if of == "event" else "u"
        frame = dialect.frame(f"SELECT {', '.join(cols + kept)}, coalesce(m.code, -1) AS {dialect.quote('c_' + name, d)} "
                              f"FROM log LEFT JOIN m ON log.{key} = m.k", {"log": self.frame, "m": mapping},
                              materialise=True)
        levels[name] = pd.Index(list(categories), dtype=object)
        return self._derived(frame, unchanged_but=None if keep_as else name, levels=levels, roles=roles,
                             parameters={**self.parameters, **(parameters or {})})

    def with_users(self, codes: np.ndarray, users: pd.Index, parameters: Mapping[str, Any]) -> "TableLog":
        d = self.backend.dialect
        levels = dict(self.levels)
        original = ([] if "original_user_id" in levels else ["log.u AS c_original_user_id"])
        levels.setdefault("original_user_id", self.user_names)
        mapping = dialect.ship({"k": np.arange(len(codes), dtype=np.int64), "code": np.asarray(codes, dtype=np.int64)},
                               self.frame)
        rest = [f"log.{dialect.quote(c, d)}" for c in self.frame.columns if c not in ("i", "u")]
        recoded = f"SELECT m.code AS u, {', '.join(rest + original)} FROM log JOIN m ON log.u = m.k"
        frame = dialect.frame(f"SELECT {{row_id}} AS i, * FROM ({recoded} ORDER BY u, t, source_row) s",
                              {"log": self.frame, "m": mapping}, materialise=True)
        names = np.asarray(pd.Index(users).astype(str), dtype=object)
        dictionaries = {**self.dictionaries, "users": dialect.ship(
            {"name": names, "code": np.arange(len(names), dtype=np.int64)}, self.frame)}
        return self._derived(frame, user_names=pd.Index(users), levels=levels,
                             dictionaries=dictionaries, parameters={**self.parameters, **parameters})

    def take(self, rows: Table, record: Mapping[str, Any]) -> "TableLog":
        frame = dialect.frame("SELECT * FROM log WHERE i IN (SELECT i FROM r)", {"log": self.frame, "r": rows},
                              materialise=True)
        filters = [*self.parameters.get("filters", []), dict(record)]
        return self._derived(frame, parameters={**self.parameters, "filters": filters})

    def with_sessions(self, gap_us: int, max_us: int | None, record: Mapping[str, Any]) -> "TableLog":
        roles = dict(self.roles)
        d = self.backend.dialect
        keep = [c for c in self.frame.columns if c != "session_id"]
        # the source's own sessions are data too: kept as source_session_id
        source = "session_id" in self.frame.columns and "sessionize" not in self.parameters
        if source:
            roles.pop("session", None)
        # Sessions need the window pass by user. Kept beside the new log, it is the pass over its events
        # per user that the kernels read: at 100M events held, one pass fewer over the log (sessions
        # 15.5 s instead of 10.3 s, and the DFG, which ran the pass, 5.5 s instead of 20.5 s)
        hidden = {c: _free(f"_w_{c}", keep) for c in _STEPS}
        numbering = _Numbering(gap_us, max_us, keep, source, hidden)
        passed = self.backend.map_groups(self.frame, "u", numbering)
        window = False
        if passed is not None:
            named = [*keep, *(["source_session_id"] if source else []), "session_id"]
            frame = dialect.frame(f"SELECT {', '.join(dialect.quote(c, d) for c in named)} FROM w", {"w": passed})
            window = not numbering.uncoded  # the journeys of events leave out rows without one (none, as read)
        else:
            steps = neighbours(dialect.frame("SELECT i, u, t FROM log", {"log": self.frame}), group="u", codes=False)
            ids = dialect.frame(SESSION_ID_SQL.format(starts=session_starts_sql(gap_us, max_us)), {"ev": steps})
            cols = ", ".join([*(f"log.{dialect.quote(c, d)}" for c in keep),
                              *(["log.session_id AS source_session_id"] if source else []), "ids.session_id"])
            frame = dialect.frame(f"SELECT {cols} FROM log JOIN ids ON log.i = ids.i",
                                  {"log": self.frame, "ids": ids}, materialise=True)
        n = dialect.run("SELECT max(session_id) AS n FROM f", {"f": frame})["n"][0]
        record = {**record, "sessions": 0 if n is None or pd.isna(n) else int(n) + 1}
        log = self._derived(frame, roles=roles, parameters={**self.parameters, "sessionize": record})
        if window:  # the pass as the new log's journeys would select it, from the table that holds it
            key = log._journey_key("event", "user", True, ())
            cols = [*log._journey_columns("event", "user", key[4])[0], *(f"log.{hidden[c]} AS {c}" for c in _STEPS)]
            log._cache[key] = dialect.frame(f"SELECT {', '.join(cols)} FROM log", {"log": passed})
        return log

    # -- moving between engines ------------------------------------------------------
    def collect(self, sample: int | float | None = None, *, random_state: int = 0) -> EventLog:
        """The log, or a seeded sample of whole users, as an in-memory :class:`EventLog`."""
        tables: dict[str, Any] = {"log": self.frame}
        where = ""
        if sample is not None:
            tables["s"] = dialect.ship({"u": sample_users(len(self.users), sample, random_state)}, self.frame)
            where = " WHERE u IN (SELECT u FROM s)"
        rows = dialect.query(f"SELECT * FROM log{where} ORDER BY i", tables)
        parameters = dict(self.parameters)
        if sample is not None:
            parameters["filters"] = [*parameters.get("filters", []), {"sample": sample, "random_state": random_state}]
        return EventLog(self._to_frame(rows), roles=dict(self.roles), source=self.source, rows_read=self.rows_read,
                        quarantine=self.quarantine_frame(), parameters=parameters, accepted=self.rows_accepted,
                        coded=tuple(c for c in self.levels if c not in ("channel", "device", "stage")))

    def _to_frame(self, rows: pa.Table) -> pd.DataFrame:
        """The coded rows as an EventLog's frame: names decoded, canonical columns first."""
        col = lambda name: rows.column(name).to_numpy(zero_copy_only=False)  # noqa: E731
        cols: dict[str, Any] = {}
        for name in self.columns:
            if name == "user_id":
                cols[name] = pd.Categorical.from_codes(col("u").astype(np.int64), categories=self.user_names)
            elif name == "timestamp":
                cols[name] = pd.array(col("t").astype("datetime64[us]"), dtype="datetime64[us]").tz_localize("UTC")
            elif name == "event":
                cols[name] = pd.Categorical.from_codes(col("e").astype(np.int64), categories=self.event_index)
            elif name in self.levels:
                cols[name] = pd.Categorical.from_codes(col(f"c_{name}").astype(np.int64),
                                                       categories=self.levels[name])
            elif name == "session_id" and "sessionize" not in self.parameters:
                cols[name] = pd.array(col(name), dtype="string")
            else:
                cols[name] = rows.column(name).to_pandas().array
        cols[SOURCE_ROW] = col(SOURCE_ROW).astype(np.int64)
        return pd.DataFrame(cols, copy=False)

    def hold(self, engine: str = "duckdb") -> "TableLog":
        """This log held by ``engine``: itself when it is already there."""
        return self if engine == self.engine else self.collect().hold(engine)

    # -- views ---------------------------------------------------------------------
    def quarantine_frame(self) -> pd.DataFrame:
        """The quarantined rows as pandas, by source row."""
        return dialect.query("SELECT * FROM q ORDER BY source_row", {"q": self.quarantine}).to_pandas()

    def codes(self) -> pd.DataFrame:
        """The coded rows ``u, t, e, c_*`` in log order, as pandas (for small logs)."""
        cols = ", ".join(["u", "t", "e", *(f"c_{r}" for r in self.levels)])
        return pd.DataFrame(dialect.run(f"SELECT {cols} FROM log ORDER BY i", {"log": self.frame}))

    def summary(self) -> dict[str, Any]:
        """Counts as a JSON-ready dict; ``rows_read == rows_accepted + rows_quarantined``."""
        reasons = dialect.run("SELECT reason, count(*) AS n FROM q GROUP BY reason ORDER BY reason",
                              {"q": self.quarantine})
        stats = dialect.run("SELECT count(*) AS n, count(DISTINCT u) AS users, count(DISTINCT e) AS types, "
                            "min(t) AS lo, max(t) AS hi FROM log", {"log": self.frame})
        lo, hi = stats["lo"][0], stats["hi"][0]
        stamp = lambda us: None if us is None or pd.isna(us) else pd.Timestamp(int(us), unit="us", tz="UTC").isoformat()  # noqa: E731
        out = {
            "source": self.source,
            "engine": self.engine,
            "rows_read": self.rows_read,
            "rows_accepted": self.rows_accepted,
            "rows_quarantined": self.rows_quarantined,
            "quarantine_reasons": {str(r): int(n) for r, n in zip(reasons["reason"], reasons["n"])},
            "users": int(stats["users"][0]),
            "events": int(stats["n"][0]),
            "event_types": int(stats["types"][0]),
            "sessions": self._sessions(),
            "time_start": stamp(lo),
            "time_end": stamp(hi),
            "roles": dict(self.roles),
        }
        if self.parameters.get("filters"):
            out["filters"] = list(self.parameters["filters"])
        return out

    def _sessions(self) -> int | None:
        """Sessions are journeys: distinct (user, session id) pairs, None without sessions."""
        if "sessionize" in self.parameters:
            return self.parameters["sessionize"].get("sessions")
        if "session_id" not in self.frame.columns:
            return None
        return self._count("sessions", "SELECT count(*) AS n FROM (SELECT DISTINCT u, session_id FROM log) s",
                           log=self.frame)

    def __repr__(self) -> str:
        return (f"TableLog({len(self):,} events, {len(self.users):,} users, {len(self.event_names)} "
                f"event types, {self.rows_quarantined:,} quarantined, engine={self.engine!r})")

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                       for k, v in self.summary().items() if k != "roles")
        return f"<div><strong>TableLog</strong> held by {html.escape(self.engine)}<table>{rows}</table></div>"


def held_from_frame(log: EventLog, backend: Backend) -> TableLog:
    """An in-memory log's rows coded and shipped to ``backend`` (its dictionaries and quarantine too)."""
    frame = log.to_pandas(source_row=True)
    cols: dict[str, Any] = {"i": np.arange(len(frame), dtype=np.int64), "u": log.user_codes.astype(np.int64),
                            "t": log.time_us.astype(np.int64), "e": log.event_codes.astype(np.int64)}
    levels: dict[str, pd.Index] = {}
    for name in log.columns[3:]:
        values = frame[name]
        if name in log._levels():
            values = values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype("category")
            cols[f"c_{name}"] = values.cat.codes.to_numpy().astype(np.int64)
            levels[name] = values.cat.categories
        else:
            if isinstance(values.dtype, pd.CategoricalDtype):  # a text column pandas read as categories
                values = values.astype(values.cat.categories.dtype)
            cols[name] = pa.array(values.array if hasattr(values, "array") else values, from_pandas=True)
    cols[SOURCE_ROW] = frame[SOURCE_ROW].to_numpy(dtype=np.int64)
    held = backend.ship(cols, None)
    quarantine = log.quarantine_frame()
    shipped_q = backend.ship({c: pa.array(quarantine[c].astype("string").array if c != SOURCE_ROW else
                                          quarantine[c].to_numpy(dtype=np.int64), from_pandas=True)
                              for c in quarantine.columns}, held)
    users = np.asarray(log.users.astype(str), dtype=object)
    events = np.asarray(log.event_names.astype(str), dtype=object)
    dictionaries = {"users": backend.ship({"name": users, "code": np.arange(len(users), dtype=np.int64)}, held),
                    "events": backend.ship({"name": events, "code": np.arange(len(events), dtype=np.int64)}, held)}
    return TableLog(frame=held, user_names=log.users, event_index=log.event_names, levels=levels,
                    roles=dict(log.roles), rows_read=log.rows_read, accepted=log.rows_accepted, quarantine=shipped_q,
                    parameters=dict(log.parameters), source=log.source, dictionaries=dictionaries)


#: the columns of the window pass (:func:`~journeylens.engine.window.neighbours`)
_STEPS = ("e2", "dt", "gp", "head")


def _free(name: str, taken: Sequence[str]) -> str:
    """``name``, with underscores before it until no column of ``taken`` has it."""
    while name in taken:
        name = "_" + name
    return name


class _Numbering:
    """For :meth:`Backend.map_groups` by user: a chunk of whole users (in user, ``i`` order) as its
    columns ``keep``, with a ``source`` session id as ``source_session_id``, ``session_id``: its
    sessions numbered on from those of the chunks before, and the window pass by user of its events
    (the columns of :data:`_STEPS`, named ``hidden[column]``); ``uncoded``: whether a row had no event."""

    def __init__(self, gap_us: int, max_us: int | None, keep: Sequence[str], source: bool,
                 hidden: Mapping[str, str]) -> None:
        self.gap_us, self.max_us, self.keep, self.source, self.hidden = gap_us, max_us, keep, source, hidden
        self.sessions, self.uncoded = 0, False

    def __call__(self, chunk: pa.Table) -> pa.Table:
        u, t, e = np.asarray(chunk.column("u")), np.asarray(chunk.column("t"), dtype=np.int64), \
            np.asarray(chunk.column("e"))
        self.uncoded = self.uncoded or bool((e < 0).any())
        ev = neighbours({"u": u, "t": t, "e": e}, group="u")
        starts = session_starts(u, t, self.gap_us, self.max_us, ev)
        ids = np.cumsum(starts, dtype=np.int64) + (self.sessions - 1)
        self.sessions += int(np.count_nonzero(starts))
        columns = {c: chunk.column(c) for c in self.keep}
        if self.source:
            columns["source_session_id"] = chunk.column("session_id")
        return pa.table({**columns, "session_id": pa.array(ids),
                         **{self.hidden[c]: pa.array(ev[c]) for c in _STEPS}})
