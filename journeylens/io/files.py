"""File readers: CSV (plain or gzip), Parquet (file, folder or glob), JSON lines.

Each reader turns the file into a table of text (or typed Parquet) columns and
hands it to the one validation pipeline (:func:`~journeylens.io.build.build_log`);
rows it cannot even split into fields go there as ``malformed_row``, so
``rows_read == rows_accepted + rows_quarantined`` holds for every file.
"""

from __future__ import annotations

import codecs
import csv
import glob as globbing
import gzip
import io
import json
import os
import zlib
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from ..core.eventlog import EventLog
from ..core.tablelog import TableLog
from ..errors import InputError
from .build import LoadOptions, build_log
from .held import read_parquet_held

_GZIP_MAGIC = b"\x1f\x8b"
_DELIMITERS = (",", ";", "\t", "|")
_BLOCK = 1 << 22  # 4 MiB; grown for a field longer than a block
_MAX_BLOCK = (1 << 31) - 1


# -- bytes in: existence, gzip, encoding ---------------------------------------------


def _read_bytes(name: str) -> bytes:
    """The file's bytes, gunzipped when it starts with the gzip magic (whatever its name)."""
    if not os.path.exists(name):
        raise InputError(f"{name}: no such file")
    if os.path.isdir(name):
        raise InputError(f"{name}: is a directory, not a file")
    try:
        with open(name, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if data.startswith(_GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error):
            raise InputError(f"{name}: truncated or corrupt gzip data") from None
    return data


def _decode(data: bytes, name: str, encoding: str | None) -> tuple[str, str]:
    """Text and the encoding used: the given one, a byte-order mark's, UTF-8, else cp1252/latin-1."""
    if encoding is not None:
        try:
            return data.decode(encoding), encoding
        except LookupError:
            raise InputError(f"{name}: unknown encoding {encoding!r}") from None
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: not valid {encoding} at byte {exc.start}") from None
    for bom, enc in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(enc), enc
            except UnicodeDecodeError as exc:
                raise InputError(f"{name}: byte-order mark says {enc} but byte {exc.start} is not") from None
    head = data[:4096]
    controls = sum(b < 0x20 and b not in (9, 10, 13) for b in head)
    if head and controls > 0.05 * len(head):
        raise InputError(f"{name}: looks like a binary file, not delimited text")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            return data.decode("latin-1"), "latin-1"


def _sniff(first_line: str) -> str:
    """The delimiter the header uses most (outside quotes); a comma when it has none."""
    counts = {d: 0 for d in _DELIMITERS}
    quoted = False
    for ch in first_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


# -- CSV ------------------------------------------------------------------------------


def read_csv(path: str | os.PathLike[str], sep: str | None = None, encoding: str | None = None,
             **options: Any) -> EventLog:
    """Read a delimited text file (plain or gzip) into an :class:`EventLog`.

    ``sep``: the delimiter (sniffed from the header among ``, ; tab |`` when
    omitted). ``encoding``: UTF-8 by default, with or without BOM; UTF-16 with a
    BOM; text that is not UTF-8 is read as cp1252/latin-1. The encoding used is
    in ``log.parameters["csv"]``. Every column is read as text, so ids keep
    leading zeros; rows with the wrong number of fields are quarantined as
    ``malformed_row``. Other options: see :class:`~journeylens.io.build.LoadOptions`.

    >>> import pathlib, tempfile, journeylens as jl
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "events.csv"
    >>> _ = path.write_text("Client;When;Touchpoint\\n007;2024-01-01 10:00;visit\\n007;2024-01-01 10:05;buy\\n")
    >>> log = jl.read_csv(path, user="Client", time="When", event="Touchpoint")
    >>> log.to_pandas()["user_id"].tolist(), log.parameters["csv"]["sep"]
    (['007', '007'], ';')
    """
    name = os.fspath(path)
    opts = LoadOptions.from_kwargs(options, name)
    text, used = _decode(_read_bytes(name), name, encoding)
    text = text.lstrip("\ufeff")
    if not text or text.isspace():
        raise InputError(f"{name}: empty file (no header line)")
    header_line = (text[: text.index("\n")] if "\n" in text else text).rstrip("\r")  # no copy of the rest
    delimiter = sep if sep is not None else _sniff(header_line)
    if len(delimiter) != 1:
        raise InputError(f"{name}: sep must be one character, not {delimiter!r}")
    header = next(csv.reader([header_line], delimiter=delimiter))
    table, malformed = _parse(text.encode("utf-8"), delimiter, header, name)
    raw = table.to_pandas()
    del text, table  # the decoded file and the Arrow table: not needed by the build
    bad = np.array(sorted(malformed), dtype=np.int64)
    good = np.setdiff1d(np.arange(1, len(raw) + len(malformed) + 1, dtype=np.int64), bad, assume_unique=True)
    raw.columns = header if len(header) == raw.shape[1] else raw.columns
    bad_frame = pd.DataFrame({"source_row": bad, "raw_text": [malformed[r] for r in bad]})
    return build_log(raw, source=name, options=opts, malformed=bad_frame, source_rows=good,
                     parameters={"csv": {"sep": delimiter, "encoding": used}})


def _parse(data: bytes, delimiter: str, header: list[str], name: str) -> tuple[pa.Table, dict[int, str]]:
    """All fields as text with pyarrow; rows with a wrong field count collected by data-row number."""
    block = _BLOCK
    while True:
        malformed: dict[int, str] = {}

        def skip(row: Any) -> str:  # called only for bad rows
            malformed[int(row.number) - 1] = str(row.text)  # row.number counts the header line
            return "skip"

        names = [f"c{k}" for k in range(len(header))]  # positional: duplicate names are judged later
        try:
            table = pacsv.read_csv(
                io.BytesIO(data),
                read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=block, use_threads=False),
                parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                                 invalid_row_handler=skip),
                convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                     strings_can_be_null=True, quoted_strings_can_be_null=False),
            )
        except pa.ArrowInvalid as exc:
            message = str(exc)
            if "straddling" in message and block < _MAX_BLOCK:
                block = min(block * 8, _MAX_BLOCK)  # a field longer than a block: read in larger blocks
                continue
            raise InputError(f"{name}: cannot parse as delimited text ({message.splitlines()[0][:120]})") from None
        return table, malformed


# -- Parquet --------------------------------------------------------------------------


def read_parquet(path: str | os.PathLike[str], engine: str = "memory", **options: Any) -> EventLog | TableLog:
    """Read a Parquet file, a folder of Parquet files, or a glob (``events/*.parquet``).

    Column types are kept (timestamps stay timestamps). Options: see
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
    source = _parquet_source(name)
    if engine != "memory":
        return read_parquet_held(source, name, engine, opts)
    # No name holds the Arrow table: what pandas does not share is freed before the build.
    return build_log(_parquet_table(source, name).to_pandas(), source=name, options=opts)


def _parquet_source(name: str) -> str | list[str]:
    """The file, folder, or the files a glob matches."""
    if any(ch in name for ch in "*?["):
        files = sorted(globbing.glob(name))
        if not files:
            raise InputError(f"{name}: no file matches this pattern")
        return files
    if os.path.exists(name):
        return name
    raise InputError(f"{name}: no such file or folder")


def _parquet_table(source: str | list[str], name: str) -> pa.Table:
    import pyarrow.dataset as ds

    try:
        return ds.dataset(source, format="parquet").to_table()
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{name}: not a readable Parquet file ({str(exc).splitlines()[0][:120]})") from None


# -- JSON lines -----------------------------------------------------------------------


def read_jsonl(path: str | os.PathLike[str], encoding: str | None = None, **options: Any) -> EventLog:
    """Read JSON lines (one object per line, optionally gzip); blank lines are skipped.

    A line that is not a JSON object is quarantined as ``malformed_row`` with its
    line number. Nested objects are flattened with dots (``{"a": {"b": 1}}`` →
    column ``a.b``); lists stay as lists.

    >>> import pathlib, tempfile, journeylens as jl
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "events.jsonl"
    >>> _ = path.write_text('{"user_id": "a", "timestamp": "2024-01-01", "event": "visit"}\\nnot json\\n')
    >>> log = jl.read_jsonl(path)
    >>> len(log), log.quarantine["reason"].tolist()
    (1, ['malformed_row'])
    """
    name = os.fspath(path)
    opts = LoadOptions.from_kwargs(options, name)
    text, _ = _decode(_read_bytes(name), name, encoding)
    lines = [(k, line) for k, line in enumerate(text.lstrip("\ufeff").splitlines(), start=1) if line.strip()]
    if not lines:
        raise InputError(f"{name}: empty file (no JSON lines)")
    records, good, bad, bad_text = [], [], [], []
    for number, line in lines:  # json.loads per line is the parser; the rest is vectorised
        try:
            value = json.loads(line)
        except ValueError:
            value = None
        if isinstance(value, dict):
            records.append(value)
            good.append(number)
        else:
            bad.append(number)
            bad_text.append(line[:1000])
    raw = pd.json_normalize(records) if records else pd.DataFrame()
    rows = len(good) + len(bad)
    order = np.argsort(np.array(good + bad))  # number rows 1..n in file order, blank lines aside
    position = np.empty(rows, dtype=np.int64)
    position[order] = np.arange(1, rows + 1)
    malformed = pd.DataFrame({"source_row": position[len(good):], "raw_text": bad_text})
    return build_log(raw, source=name, options=opts, malformed=malformed, source_rows=position[: len(good)])
