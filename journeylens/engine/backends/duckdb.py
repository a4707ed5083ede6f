"""DuckDB, embedded: numpy tables in memory, and held tables in a database on disk.

* Numpy tables (an :class:`~journeylens.EventLog`'s arrays) are registered
  zero-copy with a per-thread in-memory connection.
* A :class:`DuckTable` lives in the process's held database, a DuckDB file in
  the temp directory (``JOURNEYLENS_TEMP_DIR`` or the system's), so a log can be
  larger than memory: DuckDB streams it and spills sorts, joins and aggregates to
  disk beyond its memory limit (``JOURNEYLENS_MEMORY_LIMIT``, e.g. ``8GB``; half
  of the machine's memory by default). Passes over every user or journey
  (:func:`map_groups`) and the search for repeated hashes (:func:`repeated`) read
  it in chunks into numpy instead: one chunk in memory, nothing to spill.
  A table is dropped when its last :class:`DuckTable` goes away; the file when
  the process ends.

Both kinds of connection speak the kernels' dialect: ``div``, ``unix_micros``
and ``try_to_timestamp`` are macros spelling Spark's built-ins, and times are UTC.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import duckdb
import numpy as np
import pyarrow as pa

from . import Backend, arrow_of

_MACROS = (
    "CREATE MACRO div(a, b) AS a // b",
    "CREATE MACRO unix_micros(x) AS epoch_us(x)",
    "CREATE MACRO try_to_timestamp(x) AS try_cast(x AS TIMESTAMPTZ)",
)
_local = threading.local()


def _temp_root() -> str:
    return os.environ.get("JOURNEYLENS_TEMP_DIR") or os.path.join(tempfile.gettempdir(), "journeylens-duckdb")


def _prepare(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    con.execute("SET TimeZone = 'UTC'")
    for macro in _MACROS:
        con.execute(macro)
    return con


def connection() -> duckdb.DuckDBPyConnection:
    """This thread's in-memory DuckDB connection (created once, spills to the temp dir)."""
    con = getattr(_local, "con", None)
    if con is None:
        con = _local.con = _prepare(duckdb.connect(config={"temp_directory": _temp_root(),
                                                           "threads": os.cpu_count() or 1}))
    return con


def arrow_table(columns: Mapping[str, Any]) -> pa.Table:
    """Zero-copy Arrow view of numpy (or Arrow) columns, for registering with DuckDB."""
    return arrow_of(columns)


def to_arrow(rel: duckdb.DuckDBPyRelation) -> pa.Table:
    """Materialise a relation as Arrow (the method name changed in DuckDB 2.0)."""
    return rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.fetch_arrow_table()


def _half_of_memory() -> str | None:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows): DuckDB's default
        return None
    return f"{max(total // 2 // 2**20, 256)}MiB"


class Database:
    """The held database: a DuckDB file in its own temp folder, one connection, serialised use."""

    def __init__(self) -> None:
        os.makedirs(_temp_root(), exist_ok=True)
        self.folder = tempfile.mkdtemp(prefix="held-", dir=_temp_root())
        config = {"temp_directory": os.path.join(self.folder, "spill"), "threads": os.cpu_count() or 1,
                  "preserve_insertion_order": True}
        # DuckDB's own default (80% of RAM) leaves too little for the analysis's arrays beside it
        limit = os.environ.get("JOURNEYLENS_MEMORY_LIMIT") or _half_of_memory()
        if limit:
            config["memory_limit"] = limit
        self.con = _prepare(duckdb.connect(os.path.join(self.folder, "held.duckdb"), config=config))
        self.lock = threading.RLock()
        self._names = itertools.count()

    def name(self, prefix: str = "t") -> str:
        return f"jl_{prefix}{next(self._names)}"

    def execute(self, sql: str) -> None:
        with self.lock:
            # fetched to the end: DuckDB 2 refuses other work while a result is unfinished
            self.con.execute(sql).fetchall()

    def close(self) -> None:
        with self.lock:
            self.con.close()
        shutil.rmtree(self.folder, ignore_errors=True)


_held: Database | None = None
_held_lock = threading.Lock()


def held_database() -> Database:
    """The process's held database, created on first use and removed at exit."""
    global _held
    with _held_lock:
        if _held is None:
            _held = Database()
            atexit.register(_held.close)
        return _held


@dataclass(frozen=True, eq=False)
class DuckTable:
    """A table (or view) in the held database; ``deps`` keeps the tables a view reads alive."""

    db: Database
    name: str
    deps: tuple["DuckTable", ...] = field(default=())

    @property
    def columns(self) -> list[str]:
        with self.db.lock:
            return [row[0] for row in self.db.con.execute(f"DESCRIBE {self.name}").fetchall()]

    def count(self) -> int:
        with self.db.lock:
            return int(self.db.con.execute(f"SELECT count(*) FROM {self.name}").fetchall()[0][0])


def _drop(db: Database, name: str, kind: str) -> None:
    try:
        db.execute(f"DROP {kind} IF EXISTS {name}")
    except (duckdb.Error, RuntimeError):  # the database is already closed at exit
        pass


def held_table(db: Database, sql: str, materialise: bool = True, deps: tuple[DuckTable, ...] = (),
               scratch: bool = False) -> DuckTable:
    """A new table (``materialise``) or view of ``sql`` in ``db``, dropped with its last reference.

    A table is stored in the database file, compressed: the log and its window passes are read
    many times, and at 100M events compressed columns spill less (the held pipeline took 125-126 s
    instead of 135 s). A ``scratch`` table, read once, is a temporary table instead: it skips the
    compression and the checkpoints (the validation pass took 7.5 s instead of 19 s), and it
    still spills to the temp directory beyond the memory limit.
    """
    kind = "TABLE" if materialise else "VIEW"
    name = db.name("t" if materialise else "v")
    schema = "temp" if scratch or not materialise else "main"
    db.execute(f"CREATE {'TEMP ' if schema == 'temp' else ''}{kind} {name} AS {sql}")
    name = f"{schema}.{name}"
    table = DuckTable(db, name, () if materialise else deps)
    weakref.finalize(table, _drop, db, name, kind)
    return table


def _held_db(tables: Mapping[str, Any]) -> Database | None:
    """The database of the first held table among ``tables``, if any."""
    return next((t.db for t in tables.values() if isinstance(t, DuckTable)), None)


def _bind(db: Database, sql: str, tables: Mapping[str, Any]) -> tuple[str, list[str], tuple[DuckTable, ...]]:
    """``sql`` naming the real tables of ``db``, the numpy tables registered there, and the held tables read."""
    from ..sql import rename_tables

    held = tuple(t for t in tables.values() if isinstance(t, DuckTable))
    names, registered = {}, []
    for alias, t in tables.items():
        if isinstance(t, DuckTable):
            names[alias] = t.name
        else:  # a small numpy table beside held ones
            names[alias] = db.name("r")
            db.con.register(names[alias], arrow_table(t))
            registered.append(names[alias])
    return rename_tables(sql, names), registered, held


def query(sql: str, tables: Mapping[str, Any]) -> pa.Table:
    """Run ``sql`` over ``tables`` (numpy columns or held tables); the result as Arrow."""
    db = _held_db(tables)
    if db is None:
        return _query_embedded(sql, tables)
    with db.lock:
        text, registered, _ = _bind(db, sql, tables)
        try:
            return to_arrow(db.con.sql(text))
        finally:
            for name in registered:
                db.con.unregister(name)


def _query_embedded(sql: str, tables: Mapping[str, Mapping[str, np.ndarray]]) -> pa.Table:
    con = connection()
    names = []
    try:
        for name, cols in tables.items():
            con.register(name, arrow_table(cols))
            names.append(name)
        return to_arrow(con.sql(sql))
    finally:
        for name in names:
            con.unregister(name)


def frame(sql: str, tables: Mapping[str, Any], materialise: bool = False, scratch: bool = False) -> DuckTable:
    """``sql`` over held ``tables`` as a new held table (``materialise``; see :func:`held_table` for
    ``scratch``) or view."""
    db = _held_db(tables) or held_database()
    with db.lock:
        text, registered, deps = _bind(db, sql, tables)
        # a view must not read a registered numpy table that goes away after this call
        materialise = materialise or bool(registered)
        try:
            return held_table(db, text, materialise=materialise, deps=deps, scratch=scratch)
        finally:
            for name in registered:
                db.con.unregister(name)


def ship(columns: Mapping[str, np.ndarray], like: DuckTable | None = None) -> DuckTable:
    """Numpy ``columns`` copied into a table of ``like``'s database (the held database without ``like``)."""
    db = like.db if like is not None else held_database()
    with db.lock:
        name = db.name("r")
        db.con.register(name, arrow_table(columns))
        try:
            return held_table(db, f"SELECT * FROM {name}")
        finally:
            db.con.unregister(name)


#: rows per chunk of :func:`map_groups` (a chunk holds whole groups, so it may hold more)
CHUNK_ROWS = 1 << 22
#: rows of a DuckDB vector, and how many vectors per chunk :func:`_group_chunks` samples
VECTOR_ROWS, SAMPLED_VECTORS = 2048, 64


def _group_chunks(table: DuckTable, group: str, rows: int) -> list[str]:
    """Conditions on ``group`` cutting ``table`` into ranges of about ``rows`` rows (the last one
    takes NULL): the range edges are quantiles of ``group`` over a sample of its rows.

    A large table is sampled by whole vectors of rows, which the scan skips unread (a pass over a
    spilled table of 100M rows cost 0.4-1.4 s); a small one, or a sample too thin, by every few rows.
    The edges only decide which groups share a chunk, never a result."""
    n = table.count()
    k = -(-n // rows)
    edges: list[int] = []
    if k > 1:
        con, where = table.db.con, f"{group} IS NOT NULL"
        values = np.zeros(0)
        share = 100 * SAMPLED_VECTORS * k * VECTOR_ROWS / n
        if share <= 25:  # beyond a quarter of the vectors a sample reads most of the table anyway
            sampled = con.sql(f"SELECT {group} AS g FROM {table.name} TABLESAMPLE {share:.6f}% (system) WHERE {where}")
            values = np.asarray(sampled.to_arrow_table().column("g"))
        if len(values) < k * VECTOR_ROWS:  # fewer rows than a vector per chunk: too thin for the quantiles
            step = max(1, n // (k * 64))
            sampled = con.sql(f"SELECT {group} AS g FROM {table.name} WHERE i % {step} = 0 AND {where}")
            values = np.asarray(sampled.to_arrow_table().column("g"))
        if len(values):
            edges = [int(e) for e in np.unique(np.quantile(values, np.arange(1, k) / k, method="lower"))]
    if not edges:
        return ["TRUE"]
    return ([f"{group} < {edges[0]}"] + [f"{group} >= {lo} AND {group} < {hi}" for lo, hi in zip(edges, edges[1:])]
            + [f"({group} >= {edges[-1]} OR {group} IS NULL)"])


def map_groups(table: DuckTable, group: str, fn: Callable[[pa.Table], pa.Table],
               columns: Sequence[str] | None = None) -> DuckTable:
    """A held table of ``fn`` applied to ``table`` in chunks of whole groups (see
    :meth:`Backend.map_groups`), appended in turn: a pass over every group that holds one chunk
    in memory at a time, where a SQL window over the whole table sorts it all and spills."""
    db = table.db
    with db.lock:
        out: DuckTable | None = None
        ranges = _group_chunks(table, group, CHUNK_ROWS)
        read = "*" if columns is None else ", ".join(dict.fromkeys([group, "i", *columns]))
        for k, where in enumerate(ranges):
            rows_in = _ordered(db.con.sql(f"SELECT {read} FROM {table.name} WHERE {where}").to_arrow_table(), group)
            if rows_in.num_rows == 0 and (out is not None or k < len(ranges) - 1):
                continue  # an empty table still gets its columns, from the last range
            chunk = fn(rows_in)
            name = db.name("r")
            db.con.register(name, chunk)
            try:
                if out is None:
                    out = held_table(db, f"SELECT * FROM {name}")
                else:
                    db.execute(f"INSERT INTO {out.name} SELECT * FROM {name}")
            finally:
                db.con.unregister(name)
        assert out is not None  # there is at least one range
        return out


def _ordered(rows: pa.Table, group: str) -> pa.Table:
    """``rows`` in (``group``, ``i``) order: a table scanned in that order (a log read in ``i`` order,
    grouped by user or session) is only checked, others are sorted."""
    g, i = np.asarray(rows.column(group)), np.asarray(rows.column("i"))
    if len(g) < 2:
        return rows
    step = np.diff(g)
    if np.all((step > 0) | ((step == 0) & (i[1:] > i[:-1]))):
        return rows
    return rows.take(np.lexsort((i, g)))


def repeated(table: DuckTable, column: str, where: str) -> DuckTable:
    """See :meth:`Backend.repeated`: the hashes are sorted in numpy, a range of leading bits at a
    time (about :data:`CHUNK_ROWS` × 8 of them in memory), 8x faster than DuckDB's GROUP BY of
    100M distinct values, which spills."""
    db = table.db
    with db.lock:
        parts = -(-table.count() // (CHUNK_ROWS * 8))
        bits = max(parts - 1, 0).bit_length()
        found = [np.zeros(0, dtype=np.uint64)]
        for part in range(1 << bits):
            leading = f" AND ({column} >> {64 - bits}) = {part}" if bits else ""
            rows = db.con.sql(f"SELECT {column} FROM {table.name} WHERE ({where}){leading}").to_arrow_table()
            values = np.asarray(rows.column(0), dtype=np.uint64)
            if not values.flags.writeable:  # Arrow's own buffer: sorted in place on a copy of its own
                values = values.copy()
            del rows
            values.sort()
            found.append(np.unique(values[1:][values[1:] == values[:-1]]))
    return ship({"v": np.concatenate(found)}, table)


def run(sql: str, tables: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Like :func:`query`, with the result columns as numpy arrays."""
    result = query(sql, tables)
    return {c: result.column(c).to_numpy() for c in result.column_names}


HOOKS = {
    "seq_e": "list(e ORDER BY i)",
    "tag_names": "string_agg(DISTINCT name, '|' ORDER BY name)",
    "text": "VARCHAR",
    "hash": "hash",
    # DuckDB's streaming row_number() OVER () keeps the sort of its ordered subquery: 4x faster
    # than numbering inside a sorted window
    "row_id": "row_number() OVER () - 1",
}


class _Embedded(Backend):
    """Numpy columns, run by this thread's in-memory DuckDB connection."""

    name, dialect, hooks = "memory", "duckdb", HOOKS

    def owns(self, table: Any) -> bool:
        return isinstance(table, Mapping)

    def query(self, sql: str, tables: Mapping[str, Any]) -> pa.Table:
        return query(sql, tables)

    def frame(self, sql: str, tables: Mapping[str, Any], materialise: bool = False, scratch: bool = False) -> Any:
        # a result that "stays in the engine" is columns in memory again: Arrow, so that NULLs stay NULL
        result = query(sql, tables)
        return {c: result.column(c) for c in result.column_names}

    def ship(self, columns: Mapping[str, Any], like: Any) -> Any:
        return dict(columns)

    def write_parquet(self, sql: str, tables: Mapping[str, Any], path: str) -> None:
        import pyarrow.parquet as pq

        pq.write_table(query(sql, tables), path)


class _Held(Backend):
    """Tables in the held DuckDB database on disk."""

    name, dialect, hooks = "duckdb", "duckdb", HOOKS

    def owns(self, table: Any) -> bool:
        return isinstance(table, DuckTable)

    def query(self, sql: str, tables: Mapping[str, Any]) -> pa.Table:
        return query(sql, tables)

    def frame(self, sql: str, tables: Mapping[str, Any], materialise: bool = False, scratch: bool = False) -> Any:
        return frame(sql, tables, materialise=materialise, scratch=scratch)

    def ship(self, columns: Mapping[str, Any], like: Any) -> Any:
        return ship(columns, like if isinstance(like, DuckTable) else None)

    def map_groups(self, table: Any, group: str, fn: Callable[[pa.Table], pa.Table],
                   columns: Sequence[str] | None = None) -> Any:
        return map_groups(table, group, fn, columns)

    def repeated(self, table: Any, column: str, where: str) -> Any:
        return repeated(table, column, where)

    def write_parquet(self, sql: str, tables: Mapping[str, Any], path: str) -> None:
        db = _held_db(tables) or held_database()
        with db.lock:
            text, registered, _ = _bind(db, sql, tables)
            target = "'" + str(path).replace("'", "''") + "'"
            try:
                db.con.execute(f"COPY ({text}) TO {target} (FORMAT parquet)")
            finally:
                for name in registered:
                    db.con.unregister(name)


MEMORY: Backend = _Embedded()
HELD: Backend = _Held()
