"""File readers: CSV (plain or gzip), Parquet (file, folder or glob), JSON lines.

Each reader checks the file (:mod:`journeylens.io.source`: regular files only,
decompressed bytes bounded by ``max_bytes``, binary content refused), turns it
into a table of text (or typed Parquet) columns, and hands it to the one
validation pipeline (:func:`~journeylens.io.build.build_log`); rows it cannot
even split into fields go there as ``malformed_row``, rows it cannot decode as
``undecodable_text``, so ``rows_read == rows_accepted + rows_quarantined``
holds for every file.
"""

from __future__ import annotations

import codecs
import glob as globbing
import json
import os
from array import array
from typing import Any, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..core.eventlog import EventLog
from ..core.safe_yaml import MAX_DEPTH, bounded_repr
from ..core.tablelog import TableLog
from ..errors import ColumnError, InputError, JourneyLensError, ParameterError, first_line
from .build import CODED_ROLES, LoadOptions, build_log
from .columns import resolve_roles
from .held import read_parquet_held
from .source import BOMB_FLOOR, BOMB_RATIO, read_bytes, regular_file

_DELIMITERS = (",", ";", "\t", "|")
_BLOCK = 1 << 22  # 4 MiB; grown for a field longer than a block
_MAX_BLOCK = (1 << 31) - 1
#: the header line (the column names) may be this long
MAX_HEADER = 1 << 20
_GLOB = "*?["


# -- bytes to UTF-8 text, with evidence ---------------------------------------------


def _lone(error: UnicodeError) -> tuple[str, int]:
    """Decoding error handler: one lone surrogate per undecodable sequence (no decoder yields them otherwise)."""
    return "\udcff", error.end  # type: ignore[attr-defined]


def _latin1(error: UnicodeError) -> tuple[str, int]:
    """Decoding error handler for cp1252: the five bytes it leaves undefined are read as latin-1."""
    return error.object[error.start:error.end].decode("latin-1"), error.end  # type: ignore[attr-defined]


codecs.register_error("journeylens-lone", _lone)
codecs.register_error("journeylens-latin1", _latin1)
_MARKERS = tuple(chr(c) for c in range(0xFDD0, 0xFDF0))  # Unicode noncharacters: never text
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _valid_utf8(data: bytes | memoryview) -> bool:
    """Whether bytes are UTF-8, checked by Arrow without making a Python string."""
    buffer = pa.py_buffer(data)
    offsets = pa.array([0, buffer.size], pa.int64()).buffers()[1]
    try:
        pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, buffer]).cast(pa.large_string())
        return True
    except pa.ArrowInvalid:
        return False


def _marked(text: str) -> tuple[bytes, str | None]:
    """UTF-8 bytes of ``text`` with each lone surrogate (an undecodable byte) replaced by a marker
    character the text does not hold; the marker, or None when nothing was undecodable."""
    lone = {c: None for c in range(0xDC80, 0xDD00)}
    if len(text.translate(lone)) == len(text):  # no lone surrogates
        return text.encode("utf-8"), None
    marker = next((m for m in _MARKERS if m not in text), None)
    if marker is None:
        raise InputError("cannot mark undecodable bytes: the text uses every Unicode noncharacter")
    return text.translate({c: marker for c in lone}).encode("utf-8"), marker


def _to_utf8(data: bytes, name: str, encoding: str | None) -> tuple[Any, str, str | None, dict[str, int]]:
    """UTF-8 bytes for the parser, the encoding used, the marker of undecodable bytes, and the evidence.

    Without ``encoding``: a byte-order mark decides; else UTF-8 when the bytes are
    UTF-8, or when their valid multi-byte UTF-8 characters are at least as many as
    their invalid bytes (the few invalid ones are then marked, and their rows
    quarantined); else cp1252 (latin-1 for the bytes cp1252 leaves undefined).
    """
    if encoding is not None:
        try:
            codec = codecs.lookup(encoding).name
        except (LookupError, TypeError):
            raise ParameterError(f"{name}: unknown encoding {encoding!r}", "encoding") from None
        if codec == "utf-8" and _valid_utf8(data):
            return _without_bom(data), codec, None, {}
        text = data.decode(codec, errors="journeylens-lone").lstrip("\ufeff")
        out, marker = _marked(text)
        return out, codec, marker, {}
    for bom, codec in _BOMS:
        if data.startswith(bom):
            if codec == "utf-8" and _valid_utf8(data):
                return _without_bom(data), "utf-8-sig", None, {}
            out, marker = _marked(data.decode(codec, errors="journeylens-lone").lstrip("\ufeff"))
            return out, codec if codec != "utf-8" else "utf-8-sig", marker, {}
    if _valid_utf8(data):
        return data, "utf-8", None, {}
    text = data.decode("utf-8", errors="surrogateescape")
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    invalid = len(text) - len(text.translate({c: None for c in range(0xDC80, 0xDD00)}))
    evidence = {"utf8_characters": non_ascii - invalid, "invalid_bytes": invalid}
    if non_ascii - invalid >= invalid:
        out, marker = _marked(text)
        return out, "utf-8", marker, evidence
    del text
    return data.decode("cp1252", errors="journeylens-latin1").encode("utf-8"), "cp1252", None, evidence


def _without_bom(data: bytes) -> Any:
    return pa.py_buffer(data)[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data


# -- CSV ------------------------------------------------------------------------------


def read_csv(path: str | os.PathLike[str], sep: str | None = None, encoding: str | None = None,
             quote: str | None = '"', **options: Any) -> EventLog:
    """Read a delimited text file (plain or gzip) into an :class:`EventLog`.

    ``sep``: the delimiter (sniffed from the header among ``, ; tab |`` when
    omitted). ``quote``: the quote character (``None``: quotes are ordinary
    characters). Line ends are LF, CRLF or CR. ``encoding``: see below; the one
    used, with the evidence, is in ``log.parameters["csv"]``. Every column is
    read as text, so ids keep leading zeros; an empty field is missing (other
    spellings only with ``na_values=``). Rows with the wrong number of fields are
    quarantined as ``malformed_row``. A quote that is never closed where it
    should be (a quoted field running over lines that look like rows) is an
    error naming the line. Other options: see :class:`~journeylens.io.build.LoadOptions`.

    Encoding, unless ``encoding=`` is given: a byte-order mark decides (UTF-8 or
    UTF-16); otherwise UTF-8 when the bytes are UTF-8, or when their valid
    multi-byte characters are at least as many as their invalid bytes, in which
    case rows holding invalid bytes are quarantined as ``undecodable_text``
    (one stray latin-1 byte does not turn "café" into "cafÃ©"); else cp1252.
    With ``encoding=`` given, rows it cannot decode are quarantined the same way.

    >>> import pathlib, tempfile, journeylens as jl
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "events.csv"
    >>> _ = path.write_text("Client;When;Touchpoint\\n007;2024-01-01 10:00;visit\\n007;2024-01-01 10:05;buy\\n")
    >>> log = jl.read_csv(path, user="Client", time="When", event="Touchpoint")
    >>> log.to_pandas()["user_id"].tolist(), log.parameters["csv"]["sep"]
    (['007', '007'], ';')
    """
    name = os.fspath(path)
    opts = LoadOptions.from_kwargs(options, name)
    return build_log(source=name, options=opts, **csv_table(name, opts, sep, encoding, quote))


def csv_table(name: str, opts: LoadOptions, sep: str | None, encoding: str | None,
              quote: str | None) -> dict[str, Any]:
    """The file as a raw table of text and what :func:`~journeylens.io.build.build_log` needs beside it."""
    if quote is not None and (not isinstance(quote, str) or len(quote) != 1):
        raise ParameterError(f"quote must be one character or None, not {bounded_repr(quote)}", "quote")
    data, used, marker, evidence = _to_utf8(read_bytes(name, opts.max_bytes), name, encoding)
    header_line = _header_line(data, name)
    if not header_line.strip():
        raise InputError(f"{name}: empty file (no header line)")
    delimiter = sep if sep is not None else _sniff(header_line, quote)
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\r\n" or delimiter == quote:
        raise ParameterError(f"{name}: sep must be one character other than a line end or the quote, "
                             f"not {bounded_repr(delimiter)}", "sep")
    header = _split_header(header_line, delimiter, quote, name)
    if len(header) > opts.max_columns:
        raise ColumnError(f"{name}: the header has {len(header):,} columns, more than max_columns="
                          f"{opts.max_columns:,}; pass max_columns=… to read them all")
    table, malformed = _parse(data, delimiter, quote, len(header), name)
    _refuse_runaway_quote(table, malformed, data, delimiter, len(header), name)
    undecodable = None
    if marker is not None:
        table, undecodable, malformed = _unmark(table, malformed, marker, header)
    raw = table.to_pandas()
    del data, table  # the file's bytes and the Arrow table: not needed by the build
    bad = np.array(sorted(malformed), dtype=np.int64)
    good = np.setdiff1d(np.arange(1, len(raw) + len(malformed) + 1, dtype=np.int64), bad, assume_unique=True)
    raw.columns = header
    bad_frame = pd.DataFrame({"source_row": bad, "raw_text": [malformed[r] for r in bad]})
    info: dict[str, Any] = {"sep": delimiter, "encoding": used, **evidence}
    return {"raw": raw, "malformed": bad_frame, "source_rows": good, "undecodable": undecodable,
            "parameters": {"csv": info}}


def _header_line(data: Any, name: str) -> str:
    """The first line (up to LF, CR or CRLF), at most :data:`MAX_HEADER` bytes."""
    head = bytes(memoryview(data)[: MAX_HEADER + 1])
    ends = [k for k in (head.find(b"\n"), head.find(b"\r")) if k >= 0]
    if not ends and len(head) > MAX_HEADER:
        raise InputError(f"{name}: no line end in the first {MAX_HEADER >> 20} MiB: the header line is longer "
                         "than a header may be, or this is not delimited text")
    return head[: min(ends)].decode("utf-8") if ends else head.decode("utf-8")


def _sniff(first_line: str, quote: str | None) -> str:
    """The delimiter the header uses most (outside quotes); a comma when it has none."""
    counts = {d: 0 for d in _DELIMITERS}
    quoted = False
    for ch in first_line:
        if ch == quote:
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _split_header(line: str, delimiter: str, quote: str | None, name: str) -> list[str]:
    """The header's fields, split as the parser splits a row (a quote opens a field only at its start)."""
    fields, field, k = [], [], 0
    at_start, quoted = True, False
    while k < len(line):
        ch = line[k]
        if quoted:
            if ch == quote and line[k + 1: k + 2] == quote:
                field.append(ch)
                k += 1
            elif ch == quote:
                quoted = False
            else:
                field.append(ch)
        elif ch == delimiter:
            fields.append("".join(field))
            field, at_start = [], True
            k += 1
            continue
        elif ch == quote and at_start:
            quoted = True
        else:
            field.append(ch)
        at_start = False
        k += 1
    if quoted:
        raise InputError(f"{name}: line 1: the header has a quote that is never closed")
    fields.append("".join(field))
    return fields


def _parse(data: Any, delimiter: str, quote: str | None, width: int, name: str) -> tuple[pa.Table, dict[int, str]]:
    """All fields as text with pyarrow; rows with a wrong field count collected by data-row number."""
    block = _BLOCK
    while True:
        malformed: dict[int, str] = {}
        unnumbered: list[str] = []

        def skip(row: Any) -> str:  # called only for bad rows
            if row.number is None:  # a quote still open at the end of the file
                unnumbered.append(str(row.text))
            else:
                malformed[int(row.number) - 1] = str(row.text)  # row.number counts the header line
            return "skip"

        names = [f"c{k}" for k in range(width)]  # positional: duplicate names are judged later
        try:
            table = pacsv.read_csv(
                pa.BufferReader(pa.py_buffer(data)),
                read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=block, use_threads=False),
                parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char=quote if quote else False,
                                                 newlines_in_values=bool(quote), invalid_row_handler=skip),
                convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                     null_values=[""], strings_can_be_null=True,
                                                     quoted_strings_can_be_null=True),
            )
        except pa.ArrowInvalid as exc:
            message = str(exc)
            if "straddling" in message and block < _MAX_BLOCK:
                block = min(block * 8, _MAX_BLOCK)  # a field longer than a block: read in larger blocks
                continue
            raise InputError(f"{name}: cannot parse as delimited text ({first_line(message, 120)})") from None
        for text in unnumbered:  # the last rows of the file, after every numbered one
            malformed[len(table) + len(malformed) + 1] = text
        return table, malformed


def _line_breaks(data: bytes, end: int) -> int:
    return data.count(b"\n", 0, end) + data.count(b"\r", 0, end) - data.count(b"\r\n", 0, end)


def _refuse_runaway_quote(table: pa.Table, malformed: dict[int, str], data: Any, delimiter: str, width: int,
                          name: str) -> None:
    """An error when a quoted field holds lines that look like rows: an unbalanced quote swallowed them."""
    if width < 2:
        return
    texts: list[str] = [t for t in malformed.values() if "\n" in t or "\r" in t]
    for column in table.columns:
        multi = pc.fill_null(pc.or_(pc.match_substring(column, "\n"), pc.match_substring(column, "\r")), False)
        if pc.any(multi).as_py():
            texts.extend(column.filter(multi).to_pylist())
    for text in texts:
        lines = text.rstrip("\r\n").replace("\r\n", "\n").replace("\r", "\n").split("\n")
        if not any(line.count(delimiter) >= width - 1 for line in lines[1:]):
            continue
        raw = bytes(memoryview(data))
        at = next((k for k in (raw.find((lines[0] + end + lines[1]).encode("utf-8")) for end in ("\n", "\r\n", "\r"))
                   if k >= 0), -1)
        where = f"line {_line_breaks(raw, at) + 1}" if at >= 0 else "a row"
        raise InputError(f"{name}: {where}: a quoted field runs over {len(lines) - 1:,} line(s) that look like rows "
                         "(an unbalanced quote?); fix the quote, or pass quote=None to read quotes as text")


def _unmark(table: pa.Table, malformed: dict[int, str], marker: str,
            header: list[str]) -> tuple[pa.Table, np.ndarray, dict[int, str]]:
    """Rows holding the marker of undecodable bytes: the first such column per row; the marker shown as U+FFFD."""
    culprit = np.full(table.num_rows, None, dtype=object)
    columns = []
    for k, column in reversed(list(enumerate(table.columns))):
        hit = pc.fill_null(pc.match_substring(column, marker), False).to_numpy(zero_copy_only=False)
        culprit[hit] = header[k]
        columns.append(pc.replace_substring(column, marker, "\ufffd") if hit.any() else column)
    fixed = pa.table(list(reversed(columns)), names=table.column_names)
    return fixed, culprit, {k: v.replace(marker, "\ufffd") for k, v in malformed.items()}


# -- Parquet --------------------------------------------------------------------------


def read_parquet(path: str | os.PathLike[str], engine: str = "memory", **options: Any) -> EventLog | TableLog:
    """Read a Parquet file, a folder of Parquet files, or a glob (``events/*.parquet``).

    Column types are kept (timestamps stay timestamps; legacy int96 timestamps
    are read at microsecond precision, so dates far from today stay right). A
    path that exists is read as that file or folder even when its name has
    ``[`` … ``]``; only a path that does not exist is a pattern. A folder means
    its ``*.parquet`` files, recursively, in name order. ``max_bytes`` bounds the
    data the files decode to (from their metadata, checked before reading:
    default 100 times their size on disk plus 32 MiB). Options: see
    :class:`~journeylens.io.build.LoadOptions`. ``engine="memory"`` (default) loads
    an :class:`EventLog`; ``engine="duckdb"`` keeps the log in a DuckDB database on
    disk and ``engine="spark"`` in Spark: a :class:`~journeylens.core.tablelog.TableLog`,
    for logs larger than memory (same validation, same codes).

    >>> import pathlib, tempfile, pandas as pd, journeylens as jl
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "events.parquet"
    >>> pd.DataFrame({"user_id": ["a"], "timestamp": [pd.Timestamp("2024-01-01", tz="UTC")],
    ...               "event": ["visit"]}).to_parquet(path)
    >>> len(jl.read_parquet(path))
    1
    """
    name = os.fspath(path)
    opts = LoadOptions.from_kwargs(options, name)
    if engine not in ("memory", "duckdb", "spark"):
        raise ParameterError(f"engine must be 'memory', 'duckdb' or 'spark', not {bounded_repr(engine)}", "engine")
    files = parquet_files(name)
    metas = check_parquet(files, name, opts.max_bytes)
    if engine != "memory":
        return read_parquet_held(files, name, engine, opts)
    # No name holds the Arrow table: what pandas does not share is freed before the build.
    return build_log(to_pandas(_parquet_table(files, name, few_values(metas, name, opts))), source=name, options=opts)


def parquet_files(name: str) -> list[str]:
    """The Parquet files a path names: the file, a folder's ``*.parquet`` files, or a glob's matches."""
    if os.path.exists(name):
        files = sorted(globbing.glob(os.path.join(globbing.escape(name), "**", "*.parquet"), recursive=True)) \
            if os.path.isdir(name) else [name]
        if not files:
            raise InputError(f"{name}: no Parquet files in this folder")
    elif any(ch in name for ch in _GLOB):
        files = sorted(f for f in globbing.glob(name, recursive=True) if not os.path.isdir(f))
        if not files:
            raise InputError(f"{name}: no file matches this pattern")
    else:
        raise InputError(f"{name}: no such file or folder")
    for f in files:
        regular_file(f)
    return files


def check_parquet(files: list[str], name: str, max_bytes: int | None) -> list[Any]:
    """Refuse Parquet with duplicated column names, or whose data decodes to more than the limit
    (estimated from the metadata, not by decoding); the files' metadata, for the read."""
    import pyarrow.parquet as pq

    decoded = on_disk = 0
    metas = []
    try:
        for k, f in enumerate(files):
            meta = pq.ParquetFile(f).metadata
            metas.append(meta)
            if k == 0:
                names = meta.schema.to_arrow_schema().names
                if len(set(names)) != len(names):
                    dup = sorted({n for n in names if names.count(n) > 1})
                    raise ColumnError(f"{name}: duplicated column name(s) {bounded_repr(dup)}")
            on_disk += os.stat(f).st_size
            for k in range(meta.num_row_groups):
                group = meta.row_group(k)
                decoded += max(group.total_byte_size, group.num_rows * max(meta.num_columns, 1) * 8)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise InputError(f"{name}: not a readable Parquet file ({first_line(exc, 120)})") from None
    limit = max_bytes if max_bytes is not None else BOMB_RATIO * on_disk + BOMB_FLOOR
    if decoded > limit:
        raise InputError(f"{name}: its data decodes to about {decoded:,} bytes, more than the limit of {limit:,} "
                         "(a compression bomb?); pass max_bytes=… to read more")
    return metas


#: a text column is read as categories when its dictionary pages hold fewer bytes than its rows over this
FEW_VALUES = 8


def few_values(metas: list[Any], name: str, opts: LoadOptions) -> list[str]:
    """The text columns of id and name roles whose every row group is dictionary-encoded with few values
    (all their dictionary pages together hold fewer bytes than 1/FEW_VALUES byte per row).

    Those are read as categories: each distinct text is decoded once, not once per row (event names,
    channels). A column of many values (user ids) overflows the writer's dictionary page and falls
    back to plain pages; merging per-group dictionaries would cost more than hashing the texts.
    ``metas``: the files' metadata (:func:`check_parquet`).
    """
    schema = metas[0].schema.to_arrow_schema()
    try:
        roles = resolve_roles(schema.names, opts.given_roles(), name)
    except JourneyLensError:  # the build says what is wrong, after its own earlier checks
        return []
    text = {c for c in schema.names if pa.types.is_string(schema.field(c).type) or
            pa.types.is_large_string(schema.field(c).type)}
    candidates = {roles[r] for r in CODED_ROLES if r in roles} & text
    rows, pages = 0, dict.fromkeys(candidates, 0)
    for meta in metas:
        rows += meta.num_rows
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for j in range(group.num_columns):
                chunk = group.column(j)
                if chunk.path_in_schema not in pages:
                    continue
                if not chunk.has_dictionary_page or chunk.data_page_offset <= chunk.dictionary_page_offset:
                    candidates.discard(chunk.path_in_schema)
                else:
                    pages[chunk.path_in_schema] += chunk.data_page_offset - chunk.dictionary_page_offset
    return sorted(c for c in candidates if pages[c] * FEW_VALUES < rows)


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow → pandas with integers and booleans as nullable pandas types: a null never turns them into floats
    (which would lose the digits of large ids)."""
    return table.to_pandas(types_mapper=_pandas_type)


def _pandas_type(dtype: pa.DataType) -> Any:
    if pa.types.is_boolean(dtype):
        return pd.BooleanDtype()
    if pa.types.is_integer(dtype):
        return pd.api.types.pandas_dtype(("Int" if pa.types.is_signed_integer(dtype) else "UInt") + str(dtype.bit_width))
    return None


def _parquet_table(files: list[str], name: str, categories: Sequence[str] = ()) -> pa.Table:
    import pyarrow.dataset as ds

    fmt = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(coerce_int96_timestamp_unit="us",
                                                                  dictionary_columns=list(categories)))
    try:
        return ds.dataset(files, format=fmt).to_table()
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise InputError(f"{name}: not a readable Parquet file ({first_line(exc, 120)})") from None


# -- JSON lines -----------------------------------------------------------------------


class _DuplicateKey(ValueError):
    pass


def _pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(items)
    if len(out) != len(items):
        seen: set[str] = set()
        raise _DuplicateKey(next(k for k, _ in items if k in seen or seen.add(k)))  # type: ignore[func-returns-value]
    return out


def read_jsonl(path: str | os.PathLike[str], encoding: str | None = None, **options: Any) -> EventLog:
    """Read JSON lines (one object per line, optionally gzip); blank lines are skipped.

    Lines end at LF or CRLF only (U+2028, U+2029 and U+0085 are characters of a
    value, not line ends). The text is UTF-8 (a byte-order mark is allowed;
    ``encoding=`` reads another); a line that does not decode is quarantined as
    ``undecodable_text``, and one that is not a JSON object, repeats a key, or
    nests deeper than 64 levels as ``malformed_row``, each with its line number.
    Nested objects are flattened with dots (``{"a": {"b": 1}}`` → column ``a.b``);
    a key ``"a.b"`` beside a nested ``a`` → ``b`` is an error, not a silent merge.
    Lists stay as lists. Ids follow :mod:`journeylens.io.encode`: ``1``, ``1.0``
    and ``"1"`` are one user. At most ``max_columns`` distinct keys (default 1,000).

    >>> import pathlib, tempfile, journeylens as jl
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "events.jsonl"
    >>> _ = path.write_text('{"user_id": "a", "timestamp": "2024-01-01", "event": "visit"}\\nnot json\\n')
    >>> log = jl.read_jsonl(path)
    >>> len(log), log.quarantine["reason"].tolist()
    (1, ['malformed_row'])
    """
    name = os.fspath(path)
    opts = LoadOptions.from_kwargs(options, name)
    return build_log(source=name, options=opts, **jsonl_table(name, opts, encoding))


def jsonl_table(name: str, opts: LoadOptions, encoding: str | None) -> dict[str, Any]:
    """The file as a raw table of its objects' values and what :func:`~journeylens.io.build.build_log` needs."""
    data = read_bytes(name, opts.max_bytes)
    codec, marker = "utf-8", None
    if encoding is not None:
        try:
            codec = codecs.lookup(encoding).name
        except (LookupError, TypeError):
            raise ParameterError(f"{name}: unknown encoding {encoding!r}", "encoding") from None
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        codec = "utf-16"
    if codec.startswith(("utf-16", "utf-32")):  # their lines are not lines of bytes: decode the whole file first
        data, marker = _marked(data.decode(codec, errors="journeylens-lone").lstrip("\ufeff"))
        codec = "utf-8"
    records = _JsonRecords(name, opts.max_columns)
    for number, line in enumerate(data.split(b"\n"), start=1):
        if number == 1 and line.startswith(codecs.BOM_UTF8):
            line = line[len(codecs.BOM_UTF8):]
        line = line.rstrip(b"\r")
        if line.strip(b" \t\r"):
            records.add(number, line, codec, marker)
    del data
    if not records.numbers:
        raise InputError(f"{name}: empty file (no JSON lines)")
    raw, malformed, positions = records.result()
    return {"raw": raw, "malformed": malformed, "source_rows": positions}


class _JsonRecords:
    """JSON lines gathered column by column: values per flattened key, bad lines apart."""

    def __init__(self, name: str, max_columns: int) -> None:
        self.name, self.max_columns = name, max_columns
        self.numbers: list[int] = []  # line number of every row, good or bad, in file order
        self.rows = 0  # good rows
        self.columns: dict[str, tuple[array, list[Any]]] = {}
        self.paths: dict[str, tuple[tuple[str, ...], int]] = {}  # flattened key → (path, first line)
        self.bad: list[tuple[int, str, str, str]] = []  # (line, reason, column, text)

    def add(self, number: int, line: bytes, codec: str, marker: str | None) -> None:
        self.numbers.append(number)
        try:
            text = line.decode(codec)
        except UnicodeDecodeError:
            self.bad.append((number, "undecodable_text", "*", line[:1000].decode("utf-8", errors="replace")))
            return
        if marker and marker in text:
            self.bad.append((number, "undecodable_text", "*", text[:1000].replace(marker, "\ufffd")))
            return
        try:
            value = json.loads(text, object_pairs_hook=_pairs)
        except _DuplicateKey as exc:
            self.bad.append((number, "malformed_row", str(exc)[:200], text[:1000]))
            return
        except (ValueError, RecursionError):
            value = None
        if not isinstance(value, dict):
            self.bad.append((number, "malformed_row", "*", text[:1000]))
            return
        flat: list[tuple[tuple[str, ...], Any]] = []
        if not _flatten(value, (), flat):
            self.bad.append((number, "malformed_row", "*", text[:1000]))
            return
        self._store(number, flat)

    def _store(self, number: int, flat: list[tuple[tuple[str, ...], Any]]) -> None:
        row = self.rows
        names = [".".join(path) for path, _ in flat]
        if len(set(names)) != len(names):  # {"a.b": 1, "a": {"b": 2}} in one object
            dup = next(n for k, n in enumerate(names) if n in names[:k])
            raise ColumnError(f"{self.name}: line {number}: key {bounded_repr(dup)} is both a key and a nested "
                              "path in one object; rename one of them")
        for (path, value), key in zip(flat, names):
            seen = self.paths.get(key)
            if seen is None:
                if len(self.paths) >= self.max_columns:
                    raise ColumnError(f"{self.name}: more than max_columns={self.max_columns:,} distinct keys "
                                      f"(line {number}); pass max_columns=… to read them all")
                self.paths[key] = (path, number)
            elif seen[0] != path:
                raise ColumnError(f"{self.name}: column {bounded_repr(key)} comes from {_path_text(seen[0])} "
                                  f"(line {seen[1]}) and from {_path_text(path)} (line {number}); rename one")
            if value is None:
                continue
            slot = self.columns.get(key)
            if slot is None:
                self.columns[key] = (array("q", (row,)), [value])
            else:
                slot[0].append(row)
                slot[1].append(value)
        self.rows += 1

    def result(self) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
        """The good rows' frame, the bad lines, and the good rows' row numbers (1..n over non-blank lines)."""
        order = np.arange(1, len(self.numbers) + 1)
        bad_lines = {line for line, *_ in self.bad}
        is_bad = np.fromiter((n in bad_lines for n in self.numbers), bool, len(self.numbers))
        frame = pd.DataFrame({k: _json_column(rows, values, self.rows) for k, (rows, values) in self.columns.items()},
                             index=pd.RangeIndex(self.rows))
        malformed = pd.DataFrame({"source_row": order[is_bad], "reason": [r for _, r, _, _ in self.bad],
                                  "column": [c for _, _, c, _ in self.bad], "raw_text": [t for *_, t in self.bad]})
        return frame, malformed, order[~is_bad]


def _path_text(path: tuple[str, ...]) -> str:
    return f"key {'.'.join(path)!r}" if len(path) == 1 else "nested keys " + " → ".join(repr(p) for p in path)


def _flatten(value: dict[str, Any], prefix: tuple[str, ...], out: list[tuple[tuple[str, ...], Any]]) -> bool:
    """Flatten nested objects into (path, value) pairs; False when nested deeper than MAX_DEPTH."""
    if len(prefix) >= MAX_DEPTH:
        return False
    for key, item in value.items():
        path = (*prefix, key)
        if isinstance(item, dict) and item:
            if not _flatten(item, path, out):
                return False
        else:
            out.append((path, item))
    return True


def _json_column(rows: array, values: list[Any], size: int) -> Any:
    """One key's values scattered into ``size`` rows: Arrow text, Int64 or float64 when all share that type."""
    at = np.frombuffer(rows, dtype=np.int64)
    kinds = set(map(type, values))
    if kinds == {str}:
        try:
            text = pa.array(values, pa.large_string())
        except (pa.ArrowInvalid, UnicodeEncodeError):  # lone surrogates: the build quarantines them
            text = None
        if text is not None:
            index = np.full(size, -1, dtype=np.int64)
            index[at] = np.arange(len(at))
            taken = text.take(pa.array(index, mask=index < 0))
            return pd.array(taken.cast(pa.string()).to_pandas(types_mapper=pd.ArrowDtype), dtype="string[pyarrow]")
    if kinds == {int} and all(-(1 << 63) <= v < (1 << 63) for v in values):
        data = np.zeros(size, dtype=np.int64)
        data[at] = values
        missing = np.ones(size, dtype=bool)
        missing[at] = False
        return pd.arrays.IntegerArray(data, missing)
    if kinds == {float}:
        out = np.full(size, np.nan)
        out[at] = values
        return out
    cells = np.empty(len(values), dtype=object)
    for k, v in enumerate(values):  # one by one: numpy would spread a list over several cells
        cells[k] = v
    out = np.full(size, None, dtype=object)
    out[at] = cells
    return pd.Series(out, dtype=object)  # objects stay objects (as text, lone surrogates would fail here)
