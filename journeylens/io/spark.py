"""Spark DataFrames in, journeys analysed where the data lives.

:func:`from_spark` validates and encodes a Spark DataFrame of events in Spark
(users and events become integer codes equal to the codes an
:class:`~journeylens.EventLog` of the same rows would give) and returns a
:class:`~journeylens.core.tablelog.TableLog` held by Spark. The analyses that
accept it run the same SQL kernels on Spark; only small results (and the
dictionaries of users and event names) come to the driver.
"""

from __future__ import annotations

from typing import Any

from ..core.tablelog import TableLog
from ..engine.backends.spark import pyspark_sql
from ..engine.ingest import position
from ..engine.sql import quote
from ..errors import ColumnError, InputError
from .build import LoadOptions
from .held import held_log

SOURCE = "Spark DataFrame"


def from_spark(df: Any, **options: Any) -> TableLog:
    """Validate and encode a Spark DataFrame of events, in Spark, as a :class:`TableLog`.

    Options are the readers' (:class:`~journeylens.io.build.LoadOptions`): roles are
    mapped as by every reader (named, or detected from common column names). Rows
    without user, time or event, with an unparsable or out-of-range time, or exact
    copies of an earlier row (``duplicates="quarantine"``/``"drop"``; ``"keep"``
    keeps them) go to ``log.quarantine`` (a Spark DataFrame with ``source_row``,
    ``reason``, ``column``); ``rows_read == rows_accepted + rows_quarantined``.
    Ids, names and times follow the in-memory readers' rules exactly (see
    :mod:`journeylens.io.held`): text times are ISO 8601 by one grammar (naive
    ones are UTC, not the session's zone), epoch numbers take ``time_unit`` or a
    unit every value agrees on. Ties in time keep the DataFrame's row order.
    ``source_row`` is Spark's monotonically increasing row id, not a line number.

    >>> import journeylens as jl
    >>> spark = jl.spark_session()  # doctest: +SKIP
    >>> sdf = spark.createDataFrame([("a", "2024-01-01 10:00:00", "visit")], ["user", "ts", "event"])  # doctest: +SKIP
    >>> len(jl.from_spark(sdf, time="ts"))  # doctest: +SKIP
    1
    """
    sql = pyspark_sql()
    if not isinstance(df, sql.DataFrame):
        raise InputError(f"from_spark expects a Spark DataFrame, got {type(df).__name__}")
    opts = LoadOptions.from_kwargs(options, SOURCE)
    types = sql.types
    names = list(df.columns)
    if len(set(names)) != len(names):
        raise ColumnError(f"{SOURCE}: duplicated column name(s) {sorted({n for n in names if names.count(n) > 1})}")

    def kind(dtype: Any) -> str:
        if isinstance(dtype, (types.TimestampType, types.TimestampNTZType, types.DateType)):
            return "timestamp"
        if isinstance(dtype, (types.ByteType, types.ShortType, types.IntegerType, types.LongType)):
            return "integer"
        if isinstance(dtype, (types.FloatType, types.DoubleType)):
            return "float"
        if isinstance(dtype, types.DecimalType):
            return "decimal"
        if isinstance(dtype, types.BooleanType):
            return "boolean"
        if isinstance(dtype, types.StringType):
            return "text"
        return "binary" if isinstance(dtype, types.BinaryType) else "other"

    kinds = [kind(f.dataType) for f in df.schema.fields]
    columns = [sql.functions.col(quote(n, "spark")).alias(position(k)) for k, n in enumerate(names)]
    source = df.select(*columns, sql.functions.monotonically_increasing_id().alias("_r"))
    return held_log(source, names, kinds, SOURCE, opts)
