"""The relational kernels: window passes and group-bys over integer-coded events.

Choice (recorded here, see ENGINE.md): each kernel is one SQL text over a
narrow relation of integer codes ``ev(i, u, t, e, ...)`` — row position, user
code, epoch microseconds, event code — written once and run where the log is:

* in memory (an :class:`~journeylens.EventLog`): numpy columns registered
  zero-copy with an embedded DuckDB (``engine/duck.py``);
* held by DuckDB on disk (a :class:`~journeylens.core.tablelog.TableLog` from
  ``read_parquet(engine="duckdb")``): the same SQL in that database, out of core;
* held by Spark (``from_spark``): the same SQL through Spark SQL (``engine/spark.py``).

Why SQL text rather than a dataframe abstraction layer: the kernels need
windows ordered within partitions, ordered sequence aggregation and integer
arithmetic, which every SQL engine we target has with near-identical syntax;
the few spellings that differ are per-dialect hooks in ``engine/dialect.py``,
which also picks the engine from the tables a kernel is given.

Why one window pass (``engine/window.py``) feeding group-bys: most kernels need
each event's neighbour in its journey. Windows partitioned by user cost a hash
partition and a sort on every call; an in-memory log is sorted once at load, so
there the pass is a shift of arrays, and in an engine it is one SQL window whose
result is materialised once per log. Validation and encoding of held logs are
SQL too (``engine/ingest.py``), with the in-memory readers' rules.
Callers hand in the journey tables of the log protocol and get numpy arrays or small pandas frames back.
"""

from .kernels import (
    directly_follows_table,
    endpoints_table,
    session_starts,
    session_summary,
    sort_order,
    variants,
)

__all__ = [
    "directly_follows_table",
    "endpoints_table",
    "session_starts",
    "session_summary",
    "sort_order",
    "variants",
]
