"""The engines that run the kernels, as objects that own their SQL dialect.

A :class:`Backend` knows which tables it holds, spells the few things engines
do not share (its ``hooks``), runs a query to Arrow, keeps a result in the
engine (``frame``) and receives small numpy tables (``ship``). Three exist:

* ``memory``: numpy columns (an in-memory log's arrays) run by an embedded DuckDB;
* ``duckdb``: tables in journeylens' DuckDB database on disk (logs larger than memory);
* ``spark``: Spark DataFrames, run by Spark SQL on their session.

:func:`backend_of` picks the backend from the tables a kernel is given; a
Spark DataFrame can only exist once ``pyspark.sql`` is imported, so the check
needs no import of pyspark.
"""

from __future__ import annotations

import re
import sys
from abc import ABC, abstractmethod
from typing import Any, Callable, Mapping, Sequence

import pyarrow as pa

_HOOK = re.compile(r"\{(\w+)\}")


class Backend(ABC):
    """One engine: its name, SQL dialect and hooks, and how it runs, keeps and receives tables."""

    name: str  # "memory" | "duckdb" | "spark"
    dialect: str  # "duckdb" | "spark"
    hooks: Mapping[str, str]

    def render(self, sql: str) -> str:
        """``sql`` with its ``{hook}``\\ s spelled for this engine; other braces are left alone."""
        return _HOOK.sub(lambda m: self.hooks.get(m.group(1), m.group(0)), sql)

    @abstractmethod
    def owns(self, table: Any) -> bool:
        """Whether ``table`` lives in this engine."""

    @abstractmethod
    def query(self, sql: str, tables: Mapping[str, Any]) -> pa.Table:
        """Run rendered ``sql`` over ``tables``; the (small) result as Arrow."""

    @abstractmethod
    def frame(self, sql: str, tables: Mapping[str, Any], materialise: bool = False, scratch: bool = False) -> Any:
        """Run rendered ``sql`` over ``tables`` and keep the result in the engine (``scratch``: a
        materialised table read once, which an engine may store faster than a kept one)."""

    @abstractmethod
    def ship(self, columns: Mapping[str, Any], like: Any) -> Any:
        """Small numpy ``columns`` as a table of this engine, beside ``like``."""

    @abstractmethod
    def write_parquet(self, sql: str, tables: Mapping[str, Any], path: str) -> None:
        """Write the result of rendered ``sql`` to Parquet at ``path`` (a file; a folder of parts on Spark)."""

    def repeated(self, table: Any, column: str, where: str) -> Any:
        """A table ``v`` of this engine: the values of the 64-bit hash ``column`` that more than one
        row of ``table`` meeting ``where`` carries."""
        return self.frame(f"SELECT {column} AS v FROM t WHERE {where} GROUP BY {column} HAVING count(*) > 1",
                          {"t": table}, materialise=True)

    def map_groups(self, table: Any, group: str, fn: Callable[[pa.Table], pa.Table],
                   columns: Sequence[str] | None = None) -> Any | None:
        """A table of this engine made of ``fn`` applied, in increasing order of ``group``, to chunks
        of ``table`` (its ``columns``, all by default) that each hold whole groups, their rows ordered
        by (``group``, ``i``); None where the engine runs the SQL of the pass instead (the default)."""
        return None


def arrow_of(columns: Mapping[str, Any]) -> pa.Table:
    """Numpy or Arrow columns as one Arrow table (numpy zero-copy where it can be)."""
    return pa.table({k: v if isinstance(v, (pa.Array, pa.ChunkedArray)) else pa.array(v) for k, v in columns.items()})


def backend_of(tables: Mapping[str, Any]) -> Backend:
    """The backend holding ``tables`` (numpy tables beside held ones are shipped to the held engine)."""
    from . import duckdb

    held = [t for t in tables.values() if not isinstance(t, Mapping)]
    for table in held:
        if duckdb.HELD.owns(table):
            return duckdb.HELD
        spark_sql = sys.modules.get("pyspark.sql")
        if spark_sql is not None and isinstance(table, spark_sql.DataFrame):
            from . import spark

            return spark.SPARK
        raise TypeError(f"no engine holds a table of type {type(table).__name__}")
    return duckdb.MEMORY


def backend_named(name: str) -> Backend:
    """The backend called ``name`` (``"memory"``, ``"duckdb"`` or ``"spark"``)."""
    from . import duckdb

    if name == "spark":
        from . import spark

        return spark.SPARK
    return {"memory": duckdb.MEMORY, "duckdb": duckdb.HELD}[name]
