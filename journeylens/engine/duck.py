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
        _local.con = con
    return con


def run(sql: str, tables: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Run ``sql`` with each of ``tables`` (name → {column: array}) registered; columns back as numpy."""
    con = connection()
    names = []
    try:
        for name, cols in tables.items():
            con.register(name, pa.table({k: pa.array(v) for k, v in cols.items()}))
            names.append(name)
        rel = con.sql(sql)
        result = rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.fetch_arrow_table()
    finally:
        for name in names:
            con.unregister(name)
    return {c: result.column(c).to_numpy() for c in result.column_names}
