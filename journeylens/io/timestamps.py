"""Timestamp parsing: every accepted event gets a UTC instant, or a reason why not.

Handles ISO 8601 with mixed offsets, naive local times (``tz=``), date-only
values, epoch numbers (s/ms/µs/ns, detected from magnitude or ``time_unit=``),
other formats (inferred once, or ``time_format=``), and datetime columns.
Values that cannot be parsed come back as ``NaT``; the caller quarantines them.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

from ..errors import InputError

UTC_DTYPE = "datetime64[us, UTC]"
# an offset after a time of day ("T10:00+02:00", " 10:00:00.5 Z"); "2024-01-01" ends in "-01" but has none
_OFFSET = re.compile(r"[T ]\d{2}(?::?\d{2}){0,2}(?:[.,]\d+)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$")
_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")
_UNIT_FACTORS = {"s": 1e6, "ms": 1e3, "us": 1.0, "ns": 1e-3}


def epoch_unit(values: np.ndarray) -> str:
    """Guess the unit of epoch numbers from their median magnitude."""
    finite = np.abs(values[np.isfinite(values)])
    if not len(finite):
        return "s"
    m = float(np.median(finite))
    return "s" if m < 1e11 else "ms" if m < 1e14 else "us" if m < 1e17 else "ns"


def micros_per(unit: str) -> float:
    """Microseconds in one epoch ``unit`` (s/ms/us/ns); a one-line error for any other unit."""
    if unit not in _UNIT_FACTORS:
        raise InputError(f"time_unit must be one of {sorted(_UNIT_FACTORS)}, not {unit!r}")
    return _UNIT_FACTORS[unit]


def _from_epoch(values: pd.Series, unit: str | None) -> pd.Series:
    nums = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
    us = nums * micros_per(unit or epoch_unit(nums))
    ok = np.isfinite(us) & (np.abs(us) < 9.2e18)
    out = np.full(len(us), np.datetime64("NaT"), dtype="datetime64[us]")
    out[ok] = np.round(us[ok]).astype("int64").view("datetime64[us]")
    return pd.Series(out, index=values.index).dt.tz_localize("UTC")


def _localise(naive: pd.Series, tz: str | None) -> pd.Series:
    # Ambiguous wall-clock times (DST fall-back) take the first occurrence;
    # times skipped by DST move forward: documented, deterministic choices.
    if tz is None or str(tz).upper() == "UTC":
        return naive.dt.tz_localize("UTC")
    try:
        local = naive.dt.tz_localize(tz, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="shift_forward")
    except Exception as exc:  # unknown zone name
        raise InputError(f"unknown time zone tz={tz!r}: {exc}") from None
    return local.dt.tz_convert("UTC")


def _to_utc(values: pd.Series) -> pd.Series:
    return values.dt.tz_convert("UTC").astype(UTC_DTYPE)


def _strict_iso(s: pd.Series) -> pd.Series | None:
    """Naive times when every value is strict ISO 8601 without an offset (or missing), else None.

    Arrow parses this common case many times faster than pandas, and accepts a
    subset of what pandas' ISO 8601 parser accepts, with the same instants.
    """
    try:
        parsed = pc.cast(pa.array(s.array), pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return pd.Series(parsed.to_numpy(zero_copy_only=False), index=s.index)


def _parse_strings(s: pd.Series, tz: str | None, dayfirst: bool) -> pd.Series:
    """Parse text with ISO 8601 first, then with one format inferred from the data."""
    if tz is None or str(tz).upper() == "UTC":
        # Naive values are UTC: one pass handles offsets, 'Z', naive and date-only.
        parsed = pd.to_datetime(s, format="ISO8601", utc=True, errors="coerce")
    else:
        aware = s.str.strip().str.contains(_OFFSET, na=False)
        parsed = pd.Series(pd.NaT, index=s.index, dtype=UTC_DTYPE)
        if aware.any():
            parsed[aware] = _to_utc(pd.to_datetime(s[aware], format="ISO8601", utc=True, errors="coerce"))
        naive = ~aware
        if naive.any():
            parsed[naive] = _to_utc(_localise(pd.to_datetime(s[naive], format="ISO8601", errors="coerce"), tz))
    failed = parsed.isna() & s.notna()
    if failed.any():
        # Not ISO: infer a single format from the first failing value (as pandas
        # does) instead of per-value guessing, which turns "5" into a date.
        sample = s[failed].str.strip().iloc[0]
        fmt = pd.tseries.api.guess_datetime_format(sample, dayfirst=dayfirst)
        if fmt:
            retry = pd.to_datetime(s[failed].str.strip(), format=fmt, errors="coerce")
            if getattr(retry.dt, "tz", None) is None:
                retry = _localise(retry, tz)
            parsed[failed] = _to_utc(retry)
    return parsed


def parse_timestamps(
    values: pd.Series,
    *,
    tz: str | None = None,
    time_format: str | None = None,
    time_unit: str | None = None,
    dayfirst: bool = False,
) -> pd.Series:
    """Convert a column to ``datetime64[us, UTC]``; unparsable values become ``NaT``.

    ``tz`` is the zone of naive values (default UTC); values with an offset keep
    their own. ``time_format`` is a ``strftime`` pattern, or ``"epoch"``.

    >>> parse_timestamps(pd.Series(["2024-03-01T10:00:00+01:00", "2024-03-01 09:30", "1709287200"])).dt.hour.tolist()
    [9.0, 9.0, nan]
    """
    if is_datetime64_any_dtype(values.dtype):
        if getattr(values.dt, "tz", None) is None:
            values = _localise(values, tz)
        return _to_utc(values)
    if time_unit or time_format == "epoch" or (is_numeric_dtype(values.dtype) and not is_bool_dtype(values.dtype)):
        return _from_epoch(values, time_unit).astype(UTC_DTYPE)
    s = values.astype("string")
    if time_format is None:
        iso = _strict_iso(s)
        if iso is not None:
            return _to_utc(_localise(iso, tz))
    s = s.where(s.str.strip() != "")
    if time_format:
        try:
            parsed = pd.to_datetime(s, format=time_format, errors="coerce")
        except ValueError as exc:
            raise InputError(f"time_format={time_format!r} is not a valid format: {exc}") from None
        if getattr(parsed.dt, "tz", None) is None:
            parsed = _localise(parsed, tz)
        return _to_utc(parsed)
    nonnull = s.dropna()
    if len(nonnull) and nonnull.str.fullmatch(_NUMBER.pattern).all():
        return _from_epoch(s, None).astype(UTC_DTYPE)
    return _to_utc(_parse_strings(s, tz, dayfirst))
