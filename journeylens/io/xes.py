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
  key twice is an error (which value counts would be a guess).
* ``<global>`` defaults are declarations, not values: they are never filled in
  (as pm4py does). Log-level attributes, extensions and classifiers are skipped.

Rows and lifecycle
------------------
``lifecycle=`` says what an event is when the log records the lifecycle of its
activities (``lifecycle:transition``: schedule, start, complete …):

* ``"complete"`` (default): one event per activity instance, at its completion.
  Events whose transition is another state of the XES standard lifecycle model
  (schedule, assign, reassign, start, suspend, resume, autoskip, manualskip,
  withdraw, ate_abort, pi_abort, unknown) are set aside; events with
  ``complete``, with no transition, or with values outside the standard model
  (bpic2013's ``In Progress`` …, which are states of the case, not of one
  activity instance) are events. This is what process-mining users count as
  steps (pm4py's and ProM's activity view of such logs; Disco merges start and
  complete into one activity instance): counting each transition as a step
  triples bpic2012's ``W_Completeren aanvraag`` self-loop (38,004 against 12,619);
* ``"all"``: every ``<event>`` is an event;
* ``"name+lifecycle"``: every ``<event>``, named ``<name>+<transition>``
  (``W_Completeren aanvraag+START``), ProM's "event name + lifecycle" classifier.

Logs without transitions are the same under every choice. The choice, the
events in the file and the transitions set aside are in
``log.parameters["xes"]``. Every event kept is a row (``rows_read``), numbered
by its position among the file's events (1-based ``source_row``). Events of a
trace without ``concept:name``, and events outside any trace, get no user and
are quarantined ``missing_user``; events without ``concept:name`` or
``time:timestamp`` are quarantined too.

Safety
------
Only regular files are read, and gzip input is bounded by ``max_bytes``
(:mod:`journeylens.io.source`). The parser is fed in chunks; every event and
trace is dropped once read, and so is log-level content, so memory holds one
event at a time: an element still open after a chunk that holds more than
100,000 elements (an event with millions of attributes) is refused then, before
it fills memory; so are an event or trace with more than ``max_columns``
attributes, more than ``max_columns`` distinct attribute keys, and a trace or
event nested in an event (with its line).
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
from typing import Any, Iterator

import numpy as np
import pandas as pd
from lxml import etree

from ..core.eventlog import EventLog
from ..core.params import choice
from ..errors import ColumnError, InputError
from .build import LoadOptions, build_log
from .source import Input
from .timestamps import parse_timestamps

_VALUE_TYPES = frozenset({"string", "id", "date", "int", "float", "boolean"})
_MIXED = "mixed"  # a key seen with several XES types: kept as text
_EVENT = "event"
_CHUNK = 1 << 16
_PROLOG_LIMIT = 1 << 20  # bytes read while looking for the root element
_MAX_ELEMENTS = 100_000  # elements one event, trace attribute or log-level element may hold
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


def read_xes(path: str | os.PathLike[str], lifecycle: str = "complete", **options: Any) -> EventLog:
    """Read an XES event log (plain or gzip-compressed) into an :class:`EventLog`.

    Takes the mapping and validation options of :class:`~journeylens.io.build.LoadOptions`;
    by default the user is ``case:concept:name``, the time ``time:timestamp`` and
    the event ``concept:name``. ``lifecycle``: ``"complete"`` (default), ``"all"``
    or ``"name+lifecycle"``. See the module docstring for the column and lifecycle rules.

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
    choice(lifecycle, "lifecycle", LIFECYCLES)
    frame, rows, info = _read_frame(name, opts, lifecycle)
    return build_log(frame, source=name, options=opts, source_rows=rows, parameters={"xes": info})


def _read_frame(name: str, opts: LoadOptions, lifecycle: str) -> tuple[pd.DataFrame, np.ndarray | None, dict]:
    """One row per event kept; the gathered lists are freed on return, before validation copies the frame."""
    with _reading(name), Input(name, opts.max_bytes) as source:
        head, encoding = _check_prolog(source, name)
        return _lifecycle(_frame(_parse(source, head, encoding, name, opts.max_columns), opts, name), opts, lifecycle)


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


def _check_prolog(stream: Input, name: str) -> tuple[bytes, str]:
    """Vet everything before the root element; return the bytes read and the encoding to force on the parser."""
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
    return head, encoding


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


def _parse(source: Input, head: bytes, encoding: str, name: str, max_columns: int) -> _Parsed:
    """One pass over the document, fed in chunks: attribute values into per-key lists (see "Safety")."""
    try:
        parser = etree.XMLPullParser(
            events=("start", "end"),
            tag=("{*}log", "{*}trace", "{*}event"),  # any namespace or none
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
    state = _State(name, max_columns)
    chunk = head
    while chunk:
        parser.feed(chunk)
        state.take(parser.read_events())
        chunk = source.read(_CHUNK)
    parser.close()
    state.take(parser.read_events())
    first = np.asarray(state.starts, dtype=np.int64)
    counts = np.asarray(state.counts, dtype=np.int64)
    return _Parsed(state.row, len(state.starts), state.event_values, state.trace_values,
                   _owners(first, counts, state.row))


class _State:
    """What the parse keeps between chunks: the open log, trace and event, and the values gathered so far."""

    def __init__(self, name: str, max_columns: int) -> None:
        self.name, self.max_columns = name, max_columns
        self.event_values: dict[str, list[Any]] = {}
        self.trace_values: dict[str, list[Any]] = {}
        self.shared: dict[str, str] = {}
        self.types: dict[str, str] = {}  # element tag → XES type, or "" (not read)
        self.starts: list[int] = []  # first row of each trace
        self.counts: list[int] = []  # events of each trace
        self.row = 0
        self.root: Any = None
        self.trace: Any = None
        self.trace_row = 0  # the first row of the open trace
        self.event: Any = None

    def take(self, events: Any) -> None:
        for action, element in events:
            tag = element.tag
            if tag.endswith(_EVENT):
                self._event(action, element)
            elif tag.endswith("trace"):
                self._trace(action, element)
            elif action == "start" and self.root is None:
                self.root = element
        self._bounds()

    def _refuse(self, element: Any, what: str) -> None:
        raise InputError(f"{self.name}: line {element.sourceline}: {what}")

    def _event(self, action: str, element: Any) -> None:
        if action == "start":
            if self.event is not None:
                self._refuse(element, "an event nested in an event; XES events hold attributes only")
            self.event = element
            return
        if len(element) > self.max_columns:
            self._refuse(element, f"an event with more than max_columns={self.max_columns:,} attributes; "
                                  "pass max_columns=… to read it")
        _gather(element, self.row, self.event_values, self.types, self.shared)
        self._check_keys()
        self.row += 1
        self.event = None
        parent = element.getparent()
        if parent is not None:  # read: memory holds one event at a time
            parent.remove(element)

    def _trace(self, action: str, element: Any) -> None:
        if action == "start":
            if self.event is not None:
                self._refuse(element, "a trace nested in an event; XES traces sit in the log")
            if self.trace is not None:
                self._refuse(element, "a trace nested in a trace; XES traces sit in the log")
            self.trace, self.trace_row = element, self.row
            return
        if len(element) > self.max_columns:
            self._refuse(element, f"a trace with more than max_columns={self.max_columns:,} attributes; "
                                  "pass max_columns=… to read it")
        _gather(element, len(self.starts), self.trace_values, self.types, self.shared)
        self._check_keys()
        self.starts.append(self.trace_row)
        self.counts.append(self.row - self.trace_row)
        self.trace = None
        parent = element.getparent()
        if parent is not None:
            parent.remove(element)

    def _check_keys(self) -> None:
        keys = len(self.event_values) + len(self.trace_values)
        if keys > self.max_columns:
            raise ColumnError(f"{self.name}: more than max_columns={self.max_columns:,} distinct attribute keys; "
                              "pass max_columns=… to read them all")

    def _bounds(self) -> None:
        """After every chunk: log-level content read so far is dropped, and the element still open may hold
        at most :data:`_MAX_ELEMENTS` elements (attributes, nested attributes, list values)."""
        growing = self.event if self.event is not None else self.trace
        if growing is None and self.root is not None:
            del self.root[:-1]  # finished log-level elements (extensions, globals, log attributes)
            growing = self.root[0] if len(self.root) else None
        if growing is not None:
            size = sum(1 for _ in growing.iter())
            if size > _MAX_ELEMENTS:
                self._refuse(growing, f"an element holding more than {_MAX_ELEMENTS:,} elements (attributes, "
                                      "nested attributes or values); not an event log we can read")


def _gather(
    element: Any, index: int, values: dict[str, list[Any]], types: dict[str, str], shared: dict[str, str]
) -> int:
    """Append the typed attributes of ``element`` under ``index``; return how many child events it has."""
    events = 0
    for child in element:
        kind = types.get(child.tag)
        if kind is None:
            local = child.tag.rpartition("}")[2] if isinstance(child.tag, str) else ""
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


def _refuse_repeats(values: dict[str, list[Any]], what: str, name: str) -> None:
    """An error for an element that carries a key twice: which value counts would be a silent guess."""
    for key, (index, _, _) in values.items():
        rows = np.frombuffer(index, dtype=np.int64)
        twice = np.flatnonzero(rows[1:] == rows[:-1])
        if len(twice):
            raise InputError(f"{name}: {what} {int(rows[twice[0]]) + 1:,} carries the key {key[:80]!r} twice; "
                             "XES gives each attribute once")


def _frame(parsed: _Parsed, opts: LoadOptions, name: str) -> pd.DataFrame:
    _refuse_repeats(parsed.event_values, "event", name)
    _refuse_repeats(parsed.trace_values, "trace", name)
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


LIFECYCLES = ("complete", "all", "name+lifecycle")
LIFECYCLE = "lifecycle:transition"
#: the XES standard lifecycle model's transitions other than complete: states before or instead of completion
NOT_COMPLETE = frozenset({"schedule", "assign", "reassign", "start", "suspend", "resume", "autoskip", "manualskip",
                          "withdraw", "ate_abort", "pi_abort", "unknown"})


def _lifecycle(frame: pd.DataFrame, opts: LoadOptions, lifecycle: str) -> tuple[pd.DataFrame, np.ndarray | None, dict]:
    """The events ``lifecycle`` keeps, their 1-based positions among the file's events, and what was done."""
    info: dict[str, Any] = {"lifecycle": lifecycle, "events_in_file": len(frame)}
    if LIFECYCLE not in frame:
        return frame, None, info
    text = pd.Series(frame[LIFECYCLE], dtype="string")
    info["transitions"] = {str(k): int(v) for k, v in text.value_counts(dropna=False).sort_index().items()}
    if lifecycle == "complete":
        aside = text.str.strip().str.lower().isin(NOT_COMPLETE).fillna(False).to_numpy()
        info["set_aside"] = int(aside.sum())
        if aside.any():
            kept = np.flatnonzero(~aside)
            return frame.iloc[kept].reset_index(drop=True), kept + 1, info
    elif lifecycle == "name+lifecycle":
        column = opts.event if isinstance(opts.event, str) else "concept:name"
        if column in frame:
            names = pd.Series(frame[column], dtype="string")
            frame = frame.assign(**{column: names.where(text.isna(), names + "+" + text).array})
    return frame, None, info
