"""One SQL text, every engine: where a kernel runs, and the few spellings engines do not share.

Kernels are written in the common subset of DuckDB and Spark SQL
(``min_by``/``max_by``, ``median``, ``percentile_cont(q) WITHIN GROUP (ORDER BY x)``,
``CAST``, ``<<``, windows, ``div(a, b)`` for integer division, ``unix_micros``,
``try_to_timestamp`` — macros on DuckDB connections, built-ins in Spark). What
has no common spelling is a ``{hook}`` filled here per dialect:

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

import re
from typing import Any, Mapping, Union

import numpy as np
import pyarrow as pa

from .backends import duckdb as duck

#: numpy columns, a DuckTable, or a ``pyspark.sql.DataFrame``
Table = Union[Mapping[str, np.ndarray], "duck.DuckTable", Any]

HOOKS: dict[str, dict[str, str]] = {
    "duckdb": {
        "seq_e": "list(e ORDER BY i)",
        "tag_names": "string_agg(DISTINCT name, '|' ORDER BY name)",
        "text": "VARCHAR",
        "hash": "hash",
        "row_id": "row_number() OVER () - 1",
    },
    "spark": {
        "seq_e": "transform(array_sort(collect_list(struct(i, e))), x -> x.e)",
        "tag_names": "array_join(array_sort(collect_set(name)), '|')",
        "text": "STRING",
        "hash": "xxhash64",
        "row_id": "monotonically_increasing_id()",
    },
}
_HOOK = re.compile(r"\{(\w+)\}")


def render(sql: str, dialect: str) -> str:
    """``sql`` with its ``{hook}``\\ s spelled for ``dialect`` (``"duckdb"`` or ``"spark"``);
    other braces (in quoted names, say) are left alone."""
    hooks = HOOKS[dialect]
    return _HOOK.sub(lambda m: hooks.get(m.group(1), m.group(0)), sql)


def dialect_of(table: Table) -> str:
    """The dialect of the engine ``table`` lives in."""
    return "spark" if is_spark(table) else "duckdb"


def quote(name: str, dialect: str) -> str:
    """``name`` as a quoted identifier of ``dialect`` (any column name, spaces and quotes included)."""
    mark = "`" if dialect == "spark" else '"'
    return mark + name.replace(mark, mark * 2) + mark


def is_spark(table: Any) -> bool:
    """Whether ``table`` is a Spark DataFrame (checked without importing pyspark)."""
    return type(table).__module__.startswith("pyspark.")


def is_held(table: Any) -> bool:
    """Whether ``table`` lives in an engine (DuckDB database or Spark), not in numpy arrays."""
    return isinstance(table, duck.DuckTable) or is_spark(table)


def _engine(tables: Mapping[str, Table]) -> Any:
    """The module that runs a query over ``tables``: Spark, a held DuckDB database, or embedded DuckDB."""
    if any(is_spark(t) for t in tables.values()):
        from .backends import spark

        return spark
    return duck


def query(sql: str, tables: Mapping[str, Table]) -> pa.Table:
    """Run ``sql`` over ``tables`` (name → table) on the engine they live in; the result as Arrow."""
    engine = _engine(tables)
    return engine.query(render(sql, engine.DIALECT), tables)


def run(sql: str, tables: Mapping[str, Table]) -> dict[str, np.ndarray]:
    """Like :func:`query`, with the result columns as numpy arrays."""
    result = query(sql, tables)
    return {c: result.column(c).to_numpy() for c in result.column_names}


def frame(sql: str, tables: Mapping[str, Table], materialise: bool = False) -> Any:
    """Run ``sql`` over held ``tables`` as a held table in the same engine (results that stay there).

    ``materialise``: compute it once now (a DuckDB table; a locally checkpointed Spark
    DataFrame) because several kernels will read it; otherwise it stays lazy (a view).
    """
    engine = _engine(tables)
    return engine.frame(render(sql, engine.DIALECT), tables, materialise=materialise)


def literal(text: str, dialect: str) -> str:
    """``text`` as a string literal of ``dialect`` (Spark reads backslash escapes; DuckDB does not)."""
    if dialect == "spark":
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "'" + text.replace("'", "''") + "'"


def ship(columns: Mapping[str, np.ndarray], like: Table) -> Table:
    """Small numpy ``columns`` as a held table in the engine that holds ``like``."""
    return _engine({"like": like}).ship(columns, like)


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
