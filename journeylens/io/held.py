"""Readers that leave the log where an engine holds it: validation and encoding as SQL.

:func:`held_log` turns a source table held by DuckDB or Spark into a
:class:`~journeylens.core.tablelog.TableLog` with the in-memory readers' rules
(:mod:`journeylens.engine.ingest`); :func:`read_parquet_held` reads Parquet files
into the held DuckDB database (or Spark) first.
"""

from __future__ import annotations

import glob
import os
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..core.eventlog import ROLES
from ..core.tablelog import _RESERVED, TableLog
from ..engine import ingest
from ..engine import sql as dialect
from ..engine.backends import duckdb as duck
from ..engine.ingest import CODED
from ..errors import InputError, ValidationError
from .build import LoadOptions, _bound
from .channels import normalise_channels
from .columns import resolve_roles


def held_log(table: Any, columns: list[str], kind_of: Callable[[str], str], name: str,
             options: LoadOptions) -> TableLog:
    """Validate and encode a held source ``table`` (with ``_r``) into a :class:`TableLog`.

    ``columns`` are the source columns (``_r`` excluded); ``kind_of(column)`` tells
    the kind of a column's type: ``timestamp``, ``number`` or ``text``.
    """
    if str(options.tz or "UTC").upper() != "UTC" or options.time_format or options.dayfirst:
        raise ValidationError(f"{name}: tz, time_format and dayfirst are not supported for engine-held logs; "
                              "store times as timestamps or ISO 8601 text, or load the log into memory")
    roles = resolve_roles(columns, options.given_roles(), name)
    time_kind = kind_of(roles["time"])
    source = ingest.Source(table, columns, time_kind)
    unit = options.time_unit
    if time_kind == "number" and unit is None:
        unit = ingest.epoch_unit_of(source, roles["time"])
    time_sql = ingest.time_expression(dialect.quote(roles["time"], dialect.dialect_of(table)), time_kind, unit)
    lo, hi = (_bound(v, k) for k, v in (("min_time", options.min_time), ("max_time", options.max_time)))
    bounds = tuple(None if b is None else int(b.value // 1000) for b in (lo, hi))
    checked = ingest.check(source, roles, time_sql, options.duplicates, bounds)
    read, bad = ingest.counts(checked)
    quarantine = ingest.quarantine(checked, columns)
    if options.strict and bad:
        strict = dialect.run("SELECT reason, count(*) AS n FROM q WHERE reason <> 'duplicate' OR "
                             f"{int(options.duplicates == 'quarantine')} = 1 GROUP BY reason ORDER BY reason",
                             {"q": quarantine})
        if len(strict["n"]):
            found = ", ".join(f"{r}: {n}" for r, n in zip(strict["reason"], strict["n"]))
            raise ValidationError(f"{name}: {int(strict['n'].sum())} row(s) rejected with strict=True ({found})")
    users, user_names = ingest.dictionary(checked, "_user")
    events, event_names = ingest.dictionary(checked, "_event")
    levels, level_names = {}, {}
    for role in CODED:
        if role in roles:
            mapping, names = _level_mapping(checked, roles[role], role, options)
            levels[role], level_names[role] = (roles[role], mapping), names
    mapped = {roles[r] for r in ("user", "time", "event", *CODED) if r in roles}
    rename = {roles["session"]: "session_id"} if "session" in roles else {}
    if "value" in roles:
        rename[roles["value"]] = "value"
    extras = [(c, rename.get(c, f"{c}_source" if c in _RESERVED else c)) for c in columns if c not in mapped]
    coded = ingest.encode(checked, users, events, levels, extras)
    return TableLog(frame=coded, user_names=user_names, event_index=event_names, levels=level_names,
                    roles={r: roles[r] for r in ROLES if r in roles}, rows_read=read, accepted=read - bad,
                    quarantine=quarantine, parameters={"duplicates": options.duplicates}, source=name,
                    dictionaries={"users": users, "events": events})


def _level_mapping(checked: Any, column: str, role: str, options: LoadOptions) -> tuple[Any, pd.Index]:
    """Held mapping ``v → code`` of a level's distinct texts, and the level names (position = code).

    Channels get the readers' normalisation (``E-mail`` → ``email`` …), applied to the distinct values.
    """
    distinct = ingest.distinct_text(checked, column)
    if role == "channel":
        cat = normalise_channels(pd.Series(distinct, dtype="string"), options.channel_aliases)
        names, codes = cat.cat.categories, cat.cat.codes.to_numpy()
    else:
        names = pd.Index(distinct, dtype=object)
        codes = np.arange(len(distinct))
    mapping = dialect.ship({"v": np.asarray(distinct, dtype=object), "code": codes.astype(np.int64)}, checked)
    return mapping, pd.Index(np.asarray(names, dtype=object), dtype=object)


def read_parquet_held(source: str | list[str], name: str, engine: str, options: LoadOptions) -> TableLog:
    """Parquet (a file, a folder or a list of files) read where it will stay: ``duckdb`` or ``spark``."""
    import pyarrow.parquet as pq

    files = sorted(glob.glob(os.path.join(source, "**", "*.parquet"), recursive=True)) \
        if isinstance(source, str) and os.path.isdir(source) else [source] if isinstance(source, str) else source
    if not files:
        raise InputError(f"{name}: no Parquet files in this folder")
    try:
        sizes = [pq.ParquetFile(f).metadata.num_rows for f in files]
    except (OSError, ValueError) as exc:
        raise InputError(f"{name}: not a readable Parquet file ({str(exc).splitlines()[0][:120]})") from None
    if engine == "spark":
        from ..engine.backends.spark import pyspark_sql, session
        from ..io.spark import from_spark

        spark = pyspark_sql().SparkSession.getActiveSession() or session()
        return from_spark(spark.read.parquet(*files), **{k: v for k, v in options.__dict__.items()
                                                          if v != LoadOptions.__dataclass_fields__[k].default})
    if engine != "duckdb":
        raise InputError(f"engine must be 'memory', 'duckdb' or 'spark', not {engine!r}")
    # Source rows numbered across the files in order: each file's row number plus the rows before it.
    listing = ", ".join(dialect.literal(f, "duckdb") for f in files)
    db = duck.held_database()
    scan = duck.held_table(db, f"SELECT * FROM read_parquet([{listing}], filename = true, file_row_number = true)",
                           materialise=False)
    offsets = dialect.ship({"filename": np.asarray(files, dtype=object),
                            "offset": np.cumsum([0] + sizes[:-1]).astype(np.int64)}, scan)
    table = dialect.frame("SELECT p.* EXCLUDE (filename, file_row_number), o.offset + p.file_row_number + 1 AS _r "
                          "FROM p JOIN o ON p.filename = o.filename", {"p": scan, "o": offsets})
    kinds = dict(db.con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {scan.name})").fetchall())
    columns = [c for c in kinds if c not in ("filename", "file_row_number")]

    def kind(column: str) -> str:
        dtype = kinds[column].upper()
        if dtype.startswith(("TIMESTAMP", "DATE")):
            return "timestamp"
        numeric = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "UBIGINT",
                   "UINTEGER", "USMALLINT", "UTINYINT")
        return "number" if dtype.startswith(numeric) else "text"

    return held_log(table, columns, kind, name, options)
