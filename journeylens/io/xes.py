"""XES reader: IEEE 1849 event logs (``.xes``, ``.xes.gz``) streamed into an EventLog.

What becomes a column
---------------------
* Every event attribute under its key (``concept:name``, ``time:timestamp``,
  ``lifecycle:transition``, ``org:resource`` …); every trace attribute as
  ``case:<key>`` (``case:concept:name`` is the user), repeated on the trace's
  events. A trace key that collides with an event key gets one more ``case:``.
* Types: ``string``/``id`` → text, ``int`` → ``Int64``, ``float`` → ``float64``,
  ``boolean`` → ``boolean``, ``date`` → UTC timestamps. A column whose values
  do not all parse as their declared type, or whose key appears with several
  types, stays text, so nothing is lost. The time column (``time:timestamp``
  or ``time=``) is passed on as text: the shared timestamp parser handles mixed
  offsets, and values it cannot parse are quarantined with their raw text.
* Nesting: an attribute keeps its own value; attributes nested inside it
  (XES meta-attributes, ``xes.features="nested-attributes"``) and the contents
  of ``<list>``/``<container>`` are not read. An element that carries the same
  key twice keeps the last one.
* ``<global>`` defaults are declarations, not values: they are never filled in
  (as pm4py does). Log-level attributes, extensions and classifiers are skipped.

Rows
----
Every ``<event>`` is a row (``rows_read``), numbered by its position in the
file (1-based ``source_row``). Events of a trace without ``concept:name``, and
events outside any trace, get no user and are quarantined ``missing_user``;
events without ``concept:name`` or ``time:timestamp`` are quarantined too.

Safety
------
The prolog is checked before the XML parser sees the document: a ``DOCTYPE``
with anything but a name (entity declarations, an internal subset, an external
DTD) is refused, which rules out entity expansion ("billion laughs") and
external entities (XXE). The prolog is read in the encoding the parser is then
forced to use, so an encoding trick cannot hide a DOCTYPE. The parser also
runs with entity resolution, DTD loading and network access off and
libxml2's size limits on.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import os
import re
import zlib
from array import array
from dataclasses import dataclass
from typing import IO, Any, Iterator

import numpy as np
import pandas as pd
from lxml import etree

from ..core.eventlog import EventLog
from ..errors import InputError
from .build import LoadOptions, build_log
from .timestamps import parse_timestamps

_VALUE_TYPES = frozenset({"string", "id", "date", "int", "float", "boolean"})
_MIXED = "mixed"  # a key seen with several XES types: kept as text
_EVENT = "event"
_CHUNK = 1 << 16
_PROLOG_LIMIT = 1 << 20  # bytes read while looking for the root element
_DECLARED_ENCODING = re.compile(rb"""^<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]*)["']""")
_BARE_DOCTYPE = re.compile(r"<!DOCTYPE\s+[^\s\[>]+\s*>")
_WHITESPACE = re.compile(r"[ \t\r\n]*")
_ROOT_NAME = re.compile(r"<([^\s/>]+)")
_BOMS = (  # longest first: the UTF-32 LE mark starts like the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def read_xes(path: str | os.PathLike[str], **options: Any) -> EventLog:
    """Read an XES event log (plain or gzip-compressed) into an :class:`EventLog`.

    Takes the mapping and validation options of :class:`~journeylens.io.build.LoadOptions`;
    by default the user is ``case:concept:name``, the time ``time:timestamp`` and
    the event ``concept:name``. See the module docstring for the column rules.

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.xes"
    >>> _ = path.write_text(
    ...     '<log><trace><string key="concept:name" value="c1"/>'
    ...     '<event><string key="concept:name" value="visit"/>'
    ...     '<date key="time:timestamp" value="2024-01-01T10:00:00+01:00"/></event></trace></log>')
    >>> log = read_xes(path)
    >>> log.to_pandas()[["user_id", "event", "timestamp"]].astype(str).values.tolist()
    [['c1', 'visit', '2024-01-01 09:00:00+00:00']]
    """
    name = os.fspath(path)
    opts = LoadOptions.from_kwargs(options, name)
    return build_log(_read_frame(name, opts), source=name, options=opts)


def _read_frame(name: str, opts: LoadOptions) -> pd.DataFrame:
    """One row per event; the gathered lists are freed on return, before validation copies the frame."""
    with _reading(name), _open(name) as stream:
        encoding = _check_prolog(stream, name)
        stream.seek(0)
        return _frame(_parse(stream, encoding, name), opts)


# -- input: open, classify errors, vet the prolog ---------------------------


@contextlib.contextmanager
def _reading(name: str) -> Iterator[None]:
    """Turn I/O, gzip and XML failures into one-line InputErrors naming the file."""
    try:
        yield
    except etree.XMLSyntaxError as exc:
        raise InputError(f"{name}: malformed XML at line {exc.lineno}: {exc.msg}") from None
    except EOFError:
        raise InputError(f"{name}: truncated file (the gzip stream ends early)") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(f"{name}: corrupt gzip data ({exc})") from None
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, not an XES file") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from None


def _open(name: str) -> IO[bytes]:
    """The decompressed byte stream: gzip is recognised by its magic bytes, not the suffix."""
    raw = open(name, "rb")
    if raw.read(2) == b"\x1f\x8b":
        raw.close()
        return gzip.open(name, "rb")  # type: ignore[return-value]
    raw.seek(0)
    return raw


def _check_prolog(stream: IO[bytes], name: str) -> str:
    """Vet everything before the root element; return the encoding to force on the parser."""
    head = b""
    while True:
        chunk = stream.read(_CHUNK)
        head += chunk
        encoding, text = _decode(head, name)
        if _prolog_done(text, name) or not chunk:
            break
        if len(head) > _PROLOG_LIMIT:
            raise InputError(f"{name}: no root element in the first {_PROLOG_LIMIT >> 20} MiB; not an XES document")
    if not text.strip(" \t\r\n\ufeff"):
        raise InputError(f"{name}: empty file (no XML content)")
    return encoding


def _decode(head: bytes, name: str) -> tuple[str, str]:
    """Encoding from the byte-order mark or the XML declaration (UTF-8 otherwise), and the head decoded."""
    encoding = next((enc for bom, enc in _BOMS if head.startswith(bom)), None)
    if encoding is None:
        declared = _DECLARED_ENCODING.match(head)
        encoding = declared.group(1).decode("ascii") if declared else "utf-8"
    try:
        return encoding, head.decode(encoding, errors="replace")
    except LookupError:
        raise InputError(f"{name}: unknown encoding {encoding!r} in the XML declaration") from None


def _prolog_done(text: str, name: str) -> bool:
    """Scan declaration, comments, PIs and DOCTYPE; True once the root element starts.

    Raises for a DOCTYPE that is more than a name, for a root that is not ``<log>``
    and for content that is not XML. False: more text is needed (or the text
    ends inside the prolog, which the parser will then report).
    """
    pos = 1 if text.startswith("\ufeff") else 0
    while True:
        pos = _WHITESPACE.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= len(text):
            return False
        if text.startswith("<?", pos) or text.startswith("<!--", pos):
            close = "?>" if text[pos + 1] == "?" else "-->"
            end = text.find(close, pos + 2)
            if end < 0:
                return False
            pos = end + len(close)
        elif text.startswith("<!DOCTYPE", pos):
            bare = _BARE_DOCTYPE.match(text, pos)
            if bare is None:
                if ">" not in text[pos:]:
                    return False
                what = "declares entities" if "<!ENTITY" in text[pos:] else "has an internal subset or external DTD"
                raise InputError(f"{name}: refused: the DOCTYPE {what}; XES needs no DTD, remove the DOCTYPE")
            pos = bare.end()
        elif text.startswith("<", pos):
            root = _ROOT_NAME.match(text, pos)
            if root is None:
                return True  # not a start tag: let the parser say what is wrong
            local = root.group(1).rpartition(":")[2]
            if local != "log":
                raise InputError(f"{name}: not an XES document: the root element is <{root.group(1)}>, expected <log>")
            return True
        else:
            raise InputError(f"{name}: not an XML document (starts with {text[pos:pos + 20]!r})")


# -- parse: one pass, values into per-key lists ------------------------------


@dataclass
class _Parsed:
    """Attribute values gathered per key: ``{key: [indices, values, xes_type]}``."""

    events: int
    traces: int
    event_values: dict[str, list[Any]]
    trace_values: dict[str, list[Any]]
    trace_of_event: np.ndarray  # trace number of every event, -1 outside any trace


def _parse(stream: IO[bytes], encoding: str, name: str) -> _Parsed:
    try:
        parser = etree.iterparse(
            stream,
            events=("end",),
            tag=("{*}trace", "{*}event"),  # any namespace or none
            encoding=encoding,  # forced: the parser reads what the prolog check read
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
    except LookupError:  # a name Python knows but libxml2 does not
        raise InputError(f"{name}: unsupported encoding {encoding!r}") from None
    event_values: dict[str, list[Any]] = {}
    trace_values: dict[str, list[Any]] = {}
    shared: dict[str, str] = {}
    types: dict[str, str] = {}  # element tag → XES type, "event", or "" (not read)
    starts: list[int] = []
    row = 0
    for _, element in parser:
        if element.tag.endswith(_EVENT):
            _gather(element, row, event_values, types, shared)
            row += 1
            element.clear()  # the empty element stays so its trace can count it
        else:
            # The trace's events are the last rows read: its children end before it does.
            starts.append(row - _gather(element, len(starts), trace_values, types, shared))
            element.clear()
            parent = element.getparent()
            while element.getprevious() is not None:  # drop finished siblings: memory stays flat
                del parent[0]
    first = np.asarray(starts, dtype=np.int64)
    counts = np.diff(np.append(first, row)) if len(first) else first
    return _Parsed(row, len(starts), event_values, trace_values, _owners(first, counts, row))


def _gather(
    element: Any, index: int, values: dict[str, list[Any]], types: dict[str, str], shared: dict[str, str]
) -> int:
    """Append the typed attributes of ``element`` under ``index``; return how many child events it has."""
    events = 0
    for child in element:
        kind = types.get(child.tag)
        if kind is None:
            local = child.tag.rpartition("}")[2]
            kind = types[child.tag] = local if local in _VALUE_TYPES or local == _EVENT else ""
        if kind == _EVENT:
            events += 1
            continue
        key = child.get("key")
        value = child.get("value")
        if not kind or key is None or value is None:
            continue
        if kind != "date":  # names, resources, flags repeat: keep one copy of each text
            value = shared.setdefault(value, value)
        slot = values.get(key)
        if slot is None:
            values[key] = [array("q", (index,)), [value], kind]
        else:
            slot[0].append(index)
            slot[1].append(value)
            if slot[2] != kind:
                slot[2] = _MIXED
    return events


def _owners(starts: np.ndarray, counts: np.ndarray, rows: int) -> np.ndarray:
    """Trace number of each event row from the traces' first rows and event counts."""
    owner = np.full(rows, -1, dtype=np.int64)
    # Within a trace, event rows are consecutive: row = start + offset in trace.
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    owner[np.repeat(starts, counts) + offsets] = np.repeat(np.arange(len(starts)), counts)
    return owner


# -- columns: typed arrays, built once ----------------------------------------


def _frame(parsed: _Parsed, opts: LoadOptions) -> pd.DataFrame:
    time_column = opts.time if isinstance(opts.time, str) else "time:timestamp"
    columns: dict[str, Any] = {}
    for key, (index, values, kind) in parsed.event_values.items():
        columns[key] = _column(index, values, kind, parsed.events, key == time_column, opts.tz)
    for key, (index, values, kind) in parsed.trace_values.items():
        name = f"case:{key}"
        while name in columns:
            name = f"case:{name}"
        # One slot more than there are traces, left empty, for events outside any trace (owner -1).
        per_trace = _column(index, values, kind, parsed.traces + 1, name == time_column, opts.tz)
        columns[name] = per_trace[parsed.trace_of_event]
    # Roles left to detection must find their column even when no element carried
    # it, so that the rows are quarantined (missing_user …) rather than the file refused.
    for role, default in (("user", "case:concept:name"), ("event", "concept:name"), ("time", "time:timestamp")):
        if getattr(opts, role) is None and default not in columns:
            columns[default] = np.full(parsed.events, None, dtype=object)
    return pd.DataFrame(columns, index=pd.RangeIndex(parsed.events))


def _column(index: array, values: list[str], kind: str, size: int, as_text: bool, tz: str | None) -> Any:
    """Scatter one key's values into an array of ``size`` rows, typed when every value parses."""
    rows = np.frombuffer(index, dtype=np.int64)
    text = np.asarray(values, dtype=object)
    last = np.append(rows[1:] != rows[:-1], True)  # the same key twice in one element: the last wins
    if not last.all():
        rows, text = rows[last], text[last]
    typed = None if as_text else _typed(text, kind, tz)
    if typed is None:
        out = np.full(size, None, dtype=object)
        out[rows] = text
        return out
    if isinstance(typed, pd.DatetimeIndex):
        stamps = np.full(size, np.datetime64("NaT"), dtype="datetime64[us]")
        stamps[rows] = typed.tz_convert(None).to_numpy().astype("datetime64[us]")
        return pd.DatetimeIndex(stamps).tz_localize("UTC").array
    if typed.dtype == np.float64:
        out = np.full(size, np.nan)
        out[rows] = typed
        return out
    data = np.zeros(size, dtype=typed.dtype)
    data[rows] = typed
    missing = np.ones(size, dtype=bool)
    missing[rows] = False
    masked = pd.arrays.BooleanArray if typed.dtype == np.bool_ else pd.arrays.IntegerArray
    return masked(data, missing)


def _typed(text: np.ndarray, kind: str, tz: str | None) -> Any:
    """Values of one XES type as numpy/pandas data, or None when any of them does not parse."""
    if kind in ("int", "float"):
        try:
            return np.asarray(text, dtype=str).astype(np.int64 if kind == "int" else np.float64)
        except (ValueError, OverflowError):
            return None
    if kind == "boolean":
        low = np.char.lower(np.char.strip(np.asarray(text, dtype=str)))
        if not np.isin(low, ("true", "false", "1", "0")).all():
            return None
        return np.isin(low, ("true", "1"))
    if kind == "date":
        stamps = parse_timestamps(pd.Series(text, dtype=object), tz=tz)
        return None if stamps.isna().any() else pd.DatetimeIndex(stamps)
    return None  # string, id, or several types: text
