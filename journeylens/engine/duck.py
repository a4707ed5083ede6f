"""The embedded DuckDB engine: a connection per thread, numpy in, numpy out."""

from __future__ import annotations

import os
import tempfile
import threading
from typing import Mapping

import duckdb
import numpy as np
import pyarrow as pa

_local = threading.local()


def connection() -> duckdb.DuckDBPyConnection:
    """This thread's in-memory DuckDB connection (created once, spills to a temp dir)."""
    con = getattr(_local, "con", None)
    if con is None:
        spill = os.environ.get("JOURNEYLENS_TEMP_DIR") or os.path.join(tempfile.gettempdir(), "journeylens-duckdb")
        con = duckdb.connect(config={"temp_directory": spill, "threads": os.cpu_count() or 1})
        # Integer division spelled as Spark SQL spells it, so kernels read the same on both engines.
        con.execute("CREATE MACRO div(a, b) AS a // b")
        _local.con = con
    return con


def arrow_table(columns: Mapping[str, np.ndarray]) -> pa.Table:
    """Zero-copy Arrow view of numpy columns, for registering with DuckDB."""
    return pa.table({k: pa.array(v) for k, v in columns.items()})


def to_arrow(rel: duckdb.DuckDBPyRelation) -> pa.Table:
    """Materialise a relation as Arrow (the method name changed in DuckDB 2.0)."""
    return rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.fetch_arrow_table()


def query(sql: str, tables: Mapping[str, Mapping[str, np.ndarray]]) -> pa.Table:
    """Run ``sql`` with each of ``tables`` (name → {column: array}) registered; the result as Arrow."""
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


def run(sql: str, tables: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Like :func:`query`, with the result columns as numpy arrays."""
    result = query(sql, tables)
    return {c: result.column(c).to_numpy() for c in result.column_names}
