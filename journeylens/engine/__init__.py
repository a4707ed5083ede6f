"""The relational kernels: sort, window, group over integer-coded events.

Choice (recorded here, see ENGINE.md): each kernel is one SQL text over a
narrow relation of integer codes ``ev(i, u, t, e)`` — row position, user
code, epoch microseconds, event code — written once and run by an engine:

* ``duckdb`` (default, embedded): in-process, multi-threaded, spills to disk;
* ``spark`` (later): the same SQL through Spark SQL.

Why SQL text rather than a dataframe abstraction layer: the kernels need
windows ordered within partitions, ordered sequence aggregation and integer
arithmetic, which every SQL engine we target has with near-identical syntax;
the few spellings that differ (integer division, sequence aggregation) get a
per-dialect hook when a second engine arrives.
Callers hand in numpy arrays and get numpy arrays or small pandas frames back.
"""

from .kernels import (
    anchored_paths,
    directly_follows,
    endpoints,
    loop_instances,
    session_starts,
    session_summary,
    sort_order,
    variants,
)

__all__ = [
    "anchored_paths",
    "directly_follows",
    "endpoints",
    "loop_instances",
    "session_starts",
    "session_summary",
    "sort_order",
    "variants",
]
