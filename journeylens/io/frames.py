"""Readers for in-memory and database sources: DataFrames and SQL/DuckDB."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..core.eventlog import EventLog
from ..errors import InputError
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
        raise InputError(f"from_pandas expects a pandas DataFrame, got {type(df).__name__}")
    return build_log(df, source="DataFrame", options=LoadOptions.from_kwargs(options, "DataFrame"))


def read_sql(source: Any, query: str | None = None, **options: Any) -> EventLog:
    """Read events from DuckDB: a relation, or a connection plus a ``query``.

    Any other DB-API connection (sqlite3, …) is read with ``pandas.read_sql_query``.

    >>> import duckdb, journeylens as jl
    >>> con = duckdb.connect()
    >>> rel = con.sql("SELECT 'u1' AS user_id, TIMESTAMP '2024-01-01 10:00' AS ts, 'visit' AS event")
    >>> len(jl.read_sql(rel))
    1
    """
    import duckdb

    label = "SQL query" if query else "SQL relation"
    try:
        if isinstance(source, duckdb.DuckDBPyRelation):
            if query is not None:
                raise InputError("read_sql: pass either a relation or a connection with a query, not both")
            frame = source.df()
        elif isinstance(source, duckdb.DuckDBPyConnection):
            if not query:
                raise InputError("read_sql: a DuckDB connection needs query='SELECT …'")
            frame = source.execute(query).df()
        elif hasattr(source, "cursor"):
            if not query:
                raise InputError("read_sql: a database connection needs query='SELECT …'")
            frame = pd.read_sql_query(query, source)
        else:
            raise InputError(f"read_sql expects a DuckDB relation or a database connection, got {type(source).__name__}")
    except duckdb.Error as exc:
        raise InputError(f"{label} failed: {str(exc).splitlines()[0]}") from None
    return build_log(frame, source=label, options=LoadOptions.from_kwargs(options, label))
