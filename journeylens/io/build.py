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
from typing import Any, Literal, Mapping

import numpy as np
import pandas as pd
from pandas.api.types import is_float_dtype, is_numeric_dtype

from .. import engine
from ..errors import ColumnError, InputError, ValidationError, preview
from ..log import QUARANTINE_COLUMNS, ROLES, SOURCE_ROW, EventLog
from .channels import normalise_channels
from .columns import resolve_roles
from .timestamps import UTC_DTYPE, parse_timestamps

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


def _text_ids(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Ids/names as text plus a 'missing' mask (NaN, None, empty or blank)."""
    missing = values.isna().to_numpy()
    if is_float_dtype(values.dtype):
        # 1.0 → "1": float ids come from integer columns that had gaps.
        whole = values.dropna()
        if len(whole) and (whole == np.floor(whole)).all():
            values = values.astype("Int64")
    text = values.astype("string")
    blank = (text.str.strip() == "").fillna(True).to_numpy()
    return text, missing | blank


def _bound(value: Any, name: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise InputError(f"{name}={value!r} is not a timestamp") from None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _duplicated(raw: pd.DataFrame) -> np.ndarray:
    """Exact copies of an earlier row, comparing every source column."""
    if raw.shape[1] == 0:
        return np.zeros(len(raw), dtype=bool)
    try:
        # A 64-bit hash per row finds the candidates fast; only rows sharing a hash are compared in full.
        hashes = pd.util.hash_pandas_object(raw, index=False).to_numpy()
        candidates = pd.Series(hashes).duplicated(keep=False).to_numpy()
        out = np.zeros(len(raw), dtype=bool)
        if candidates.any():
            out[candidates] = raw.loc[candidates].duplicated(keep="first").to_numpy()
        return out
    except TypeError:  # unhashable cells (lists/dicts from JSON): compare their text
        return raw.astype(str).duplicated(keep="first").to_numpy()


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
    rows = np.arange(1, n + 1, dtype=np.int64) if source_rows is None else np.asarray(source_rows, dtype=np.int64)

    reason = np.full(n, "", dtype=object)
    culprit = np.full(n, "", dtype=object)

    def flag(mask: np.ndarray, code: str, column: str) -> None:
        new = mask & (reason == "")
        reason[new] = code
        culprit[new] = column

    user, miss = _text_ids(raw[roles["user"]])
    flag(miss, "missing_user", roles["user"])
    tcol = roles["time"]
    tmiss = raw[tcol].isna().to_numpy().copy()
    if not (is_numeric_dtype(raw[tcol].dtype) or str(raw[tcol].dtype).startswith("datetime")):
        tmiss |= (raw[tcol].astype("string").str.strip() == "").fillna(True).to_numpy()  # blank text is missing too
    flag(tmiss, "missing_time", tcol)
    event, miss = _text_ids(raw[roles["event"]])
    flag(miss, "missing_event", roles["event"])
    ts = parse_timestamps(
        raw[tcol], tz=options.tz, time_format=options.time_format, time_unit=options.time_unit, dayfirst=options.dayfirst
    )
    flag(ts.isna().to_numpy(), "unparsable_time", tcol)
    lo, hi = _bound(options.min_time, "min_time"), _bound(options.max_time, "max_time")
    if lo is not None or hi is not None:
        out = np.zeros(n, dtype=bool)
        if lo is not None:
            out |= (ts < lo).fillna(False).to_numpy()
        if hi is not None:
            out |= (ts > hi).fillna(False).to_numpy()
        flag(out, "out_of_range_time", tcol)
    if options.duplicates != "keep":
        flag(_duplicated(raw), "duplicate", "*")

    bad = reason != ""
    quarantine = _quarantine_frame(raw, bad, rows, reason, culprit, malformed)
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

    keep = ~bad
    frame = _canonical_frame(raw, keep, roles, user, event, ts, rows, options)
    order = engine.sort_order(
        frame["user_id"].cat.codes.to_numpy(),
        _epoch_us(frame["timestamp"]),
        frame[SOURCE_ROW].to_numpy(),
    )
    frame = frame.take(order).reset_index(drop=True)
    params = dict(parameters or {})
    params.update({k: v for k, v in (("tz", options.tz), ("duplicates", options.duplicates)) if v is not None})
    return EventLog(
        frame,
        roles=dict(roles),
        source=source,
        rows_read=int(n + (0 if malformed is None else len(malformed))),
        quarantine=quarantine,
        parameters=params,
    )


def _epoch_us(ts: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 microseconds since the epoch."""
    return ts.dt.tz_convert(None).to_numpy().astype("datetime64[us]").view("int64")


def _quarantine_frame(
    raw: pd.DataFrame,
    bad: np.ndarray,
    rows: np.ndarray,
    reason: np.ndarray,
    culprit: np.ndarray,
    malformed: pd.DataFrame | None,
) -> pd.DataFrame:
    q = raw.loc[bad].copy()
    q.insert(0, "column", culprit[bad])
    q.insert(0, "reason", reason[bad])
    q.insert(0, SOURCE_ROW, rows[bad])
    if malformed is not None and len(malformed):
        m = malformed.copy()
        m["reason"] = "malformed_row"
        m["column"] = "*"
        q = pd.concat([m, q], ignore_index=True) if len(q) else m
    q = q.reindex(columns=list(QUARANTINE_COLUMNS) + [c for c in q.columns if c not in QUARANTINE_COLUMNS])
    return q.sort_values(SOURCE_ROW, kind="stable").reset_index(drop=True)


def _categorical(text: pd.Series) -> pd.Categorical:
    """Text → categorical with sorted categories: code order = sorted id order."""
    codes, uniques = pd.factorize(text, sort=True)
    return pd.Categorical.from_codes(codes, categories=pd.Index(np.asarray(uniques, dtype=object)))


def _canonical_frame(
    raw: pd.DataFrame,
    keep: np.ndarray,
    roles: Mapping[str, str],
    user: pd.Series,
    event: pd.Series,
    ts: pd.Series,
    rows: np.ndarray,
    options: LoadOptions,
) -> pd.DataFrame:
    cols: dict[str, Any] = {
        "user_id": _categorical(user[keep].reset_index(drop=True)),
        "timestamp": ts[keep].reset_index(drop=True).astype(UTC_DTYPE),
        "event": _categorical(event[keep].reset_index(drop=True)),
    }
    kept = raw.loc[keep].reset_index(drop=True)
    for role in ("channel", "session", "device", "stage", "value"):
        if role not in roles:
            continue
        values = kept[roles[role]]
        if role == "channel":
            values = normalise_channels(values.astype("string").str.strip().replace("", pd.NA), options.channel_aliases)
        elif role == "value":
            values = values if is_numeric_dtype(values.dtype) else pd.to_numeric(values, errors="coerce")
        elif role in ("device", "stage"):
            values = values.astype("string").astype("category")
        else:
            values = values.astype("string")
        cols[ROLES[role]] = values.to_numpy() if role == "value" else values.array
    used = set(roles.values())
    for c in kept.columns:
        if c in used:
            continue
        name = c if c not in cols and c != SOURCE_ROW else f"{c}_source"
        cols[name] = kept[c].array
    cols[SOURCE_ROW] = rows[keep]
    return pd.DataFrame(cols)
