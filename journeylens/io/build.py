"""From a raw table to an EventLog: map, validate, quarantine, encode, sort.

Every reader ends here, so the rules are the same for every source:

* a row goes to the quarantine with the first reason of :data:`REASONS` it
  meets: a row a reader could not split into fields (``malformed_row``), text
  that is not valid in any encoding (``undecodable_text``), no user, an id that
  cannot be exact text (``invalid_user``: see :mod:`journeylens.io.encode`), no
  time, no event, an event name that cannot be text (``invalid_event``), a time
  that is not one (``unparsable_time``) or lies outside the range
  (``out_of_range_time``: years 1–9999, or ``min_time``/``max_time``), or an
  exact copy of an earlier row (``duplicate``);
* ``rows_read == rows_accepted + rows_quarantined``, always;
* ``strict=True`` raises :class:`ValidationError` instead of quarantining.

Missing values have one spelling rule for every reader: a null, or empty text
(after trimming). ``NA``, ``NULL`` or ``n/a`` are text (Namibia's ``NA`` is a
country code, sepsis' case ``NA`` a case) unless ``na_values=`` lists them.
The engine-held readers (:mod:`journeylens.engine.ingest`) follow the same rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any, Literal, Mapping, Sequence, TypeVar

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype, is_numeric_dtype, is_object_dtype, is_string_dtype

from ..core import params
from ..core.eventlog import QUARANTINE_COLUMNS, ROLES, SOURCE_ROW, EventLog
from ..core.safe_yaml import bounded_repr
from ..engine.kernels import sorted_events
from ..errors import ColumnError, ParameterError, ValidationError, preview
from .channels import check_aliases, normalise_channels
from .columns import resolve_roles
from .encode import (
    INVALID,
    MISSING,
    UNDECODABLE,
    categorical,
    decoded,
    is_temporal,
    one_id_text,
    text_codes,
)
from .encode import sorted_categorical as _categorical  # noqa: F401  (prepare.identities imports these two from here)
from .encode import text_ids as _text_ids  # noqa: F401
from .timestamps import MISSING as NO_TIME
from .timestamps import OK as TIME_OK
from .timestamps import (
    OUT_OF_RANGE,
    UNPARSABLE,
    check_tz,
    check_unit,
    format_grammar,
    parse_times,
)

_Table = TypeVar("_Table", pd.DataFrame, pd.Series)

#: quarantine reason codes, in the order they are checked (a row gets the first)
REASONS = (
    "malformed_row",
    "undecodable_text",
    "missing_user",
    "invalid_user",
    "missing_time",
    "missing_event",
    "invalid_event",
    "unparsable_time",
    "out_of_range_time",
    "duplicate",
)
#: columns of the quarantine besides the source's (a source column of the same name gets ``_source``)
QUARANTINE_OWN = (*QUARANTINE_COLUMNS, "raw_text")
#: columns a reader may hold before they become a quarantine or a log: caps on what a source can make us build
MAX_COLUMNS = 1_000
#: roles whose values are ids or names, kept as integer codes
CODED_ROLES = ("user", "event", "channel", "session", "device", "stage")
_LONE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class LoadOptions:
    """Options every reader takes (as keyword arguments), checked once when a reader is called.

    Role mapping: ``user, time, event, channel, session, device, stage, value``
    name source columns; a role left out is auto-detected, ``False`` turns
    detection off for an optional role; one column cannot play two roles.
    ``tz``: zone of naive timestamps (default UTC). ``time_format``: strftime
    pattern or ``"epoch"``; ``time_unit``: ``s|ms|us|ns`` for epoch numbers;
    ``dayfirst``: for guessed formats (see :mod:`journeylens.io.timestamps`).
    ``duplicates``: exact duplicate rows are ``"quarantine"``-d (default),
    ``"drop"``-ped (still counted in the quarantine with reason ``duplicate``,
    but never an error under ``strict``) or ``"keep"``-t.
    ``min_time``/``max_time``: accepted range (points in time, not ``now``);
    outside → ``out_of_range_time``. ``strict``: raise instead of quarantining.
    ``channel_aliases``: extra ``{spelling: channel}`` entries.
    ``na_values``: texts that mean "missing" (none by default: only empty values are).
    ``max_bytes``: the most bytes read from one file after decompression
    (default: the file's size; for gzip 100 times its size plus 32 MiB).
    ``max_columns``: the most columns (CSV header fields, distinct JSON keys,
    distinct XES attributes, attributes of one XES element); default 1,000.
    """

    user: str | bool | None = None
    time: str | bool | None = None
    event: str | bool | None = None
    channel: str | bool | None = None
    session: str | bool | None = None
    device: str | bool | None = None
    stage: str | bool | None = None
    value: str | bool | None = None
    tz: str | None = None
    time_format: str | None = None
    time_unit: str | None = None
    dayfirst: bool = False
    duplicates: Literal["quarantine", "drop", "keep"] = "quarantine"
    min_time: Any = None
    max_time: Any = None
    strict: bool = False
    channel_aliases: Mapping[str, str] | None = field(default=None, hash=False)
    na_values: tuple[str, ...] = ()
    max_bytes: int | None = None
    max_columns: int = MAX_COLUMNS

    @classmethod
    def from_kwargs(cls, options: Mapping[str, Any], source: str) -> "LoadOptions":
        """The options, each checked: a :class:`ParameterError` naming the first bad one."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ParameterError(f"{source}: unknown option(s) {unknown}; known options: {sorted(known)}", unknown[0])
        o = dict(options)
        for role in ROLES:
            value = o.get(role)
            if value is not None and not isinstance(value, (str, bool)):
                raise ParameterError(f"{role}= must name a column (text) or be False, not {type(value).__name__}",
                                     role)
        for flag in ("dayfirst", "strict"):
            if flag in o and not isinstance(o[flag], (bool, np.bool_)):
                raise ParameterError(f"{flag} must be True or False, not {bounded_repr(o[flag])}", flag)
        params.choice(o.get("duplicates", "quarantine"), "duplicates", ("quarantine", "drop", "keep"))
        check_tz(o.get("tz"))
        check_unit(o.get("time_unit"))
        fmt = o.get("time_format")
        if fmt is not None:
            if not isinstance(fmt, str):
                raise ParameterError(f"time_format must be a strftime pattern or 'epoch', not {type(fmt).__name__}",
                                     "time_format")
            if fmt != "epoch":
                format_grammar(fmt)
        for bound in ("min_time", "max_time"):
            if o.get(bound) is not None:
                params.timestamp(o[bound], bound)
        o["channel_aliases"] = check_aliases(o.get("channel_aliases"))
        o["na_values"] = _na_values(o.get("na_values"))
        if o.get("max_bytes") is not None:
            params.positive_int(o["max_bytes"], "max_bytes")
        o["max_columns"] = params.positive_int(o.get("max_columns", MAX_COLUMNS), "max_columns")
        opts = cls(**o)
        named: dict[str, str] = {}
        for role, column in opts.given_roles().items():
            if column is not None and column in named:
                raise ParameterError(f"{source}: column {column!r} is given for both {named[column]}= and {role}=; "
                                     "one column plays one role", role)
            if column is not None:
                named[column] = role
        return opts

    def given_roles(self) -> dict[str, str | None]:
        """Roles the user named: column name, or None when switched off with False."""
        out: dict[str, str | None] = {}
        for role in ROLES:
            v = getattr(self, role)
            if v is False:
                out[role] = None
            elif v is not None and v is not True:
                out[role] = str(v)
        return out

    def bounds_us(self) -> tuple[int | None, int | None]:
        """``min_time`` and ``max_time`` in epoch µs (None: no bound)."""
        return tuple(None if v is None else params.timestamp_us(v, k)  # type: ignore[return-value]
                     for k, v in (("min_time", self.min_time), ("max_time", self.max_time)))


def _na_values(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value) if isinstance(value, (list, tuple, set, frozenset)) \
        else None
    if items is None or not all(isinstance(v, str) for v in items):
        raise ParameterError(f"na_values must be a text or a list of texts, not {bounded_repr(value)}", "na_values")
    return tuple(sorted({v.strip() for v in items}))


def free_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name_source`` (``name_source_2`` …) when ``name`` is taken."""
    if name not in taken:
        return name
    candidate, k = f"{name}_source", 2
    while candidate in taken:
        candidate, k = f"{name}_source_{k}", k + 1
    return candidate


def build_log(
    raw: pd.DataFrame,
    *,
    source: str,
    options: LoadOptions,
    malformed: pd.DataFrame | None = None,
    source_rows: np.ndarray | None = None,
    undecodable: np.ndarray | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> EventLog:
    """Validate ``raw`` and build the EventLog (see the module docstring).

    ``malformed``: rows the reader could not parse (columns ``source_row`` and
    ``raw_text``); ``source_rows``: 1-based source numbers of ``raw``'s rows
    when they are not simply 1..n; ``undecodable``: per row of ``raw``, the
    column whose bytes the reader could not decode (None where all did).
    """
    raw = raw.reset_index(drop=True)
    raw.columns = [str(c) for c in raw.columns]
    if len(set(raw.columns)) != raw.shape[1]:
        dup = raw.columns[raw.columns.duplicated()].unique().tolist()
        raise ColumnError(f"{source}: duplicated column name(s) {preview(dup)}")
    if raw.shape[1] > options.max_columns:
        raise ColumnError(f"{source}: {raw.shape[1]:,} columns, more than max_columns={options.max_columns:,}; "
                          "pass max_columns=… to read them all")
    roles = resolve_roles(raw.columns, options.given_roles(), source)
    for role in CODED_ROLES:
        if role in roles and is_temporal(raw[roles[role]]):
            raise ColumnError(f"{source}: column {roles[role]!r} holds timestamps or durations; it cannot be the "
                              f"{role}: pass {role}=…")
    n = len(raw)
    numbers = None if source_rows is None else np.asarray(source_rows, dtype=np.int64)

    def source_row(positions: np.ndarray) -> np.ndarray:
        return positions + 1 if numbers is None else numbers[positions]

    # reason[i] = k > 0: row i failed check k first (checks[k - 1] = (reason, column per row))
    reason = np.zeros(n, dtype=np.int8)
    checks: list[tuple[str, Any]] = []

    def flag(mask: np.ndarray, code: str, column: Any) -> None:
        checks.append((code, column))
        reason[mask & (reason == 0)] = len(checks)

    na = options.na_values
    user, users = text_codes(raw[roles["user"]], na)
    event, events = text_codes(raw[roles["event"]], na)
    tcol = roles["time"]
    time_values, time_undecodable = decoded(raw[tcol])  # bytes are UTF-8 text, as everywhere
    times = parse_times(time_values, tz=options.tz, time_format=options.time_format, time_unit=options.time_unit,
                        dayfirst=options.dayfirst, column=tcol)
    levels = {role: _level_codes(raw[roles[role]], na) for role in ("channel", "session", "device", "stage")
              if role in roles}
    culprit = _undecodable(raw, roles, levels, undecodable, user, event, time_undecodable)
    if culprit is not None:
        flag(culprit != "", "undecodable_text", culprit)
    flag(user == -MISSING, "missing_user", roles["user"])
    flag(user == -INVALID, "invalid_user", roles["user"])
    flag(times.status == NO_TIME, "missing_time", tcol)
    flag(event == -MISSING, "missing_event", roles["event"])
    flag(event == -INVALID, "invalid_event", roles["event"])
    flag(times.status == UNPARSABLE, "unparsable_time", tcol)
    lo, hi = options.bounds_us()
    out = times.status == OUT_OF_RANGE
    if lo is not None:
        out |= (times.status == TIME_OK) & (times.us < lo)
    if hi is not None:
        out |= (times.status == TIME_OK) & (times.us > hi)
    flag(out, "out_of_range_time", tcol)

    # One sort of the accepted rows by (user code, time, source row) gives the log's order;
    # the sorted user codes and times serve the duplicate check and the frame.
    time_us = times.us
    kept = np.flatnonzero(reason == 0)
    ties = kept if numbers is None else numbers[kept]  # positions are in source-row order
    if len(kept) == n:  # nothing rejected: sort the columns as they are
        order, user, time_us = sorted_events(user, time_us, ties)
    else:
        order, user, time_us = sorted_events(user[kept], time_us[kept], ties)
        order = kept[order]
    if options.duplicates != "keep":
        copy = _copies(raw, order, user, time_us)
        duplicate = np.zeros(n, dtype=bool)
        duplicate[order[copy]] = True
        flag(duplicate, "duplicate", "*")
        if copy.any():
            order, user, time_us = order[~copy], user[~copy], time_us[~copy]

    bad = np.flatnonzero(reason)
    names = np.array([""] + [code for code, _ in checks], dtype=object)
    columns = np.empty(len(bad), dtype=object)
    for k, (_, column) in enumerate(checks, start=1):
        at = reason[bad] == k
        columns[at] = column[bad[at]] if isinstance(column, np.ndarray) else column
    quarantine = _quarantine_frame(_rows(raw, bad), source_row(bad), names[reason[bad]], columns, malformed)
    if options.strict:
        serious = quarantine[(quarantine["reason"] != "duplicate") | (options.duplicates == "quarantine")]
        if len(serious):
            counts = serious["reason"].value_counts()
            first = serious.iloc[0]
            raise ValidationError(
                f"{source}: {len(serious)} row(s) rejected with strict=True "
                f"({', '.join(f'{k}: {v}' for k, v in counts.items())}); "
                f"first: row {first[SOURCE_ROW]} ({first['reason']} in column {str(first['column'])[:80]!r})"
            )

    cols: dict[str, Any] = {
        "user_id": categorical(user, users),
        # localizing a Series to UTC copies the values in one pass (8 ms at 10M); pd.array(…, dtype=UTC) takes 0.2 s
        "timestamp": pd.Series(time_us.view("datetime64[us]"), copy=False).dt.tz_localize("UTC").array,
        "event": categorical(event[order], events),
    }
    _add_columns(cols, raw, order, roles, levels, options)
    cols[SOURCE_ROW] = source_row(order)
    out_params = dict(parameters or {})
    out_params.update({k: v for k, v in (("tz", options.tz), ("duplicates", options.duplicates)) if v is not None})
    if times.unit is not None:
        out_params["time_unit"] = times.unit
    if na:
        out_params["na_values"] = list(na)
    return EventLog(
        pd.DataFrame(cols, copy=False),
        roles=dict(roles),
        source=source,
        rows_read=int(n + (0 if malformed is None else len(malformed))),
        quarantine=quarantine,
        parameters=out_params,
    )


def _level_codes(values: pd.Series, na: Sequence[str]) -> tuple[np.ndarray, pd.Index]:
    """Codes of an optional coded role: a value that is not usable text is missing (-1), undecodable -3."""
    codes, labels = text_codes(values, na)
    return np.where((codes < 0) & (codes != -UNDECODABLE), -1, codes).astype(np.int32), labels


def _undecodable(raw: pd.DataFrame, roles: Mapping[str, str], levels: Mapping[str, tuple[np.ndarray, pd.Index]],
                 given: np.ndarray | None, user: np.ndarray, event: np.ndarray, time: np.ndarray) -> np.ndarray | None:
    """Per row, the first column (in source order) holding text no encoding can store; "" for none
    (None when no row holds any)."""
    n = len(raw)
    bad_in: dict[str, np.ndarray] = {}
    if given is not None:
        for column in pd.unique(given[given != None]):
            bad_in[str(column)] = given == column
    by_role = {roles["user"]: user, roles["event"]: event, **{roles[r]: c for r, (c, _) in levels.items()}}
    for column, codes in by_role.items():
        bad_in[column] = bad_in.get(column, np.zeros(n, dtype=bool)) | (codes == -UNDECODABLE)
    if time.any():
        bad_in[roles["time"]] = bad_in.get(roles["time"], np.zeros(n, dtype=bool)) | time
    mapped = set(roles.values())
    for column in raw.columns:  # extras: only Python strings can hold lone surrogates
        values = raw[column]
        python_text = is_object_dtype(values.dtype) or getattr(values.dtype, "storage", "") == "python"
        if column not in mapped and python_text and infer_dtype(values, skipna=True) != "empty":
            status = _surrogates(values)
            if status.any():
                bad_in[column] = bad_in.get(column, np.zeros(n, dtype=bool)) | status
    found = [c for c in raw.columns if c in bad_in and bad_in[c].any()]
    if not found:
        return None
    culprit = np.full(n, "", dtype=object)
    for column in reversed(found):
        culprit[bad_in[column]] = column
    return culprit


def _surrogates(values: pd.Series) -> np.ndarray:
    """Which cells are text holding lone surrogates (looked at one by one only when some are)."""
    items = values.to_numpy(dtype=object)
    texts = [v for v in items if isinstance(v, str)]
    try:
        "".join(texts).encode("utf-8")
        return np.zeros(len(items), dtype=bool)
    except UnicodeEncodeError:
        return np.fromiter((isinstance(v, str) and one_id_text(v)[1] == UNDECODABLE for v in items), bool, len(items))


def _copies(raw: pd.DataFrame, order: np.ndarray, user: np.ndarray, time_us: np.ndarray) -> np.ndarray:
    """Mask over the sorted rows ``order``: equal in every source column to an earlier row.

    Equal rows have equal (user, time), so after the sort they sit in one run of
    equal (user, time); only rows in runs longer than one are compared in full.
    """
    tie = (user[1:] == user[:-1]) & (time_us[1:] == time_us[:-1])  # same (user, time) as the row before
    candidate = np.zeros(len(order), dtype=bool)
    candidate[1:] = tie
    candidate[:-1] |= tie
    at = np.flatnonzero(candidate)
    at = at[np.argsort(order[at], kind="stable")]  # in source order: the first copy is kept
    rows = _rows(raw, order[at])
    try:
        copy = rows.duplicated(keep="first").to_numpy()
    except TypeError:  # unhashable cells (lists/dicts from JSON): compare their text
        copy = rows.astype(str).duplicated(keep="first").to_numpy()
    out = np.zeros(len(order), dtype=bool)
    out[at[copy]] = True
    return out


def _rows(data: _Table, positions: np.ndarray) -> _Table:
    """The rows at ascending ``positions``, column by column through a mask.

    A take (and a frame's row selection, which is a take) first concatenates
    all chunks of an Arrow-backed column; a column's mask filters chunk by chunk.
    """
    mask = np.zeros(len(data), dtype=bool)
    mask[positions] = True
    if isinstance(data, pd.Series):
        return data[mask]
    return pd.DataFrame({c: data[c][mask] for c in data.columns})


def _quarantine_frame(
    bad: pd.DataFrame,
    rows: np.ndarray,
    reason: np.ndarray,
    culprit: np.ndarray,
    malformed: pd.DataFrame | None,
) -> pd.DataFrame:
    """``source_row, reason, column`` (and ``raw_text`` of malformed rows), then the source's columns."""
    q = bad.reset_index(drop=True)
    names: list[str] = []
    for c in q.columns:  # a source column named like one of the quarantine's own gets _source
        names.append(free_name(c, set(QUARANTINE_OWN) | set(q.columns) | set(names)) if c in QUARANTINE_OWN else c)
    q.columns = names
    for c in q.columns:  # texts read as categories (few_values) are shown as the texts they were
        if isinstance(q[c].dtype, pd.CategoricalDtype) and is_string_dtype(q[c].cat.categories.dtype):
            q[c] = q[c].astype(q[c].cat.categories.dtype)
    for c in q.columns:  # the quarantine is written out: lone surrogates are shown as U+FFFD
        if is_object_dtype(q[c].dtype) and _surrogates(q[c]).any():
            q[c] = q[c].map(lambda v: _LONE.sub("\ufffd", v) if isinstance(v, str) else v)
    q.insert(0, "column", culprit)
    q.insert(0, "reason", reason)
    q.insert(0, SOURCE_ROW, rows)
    if malformed is not None and len(malformed):
        m = malformed.copy()
        if "reason" not in m:  # readers may give their own reason (undecodable_text) and column
            m["reason"] = "malformed_row"
        if "column" not in m:
            m["column"] = "*"
        q = pd.concat([m, q], ignore_index=True) if len(q) else m
    q = q.reindex(columns=list(QUARANTINE_COLUMNS) + [c for c in q.columns if c not in QUARANTINE_COLUMNS])
    return q.sort_values(SOURCE_ROW, kind="stable").reset_index(drop=True)


def _add_columns(cols: dict[str, Any], raw: pd.DataFrame, order: np.ndarray, roles: Mapping[str, str],
                 levels: Mapping[str, tuple[np.ndarray, pd.Index]], options: LoadOptions) -> None:
    """Add the optional roles and the extra columns of the rows in ``order`` to ``cols``."""
    for role, (codes, labels) in levels.items():
        picked = codes[order]
        picked[picked < 0] = -1
        if role == "channel":  # normalised on the distinct values, then one gather
            cols["channel"] = normalise_channels(pd.Series(categorical(picked, labels)), options.channel_aliases).array
        elif role == "session":
            cols["session_id"] = pd.Series(categorical(picked, labels)).astype("string").array
        else:
            cols[role] = categorical(picked, labels)
    if "value" in roles:
        values = raw[roles["value"]].take(order)
        cols["value"] = (values if is_numeric_dtype(values.dtype) else pd.to_numeric(values, errors="coerce")).to_numpy()
    used = set(roles.values())
    for c in raw.columns:
        if c not in used:
            cols[free_name(c, set(cols) | {SOURCE_ROW})] = raw[c].array.take(order)
