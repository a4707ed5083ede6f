"""The relational kernels: sort, window, group over integer-coded events.

Choice (recorded here, see ENGINE.md): each kernel is one SQL text over a
narrow relation of integer codes ``ev(i, u, t, e)`` — row position, user
code, epoch microseconds, event code — written once and run by an engine:

* ``duckdb`` (default, embedded): in-process, multi-threaded, spills to disk;
* ``spark``: the same SQL through Spark SQL (``engine/spark.py``), for logs
  held by Spark (:func:`journeylens.io.spark.from_spark`).

Why SQL text rather than a dataframe abstraction layer: the kernels need
windows ordered within partitions, ordered sequence aggregation and integer
arithmetic, which every SQL engine we target has with near-identical syntax;
the few spellings that differ (ordered sequence aggregation, sorted string
aggregation) are per-dialect hooks in ``engine/dialect.py``, which also picks
the engine from the tables a kernel is given; ``engine/tables.py`` builds those
tables from an EventLog or a SparkLog.
Callers hand in numpy arrays and get numpy arrays or small pandas frames back.
"""

from .kernels import (
    anchored_paths,
    directly_follows,
    directly_follows_table,
    endpoints_table,
    loop_instances,
    session_starts,
    session_summary,
    sort_order,
    variants,
)

__all__ = [
    "anchored_paths",
    "directly_follows",
    "directly_follows_table",
    "endpoints_table",
    "loop_instances",
    "session_starts",
    "session_summary",
    "sort_order",
    "variants",
]
