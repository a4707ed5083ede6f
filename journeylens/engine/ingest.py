"""Validation, quarantine and encoding of an engine-held source, as SQL run where the data lives.

The same rules as the in-memory readers (``io/build.py``), for logs that stay
in an engine (a DuckDB database on disk, or Spark); the readers
(``io/held.py``) spell each rule as SQL expressions, which this module runs:

1. ``checked``: every source row with its user and event text (``_user``,
   ``_event``), its time in epoch µs (``_t``), the text of its coded levels
   (``_lv_<role>``), and the number of the first failing check as ``_check``
   (0 when every check passes), which the quarantine names; a column of names
   (events, channels) may be read by :func:`named_values` first, and then
   ``checked`` holds the number of each row's source value instead of its text;
   the source columns themselves only where they are read again (values, extra
   columns): the quarantine takes its rows' original values from the source;
2. duplicates: the rows that pass every check and copy an earlier such row
   exactly;
3. dictionaries: the sorted distinct users and events, numbered from 0, so the
   codes equal those an :class:`~journeylens.EventLog` of the same rows has;
4. ``coded``: the accepted rows as integer codes, numbered ``i`` in
   (user, time, source row) order.

The source relation ``src`` has its columns renamed ``c0, c1, …`` (so no source
name can collide with ours) and carries ``_r``, a source row id increasing in
source order (ties in time keep it).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import pandas as pd

from .backends import backend_of
from .sql import columns_of, dialect_of, frame, literal, query, quote, run

#: code columns of the optional coded roles (-1 = missing)
CODED = {"channel": "c_channel", "device": "c_device", "stage": "c_stage"}


def position(k: int) -> str:
    """The name of the source's ``k``-th column in ``src``."""
    return f"c{k}"


def layered(table: Any, layers: Sequence[Sequence[str]]) -> Any:
    """``table`` with the select items of each layer added in turn (a layer reads those before it); lazy."""
    sql, prev = [], "src"
    for k, items in enumerate(layers):
        if items:
            sql.append(f"l{k} AS (SELECT *, {', '.join(items)} FROM {prev})")
            prev = f"l{k}"
    if not sql:
        return table
    return frame(f"WITH {', '.join(sql)} SELECT * FROM {prev}", {"src": table})


def scalars(sql: str, table: Any) -> dict[str, Any]:
    """The first row of ``sql`` over ``src`` as a dict."""
    out = run(sql, {"src": table})
    return {k: (v[0] if len(v) else None) for k, v in out.items()}


def stable(table: Any) -> Any:
    """The source, read again row for row with the same ``_r``: a DuckDB source is (Parquet files or a
    table); a Spark source is kept first (``monotonically_increasing_id`` may number a new read anew)."""
    return frame("SELECT * FROM src", {"src": table}, materialise=True) if dialect_of(table) == "spark" else table


def check(table: Any, layers: Sequence[Sequence[str]], checks: Sequence[tuple[str, str, str]], keep: Sequence[str],
          raw: Sequence[int], width: int | None) -> Any:
    """The ``checked`` relation (materialised): ``_r``, the source columns ``raw``, the columns ``keep`` of
    ``layers``, ``_check``: the number (from 1) of the first of ``checks`` (condition, reason, column name)
    that a row meets, 0 if none, and with a ``width``, ``_h``: the hash of the ``width`` source columns,
    for :func:`duplicates`.

    Only the source columns that are read later are kept: a table of texts is slow to write, and the
    quarantine's original values come from the source by ``_r``. The failed check is a number that the
    quarantine names, not two texts of 16 bytes a row: at 100M rows, 3 GB less to spill and read back.
    The table is a scratch one (see :func:`~journeylens.engine.backends.duckdb.held_table`): the
    encoding reads it once (the duplicates and the quarantine read a few of its rows).
    """
    failed = " ".join(f"WHEN {cond} THEN {k}" for k, (cond, _, _) in enumerate(checks, start=1))
    hashed = [] if width is None else [f"{{hash}}({', '.join(position(k) for k in range(width))}) AS _h"]
    kept = ", ".join(["_r", *(position(k) for k in raw), *keep, *hashed])
    sql = f"SELECT {kept}, CAST(CASE {failed} ELSE 0 END AS SMALLINT) AS _check FROM src"
    return frame(sql, {"src": layered(table, layers)}, materialise=True, scratch=True)


def duplicates(table: Any, checked: Any, width: int) -> Any:
    """The held table ``_r`` of the accepted rows that are exact copies of an earlier accepted row
    (materialised: small, read by the quarantine and the coded log); a copy of a row that fails a
    check fails it too.

    Exact copies share a row hash: only rows whose hash repeats are compared in full, in the source.
    """
    every = ", ".join(position(k) for k in range(width))
    rep = backend_of({"checked": checked}).repeated(checked, "_h", "_check = 0")
    return frame(f"""
        WITH cand AS (SELECT _r FROM checked WHERE _check = 0 AND _h IN (SELECT v FROM rep)),
        copy AS (SELECT _r, row_number() OVER (PARTITION BY {every} ORDER BY _r) AS _copy
                 FROM src WHERE _r IN (SELECT _r FROM cand))
        SELECT _r FROM copy WHERE _copy > 1""", {"checked": checked, "src": table, "rep": rep}, materialise=True)


def named_values(table: Any, column: str, layers: Sequence[Sequence[str]], text: str, status: str) -> Any:
    """The distinct values ``v`` of the source's ``column`` (NULL left out), numbered ``k``, with their
    rule's ``name`` (the text expression ``text`` over ``layers``) and ``status`` (materialised).

    For columns of few values (events, channels): the rule runs on the distinct values instead of on
    every row, and :func:`check` keeps each row's number instead of its text (at 100M events, the
    validation pass took 8 s instead of 14 s, and the encoding spilled less).
    """
    distinct = frame(f"SELECT DISTINCT {column} FROM src WHERE {column} IS NOT NULL", {"src": table})
    # 32-bit numbers: ``checked`` is a scratch table, stored uncompressed
    sql = (f"SELECT {column} AS v, CAST(row_number() OVER (ORDER BY {column}) AS INT) AS k, {text} AS name, "
           f"{status} AS s FROM src")
    return frame(sql, {"src": layered(distinct, layers)}, materialise=True)


def keyed(table: Any, named: Mapping[str, tuple[str, Any]], missing: int) -> Any:
    """``table`` with, for each role of ``named`` (role → (source column, :func:`named_values`)), the
    number ``_k_<role>`` of the row's value and its status ``_ks_<role>`` (``missing`` for NULL); lazy."""
    tables, joins, items = {"src": table}, [], []
    for role, (column, names) in named.items():
        tables[f"n_{role}"] = names
        joins.append(f"LEFT JOIN n_{role} ON src.{column} = n_{role}.v")
        items += [f"n_{role}.k AS _k_{role}", f"coalesce(n_{role}.s, {int(missing)}) AS _ks_{role}"]
    return frame(f"SELECT src.*, {', '.join(items)} FROM src {' '.join(joins)}", tables) if named else table


def _accepted(checked: Any, column: str, names: Any) -> Any:
    """The distinct texts ``name`` of ``column`` among accepted rows (lazy); with ``names``
    (:func:`named_values`), ``column`` holds their numbers."""
    if names is None:
        return frame(f"SELECT DISTINCT {column} AS name FROM checked WHERE _check = 0 AND {column} IS NOT NULL",
                     {"checked": checked})
    return frame(f"SELECT DISTINCT n.name FROM n JOIN (SELECT DISTINCT {column} AS k FROM checked WHERE _check = 0) a "
                 "ON n.k = a.k WHERE n.name IS NOT NULL", {"checked": checked, "n": names})


def dictionary(checked: Any, column: str, names: Any = None) -> tuple[Any, pd.Index, Any]:
    """Codes of the sorted distinct texts of ``column`` among accepted rows (held table ``name, code``),
    the texts (position = code), and the mapping ``v, code`` from the values of ``column`` (texts, or
    numbers of ``names``: :func:`named_values`) for :func:`encode`."""
    coded = frame("SELECT name, row_number() OVER (ORDER BY name) - 1 AS code FROM d",
                  {"d": _accepted(checked, column, names)}, materialise=True)
    # Arrow-backed: a log of millions of users keeps their ids compactly
    texts = query("SELECT name FROM coded ORDER BY code", {"coded": coded}).column("name")
    index = pd.Index(pd.array(texts.to_pandas(types_mapper=pd.ArrowDtype), dtype="string[pyarrow]"))
    mapping = frame("SELECT name AS v, code FROM coded", {"coded": coded})
    return coded, index, mapping if names is None else by_number(names, mapping)


def by_number(names: Any, codes: Any) -> Any:
    """The mapping ``v, code`` from the numbers of ``names`` (:func:`named_values`) through the
    mapping ``v, code`` of their texts ``codes`` (materialised: small)."""
    return frame("SELECT n.k AS v, c.code FROM n JOIN c ON n.name = c.v", {"n": names, "c": codes}, materialise=True)


def distinct_text(checked: Any, column: str, names: Any = None) -> list[str]:
    """The distinct texts of ``column`` among accepted rows (NULL left out), sorted; with ``names``
    (:func:`named_values`), ``column`` holds their numbers."""
    return sorted(run("SELECT name FROM d", {"d": _accepted(checked, column, names)})["name"].tolist())


def encode(checked: Any, copies: Any, users: tuple[str, Any], events: tuple[str, Any],
           levels: Mapping[str, tuple[str, Any]], extras: Sequence[tuple[str, str]]) -> Any:
    """The accepted rows coded, in no order, for :func:`numbered`: ``u, t, e``, the ``c_*`` codes of
    ``levels``, ``extras`` (select expression over ``checked`` as ``k``, output name) and ``_r``;
    ``users``, ``events`` and each level (role → …) are a column of ``checked`` and the held mapping
    ``v, code`` of its values (:func:`dictionary`); the rows of ``copies`` (:func:`duplicates`, or None)
    are left out.

    DuckDB holds them as a table of their own, so that the caller can let ``checked`` (every row, with
    its texts) go before the sort, which then spills less: at 100M events the join and the sort took
    35-40 s instead of 39-42 s.
    """
    d = dialect_of(checked)
    tables = {"checked": checked, "du": users[1], "de": events[1]}
    copied = ""
    if copies is not None:
        tables["dup"] = copies
        copied = "AND NOT EXISTS (SELECT 1 FROM dup WHERE dup._r = k._r)"
    joins, codes = [], []
    for role, (column, mapping) in levels.items():
        alias = f"m_{role}"
        tables[alias] = mapping
        joins.append(f"LEFT JOIN {alias} ON k.{column} = {alias}.v")
        codes.append(f"CAST(coalesce({alias}.code, -1) AS INT) AS {CODED[role]}")
    # 32-bit codes, as in memory: at 100M events the log and its window pass are 1.2 and 2 GB smaller,
    # so every later pass spills less (the held pipeline took 131 s instead of 160-176 s)
    cols = ", ".join(["CAST(du.code AS INT) AS u", "k._t AS t", "CAST(de.code AS INT) AS e", *codes,
                      *(f"{expr} AS {quote(name, d)}" for expr, name in extras), "k._r"])
    sql = f"""
    SELECT {cols} FROM checked k JOIN du ON k.{users[0]} = du.v JOIN de ON k.{events[0]} = de.v {' '.join(joins)}
    WHERE k._check = 0 {copied}
    """
    # Spark computes them lazily with the sort: a checkpoint would cost a pass and free nothing
    return frame(sql, tables, materialise=d == "duckdb", scratch=True)


def numbered(rows: Any) -> Any:
    """The ``coded`` log (materialised) of :func:`encode`'s ``rows``: in (user, time, source row) order,
    numbered by ``i`` from 0, the source row as ``source_row``."""
    d = dialect_of(rows)
    names = ["i", *(quote(c, d) for c in columns_of(rows) if c != "_r"), "_r AS source_row"]
    ordered = "SELECT {row_id} AS i, * FROM (SELECT * FROM coded ORDER BY u, t, _r) s"
    return frame(f"SELECT {', '.join(names)} FROM ({ordered}) o", {"coded": rows}, materialise=True)


def quarantine(table: Any, checked: Any, checks: Sequence[tuple[str, str, str]], copies: Any,
               names: Sequence[str]) -> Any:
    """The quarantined rows (materialised): ``source_row, reason, column`` (those of the failed one of
    :func:`check`'s ``checks``) and their values in the source ``table`` under ``names``; the rows of
    ``copies`` (:func:`duplicates`, or None) as ``duplicate`` of every column (``*``)."""
    d = dialect_of(checked)
    cols = ", ".join(f"s.{position(k)} AS {quote(n, d)}" for k, n in enumerate(names))
    tables = {"checked": checked, "src": table}
    reason = " ".join(f"WHEN {k} THEN '{code}'" for k, (_, code, _) in enumerate(checks, start=1))
    column = " ".join(f"WHEN {k} THEN {literal(col, d)}" for k, (_, _, col) in enumerate(checks, start=1))
    bad = (f"SELECT _r, CASE _check {reason} END AS _reason, CASE _check {column} END AS _column "
           "FROM checked WHERE _check <> 0")
    if copies is not None:
        tables["dup"] = copies
        bad += " UNION ALL SELECT _r, 'duplicate' AS _reason, '*' AS _column FROM dup"
    return frame(f"SELECT b._r AS source_row, b._reason AS reason, b._column AS {quote('column', d)}, {cols} "
                 f"FROM src s JOIN ({bad}) b ON s._r = b._r", tables, materialise=True)


def counts(checked: Any, quarantined: Any) -> tuple[int, int]:
    """Rows read and rows quarantined."""
    read = run("SELECT count(*) AS n FROM checked", {"checked": checked})["n"][0]
    return int(read), int(run("SELECT count(*) AS n FROM q", {"q": quarantined})["n"][0])
