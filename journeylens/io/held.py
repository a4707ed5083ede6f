"""Readers that leave the log where an engine holds it: validation and encoding as SQL.

:func:`held_log` turns a source table held by DuckDB or Spark into a
:class:`~journeylens.core.tablelog.TableLog` by the in-memory readers' rules:
each rule (:mod:`journeylens.io.encode` for ids and names,
:mod:`journeylens.io.timestamps` for times, :mod:`journeylens.io.build` for the
reasons and their order) is spelled in SQL here and run by
:mod:`journeylens.engine.ingest`, so a held log and an
:class:`~journeylens.EventLog` of the same rows agree row for row.
:func:`read_parquet_held` reads Parquet files into the held DuckDB database
(or Spark) first. Naive times are UTC: ``tz=`` needs an in-memory log.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..core.eventlog import ROLES
from ..core.tablelog import _RESERVED, TableLog
from ..engine import ingest
from ..engine import sql as dialect
from ..engine.backends import duckdb as duck
from ..engine.ingest import CODED, position
from ..errors import ColumnError, InputError, ParameterError, ValidationError, first_line
from .build import QUARANTINE_OWN, LoadOptions, free_name
from .channels import normalise_channels
from .columns import resolve_roles
from .encode import INVALID, OK, UNDECODABLE, id_text_layers, id_text_sql, sql_decoded, sql_trim
from .encode import MISSING as NO_TEXT
from .timestamps import OK as TIME_OK
from .timestamps import (
    ISO,
    MAX_US,
    MIN_US,
    MISSING,
    NUMBER,
    OUT_OF_RANGE,
    UNPARSABLE,
    epoch_sql,
    format_grammar,
    grammar_sql,
    guessed_grammar,
    unit_from_counts,
)

_CODED_ROLES = ("user", "event", "channel", "session", "device", "stage")
#: roles whose values are names, few of them, and the kinds read by :func:`~journeylens.engine.ingest.named_values`
_NAMED_ROLES, _NAMED_KINDS = ("event", "channel", "device", "stage"), ("text", "binary", "integer")


def _full_match(text: str, pattern: str, d: str) -> str:
    lit = dialect.literal(pattern, d)
    return f"({text} RLIKE {lit})" if d == "spark" else f"regexp_full_match({text}, {lit})"


def held_log(table: Any, names: Sequence[str], kinds: Sequence[str], name: str, options: LoadOptions) -> TableLog:
    """Validate and encode a held source ``table`` into a :class:`TableLog`.

    ``table`` has the source's columns as ``c0, c1, …`` (``names`` are their real
    names, ``kinds`` their kinds: :data:`~journeylens.io.encode.KINDS`) and ``_r``.
    """
    if options.tz is not None and str(options.tz).upper() != "UTC":
        raise ParameterError(f"{name}: tz={options.tz!r} needs an in-memory log: an engine-held log reads naive "
                             "times as UTC (store times with their offset, or load the log into memory)", "tz")
    d = dialect.dialect_of(table)
    roles = resolve_roles(names, options.given_roles(), name)
    at = {n: k for k, n in enumerate(names)}
    kind = {role: kinds[at[col]] for role, col in roles.items()}
    for role in _CODED_ROLES:
        if role in roles and kind[role] == "timestamp":
            raise ColumnError(f"{name}: column {roles[role]!r} holds timestamps or durations; it cannot be the "
                              f"{role}: pass {role}=…")
    col = {role: position(at[c]) for role, c in roles.items()}
    table = ingest.stable(table)
    layers: list[list[str]] = [[], [], []]  # decoded bytes, trimmed text, then the rule's text
    value: dict[str, tuple[str, str]] = {}  # role → its column in ``checked`` and its status
    names_of: dict[str, Any] = {}  # role → its source's distinct values (ingest.named_values)
    for role in _CODED_ROLES:
        if role not in roles:
            continue
        decode, trim = id_text_layers(col[role], kind[role], d, f"_i_{role}")
        text, status = id_text_sql(col[role], kind[role], d, f"_i_{role}", options.na_values)
        # Names (events, channels …) are few: the rule runs on their distinct values, and ``checked``
        # keeps a number per row. Ids stay texts: numbering millions costs what their texts would.
        # Floats are not numbered by value: -0.0 = 0.0, yet the rule may tell them apart.
        if role in _NAMED_ROLES and kind[role] in _NAMED_KINDS:
            names_of[role] = ingest.named_values(table, col[role], [decode, trim], text, status)
            value[role] = (f"_k_{role}", f"_ks_{role}")
            continue
        layers[0] += decode
        layers[1] += trim
        label = {"user": "_user", "event": "_event"}.get(role, f"_lv_{role}")
        layers[2].append(f"{text} AS {label}" if role in ("user", "event") else
                         f"(CASE WHEN {status} = {OK} THEN {text} END) AS {label}")
        value[role] = (label, status)
    # the statuses under the names that the checks read
    layers.append([f"{value[r][1]} AS {s}" for r, s in (("user", "_us"), ("event", "_es"))] +
                  [f"{value[r][1]} AS _ls_{r}" for r in ("channel", "session", "device", "stage") if r in roles])
    time_layers, unit, time_undecodable = _time(table, col["time"], kind["time"], roles["time"], options, d)

    undecodable = [(f"_us = {UNDECODABLE}", roles["user"]), (f"_es = {UNDECODABLE}", roles["event"]),
                   *((f"_ls_{r} = {UNDECODABLE}", roles[r]) for r in ("channel", "session", "device", "stage")
                     if r in roles)]
    if time_undecodable:
        undecodable.append((time_undecodable, roles["time"]))
    undecodable.sort(key=lambda item: at[item[1]])  # the first column in source order names the row
    lo, hi = options.bounds_us()
    outside = " OR ".join([f"_ts = {OUT_OF_RANGE}"] + [f"(_ts = {TIME_OK} AND _t {op} {int(b)})"
                                                       for op, b in (("<", lo), (">", hi)) if b is not None])
    checks = [*((cond, "undecodable_text", column) for cond, column in undecodable),
              (f"_us = {NO_TEXT}", "missing_user", roles["user"]), (f"_us = {INVALID}", "invalid_user", roles["user"]),
              (f"_ts = {MISSING}", "missing_time", roles["time"]),
              (f"_es = {NO_TEXT}", "missing_event", roles["event"]),
              (f"_es = {INVALID}", "invalid_event", roles["event"]),
              (f"_ts = {UNPARSABLE}", "unparsable_time", roles["time"]),
              (f"({outside})", "out_of_range_time", roles["time"])]
    texts_of_time = kind["time"] in ("text", "binary", "boolean") and unit is None
    keep = [value["user"][0], value["event"][0], "_t",
            *(value[r][0] for r in ("channel", "session", "device", "stage") if r in roles)]
    coded_roles = {roles[r] for r in (*_CODED_ROLES, "time") if r in roles}
    raw = [k for k, n in enumerate(names) if n not in coded_roles]  # the value and the extra columns
    hashed = None if options.duplicates == "keep" else len(names)
    source = ingest.keyed(table, {r: (col[r], v) for r, v in names_of.items()}, NO_TEXT)
    checked = ingest.check(source, layers + time_layers, checks, keep + (["_tt", "_ts"] if texts_of_time else []),
                           raw, hashed)
    if texts_of_time and options.time_format is None:
        # As in memory: one format guessed from the first value (in source order) that is not ISO, tried on those
        sample = ingest.scalars(f"SELECT _tt AS v FROM src WHERE _ts = {UNPARSABLE} ORDER BY _r LIMIT 1",
                                checked)["v"]
        guessed = guessed_grammar(str(sample), options.dayfirst) if sample is not None else None
        if guessed is not None:
            time_layers = _time(table, col["time"], kind["time"], roles["time"], options, d, guessed)[0]
            checked = ingest.check(source, layers + time_layers, checks, keep, raw, hashed)
    copies = None if hashed is None else ingest.duplicates(table, checked, hashed)
    quarantine = ingest.quarantine(table, checked, checks, copies, _quarantine_names(names))
    read, bad = ingest.counts(checked, quarantine)
    if options.strict and bad:
        strict = dialect.run("SELECT reason, count(*) AS n FROM q WHERE reason <> 'duplicate' OR "
                             f"{int(options.duplicates == 'quarantine')} = 1 GROUP BY reason ORDER BY reason",
                             {"q": quarantine})
        if len(strict["n"]):
            found = ", ".join(f"{r}: {n}" for r, n in zip(strict["reason"], strict["n"]))
            raise ValidationError(f"{name}: {int(strict['n'].sum())} row(s) rejected with strict=True ({found})")
    users, user_names, user_codes = ingest.dictionary(checked, value["user"][0])
    events, event_names, event_codes = ingest.dictionary(checked, value["event"][0], names_of.get("event"))
    levels, level_names = {}, {}
    for role in CODED:
        if role in roles:
            mapping, labels = _level_mapping(checked, role, value[role][0], names_of.get(role), options)
            levels[role], level_names[role] = (value[role][0], mapping), labels
    extras = _extras(names, kinds, roles, at, options, d)
    rows = ingest.encode(checked, copies, (value["user"][0], user_codes), (value["event"][0], event_codes), levels,
                         extras)
    del checked  # its rows, texts and all, leave the engine before the sort (see ingest.encode)
    coded = ingest.numbered(rows)
    accepted = int(dialect.run("SELECT count(*) AS n FROM c", {"c": coded})["n"][0])  # counted, not inferred
    params: dict[str, Any] = {"duplicates": options.duplicates}
    if unit is not None:
        params["time_unit"] = unit
    if options.na_values:
        params["na_values"] = list(options.na_values)
    return TableLog(frame=coded, user_names=user_names, event_index=event_names, levels=level_names,
                    roles={r: roles[r] for r in ROLES if r in roles}, rows_read=read, accepted=accepted,
                    quarantine=quarantine, parameters=params, source=name,
                    dictionaries={"users": users, "events": events})


def _quarantine_names(names: Sequence[str]) -> list[str]:
    """The source's names in the quarantine: one named like the quarantine's own columns gets ``_source``."""
    out: list[str] = []
    for n in names:
        out.append(free_name(n, set(QUARANTINE_OWN) | set(names) | set(out)) if n in QUARANTINE_OWN else n)
    return out


def _extras(names: Sequence[str], kinds: Sequence[str], roles: dict[str, str], at: dict[str, int],
            options: LoadOptions, d: str) -> list[tuple[str, str]]:
    """Select expressions (over ``checked k``) and names of the session, the value and the extra columns."""
    out: list[tuple[str, str]] = []
    if "session" in roles:
        out.append(("k._lv_session", "session_id"))
    if "value" in roles:
        c, k = f"k.{position(at[roles['value']])}", kinds[at[roles["value"]]]
        number = f"CAST({c} AS DOUBLE)" if k in ("integer", "float", "decimal", "boolean") else \
            f"try_cast(trim(CAST({c} AS {{text}})) AS DOUBLE)" if k == "text" else "CAST(NULL AS DOUBLE)"
        out.append((number, "value"))
    mapped = set(roles.values())
    taken = set(_RESERVED) | {n for _, n in out}
    na = options.na_values
    for k, n in enumerate(names):
        if n in mapped:
            continue
        c = f"k.{position(k)}"
        if na and kinds[k] == "text":
            listed = ", ".join(dialect.literal(v, d) for v in na)
            c = f"(CASE WHEN {sql_trim(c, d)} IN ({listed}) THEN NULL ELSE {c} END)"
        label = free_name(n, taken)
        taken.add(label)
        out.append((c, label))
    return out


def _time(table: Any, column: str, kind: str, label: str, options: LoadOptions, d: str,
          guessed: Any = None) -> tuple[list[list[str]], str | None, str | None]:
    """Layers ending in ``_t`` (µs) and ``_ts`` (status), the epoch unit used, and the undecodable condition.

    Text is ISO 8601 (or ``time_format``); ``guessed`` is the grammar of a guessed format for the values that are not.
    """
    unit = options.time_unit
    if kind in ("integer", "float", "decimal"):
        if unit is None:
            unit = _unit(table, column, label)
        us, status = epoch_sql(column, kind == "integer", unit)
        return [[f"{us} AS _t", f"{status} AS _ts"]], unit, None
    if kind == "timestamp":
        us = f"unix_micros(CAST({column} AS TIMESTAMP))"
        status = (f"(CASE WHEN {column} IS NULL THEN {MISSING} WHEN {us} < {MIN_US} OR {us} > {MAX_US} "
                  f"THEN {OUT_OF_RANGE} ELSE {TIME_OK} END)")
        return [[f"{us} AS _t", f"{status} AS _ts"]], None, None
    if kind == "boolean":
        layers = [[f"(CASE WHEN {column} THEN 'true' WHEN NOT {column} THEN 'false' END) AS _tv"]]
        undecodable = None
    elif kind == "binary":
        layers, undecodable = [[f"{sql_decoded(column, d)} AS _tv"]], f"({column} IS NOT NULL AND _tv IS NULL)"
    elif kind == "text":
        layers, undecodable = [[f"{column} AS _tv"]], None
    else:  # lists, structs: never a time
        return [["CAST(NULL AS BIGINT) AS _t",
                 f"(CASE WHEN {column} IS NULL THEN {MISSING} ELSE {UNPARSABLE} END) AS _ts"]], None, None
    layers += [["CAST(_tv AS {text}) AS _tx"], [f"NULLIF({sql_trim('_tx', d)}, '') AS _tt"]]
    fmt = options.time_format
    numbers = f"(CASE WHEN {_full_match('_tt', NUMBER, d)} THEN CAST(_tt AS DOUBLE) END)"
    if fmt == "epoch" or unit is not None or (fmt is None and _all_numbers(table, layers, d)):
        if unit is None:
            unit = _unit(ingest.layered(table, layers), numbers, label)
        us, status = epoch_sql(numbers, False, unit, missing="_tt IS NULL")
        return layers + [[f"{us} AS _t", f"{status} AS _ts"]], unit, undecodable
    grammar = format_grammar(fmt) if fmt is not None else ISO
    g_layers, us, status = grammar_sql(grammar, "_tt", d, "_g")
    layers = layers + g_layers
    if guessed is not None:  # the guessed format, for the values that are not ISO
        f_layers, f_us, f_status = grammar_sql(guessed, "_tt", d, "_f")
        layers = layers + [[f"{us} AS _iso_t", f"{status} AS _iso_s"]] + f_layers
        us = f"(CASE WHEN _iso_s = {UNPARSABLE} THEN {f_us} ELSE _iso_t END)"
        status = f"(CASE WHEN _iso_s = {UNPARSABLE} THEN {f_status} ELSE _iso_s END)"
    return layers + [[f"{us} AS _t", f"{status} AS _ts"]], None, undecodable


def _all_numbers(table: Any, layers: list[list[str]], d: str) -> bool:
    """Whether the text times hold values and every one of them is a number."""
    out = ingest.scalars(f"SELECT count(_tt) AS n, count(CASE WHEN _tt IS NOT NULL AND NOT "
                         f"{_full_match('_tt', NUMBER, d)} THEN 1 END) AS other FROM src",
                         ingest.layered(table, layers))
    return bool(out["n"]) and not out["other"]


def _unit(table: Any, expr: str, label: str) -> str:
    """The epoch unit of ``expr`` by the magnitude of every value (see :func:`~journeylens.io.timestamps.epoch_unit`)."""
    from .timestamps import band_sql

    counts = ingest.scalars(f"SELECT {band_sql(expr)} FROM src", table)
    return unit_from_counts({k: int(v or 0) for k, v in counts.items()}, label)


def _level_mapping(checked: Any, role: str, column: str, names: Any, options: LoadOptions) -> tuple[Any, pd.Index]:
    """Held mapping ``v → code`` of a level's values in ``column`` of ``checked`` (texts, or numbers of
    ``names``: :func:`~journeylens.engine.ingest.named_values`), and the level names (position = code).

    Channels get the readers' normalisation (``E-mail`` → ``email`` …), applied to the distinct values.
    """
    distinct = ingest.distinct_text(checked, column, names)
    if role == "channel":
        cat = normalise_channels(pd.Series(distinct, dtype="string"), options.channel_aliases)
        labels, codes = cat.cat.categories, cat.cat.codes.to_numpy()
    else:
        labels = pd.Index(distinct, dtype=object)
        codes = np.arange(len(distinct))
    mapping = dialect.ship({"v": np.asarray(distinct, dtype=object), "code": codes.astype(np.int64)}, checked)
    if names is not None:
        mapping = ingest.by_number(names, mapping)
    return mapping, pd.Index(np.asarray(labels, dtype=object), dtype=object)


# -- Parquet into the held database ---------------------------------------------------

_NUMBERS = {"TINYINT": "integer", "SMALLINT": "integer", "INTEGER": "integer", "BIGINT": "integer",
            "UTINYINT": "integer", "USMALLINT": "integer", "UINTEGER": "integer", "UBIGINT": "integer",
            "HUGEINT": "integer", "UHUGEINT": "integer", "FLOAT": "float", "DOUBLE": "float", "REAL": "float",
            "BOOLEAN": "boolean", "VARCHAR": "text", "BLOB": "binary", "DATE": "timestamp"}


def duckdb_kind(dtype: str) -> str:
    """The kind (:data:`~journeylens.io.encode.KINDS`) of a DuckDB column type."""
    upper = dtype.upper()
    if upper.startswith(("TIMESTAMP", "DATE", "TIME ", "INTERVAL")):
        return "timestamp"
    if upper.startswith("DECIMAL"):
        return "decimal"
    return _NUMBERS.get(upper, "other")


def read_parquet_held(files: list[str], name: str, engine: str, options: LoadOptions) -> TableLog:
    """Parquet files (checked by the caller) read where they will stay: ``duckdb`` or ``spark``."""
    import duckdb
    import pyarrow.parquet as pq

    try:
        schemas = [pq.read_schema(f) for f in files]
        sizes = [pq.ParquetFile(f).metadata.num_rows for f in files]
    except (OSError, ValueError) as exc:
        raise InputError(f"{name}: not a readable Parquet file ({first_line(exc, 120)})") from None
    if engine == "spark":
        from ..engine.backends.spark import pyspark_sql, session
        from .spark import from_spark

        spark = pyspark_sql().SparkSession.getActiveSession() or session()
        given = {k: v for k, v in options.__dict__.items() if v != LoadOptions.__dataclass_fields__[k].default}
        return from_spark(spark.read.parquet(*files), **given)
    names = list(schemas[0].names)
    resolve_roles(names, options.given_roles(), name)  # a file without the roles fails before it is scanned
    # Source rows numbered across the files in order: each file's row number plus the rows before it.
    db = duck.held_database()
    listing = ", ".join(dialect.literal(f, "duckdb") for f in files)
    file_col = free_name("jl_file", set(names))
    row = free_name("_jl_row", set(names))
    if "file_row_number" in names:  # DuckDB's row number would be hidden by the source's column: number batches
        scan = _numbered_batches(db, files, row)
    else:
        # can_have_nan: DuckDB would otherwise trust statistics that leave NaN out, and find no NaN
        scan = duck.held_table(db, f"SELECT * FROM read_parquet([{listing}], filename = "
                                   f"{dialect.literal(file_col, 'duckdb')}, file_row_number = true, "
                                   "can_have_nan = true)", materialise=False)
        offsets = dialect.ship({"f": np.asarray(files, dtype=object),
                                "offset": np.cumsum([0] + sizes[:-1]).astype(np.int64)}, scan)
        scan = dialect.frame(f"SELECT p.*, o.offset + p.file_row_number + 1 AS {dialect.quote(row, 'duckdb')} "
                             f"FROM p JOIN o ON p.{dialect.quote(file_col, 'duckdb')} = o.f",
                             {"p": scan, "o": offsets})
    try:
        with db.lock:
            types = dict(db.con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {scan.name})").fetchall())
    except duckdb.Error as exc:
        raise InputError(f"{name}: not a readable Parquet file ({first_line(exc, 120)})") from None
    renamed = ", ".join(f"p.{dialect.quote(n, 'duckdb')} AS {position(k)}" for k, n in enumerate(names))
    table = dialect.frame(f"SELECT {renamed}, p.{dialect.quote(row, 'duckdb')} AS _r FROM p", {"p": scan})
    return held_log(table, names, [duckdb_kind(types[n]) for n in names], name, options)


def _numbered_batches(db: Any, files: list[str], row: str) -> Any:
    """A held table of the files' rows with their number ``row``, streamed batch by batch through Arrow."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def batches() -> Any:
        offset = 0
        for f in files:
            for batch in pq.ParquetFile(f, coerce_int96_timestamp_unit="us").iter_batches(batch_size=1 << 16):
                numbers = pa.array(np.arange(offset + 1, offset + batch.num_rows + 1, dtype=np.int64))
                offset += batch.num_rows
                yield pa.RecordBatch.from_arrays([*batch.columns, numbers], names=[*batch.schema.names, row])

    first = pq.ParquetFile(files[0]).schema_arrow
    target = pa.schema([*first, pa.field(row, pa.int64())])
    reader = pa.RecordBatchReader.from_batches(target, batches())
    with db.lock:
        db.con.register("jl_batches", reader)
        try:
            return duck.held_table(db, "SELECT * FROM jl_batches")
        finally:
            db.con.unregister("jl_batches")
