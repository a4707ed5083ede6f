"""Event logs that stay in an engine: a DuckDB database on disk, or Spark.

A :class:`TableLog` is what :func:`~journeylens.read_parquet` with
``engine="duckdb"`` (logs larger than memory) and
:func:`~journeylens.from_spark` return. Its rows are integer codes held by the
engine; the analyses that accept it (``jl.sessionize``, ``jl.sessions``,
``jl.dfg``, ``jl.variants``, ``jl.funnel``, ``jl.user_features``) run the same
SQL kernels there, and only small results and the dictionaries of users, event
names and levels come back to Python. Validation follows the in-memory readers'
rules (:mod:`journeylens.engine.ingest`): the codes and the order equal those an
:class:`~journeylens.EventLog` of the same rows has.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..engine import sql as dialect
from ..engine.ingest import CODED
from ..engine.kernels import SESSION_ID_SQL, session_starts_sql
from ..engine.window import neighbours
from ..errors import JourneyLensError

#: the analyses that run on a TableLog, in its engine
HELD_ANALYSES = ("sessionize", "sessions", "dfg", "variants", "funnel", "user_features")
#: EventLog members that analyses for in-memory logs use
_IN_MEMORY_ONLY = {"_frame", "_derive", "journey_codes", "level_codes", "user_codes", "event_codes", "time_us",
                   "to_pandas"}
#: column names of the coded table; a source column of the same name is kept as ``<name>_source``
_RESERVED = {"i", "u", "t", "e", "session_id", "value", *CODED.values()}


@dataclass(frozen=True, eq=False)
class TableLog:
    """An event log held by an engine (see the module docstring).

    ``frame`` is the coded table: ``i`` (increasing in user, time, source-row order),
    ``u`` (user code), ``t`` (epoch µs), ``e`` (event code), the codes ``c_channel``/
    ``c_device``/``c_stage`` of the roles present (-1 = missing), ``session_id`` and
    ``value`` when present, and the extra source columns. ``users``, ``event_names``
    and ``levels`` are the dictionaries (position = code). ``quarantine`` is the held
    table of rejected rows (:meth:`quarantine_frame` brings it to pandas).

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
    """

    frame: Any
    users: pd.Index
    event_names: pd.Index
    levels: Mapping[str, pd.Index] = field(default_factory=dict)
    roles: Mapping[str, str] = field(default_factory=dict)
    rows_read: int = 0
    rows_accepted: int = 0
    quarantine: Any = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    dictionaries: Mapping[str, Any] = field(default_factory=dict)  # held ``name, code`` tables, e.g. "users"
    _windows: dict = field(default_factory=dict, repr=False)  # window passes, computed once per log

    def __getattr__(self, name: str) -> Any:
        # Analyses written for in-memory logs reach for these; say so instead of an AttributeError deep inside.
        if name in _IN_MEMORY_ONLY:
            raise JourneyLensError(
                f"this analysis needs an in-memory EventLog; a TableLog held by {self.engine} supports "
                f"{', '.join(HELD_ANALYSES)} (load a sample or a period into memory for the others)")
        raise AttributeError(f"'TableLog' object has no attribute {name!r}")

    @property
    def engine(self) -> str:
        """``"duckdb"`` or ``"spark"``."""
        return dialect.dialect_of(self.frame)

    def __len__(self) -> int:
        return self.rows_accepted

    @property
    def rows_quarantined(self) -> int:
        return self.rows_read - self.rows_accepted

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)

    def has(self, column: str) -> bool:
        """Whether the log carries ``column`` (``"session_id"``, ``"channel"``, ``"stage"`` …)."""
        return column in self.levels or column in self.columns

    def summary(self) -> dict[str, Any]:
        """Counts as a JSON-ready dict; ``rows_read == rows_accepted + rows_quarantined``."""
        reasons = self._run("SELECT reason, count(*) AS n FROM q GROUP BY reason ORDER BY reason", q=self.quarantine)
        sessions = self.parameters.get("sessionize", {}).get("sessions")
        return {
            "source": self.source,
            "engine": self.engine,
            "rows_read": self.rows_read,
            "rows_accepted": self.rows_accepted,
            "rows_quarantined": self.rows_quarantined,
            "quarantine_reasons": {str(r): int(n) for r, n in zip(reasons["reason"], reasons["n"])},
            "users": len(self.users),
            "events": self.rows_accepted,
            "event_types": len(self.event_names),
            "sessions": sessions,
            "roles": dict(self.roles),
        }

    def __repr__(self) -> str:
        return (f"TableLog({self.rows_accepted:,} events, {len(self.users):,} users, {len(self.event_names)} "
                f"event types, {self.rows_quarantined:,} quarantined, engine={self.engine!r})")

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                       for k, v in self.summary().items() if k != "roles")
        return f"<div><strong>TableLog</strong> held by {html.escape(self.engine)}<table>{rows}</table></div>"

    # -- bringing rows to pandas (small logs, tests) -------------------------
    def _run(self, sql: str, **tables: Any) -> dict[str, np.ndarray]:
        return dialect.run(sql, tables)

    def codes(self) -> pd.DataFrame:
        """The coded rows ``u, t, e, c_*`` in log order, as pandas (for small logs)."""
        cols = ", ".join(["u", "t", "e", *(CODED[r] for r in self.levels)])
        return pd.DataFrame(self._run(f"SELECT {cols} FROM log ORDER BY i", log=self.frame))

    def quarantine_frame(self) -> pd.DataFrame:
        """The quarantined rows as pandas, by source row."""
        return dialect.query("SELECT * FROM q ORDER BY source_row", {"q": self.quarantine}).to_pandas()

    # -- what the kernels read -------------------------------------------
    def level(self, level: str) -> tuple[str, pd.Index]:
        """Code column and names of ``level`` (event, stage or channel)."""
        if level == "event":
            return "e", self.event_names
        if level not in ("stage", "channel"):
            raise JourneyLensError(f"level must be 'event', 'stage' or 'channel', not {level!r}")
        if level not in self.levels:
            raise JourneyLensError(f"the log has no {level} column: load it with {level}=…")
        return CODED[level], self.levels[level]

    def journey_table(self, level: str = "event", within: str = "user", window: bool = True) -> tuple[Any, pd.Index]:
        """``ev(i, g, e, u, t)``: rows with a value at ``level`` (code ``e``), ``g`` the journey;
        with ``window``, the window pass over the journeys (computed once per log)."""
        column, names = self.level(level)
        group = self._journeys(within)
        key = ("journeys", level, within)
        if key not in self._windows:
            rows = dialect.frame(f"SELECT i, {group} AS g, {column} AS e, u, t FROM log WHERE {column} >= 0",
                                 {"log": self.frame})
            self._windows[key] = rows
        rows = self._windows[key]
        if not window:
            return rows, names
        if key + ("window",) not in self._windows:
            self._windows[key + ("window",)] = neighbours(rows)
        return self._windows[key + ("window",)], names

    def _journeys(self, within: str) -> str:
        if within == "user":
            return "u"
        if within != "session":
            raise JourneyLensError(f"within must be 'user' or 'session', not {within!r}")
        if "session_id" not in self.columns:
            raise JourneyLensError("the log has no session_id: call jl.sessionize(log, gap=...) first")
        if "sessionize" not in self.parameters:
            raise JourneyLensError(f"within='session' on {self.engine} needs sessions from jl.sessionize(log, gap=...)")
        return "session_id"  # numbered in (user, start) order: already the journey code

    def feature_table(self) -> tuple[Any, dict[str, pd.Index]]:
        """The window pass by user over ``ev(i, u, t, s, e, c_*)`` for the per-user features,
        and the names of each code column."""
        if "features" not in self._windows:
            s = "session_id" if "session_id" in self.columns else "0"
            cols = ", ".join(["i", "u", "t", f"{s} AS s", "e", *(CODED[r] for r in self.levels)])
            self._windows["features"] = neighbours(dialect.frame(f"SELECT {cols} FROM log", {"log": self.frame}),
                                                   group="u")
        return self._windows["features"], {CODED[r]: names for r, names in self.levels.items()}

    def user_labels(self, column: str) -> pd.Series:
        """Each user's first non-missing value of ``column`` (in log order), indexed by user id."""
        d = self.engine
        if column in self.levels:
            value, present = CODED[column], f"{CODED[column]} >= 0"
        elif column in self.columns and column not in ("i", "u", "t", "e"):
            value = dialect.quote(column, d)
            present = f"{value} IS NOT NULL"
        else:
            raise JourneyLensError(f"by={column!r} is not a column of the log (columns: {', '.join(self.columns)})")
        first = self._run(f"SELECT u, min_by({value}, i) AS v FROM log WHERE {present} GROUP BY u ORDER BY u",
                          log=self.frame)
        values = np.asarray(first["v"], dtype=object)
        if column in self.levels:
            values = np.asarray(self.levels[column], dtype=object)[values.astype(np.int64)]
        return pd.Series(values, index=self.users[first["u"].astype(np.int64)], name=column)

    def sessionize(self, gap_us: int, max_us: int | None, record: dict[str, Any]) -> "TableLog":
        """A new log with ``session_id`` numbered in (user, start) order (a source one kept as ``source_session_id``)."""
        steps = neighbours(dialect.frame("SELECT i, u, t FROM log", {"log": self.frame}), group="u", codes=False)
        ids = dialect.frame(SESSION_ID_SQL.format(starts=session_starts_sql(gap_us, max_us)), {"ev": steps})
        roles = dict(self.roles)
        keep = [c for c in self.columns if c != "session_id"]
        renamed = []
        if "session_id" in self.columns and "sessionize" not in self.parameters:
            renamed = ["log.session_id AS source_session_id"]  # the source's own sessions are data too
            roles.pop("session", None)
        cols = ", ".join([*(f"log.{dialect.quote(c, self.engine)}" for c in keep), *renamed, "ids.session_id"])
        frame = dialect.frame(f"SELECT {cols} FROM log JOIN ids ON log.i = ids.i",
                              {"log": self.frame, "ids": ids}, materialise=True)
        n = self._run("SELECT max(session_id) AS n FROM f", f=frame)["n"][0]
        record = {**record, "sessions": 0 if n is None or pd.isna(n) else int(n) + 1}
        return replace(self, frame=frame, roles=roles, parameters={**self.parameters, "sessionize": record},
                       _windows={})
