"""Spark DataFrames in, journeys analysed where the data lives.

:func:`from_spark` validates and encodes a Spark DataFrame of events in Spark
(users and events become integer codes equal to the codes an
:class:`~journeylens.EventLog` of the same rows would give) and returns a
:class:`SparkLog`. The analyses (``jl.sessionize``, ``jl.dfg``,
``jl.variants``, ``jl.funnel``, ``jl.user_features``) accept it and run the
same SQL kernels on Spark; only small results (and the dictionaries of users
and event names) come to the driver.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa

from ..engine import dialect
from ..engine.kernels import SESSION_ID_SQL, session_starts_sql
from ..engine.spark import pyspark_sql
from ..errors import InputError, JourneyLensError
from ..log import ROLES
from .channels import normalise_channels
from .columns import resolve_roles

SOURCE = "Spark DataFrame"
_UNIT_FACTORS = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 0.001}
#: code columns of the optional coded roles (-1 = missing)
CODED = {"channel": "c_channel", "device": "c_device", "stage": "c_stage"}


@dataclass(frozen=True, eq=False)
class SparkLog:
    """An event log held by Spark: ``frame`` has ``i`` (position in user/time/source order),
    ``u`` (user code), ``t`` (epoch µs), ``e`` (event code), the codes ``c_channel``/``c_device``/
    ``c_stage`` of the roles present, ``session_id``/``value`` when present, and the extra columns.

    The dictionaries (``users``, ``event_names``, ``levels``) are small pandas Indexes on the
    driver; position = code. Build one with :func:`from_spark`.
    """

    frame: Any
    users: pd.Index
    event_names: pd.Index
    levels: Mapping[str, pd.Index] = field(default_factory=dict)
    roles: Mapping[str, str] = field(default_factory=dict)
    rows_read: int = 0
    rows_accepted: int = 0
    quarantine: Any = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    source: str = SOURCE

    def __len__(self) -> int:
        return self.rows_accepted

    @property
    def rows_quarantined(self) -> int:
        return self.rows_read - self.rows_accepted

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)

    def has(self, column: str) -> bool:
        """Whether the log carries ``column`` (``"session_id"``, ``"channel"``, ``"stage"`` …)."""
        return column in self.levels or column in self.frame.columns

    def summary(self) -> dict[str, Any]:
        """Counts as a JSON-ready dict; ``rows_read == rows_accepted + rows_quarantined``."""
        return {
            "source": self.source,
            "rows_read": self.rows_read,
            "rows_accepted": self.rows_accepted,
            "rows_quarantined": self.rows_quarantined,
            "users": len(self.users),
            "event_types": len(self.event_names),
            "roles": dict(self.roles),
        }

    def __repr__(self) -> str:
        s = self.summary()
        return f"SparkLog({s['rows_accepted']:,} events, {s['users']:,} users, {s['event_types']} event types, {s['rows_quarantined']:,} quarantined)"

    # -- what the kernels read -------------------------------------------
    def level(self, level: str) -> tuple[str, pd.Index]:
        """Code column and names of ``level`` (event, stage or channel)."""
        if level == "event":
            return "e", self.event_names
        if level not in ("stage", "channel"):
            raise JourneyLensError(f"level must be 'event', 'stage' or 'channel', not {level!r}")
        if level not in self.levels:
            raise JourneyLensError(f"the log has no {level} column: load it with {level}=…")
        return CODED[level], self.levels[level]

    def journey_table(self, level: str = "event", within: str = "user") -> tuple[Any, pd.Index]:
        """``ev(i, g, e, u, t)``: rows with a value at ``level`` (code ``e``), ``g`` the journey."""
        F = pyspark_sql().functions
        column, names = self.level(level)
        ev = self.frame.select("i", "u", "t", F.col(column).alias("e"), self.journeys(within).alias("g"))
        return ev.filter(F.col("e") >= 0), names

    def journeys(self, within: str) -> Any:
        """Journey code column: the user, or the (user, session) pair numbered in (user, session) order."""
        F = pyspark_sql().functions
        if within == "user":
            return F.col("u")
        if within != "session":
            raise JourneyLensError(f"within must be 'user' or 'session', not {within!r}")
        if "session_id" not in self.frame.columns:
            raise JourneyLensError("the log has no session_id: call jl.sessionize(log, gap=...) first")
        if "sessionize" not in self.parameters:
            raise JourneyLensError("within='session' on Spark needs sessions from jl.sessionize(log, gap=...)")
        return F.col("session_id")  # numbered in (user, start) order: already the journey code

    def feature_table(self) -> tuple[Any, dict[str, pd.Index]]:
        """``ev(i, u, t, s, e, c_*)`` for the per-user features, and the names of each code column."""
        F = pyspark_sql().functions
        s = F.col("session_id") if "session_id" in self.frame.columns else F.lit(0)
        cols = ["i", "u", "t", s.alias("s"), "e"] + [CODED[r] for r in self.levels]
        return self.frame.select(*cols), {CODED[r]: names for r, names in self.levels.items()}

    def user_labels(self, column: str) -> pd.Series:
        """Each user's first non-missing value of ``column`` (in log order), indexed by user id."""
        F = pyspark_sql().functions
        if column in self.levels:
            value = F.col(CODED[column])
            present = value >= 0
        elif column in self.frame.columns and column not in ("i", "u", "t", "e"):
            value, present = F.col(column), F.col(column).isNotNull()
        else:
            raise JourneyLensError(f"by={column!r} is not a column of the log (columns: {', '.join(self.columns)})")
        first = self.frame.filter(present).groupBy("u").agg(F.min_by(value, F.col("i")).alias("v")).toArrow()
        values = np.asarray(first.column("v").to_pylist(), dtype=object)
        if column in self.levels:
            values = np.asarray(self.levels[column], dtype=object)[values.astype(np.int64)]
        return pd.Series(values, index=self.users[first.column("u").to_numpy()], name=column)

    def sessionize(self, gap_us: int, max_us: int | None, record: dict[str, Any]) -> "SparkLog":
        """A new log with ``session_id`` numbered in (user, start) order (a source one kept as ``source_session_id``)."""
        sql = SESSION_ID_SQL.format(starts=session_starts_sql(gap_us, max_us))
        ids = dialect.frame(sql, {"ev": self.frame.select("i", "u", "t")})
        base, roles = self.frame, dict(self.roles)
        if "session_id" in base.columns:
            drop = "sessionize" in self.parameters
            base = base.drop("session_id") if drop else base.withColumnRenamed("session_id", "source_session_id")
            roles.pop("session", None)
        frame = base.join(ids, "i").persist()
        n = frame.agg(pyspark_sql().functions.max("session_id")).first()[0]
        record = {**record, "sessions": 0 if n is None else int(n) + 1}
        return replace(self, frame=frame, roles=roles, parameters={**self.parameters, "sessionize": record})


def _text(col: Any, F: Any) -> tuple[Any, Any]:
    """Ids/names as trimmed text, and a 'missing' condition (null or blank)."""
    text = F.trim(col.cast("string"))
    return text, col.isNull() | (text == "")


def _micros(df: Any, column: str, time_unit: str | None, F: Any, types: Any) -> Any:
    """Epoch µs of the time column (null when it cannot be parsed)."""
    dtype = df.schema[column].dataType
    col = F.col(column)
    if isinstance(dtype, (types.TimestampType, types.TimestampNTZType, types.DateType)):
        return F.unix_micros(col.cast("timestamp"))
    if isinstance(dtype, types.NumericType):
        unit = time_unit or "s"
        if unit not in _UNIT_FACTORS:
            raise InputError(f"time_unit must be one of {sorted(_UNIT_FACTORS)}, not {unit!r}")
        return F.round(col.cast("double") * _UNIT_FACTORS[unit]).cast("long")
    return F.unix_micros(F.try_to_timestamp(F.trim(col.cast("string"))))


def _dictionary(df: Any, text: str, code: str, F: Any, W: Any) -> tuple[Any, pd.Index]:
    """Codes of the sorted distinct values of ``text`` (dense rank, computed by Spark) and the values."""
    values = df.select(text).distinct()
    coded = values.withColumn(code, F.row_number().over(W.orderBy(text)) - 1)
    names = coded.orderBy(code).select(text).toArrow().column(0).to_pylist()
    return coded, pd.Index(names, dtype=object)


def from_spark(
    df: Any,
    user: str | None = None,
    time: str | None = None,
    event: str | None = None,
    channel: str | bool | None = None,
    session: str | bool | None = None,
    device: str | bool | None = None,
    stage: str | bool | None = None,
    value: str | bool | None = None,
    time_unit: str | None = None,
    duplicates: str = "quarantine",
    channel_aliases: Mapping[str, str] | None = None,
    cache: bool = True,
) -> SparkLog:
    """Validate and encode a Spark DataFrame of events, in Spark, as a :class:`SparkLog`.

    Roles are mapped as by every reader (named, or detected from common column
    names). Rows without user, time or event, with an unparsable time, or exact
    copies of an earlier row (``duplicates="quarantine"``/``"drop"``; ``"keep"``
    keeps them) go to ``log.quarantine`` (a Spark DataFrame with ``source_row``,
    ``reason``, ``column``); ``rows_read == rows_accepted + rows_quarantined``.
    Timestamps: Spark timestamps, dates, text (read in the session time zone) or
    epoch numbers (``time_unit`` s/ms/us/ns, default s). Ties in time keep the
    DataFrame's row order. ``source_row`` is Spark's monotonically increasing
    row id, not a line number.

    >>> import journeylens as jl
    >>> spark = jl.spark_session()  # doctest: +SKIP
    >>> sdf = spark.createDataFrame([("a", "2024-01-01 10:00:00", "visit")], ["user", "ts", "event"])  # doctest: +SKIP
    >>> len(jl.from_spark(sdf, time="ts"))  # doctest: +SKIP
    1
    """
    sql = pyspark_sql()
    F, W, types = sql.functions, sql.Window, sql.types
    if not isinstance(df, sql.DataFrame):
        raise InputError(f"from_spark expects a Spark DataFrame, got {type(df).__name__}")
    if duplicates not in ("quarantine", "drop", "keep"):
        raise InputError(f"duplicates must be 'quarantine', 'drop' or 'keep', not {duplicates!r}")
    given = {"user": user, "time": time, "event": event, "channel": channel, "session": session,
             "device": device, "stage": stage, "value": value}
    given = {k: (None if v is False else str(v)) for k, v in given.items() if v is not None and v is not True}
    roles = resolve_roles(df.columns, given, SOURCE)
    source_cols = list(df.columns)

    raw = df.withColumn("_r", F.monotonically_increasing_id())
    u_text, u_miss = _text(F.col(roles["user"]), F)
    e_text, e_miss = _text(F.col(roles["event"]), F)
    tcol = F.col(roles["time"])
    t_miss = tcol.isNull() | (F.trim(tcol.cast("string")) == "")
    t_us = _micros(df, roles["time"], time_unit, F, types)
    checks = [(u_miss, "missing_user", roles["user"]), (t_miss, "missing_time", roles["time"]),
              (e_miss, "missing_event", roles["event"]), (t_us.isNull(), "unparsable_time", roles["time"])]
    if duplicates != "keep":
        copy = F.row_number().over(W.partitionBy(*[F.col(c) for c in source_cols]).orderBy("_r")) > 1
        checks.append((copy, "duplicate", "*"))
    reason, culprit = F.lit(None).cast("string"), F.lit(None).cast("string")
    for cond, code, column in reversed(checks):  # the first failing check wins
        reason = F.when(cond, F.lit(code)).otherwise(reason)
        culprit = F.when(cond, F.lit(column)).otherwise(culprit)
    checked = raw.select("*", u_text.alias("_user"), e_text.alias("_event"), t_us.alias("t"),
                         reason.alias("_reason"), culprit.alias("_column"))
    if cache:
        checked = checked.persist()
    quarantine = checked.filter(F.col("_reason").isNotNull()).select(
        F.col("_r").alias("source_row"), F.col("_reason").alias("reason"), F.col("_column").alias("column"), *source_cols)
    ok = checked.filter(F.col("_reason").isNull())

    users, user_names = _dictionary(ok, "_user", "u", F, W)
    events, event_names = _dictionary(ok, "_event", "e", F, W)
    coded = ok.join(users, "_user").join(events, "_event")
    levels: dict[str, pd.Index] = {}
    for role in ("channel", "device", "stage"):
        if role not in roles:
            continue
        text, miss = _text(F.col(roles[role]), F)
        coded = coded.withColumn("_lvl", F.when(miss, None).otherwise(text))
        distinct = pd.Series(coded.select("_lvl").distinct().filter(F.col("_lvl").isNotNull())
                             .toArrow().column(0).to_pylist(), dtype=object)
        if role == "channel":  # the readers' channel normalisation, applied to the distinct values
            cat = normalise_channels(pd.Series(distinct.to_numpy(dtype=object), dtype="string"), channel_aliases)
            names, codes = cat.cat.categories, cat.cat.codes.to_numpy()
        else:
            names = pd.Index(sorted(distinct.tolist()), dtype=object)
            codes = names.get_indexer(distinct.to_numpy(dtype=object))
        spark = df.sparkSession
        mapping = spark.createDataFrame(
            pa.table({"_lvl": pa.array(distinct.tolist(), pa.string()), CODED[role]: codes.astype(np.int64)}))
        coded = coded.join(F.broadcast(mapping), "_lvl", "left").fillna(-1, subset=[CODED[role]]).drop("_lvl")
        levels[role] = pd.Index(np.asarray(names, dtype=object), dtype=object)
    mapped = {roles[r] for r in ("user", "time", "event", *CODED) if r in roles}
    keep = [c for c in source_cols if c not in mapped]
    rename = {roles["session"]: "session_id"} if "session" in roles else {}
    if "value" in roles:
        rename[roles["value"]] = "value"
    extras = [F.col(c).cast("string").alias("session_id") if c in rename and rename[c] == "session_id"
              else F.col(c).alias(rename.get(c, c)) for c in keep]
    ordered = coded.select("u", "t", "e", *[CODED[r] for r in levels], *extras, "_r").orderBy("u", "t", "_r")
    frame = ordered.withColumn("i", F.monotonically_increasing_id()).drop("_r")  # monotonic in (u, t, source order)
    frame = frame.select("i", *[c for c in frame.columns if c != "i"])
    if cache:
        frame = frame.persist()
    counts = checked.agg(F.count(F.lit(1)).alias("read"), F.count("_reason").alias("bad")).first()
    read, bad = int(counts["read"]), int(counts["bad"])
    return SparkLog(frame=frame, users=user_names, event_names=event_names, levels=levels,
                    roles={r: roles[r] for r in ROLES if r in roles}, rows_read=read, rows_accepted=read - bad,
                    quarantine=quarantine, parameters={"duplicates": duplicates})
