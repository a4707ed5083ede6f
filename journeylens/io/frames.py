"""Readers for in-memory and database sources: DataFrames and SQL/DuckDB."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..core.eventlog import EventLog
from ..errors import InputError, ParameterError, first_line
from .build import LoadOptions, build_log


def from_pandas(df: pd.DataFrame, **options: Any) -> EventLog:
    """Build an EventLog from a pandas DataFrame (the frame itself is not modified).

    Takes the mapping and validation options of :class:`~journeylens.io.build.LoadOptions`.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({"case:concept:name": ["1", "1"],
    ...     "concept:name": ["a", "b"], "time:timestamp": ["2024-01-01", "2024-01-02"]}))
    >>> log.to_pandas()["event"].tolist()
    ['a', 'b']
    """
    if not isinstance(df, pd.DataFrame):
        raise ParameterError(f"from_pandas expects a pandas DataFrame, got {type(df).__name__}", "df")
    return build_log(df, source="DataFrame", options=LoadOptions.from_kwargs(options, "DataFrame"))


def read_sql(source: Any, query: str | None = None, **options: Any) -> EventLog:
    """Read events from DuckDB: a relation, or a connection plus a ``query``.

    Any other DB-API connection (sqlite3, …) is read with ``pandas.read_sql_query``.
    DuckDB results come through Arrow, so 128-bit integers (``HUGEINT``) and
    decimals keep every digit. A query that fails is a one-line :class:`InputError`.

    >>> import duckdb, journeylens as jl
    >>> con = duckdb.connect()
    >>> rel = con.sql("SELECT 'u1' AS user_id, TIMESTAMP '2024-01-01 10:00' AS ts, 'visit' AS event")
    >>> len(jl.read_sql(rel))
    1
    """
    import duckdb

    label = "SQL query" if query else "SQL relation"
    opts = LoadOptions.from_kwargs(options, label)
    if query is not None and not isinstance(query, str):
        raise ParameterError(f"read_sql: query must be SQL text, not {type(query).__name__}", "query")
    try:
        if isinstance(source, duckdb.DuckDBPyRelation):
            if query is not None:
                raise ParameterError("read_sql: pass either a relation or a connection with a query, not both",
                                     "query")
            frame = _duckdb_frame(source)
        elif isinstance(source, duckdb.DuckDBPyConnection):
            if not query:
                raise ParameterError("read_sql: a DuckDB connection needs query='SELECT …'", "query")
            frame = _duckdb_frame(source.sql(query))
        elif hasattr(source, "cursor"):
            if not query:
                raise ParameterError("read_sql: a database connection needs query='SELECT …'", "query")
            frame = pd.read_sql_query(query, source)
        else:
            raise InputError(f"read_sql expects a DuckDB relation or a database connection, got {type(source).__name__}")
    except duckdb.Error as exc:
        raise InputError(f"{label} failed: {first_line(exc, 300) or type(exc).__name__}") from None
    except Exception as exc:  # the driver's own errors (sqlite3.Error, pandas' DatabaseError …)
        if not _driver_error(exc, source):
            raise
        raise InputError(f"{label} failed: {type(exc).__name__}: {first_line(exc, 300) or type(exc).__name__}") from None
    if frame is None or not isinstance(frame, pd.DataFrame):
        raise InputError(f"{label}: the statement returns no rows (is it a SELECT?)")
    return build_log(frame, source=label, options=opts)


def _duckdb_frame(relation: Any) -> pd.DataFrame | None:
    """A DuckDB result as pandas through Arrow (exact integers and decimals); None for a statement without rows."""
    from ..engine.backends.duckdb import to_arrow
    from .files import to_pandas

    if relation is None:
        return None
    return to_pandas(to_arrow(relation))


def _driver_error(exc: Exception, source: Any) -> bool:
    """Whether ``exc`` comes from the database (pandas' wrapper or the driver module's errors), not from us."""
    if isinstance(exc, pd.errors.DatabaseError):
        return True
    module = type(exc).__module__.split(".")[0]
    return module in (type(source).__module__.split(".")[0], "sqlite3", "sqlalchemy", "psycopg", "psycopg2",
                      "pymysql", "MySQLdb", "pyodbc")
