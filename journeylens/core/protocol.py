"""The log protocol: everything an analysis may ask of a log, on every engine.

An analysis is written once, against :class:`JourneyLog`, and runs unchanged on
the in-memory :class:`~journeylens.core.eventlog.EventLog` and on the
:class:`~journeylens.core.tablelog.TableLog` held by DuckDB on disk or by Spark.
It never asks which kind of log it has and never reads a private attribute; it
asks for

* the **journey table** (:meth:`JourneyLog.journeys`): every event with its
  journey, user, time and code, and, from the one window pass, its neighbours in
  the journey, as a table of the log's engine (numpy columns in memory);
* the **dictionaries** of codes (:attr:`users`, :attr:`event_names`,
  :meth:`names`), to decode the small results;
* **segments** for ``by=`` (:meth:`segments`), the user's first value of a
  column or labels per user id;
* new logs: a coded column added (:meth:`with_codes`), a subset of rows
  (:meth:`take`), sessions (:meth:`with_sessions`), on the same engine;

and runs its kernels (SQL in :mod:`journeylens.engine`) over those tables,
bringing back only small results. :meth:`collect` and :meth:`hold` move a log
between engines.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Mapping, Sequence, Union

import numpy as np
import pandas as pd

from ..engine.backends import Backend
from ..engine.filters import kept_rows
from ..engine.kernels import distinct, positions
from ..engine.sql import Table, columns_of, quote, run
from ..errors import ParameterError
from .params import choice

#: what ``by=`` accepts: a column name, or labels per user id (Series indexed by user id, or a dict)
By = Union[str, pd.Series, Mapping, None]
#: label of users a mapping does not cover, or whose column value is always missing
UNASSIGNED = "(none)"
#: the journey units of ``per=``
PER = ("user", "session")


class JourneyLog(ABC):
    """What an analysis may ask of a log (see the module docstring)."""

    source: str
    roles: Mapping[str, str]
    parameters: Mapping[str, Any]
    rows_read: int

    # -- sizes, provenance, quarantine --------------------------------------------
    @property
    @abstractmethod
    def rows_accepted(self) -> int:
        """Rows accepted when the log was read (filters do not change it; see ``summary()["events"]``)."""

    @property
    @abstractmethod
    def rows_quarantined(self) -> int:
        """Rows set aside with a reason when the log was read."""

    @abstractmethod
    def __len__(self) -> int:
        """Events in the log now."""

    @abstractmethod
    def quarantine_frame(self) -> pd.DataFrame:
        """The quarantined rows as pandas: ``source_row, reason, column`` and the original values."""

    @abstractmethod
    def summary(self) -> dict[str, Any]:
        """Counts and ranges as a JSON-ready dict; ``rows_read == rows_accepted + rows_quarantined``."""

    @property
    @abstractmethod
    def backend(self) -> Backend:
        """The engine that holds the log's tables and runs its kernels."""

    @property
    def engine(self) -> str:
        """``"memory"``, ``"duckdb"`` or ``"spark"``."""
        return self.backend.name

    # -- dictionaries -----------------------------------------------------------
    @property
    @abstractmethod
    def users(self) -> pd.Index:
        """User ids; position = user code."""

    @property
    @abstractmethod
    def event_names(self) -> pd.Index:
        """Event names; position = event code."""

    @abstractmethod
    def names(self, level: str) -> pd.Index:
        """The dictionary of a coded column (``"event"``, ``"channel"``, ``"stage"``, ``"device"``, a segment …)."""

    def dictionary(self, level: str) -> Table:
        """The dictionary of ``level`` (``"user"``, ``"event"`` or a coded column) as a table of the log's
        engine, ``code, name``: for joining names to results that stay in the engine."""
        names = self.users if level == "user" else self.names(level)
        columns = {"code": np.arange(len(names), dtype=np.int64), "name": np.asarray(names.astype(str), dtype=object)}
        return self.backend.ship(columns, self.journeys(window=False))

    @property
    @abstractmethod
    def columns(self) -> list[str]:
        """The log's columns, canonical names first."""

    @abstractmethod
    def has(self, column: str) -> bool:
        """Whether the log carries ``column`` (``"session_id"``, ``"channel"``, ``"stage"`` …)."""

    # -- tables -------------------------------------------------------------------
    @abstractmethod
    def journeys(self, *, level: str = "event", per: str = "user", window: bool = True,
                 columns: Sequence[str] = ()) -> Table:
        """The journey table ``ev``, a table of the log's engine.

        Columns: ``i`` (log position: user, time, source row order), ``g`` (journey:
        the user, or the user's session with ``per="session"``, numbered in (user,
        session) order), ``u`` (user code), ``t`` (epoch µs, UTC), ``e`` (code at
        ``level``; events without a value at that level are left out); with
        ``window``, from the one window pass over each journey: ``e2`` (next code,
        -1 after the last), ``dt`` (µs to the next event, 0 after the last), ``gp``
        (µs since the previous one, -1 on the first) and ``head`` (1 on the first);
        and ``c_<name>`` (codes, -1 = missing) or ``v_<name>`` (numbers) of ``columns``.
        In-memory tables hold each journey's rows contiguously, in order of ``i``.
        """

    @abstractmethod
    def user_values(self, column: str) -> pd.Series:
        """Each user's first non-missing value of ``column`` in log order (as text), indexed by user code."""

    # -- new logs on the same engine ------------------------------------------------
    @abstractmethod
    def with_codes(self, name: str, codes: np.ndarray, categories: Sequence[Any], *, of: str = "event",
                   ordered: bool = False, keep_as: str | None = None, parameters: Mapping[str, Any] | None = None
                   ) -> "JourneyLog":
        """A new log with a coded column ``name``: ``codes[k]`` (-1 = missing) is the category of
        event code ``k`` (``of="event"``) or of user code ``k`` (``of="user"``). An existing column
        ``name`` is kept as ``keep_as`` (replaced when None); ``parameters`` are merged into the log's."""

    @abstractmethod
    def with_users(self, codes: np.ndarray, users: pd.Index, parameters: Mapping[str, Any]) -> "JourneyLog":
        """A new log whose user code ``k`` becomes ``codes[k]`` (a position in the new ``users``), in the
        log order of the new users; the previous id is kept in ``original_user_id`` (the source's, through
        repeated calls)."""

    @abstractmethod
    def take(self, rows: Table, record: Mapping[str, Any]) -> "JourneyLog":
        """A new log of the events whose position ``i`` is in ``rows`` (a table with column ``i``);
        dictionaries, quarantine and ``rows_accepted`` stay; ``record`` is added to ``parameters["filters"]``."""

    @abstractmethod
    def with_sessions(self, gap_us: int, max_us: int | None, record: Mapping[str, Any]) -> "JourneyLog":
        """A new log with ``session_id`` numbered in (user, start) order (a source one kept as
        ``source_session_id``); ``record`` goes to ``parameters["sessionize"]``."""

    # -- moving between engines -----------------------------------------------------------
    @abstractmethod
    def collect(self, sample: int | float | None = None, *, random_state: int = 0) -> Any:
        """The log (or a seeded sample of whole users: ``n`` users or a fraction) as an in-memory EventLog."""

    @abstractmethod
    def hold(self, engine: str = "duckdb") -> Any:
        """The log held by ``engine`` (``"duckdb"`` on disk or ``"spark"``) as a TableLog."""

    # -- shared helpers, written once over the protocol ------------------------------------
    def segments(self, by: By) -> tuple[np.ndarray, pd.Index, str]:
        """Segment code per user code, the segment labels (sorted) and the segment's name.

        ``by`` is a column (each user's first non-missing value; users without one
        are ``(none)``), labels per user id (a Series indexed by user id, or a dict;
        users not covered are ``(none)``), or None (one segment, ``"all"``).
        """
        n_users = len(self.users)
        if by is None:
            return np.zeros(n_users, dtype=np.int64), pd.Index(["all"]), "segment"
        if isinstance(by, str):
            if not self.has(by):
                raise ParameterError(f"by={by!r} is not a column of the log (columns: {', '.join(self.columns)})", "by")
            first = self.user_values(by)
            per_user = np.full(n_users, UNASSIGNED, dtype=object)
            per_user[first.index.to_numpy(dtype=np.int64)] = first.to_numpy(dtype=object)
            name = by
        elif isinstance(by, (pd.Series, Mapping)):
            labels = pd.Series(by) if isinstance(by, Mapping) else by
            labels = labels.set_axis(labels.index.astype(str))
            labels = labels[~labels.index.duplicated(keep="last")]
            # the ids hashed once (not at all when they are the log's), the labels turned into text once
            # per distinct label, not per user
            ids = self.users.astype(str)
            at = np.arange(len(ids)) if labels.index.equals(ids) else positions(ids, labels.index)
            value, distinct_values = pd.factorize(labels.to_numpy(dtype=object))  # -1: a missing label
            text = pd.Series(distinct_values, dtype=object).astype(str).to_numpy(dtype=object)
            code = np.append(value, -1)[at]  # position -1 (no label given) picks the trailing -1
            return (*_sorted_labels(code, text), str(labels.name) if labels.name is not None else "segment")
        else:
            raise ParameterError("by must be a column name, a pandas Series indexed by user id, or a dict, "
                                 f"not {type(by).__name__}", "by")
        codes, uniques = pd.factorize(per_user, sort=True)
        return codes.astype(np.int64), pd.Index(uniques.astype(str)), name

    def time_range(self) -> tuple[int, int]:
        """First and last event time (epoch µs); ``(0, 0)`` for an empty log."""
        out = run("SELECT min(t) AS lo, max(t) AS hi FROM ev", {"ev": self.journeys(window=False)})
        lo, hi = out["lo"][0], out["hi"][0]
        return (0, 0) if lo is None or pd.isna(lo) else (int(lo), int(hi))

    def filter(self, *, start: Any = None, end: Any = None, users: Sequence[Any] | None = None,
               having: str | Sequence[str] | None = None, not_having: str | Sequence[str] | None = None,
               by: By = None, segments: Sequence[Any] | None = None, min_length: int | None = None,
               max_length: int | None = None, top_variants: int | None = None, per: str = "user") -> "JourneyLog":
        """A new log of the events that pass every condition given, on the same engine.

        Events are kept by time first (``start`` ≤ time < ``end``); journeys (``per``: users
        or sessions) are then kept by their user (``users``: ids; ``by`` with ``segments``: the
        users whose segment label is one of ``segments``), by the events they contain
        (``having``: at least one of these; ``not_having``: none of these), by their length in
        events (``min_length``, ``max_length``) and by following one of the ``top_variants``
        most frequent paths, each counted on the events that remain. The quarantine and
        ``rows_accepted`` stay; the filter is listed in ``summary()["filters"]``.

        >>> import pandas as pd, journeylens as jl
        >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "b", "c", "c"],
        ...     "time": pd.date_range("2024-01-01", periods=5, freq="D"),
        ...     "event": ["home", "buy", "home", "home", "cart"]}))
        >>> log.filter(having="buy").summary()["users"], log.filter(min_length=2, not_having="buy").summary()["users"]
        (1, 1)
        >>> len(log.filter(start="2024-01-02", end="2024-01-04"))
        2
        """
        from .params import event_names, positive_int, timestamp_us

        check_per(per)
        record: dict[str, Any] = {"per": per}
        start_us = None if start is None else timestamp_us(start, "start")
        end_us = None if end is None else timestamp_us(end, "end")
        kept_users = None
        if users is not None:
            wanted = positions([str(u) for u in users], self.users.astype(str))
            kept_users = distinct(wanted[wanted >= 0])
            record["users"] = len(users)
        if by is not None or segments is not None:
            if by is None or segments is None:
                raise ParameterError("give by= and segments= together: the segment labels to keep", "segments")
            codes, labels, name = self.segments(by)
            chosen = np.flatnonzero(np.isin(np.arange(len(labels)), labels.get_indexer([str(s) for s in segments])))
            in_segment = np.flatnonzero(np.isin(codes, chosen))
            kept_users = in_segment if kept_users is None else np.intersect1d(kept_users, in_segment)
            record.update(by=name, segments=[str(s) for s in segments])
        having_names = event_names(having, self.event_names, "having", required=False)
        lacking_names = event_names(not_having, self.event_names, "not_having", required=False)
        for key, value in (("start", start), ("end", end), ("having", list(having_names) or None),
                           ("not_having", list(lacking_names) or None), ("min_length", min_length),
                           ("max_length", max_length), ("top_variants", top_variants)):
            if value is not None:
                record[key] = value if key not in ("start", "end") else str(value)
        rows = kept_rows(self.journeys(per=per, window=False), start_us=start_us, end_us=end_us, users=kept_users,
                         having=self.event_codes_of(having_names), not_having=self.event_codes_of(lacking_names),
                         min_length=positive_int(min_length, "min_length", allow_none=True),
                         max_length=positive_int(max_length, "max_length", allow_none=True),
                         top_variants=positive_int(top_variants, "top_variants", allow_none=True))
        return self.take(rows, record)

    def head(self, n: int = 10) -> pd.DataFrame:
        """The first ``n`` events (in log order) as pandas, names decoded, on any engine.

        >>> import pandas as pd, journeylens as jl
        >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "b"], "time": ["2024-01-01", "2024-01-02"],
        ...     "event": ["home", "buy"]}))
        >>> log.head(1)[["user_id", "event"]].values.tolist()
        [['a', 'home']]
        """
        from .params import positive_int

        n = positive_int(n, "n")
        first = run(f"SELECT i FROM ev ORDER BY i LIMIT {n}", {"ev": self.journeys(window=False)})
        return self.take({"i": first["i"].astype(np.int64)}, {"head": n}).collect().to_pandas()

    def to_parquet(self, path: str | os.PathLike[str]) -> Path:
        """Save the log in a folder that :func:`jl.read_log <journeylens.io.logfile.read_log>` reads back on any
        engine, with its roles, dictionaries, quarantine, parameters and provenance.

        ``events.parquet`` holds the events as codes in log order (``u``, ``t`` µs, ``e``,
        ``c_<column>`` codes, the other columns as they are, ``source_row``), written by the
        engine that holds the log; ``dictionaries.parquet`` the names of every code;
        ``quarantine.parquet`` the rejected rows; ``log.json`` the rest. Numbers in extra
        columns are saved as doubles.

        >>> import pandas as pd, tempfile, journeylens as jl
        >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "b"], "time": ["2024-01-01", "2024-01-02"],
        ...     "event": ["home", "buy"]}))
        >>> folder = log.to_parquet(tempfile.mkdtemp() + "/saved")
        >>> jl.read_log(folder).summary()["events"], jl.read_log(folder, engine="duckdb").summary()["events"]
        (2, 2)
        """
        import json

        import pyarrow as pa
        import pyarrow.parquet as pq

        folder = Path(path)
        if folder.exists() and (not folder.is_dir() or (any(folder.iterdir()) and not (folder / "log.json").exists())):
            raise ParameterError(f"path={str(path)!r} exists and is not a saved log: give a new or empty folder", "path")
        folder.mkdir(parents=True, exist_ok=True)
        extra = [c for c in self.columns if c not in ("user_id", "timestamp", "event")]
        ev = self.journeys(window=False, columns=(*extra, "source_row"))
        present = set(columns_of(ev))
        d = self.backend.dialect
        kinds, select = {}, ["u", "t", "e"]
        for name in extra:
            if f"c_{name}" in present:
                kinds[name] = "coded"
                select.append(f"c_{name} AS {quote('c_' + name, d)}")
            elif f"v_{name}" in present:
                kinds[name] = "number"
                whole = name == "session_id"  # numbered sessions are integers
                select.append(f"{'CAST(' if whole else ''}v_{name}{' AS BIGINT)' if whole else ''} AS {quote(name, d)}")
            else:
                kinds[name] = "text"
                select.append(f"x_{name} AS {quote(name, d)}")
        select.append("CAST(v_source_row AS BIGINT) AS source_row")
        events = folder / "events.parquet"
        if events.is_dir():  # parts from an earlier save on Spark
            import shutil

            shutil.rmtree(events)
        self.backend.write_parquet(f"SELECT {', '.join(select)} FROM ev ORDER BY i", {"ev": ev}, str(events))
        levels = [("user", self.users), ("event", self.event_names),
                  *((name, self.names(name)) for name, kind in kinds.items() if kind == "coded")]
        pq.write_table(pa.table({
            "level": pa.array([name for name, names in levels for _ in range(len(names))], pa.string()),
            "code": pa.array(np.concatenate([np.arange(len(names)) for _, names in levels]).astype(np.int64)),
            "name": pa.array([str(n) for _, names in levels for n in names], pa.string())}),
            folder / "dictionaries.parquet")
        quarantine = self.quarantine_frame()
        pq.write_table(pa.Table.from_pandas(quarantine.astype({c: "string" for c in quarantine.columns
                                                               if c != "source_row"}), preserve_index=False),
                       folder / "quarantine.parquet")
        meta = {"format": "journeylens log", "version": 1, "source": self.source, "roles": dict(self.roles),
                "rows_read": int(self.rows_read), "rows_accepted": int(self.rows_accepted),
                "columns": kinds, "ordered": ["stage"] if "assign_stages" in self.parameters else [],
                "parameters": json.loads(json.dumps(dict(self.parameters), default=str))}
        (folder / "log.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return folder

    def event_codes_of(self, names: Sequence[str]) -> np.ndarray:
        """Codes of event names already checked (``core.params.event_names``)."""
        return pd.Index(self.event_names.astype(str)).get_indexer(list(names)).astype(np.int64)


def _sorted_labels(code: np.ndarray, text: np.ndarray) -> tuple[np.ndarray, pd.Index]:
    """Each user's code into the sorted labels users carry, from its ``code`` into ``text`` (-1: :data:`UNASSIGNED`);
    equal texts (of ``1`` and ``"1"``) are one label."""
    names = np.append(text, UNASSIGNED).astype(object)
    code = np.where(code >= 0, code, len(text))
    labels = pd.Index(sorted(set(names[np.bincount(code, minlength=len(names)) > 0])))
    return labels.get_indexer(names)[code].astype(np.int64), labels


def check_per(per: str) -> str:
    """``per`` checked once: the journey unit."""
    return choice(per, "per", PER)
