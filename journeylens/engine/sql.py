"""One SQL text, every engine: where a kernel runs, and the few spellings engines do not share.

Kernels are written in the common subset of DuckDB and Spark SQL
(``min_by``/``max_by``, ``median``, ``percentile_cont(q) WITHIN GROUP (ORDER BY x)``,
``CAST``, ``<<``, windows, ``div(a, b)`` for integer division, ``unix_micros``,
``try_to_timestamp`` — macros on DuckDB connections, built-ins in Spark). What
has no common spelling is a ``{hook}``, spelled by each backend (:mod:`journeylens.engine.backends`):

* ``{seq_e}``: the codes ``e`` of a group as a list ordered by ``i``.
* ``{tag_names}``: the distinct ``name``\\ s of a group, sorted and joined by ``|``.
* ``{text}``: the SQL type of text.
* ``{hash}``: a 64-bit hash of its arguments (equal values, equal hashes).
* ``{row_id}``: a row id increasing along the rows of an ordered subquery (dense
  from 0 on DuckDB, whose streaming ``row_number() OVER ()`` keeps the sort's
  order — 4x faster than numbering inside a sorted window; increasing but not
  dense on Spark).

A table is one of

* numpy columns (``{name: array}``): run by the embedded DuckDB engine;
* a :class:`~journeylens.engine.backends.duckdb.DuckTable`: a table held in a journeylens
  DuckDB database on disk (logs larger than memory), run there;
* a Spark DataFrame: run by Spark SQL on that frame's session.

:func:`query` picks the engine from the tables it is given; numpy tables given
beside held ones (small dictionaries) are shipped to the held table's engine.
"""

from __future__ import annotations

from typing import Any, Mapping, Union

import numpy as np
import pyarrow as pa

from .backends import backend_of

#: numpy columns, a held DuckDB table, or a ``pyspark.sql.DataFrame``
Table = Union[Mapping[str, np.ndarray], Any]


def dialect_of(table: Table) -> str:
    """The SQL dialect of the engine ``table`` lives in."""
    return backend_of({"t": table}).dialect


def quote(name: str, dialect: str) -> str:
    """``name`` as a quoted identifier of ``dialect`` (any column name, spaces and quotes included)."""
    mark = "`" if dialect == "spark" else '"'
    return mark + name.replace(mark, mark * 2) + mark


def is_held(table: Any) -> bool:
    """Whether ``table`` lives in an engine (DuckDB database or Spark), not in numpy arrays."""
    return backend_of({"t": table}).name != "memory"


def query(sql: str, tables: Mapping[str, Table]) -> pa.Table:
    """Run ``sql`` over ``tables`` (name → table) on the engine they live in; the result as Arrow."""
    engine = backend_of(tables)
    return engine.query(engine.render(sql), tables)


def run(sql: str, tables: Mapping[str, Table]) -> dict[str, np.ndarray]:
    """Like :func:`query`, with the result columns as numpy arrays."""
    result = query(sql, tables)
    return {c: result.column(c).to_numpy() for c in result.column_names}


def frame(sql: str, tables: Mapping[str, Table], materialise: bool = False, scratch: bool = False) -> Any:
    """Run ``sql`` over ``tables`` and keep the result where they live: a held table (lazy unless
    ``materialise``: a DuckDB table, a locally checkpointed Spark DataFrame), or numpy columns
    for in-memory tables. ``scratch``: a materialised table read once, which DuckDB keeps as a
    temporary table, uncompressed (see :func:`~journeylens.engine.backends.duckdb.held_table`)."""
    engine = backend_of(tables)
    return engine.frame(engine.render(sql), tables, materialise=materialise, scratch=scratch)


def columns_of(table: Table) -> list[str]:
    """The column names of ``table``, on any engine."""
    if isinstance(table, Mapping):
        return list(table)
    return list(query("SELECT * FROM t LIMIT 0", {"t": table}).column_names)


def with_user_values(ev: Table, name: str, values: np.ndarray, key: str = "u") -> Table:
    """``ev`` with column ``name`` = ``values[ev[key]]`` (one value per user code), on ``ev``'s engine."""
    engine = backend_of({"ev": ev})
    values = np.asarray(values)
    if engine.name == "memory":
        return {**ev, name: values[np.asarray(ev[key], dtype=np.int64)]}
    per_user = engine.ship({"_k": np.arange(len(values), dtype=np.int64), "_v": values}, ev)
    # materialised: DuckDB runs out of memory on a window over a large join it cannot spill
    return engine.frame(f"SELECT ev.*, m._v AS {quote(name, engine.dialect)} FROM ev JOIN m ON ev.{key} = m._k",
                        {"ev": ev, "m": per_user}, materialise=True)


def literal(text: str, dialect: str) -> str:
    """``text`` as a string literal of ``dialect`` (Spark reads backslash escapes; DuckDB does not)."""
    if dialect == "spark":
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "'" + text.replace("'", "''") + "'"


def ship(columns: Mapping[str, np.ndarray], like: Table) -> Table:
    """Small numpy ``columns`` as a table of the engine that holds ``like``."""
    return backend_of({"like": like}).ship(columns, like)


def rename_tables(sql: str, names: Mapping[str, str]) -> str:
    """``sql`` reading the real table ``names[name]`` wherever it names ``name``.

    Each name becomes a common table expression over the real table, so aliases and
    qualified columns (``du.name``) in the kernel stay as written.
    """
    if not names:
        return sql
    ctes = ", ".join(f"{name} AS (SELECT * FROM {real})" for name, real in names.items())
    body = sql.lstrip()
    if body[:4].upper() == "WITH" and body[4:5].isspace():
        return f"WITH {ctes}, {body[5:]}"
    return f"WITH {ctes} {body}"
