"""From a raw table to an EventLog: map, validate, quarantine, encode, sort.

Every reader ends here, so the rules are the same for every source:

* a row without user, time or event, with an unparsable or out-of-range
  timestamp, or an exact copy of an earlier row, goes to the quarantine with
  a reason code (rows that a reader could not even split into fields arrive
  as ``malformed_row``);
* ``rows_read == rows_accepted + rows_quarantined``, always;
* ``strict=True`` raises :class:`ValidationError` instead of quarantining.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal, Mapping, TypeVar

import numpy as np
import pandas as pd
from pandas.api.types import is_datetime64_any_dtype, is_numeric_dtype

from ..core.eventlog import QUARANTINE_COLUMNS, ROLES, SOURCE_ROW, EventLog
from ..engine.kernels import sorted_events
from ..errors import ColumnError, InputError, ValidationError, preview
from .channels import normalise_channels
from .columns import resolve_roles
from .encode import categorical, factorize, recode, text_codes
from .encode import sorted_categorical as _categorical  # noqa: F401  (prepare.identities imports these two from here)
from .encode import text_ids as _text_ids  # noqa: F401
from .timestamps import UTC_DTYPE, parse_timestamps

_Table = TypeVar("_Table", pd.DataFrame, pd.Series)

#: quarantine reason codes, in the order they are checked (a row gets the first)
REASONS = (
    "malformed_row",
    "missing_user",
    "missing_time",
    "missing_event",
    "unparsable_time",
    "out_of_range_time",
    "duplicate",
)


@dataclass(frozen=True)
class LoadOptions:
    """Options every reader takes (as keyword arguments).

    Role mapping: ``user, time, event, channel, session, device, stage, value``
    name source columns; a role left out is auto-detected, ``False`` turns
    detection off for an optional role.
    ``tz``: zone of naive timestamps (default UTC). ``time_format``: strftime
    pattern or ``"epoch"``; ``time_unit``: ``s|ms|us|ns`` for epoch numbers;
    ``dayfirst``: for inferred formats. ``duplicates``: exact duplicate rows are
    ``"quarantine"``-d (default), ``"drop"``-ped (still counted in the quarantine
    with reason ``duplicate``, but never an error under ``strict``) or ``"keep"``-t.
    ``min_time``/``max_time``: accepted range; outside → ``out_of_range_time``.
    ``strict``: raise instead of quarantining. ``channel_aliases``: extra
    spelling → channel entries.
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

    @classmethod
    def from_kwargs(cls, options: Mapping[str, Any], source: str) -> "LoadOptions":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise InputError(f"{source}: unknown option(s) {unknown}; known options: {sorted(known)}")
        opts = cls(**options)
        if opts.duplicates not in ("quarantine", "drop", "keep"):
            raise InputError(f"duplicates must be 'quarantine', 'drop' or 'keep', not {opts.duplicates!r}")
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


def _bound(value: Any, name: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise InputError(f"{name}={value!r} is not a timestamp") from None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def build_log(
    raw: pd.DataFrame,
    *,
    source: str,
    options: LoadOptions,
    malformed: pd.DataFrame | None = None,
    source_rows: np.ndarray | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> EventLog:
    """Validate ``raw`` and build the EventLog (see the module docstring).

    ``malformed``: rows the reader could not parse (columns ``source_row`` and
    ``raw_text``); ``source_rows``: 1-based source numbers of ``raw``'s rows
    when they are not simply 1..n.
    """
    raw = raw.reset_index(drop=True)
    raw.columns = [str(c) for c in raw.columns]
    if len(set(raw.columns)) != raw.shape[1]:
        dup = raw.columns[raw.columns.duplicated()].unique().tolist()
        raise ColumnError(f"{source}: duplicated column name(s) {preview(dup)}")
    roles = resolve_roles(raw.columns, options.given_roles(), source)
    n = len(raw)
    numbers = None if source_rows is None else np.asarray(source_rows, dtype=np.int64)

    def source_row(positions: np.ndarray) -> np.ndarray:
        return positions + 1 if numbers is None else numbers[positions]

    # reason[i] = k > 0: row i failed check k first (checks[k - 1] = (reason, column))
    reason = np.zeros(n, dtype=np.int8)
    checks: list[tuple[str, str]] = []

    def flag(mask: np.ndarray, code: str, column: str) -> None:
        checks.append((code, column))
        reason[mask & (reason == 0)] = len(checks)

    user, users = text_codes(raw[roles["user"]])
    event, events = text_codes(raw[roles["event"]])
    tcol = roles["time"]
    ts = parse_timestamps(
        raw[tcol], tz=options.tz, time_format=options.time_format, time_unit=options.time_unit, dayfirst=options.dayfirst
    )
    unparsed = ts.isna().to_numpy()
    flag(user < 0, "missing_user", roles["user"])
    flag(_missing_time(raw[tcol], unparsed), "missing_time", tcol)
    flag(event < 0, "missing_event", roles["event"])
    flag(unparsed, "unparsable_time", tcol)
    lo, hi = _bound(options.min_time, "min_time"), _bound(options.max_time, "max_time")
    if lo is not None or hi is not None:
        out = np.zeros(n, dtype=bool)
        if lo is not None:
            out |= (ts < lo).fillna(False).to_numpy()
        if hi is not None:
            out |= (ts > hi).fillna(False).to_numpy()
        flag(out, "out_of_range_time", tcol)

    # One sort of the accepted rows by (user code, time, source row) gives the log's order;
    # the sorted user codes and times serve the duplicate check and the frame.
    time_us = ts.dt.tz_convert(None).to_numpy().view("int64")  # µs since the epoch
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
    columns = np.array([""] + [column for _, column in checks], dtype=object)
    quarantine = _quarantine_frame(
        _rows(raw, bad), source_row(bad), names[reason[bad]], columns[reason[bad]], malformed
    )
    if options.strict:
        serious = quarantine[(quarantine["reason"] != "duplicate") | (options.duplicates == "quarantine")]
        if len(serious):
            counts = serious["reason"].value_counts()
            first = serious.iloc[0]
            raise ValidationError(
                f"{source}: {len(serious)} row(s) rejected with strict=True "
                f"({', '.join(f'{k}: {v}' for k, v in counts.items())}); "
                f"first: row {first[SOURCE_ROW]} ({first['reason']} in column {first['column']!r})"
            )

    cols: dict[str, Any] = {
        "user_id": categorical(user, users),
        "timestamp": pd.array(time_us, dtype=UTC_DTYPE, copy=False),  # µs since the epoch, no copy
        "event": categorical(event[order], events),
    }
    _add_columns(cols, raw, order, roles, options)
    cols[SOURCE_ROW] = source_row(order)
    params = dict(parameters or {})
    params.update({k: v for k, v in (("tz", options.tz), ("duplicates", options.duplicates)) if v is not None})
    return EventLog(
        pd.DataFrame(cols, copy=False),
        roles=dict(roles),
        source=source,
        rows_read=int(n + (0 if malformed is None else len(malformed))),
        quarantine=quarantine,
        parameters=params,
    )


def _missing_time(values: pd.Series, unparsed: np.ndarray) -> np.ndarray:
    """No time: null, or blank text (blank text never parses, so only unparsed rows are looked at)."""
    missing = values.isna().to_numpy().copy()
    if not (is_numeric_dtype(values.dtype) or is_datetime64_any_dtype(values.dtype)):
        text = np.flatnonzero(unparsed & ~missing)
        missing[text] = (_rows(values, text).astype("string").str.strip() == "").fillna(True).to_numpy()
    return missing


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
    q = bad.reset_index(drop=True)
    q.insert(0, "column", culprit)
    q.insert(0, "reason", reason)
    q.insert(0, SOURCE_ROW, rows)
    if malformed is not None and len(malformed):
        m = malformed.copy()
        m["reason"] = "malformed_row"
        m["column"] = "*"
        q = pd.concat([m, q], ignore_index=True) if len(q) else m
    q = q.reindex(columns=list(QUARANTINE_COLUMNS) + [c for c in q.columns if c not in QUARANTINE_COLUMNS])
    return q.sort_values(SOURCE_ROW, kind="stable").reset_index(drop=True)


def _add_columns(
    cols: dict[str, Any], raw: pd.DataFrame, order: np.ndarray, roles: Mapping[str, str], options: LoadOptions
) -> None:
    """Add the optional roles and the extra columns of the rows in ``order`` to ``cols``."""
    for role in ("channel", "session", "device", "stage", "value"):
        if role not in roles:
            continue
        values = raw[roles[role]]
        if role == "channel":  # normalised on the distinct values, then one gather
            codes, distinct = factorize(values)
            codes, labels = recode(codes, distinct.astype("string").str.strip().replace("", pd.NA))
            channel = pd.Series(categorical(codes[order], labels))
            cols["channel"] = normalise_channels(channel, options.channel_aliases).array
        elif role == "value":
            values = values.take(order)
            numbers = values if is_numeric_dtype(values.dtype) else pd.to_numeric(values, errors="coerce")
            cols["value"] = numbers.to_numpy()
        elif role == "session":
            cols["session_id"] = values.take(order).astype("string").array
        else:
            cols[role] = values.take(order).astype("string").astype("category").array
    used = set(roles.values())
    for c in raw.columns:
        if c not in used:
            cols[c if c not in cols and c != SOURCE_ROW else f"{c}_source"] = raw[c].array.take(order)
