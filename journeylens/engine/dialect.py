"""One SQL text, two engines: the few spellings DuckDB and Spark SQL do not share.

Kernels are written in the common subset of both dialects (``min_by``/``max_by``,
``median``, ``percentile_cont(q) WITHIN GROUP (ORDER BY x)``, ``CAST``, ``<<``,
windows, ``div(a, b)`` for integer division — a macro on the DuckDB
connection, a built-in in Spark). What has no common spelling is a
``{hook}`` filled here per dialect:

* ``{seq_e}``: the codes ``e`` of a group as a list ordered by ``i``.
* ``{tag_names}``: the distinct ``name``\\ s of a group, sorted and joined by ``|``.

A table is either numpy columns (``{name: array}``, run by DuckDB) or a Spark
DataFrame (run by Spark SQL on that frame's session); :func:`query` picks the
engine from the tables it is given.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Union

import numpy as np
import pyarrow as pa

from . import duck

#: numpy columns, or a ``pyspark.sql.DataFrame``
Table = Union[Mapping[str, np.ndarray], Any]

HOOKS: dict[str, dict[str, str]] = {
    "duckdb": {
        "seq_e": "list(e ORDER BY i)",
        "tag_names": "string_agg(DISTINCT name, '|' ORDER BY name)",
    },
    "spark": {
        "seq_e": "transform(array_sort(collect_list(struct(i, e))), x -> x.e)",
        "tag_names": "array_join(array_sort(collect_set(name)), '|')",
    },
}
_HOOK = re.compile(r"\{(\w+)\}")


def render(sql: str, dialect: str) -> str:
    """``sql`` with its ``{hook}``\\ s spelled for ``dialect`` (``"duckdb"`` or ``"spark"``)."""
    hooks = HOOKS[dialect]
    return _HOOK.sub(lambda m: hooks[m.group(1)], sql)


def is_spark(table: Any) -> bool:
    """Whether ``table`` is a Spark DataFrame (checked without importing pyspark)."""
    return type(table).__module__.startswith("pyspark.")


def query(sql: str, tables: Mapping[str, Table]) -> pa.Table:
    """Run ``sql`` over ``tables`` (name → table) on the engine they live in; the result as Arrow."""
    if any(is_spark(t) for t in tables.values()):
        from . import spark

        return spark.query(render(sql, "spark"), tables)
    return duck.query(render(sql, "duckdb"), tables)


def run(sql: str, tables: Mapping[str, Table]) -> dict[str, np.ndarray]:
    """Like :func:`query`, with the result columns as numpy arrays."""
    result = query(sql, tables)
    return {c: result.column(c).to_numpy() for c in result.column_names}


def frame(sql: str, tables: Mapping[str, Table]) -> Any:
    """Run ``sql`` over Spark ``tables`` as a lazy Spark DataFrame (results that stay distributed)."""
    from . import spark

    return spark.frame(render(sql, "spark"), tables)
