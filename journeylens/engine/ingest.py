"""Validation, quarantine and encoding of an engine-held source, as SQL run where the data lives.

The same rules as the in-memory readers (``io/build.py``), for logs that stay
in an engine (a DuckDB database on disk, or Spark):

1. ``checked``: every source row with its trimmed user and event text, its time
   in epoch µs, and the first failing check as ``_reason`` (missing user, time
   or event; unparsable or out-of-range time; an exact copy of an earlier row);
2. dictionaries: the sorted distinct users and events, numbered from 0, so the
   codes equal those an :class:`~journeylens.EventLog` of the same rows has;
3. ``coded``: the accepted rows as integer codes, numbered ``i`` in
   (user, time, source row) order.

The source relation ``src`` must carry ``_r``, a source row id increasing in
source order (ties in time keep it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .sql import dialect_of, frame, literal, query, quote, run

#: code columns of the optional coded roles (-1 = missing)
CODED = {"channel": "c_channel", "device": "c_device", "stage": "c_stage"}


@dataclass(frozen=True)
class Source:
    """A held source relation (``_r`` included) and what the ingest needs to know of it."""

    table: Any
    columns: Sequence[str]  # the source columns, ``_r`` excluded
    time_kind: str  # "timestamp" | "number" | "text"


def time_expression(col: str, kind: str, unit: str | None) -> str:
    """Epoch µs of a source time column of ``kind``; NULL where it cannot be read."""
    if kind == "timestamp":
        return f"unix_micros(CAST({col} AS TIMESTAMP))"
    if kind == "number":
        from ..io.timestamps import micros_per

        return f"CAST(round(CAST({col} AS DOUBLE) * CAST({micros_per(unit or 's')} AS DOUBLE)) AS BIGINT)"
    return f"unix_micros(try_to_timestamp(trim(CAST({col} AS {{text}}))))"


def epoch_unit_of(source: Source, column: str) -> str:
    """The unit of epoch numbers, from the median magnitude (as the in-memory readers guess it)."""
    from ..io.timestamps import epoch_unit

    col = quote(column, dialect_of(source.table))
    out = run(f"SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(CAST({col} AS DOUBLE))) AS m FROM src",
              {"src": source.table})
    m = out["m"][0]
    return epoch_unit(np.array([m if m is not None else np.nan], dtype=np.float64))


def check(source: Source, roles: Mapping[str, str], time_sql: str, duplicates: str,
          bounds: tuple[int | None, int | None]) -> Any:
    """The ``checked`` relation (materialised): source columns, ``_r``, ``_user``, ``_event``,
    ``_t`` (µs), ``_reason`` and ``_column`` (NULL for accepted rows)."""
    d = dialect_of(source.table)
    q = {role: quote(col, d) for role, col in roles.items()}
    # Only text can be blank: formatting timestamps just to test for '' would cost more than the rest.
    blank_time = f" OR trim(CAST({q['time']} AS {{text}})) = ''" if source.time_kind == "text" else ""
    checks = [("(_user IS NULL OR _user = '')", "missing_user", roles["user"]),
              (f"({q['time']} IS NULL{blank_time})", "missing_time", roles["time"]),
              ("(_event IS NULL OR _event = '')", "missing_event", roles["event"]),
              ("_t IS NULL", "unparsable_time", roles["time"])]
    lo, hi = bounds
    if lo is not None or hi is not None:
        out = " OR ".join(f"_t {op} {int(b)}" for op, b in (("<", lo), (">", hi)) if b is not None)
        checks.append((f"({out})", "out_of_range_time", roles["time"]))
    every = ", ".join(quote(c, d) for c in source.columns)
    if duplicates != "keep":
        # Exact copies share a row hash: only rows whose hash repeats are compared in full.
        copies = f"""
        , hx AS (SELECT *, {{hash}}({every}) AS _h FROM x),
        rep AS (SELECT _h FROM hx GROUP BY _h HAVING count(*) > 1),
        cand AS (SELECT _r AS _cr, row_number() OVER (PARTITION BY {every} ORDER BY _r) AS _copy
                 FROM hx WHERE _h IN (SELECT _h FROM rep)),
        y AS (SELECT x.*, coalesce(cand._copy, 1) AS _copy FROM x LEFT JOIN cand ON x._r = cand._cr)"""
        checks.append(("_copy > 1", "duplicate", "*"))
    else:
        copies = ", y AS (SELECT * FROM x)"
    reason = " ".join(f"WHEN {cond} THEN '{code}'" for cond, code, _ in checks)
    column = " ".join(f"WHEN {cond} THEN {literal(col, d)}" for cond, _, col in checks)
    sql = f"""
    WITH x AS (
        SELECT *, trim(CAST({q['user']} AS {{text}})) AS _user, trim(CAST({q['event']} AS {{text}})) AS _event,
               {time_sql} AS _t
        FROM src
    ){copies}
    SELECT *, CASE {reason} END AS _reason, CASE {column} END AS _column FROM y
    """
    return frame(sql, {"src": source.table}, materialise=True)


def dictionary(checked: Any, column: str) -> tuple[Any, pd.Index]:
    """Codes of the sorted distinct values of ``column`` among accepted rows (held table ``name, code``)
    and the values (position = code)."""
    coded = frame(f"""
        SELECT name, row_number() OVER (ORDER BY name) - 1 AS code
        FROM (SELECT DISTINCT {column} AS name FROM checked WHERE _reason IS NULL AND {column} IS NOT NULL) d
        """, {"checked": checked}, materialise=True)
    # Arrow-backed: a log of millions of users keeps their ids compactly
    names = query("SELECT name FROM coded ORDER BY code", {"coded": coded}).column("name")
    return coded, pd.Index(pd.array(names.to_pandas(types_mapper=pd.ArrowDtype), dtype="string[pyarrow]"))


def distinct_text(checked: Any, column: str) -> list[str]:
    """The distinct non-blank trimmed texts of source ``column`` among accepted rows."""
    col = quote(column, dialect_of(checked))
    out = run(f"""SELECT DISTINCT trim(CAST({col} AS {{text}})) AS v FROM checked
                  WHERE _reason IS NULL AND {col} IS NOT NULL AND trim(CAST({col} AS {{text}})) <> ''""",
              {"checked": checked})
    return sorted(out["v"].tolist())


def encode(checked: Any, users: Any, events: Any, levels: Mapping[str, tuple[str, Any]],
           extras: Sequence[tuple[str, str]]) -> Any:
    """The ``coded`` log (materialised): ``i, u, t, e``, the ``c_*`` codes of ``levels``
    (role → (source column, held mapping ``v, code``)), and ``extras`` (source column, name);
    an extra named ``session_id`` becomes text and one named ``value`` a number (NULL if it is none)."""
    d = dialect_of(checked)
    tables = {"checked": checked, "du": users, "de": events}
    joins, codes = [], []
    for role, (column, mapping) in levels.items():
        alias = f"m_{role}"
        tables[alias] = mapping
        joins.append(f"LEFT JOIN {alias} ON trim(CAST(k.{quote(column, d)} AS {{text}})) = {alias}.v")
        codes.append(f"coalesce({alias}.code, -1) AS {CODED[role]}")
    typed = {"session_id": "CAST({} AS {{text}})", "value": "try_cast({} AS DOUBLE)"}
    cols = ", ".join(["du.code AS u", "k._t AS t", "de.code AS e", *codes,
                      *(typed.get(name, "{}").format(f"k.{quote(src, d)}") + f" AS {quote(name, d)}"
                        for src, name in extras), "k._r"])
    inner = f"""
    SELECT {cols} FROM checked k JOIN du ON k._user = du.name JOIN de ON k._event = de.name {' '.join(joins)}
    WHERE k._reason IS NULL
    """
    names = ["i", "u", "t", "e", *(CODED[r] for r in levels), *(quote(n, d) for _, n in extras), "_r AS source_row"]
    numbered = f"SELECT {{row_id}} AS i, * FROM (SELECT * FROM coded ORDER BY u, t, _r) s"
    return frame(f"WITH coded AS ({inner}) SELECT {', '.join(names)} FROM ({numbered}) o", tables, materialise=True)


def counts(checked: Any) -> tuple[int, int]:
    """Rows read and rows quarantined."""
    out = run("SELECT count(*) AS n, count(_reason) AS bad FROM checked", {"checked": checked})
    return int(out["n"][0]), int(out["bad"][0])


def quarantine(checked: Any, columns: Sequence[str]) -> Any:
    """The quarantined rows (lazy): ``source_row, reason, column`` and the original values."""
    d = dialect_of(checked)
    cols = ", ".join(quote(c, d) for c in columns)
    return frame(f"SELECT _r AS source_row, _reason AS reason, _column AS {quote('column', d)}, {cols} "
                 f"FROM checked WHERE _reason IS NOT NULL", {"checked": checked})
