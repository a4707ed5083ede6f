"""The distributed engine: the kernels' SQL through Spark SQL.

Tables are Spark DataFrames registered as temporary views under the names the
SQL uses (``ev``, ``p``, ``c`` …); numpy tables given alongside (small
dictionaries) are shipped to the same session. Small results come back as
Arrow; intermediate results that feed another kernel stay lazy DataFrames.
pyspark is imported only when a Spark table is used.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any, Mapping

import pyarrow as pa

from ...errors import MissingDependencyError
from . import Backend, arrow_of

_lock = threading.Lock()  # temporary view names are per session, not per thread


def pyspark_sql() -> Any:
    """The ``pyspark.sql`` module, or a one-line error saying how to install it."""
    try:
        import pyspark.sql
    except ImportError:
        raise MissingDependencyError(
            "running on Spark needs pyspark: pip install 'journeylens[spark]'"
        ) from None
    return pyspark.sql


def session(master: str = "local[2]", app_name: str = "journeylens", shuffle_partitions: int = 4,
            driver_memory: str = "4g", **conf: Any) -> Any:
    """A Spark session for local work and tests: ``master``, few shuffle partitions, UTC, no UI, quiet logs.

    In local mode every task runs in the driver's JVM, so ``driver_memory`` is
    the engine's memory (Spark's own default, 1g, runs out at ~10M events).
    On a cluster, use the session you already have; this one is for a laptop or CI.
    ``conf`` adds Spark settings (dots written as ``__``: ``spark__driver__memory="4g"``).

    >>> from journeylens.engine.backends.spark import session
    >>> spark = session()  # doctest: +SKIP
    """
    sql = pyspark_sql()
    builder = (
        sql.SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    )
    for key, value in conf.items():
        builder = builder.config(key.replace("__", "."), str(value))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _views(tables: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The session of the Spark tables and every table as a Spark DataFrame."""
    frames = {name: t for name, t in tables.items() if not isinstance(t, Mapping)}
    spark = next(iter(frames.values())).sparkSession
    for name, t in tables.items():
        if isinstance(t, Mapping):  # small numpy table given beside the Spark ones
            frames[name] = spark.createDataFrame(arrow_of(t))
    return spark, frames


def frame(sql: str, tables: Mapping[str, Any], materialise: bool = False) -> Any:
    """``sql`` (already in Spark's dialect) over ``tables`` as a Spark DataFrame: computed once
    now and kept when ``materialise`` (several kernels will read it), else lazy.

    Materialised frames are local checkpoints, not just cached: a recomputed
    partition would number rows anew (``monotonically_increasing_id``), and row ids
    must not change between the kernels that join on them.

    The views live only while the query is analysed; the DataFrame keeps its resolved plan.
    """
    spark, frames = _views(tables)
    tag = uuid.uuid4().hex[:8]
    with _lock:
        names = {name: f"jl_{name}_{tag}" for name in frames}
        for name, df in frames.items():
            df.createOrReplaceTempView(names[name])
        try:
            from ..sql import rename_tables

            result = spark.sql(rename_tables(sql, names))
        finally:
            for view in names.values():
                spark.catalog.dropTempView(view)
    return result.localCheckpoint(eager=True) if materialise else result


def ship(columns: Mapping[str, Any], like: Any) -> Any:
    """Numpy ``columns`` as a Spark DataFrame of ``like``'s session."""
    return like.sparkSession.createDataFrame(arrow_of(columns))


def query(sql: str, tables: Mapping[str, Any]) -> pa.Table:
    """``sql`` over ``tables``, collected as an Arrow table (for small results)."""
    return frame(sql, tables).toArrow()


class _Spark(Backend):
    """Spark DataFrames, run by Spark SQL on their session."""

    name, dialect = "spark", "spark"
    hooks = {
        "seq_e": "transform(array_sort(collect_list(struct(i, e))), x -> x.e)",
        "tag_names": "array_join(array_sort(collect_set(name)), '|')",
        "text": "STRING",
        "hash": "xxhash64",
        "row_id": "monotonically_increasing_id()",  # increasing, not dense
    }

    def owns(self, table: Any) -> bool:
        return isinstance(table, pyspark_sql().DataFrame)

    def query(self, sql: str, tables: Mapping[str, Any]) -> pa.Table:
        return query(sql, tables)

    def frame(self, sql: str, tables: Mapping[str, Any], materialise: bool = False, scratch: bool = False) -> Any:
        return frame(sql, tables, materialise=materialise)

    def ship(self, columns: Mapping[str, Any], like: Any) -> Any:
        if like is None:
            spark = pyspark_sql().SparkSession.getActiveSession() or session()
            return spark.createDataFrame(arrow_of(columns))
        return ship(columns, like)


    def write_parquet(self, sql: str, tables: Mapping[str, Any], path: str) -> None:
        frame(sql, tables).write.mode("overwrite").parquet(str(path))


SPARK: Backend = _Spark()
