"""Timestamp parsing: every accepted event gets a UTC instant, or a reason why not.

One rule, shared by the in-memory readers and the engine-held ones
(:mod:`journeylens.engine.ingest` evaluates the same grammar and arithmetic in SQL):

* **Range**: instants from 0001-01-01 to 9999-12-31T23:59:59.999999 UTC, in
  whole microseconds. A value outside it (year 0, an epoch number that large,
  an offset that moves 0001-01-01 into year 0) is ``out_of_range_time``.
* **Text** (surrounding ASCII whitespace ignored) is ISO 8601:
  ``YYYY-MM-DD``, optionally ``T`` or a space and ``HH``, ``HH:MM``,
  ``HH:MM:SS`` or ``HH:MM:SS.f`` (1–9 fraction digits, cut to microseconds),
  optionally a zone: ``Z``, ``±HH``, ``±HHMM`` or ``±HH:MM`` (up to ±23:59),
  with at most one space before it. Hours run 00–23, minutes and seconds
  00–59, days as the calendar has them. Nothing else is ISO: ``epoch``,
  ``now``, ``24:00``, ``+25:00`` and ``10000-01-01`` are not times. Values
  without a zone are in ``tz`` (default UTC).
* **Other formats**: ``time_format=`` (a strftime pattern, or ``"epoch"``), or,
  when some values are not ISO, one format guessed from the first of them (as
  pandas guesses it, with ``dayfirst``) is tried on the values that are not.
  Formats use :data:`DIRECTIVES`; English month and day names; ``%y`` is
  1969–2068. Any other directive is refused.
* **Epoch numbers** (a numeric column, or text whose values are all numbers):
  seconds, milliseconds, microseconds or nanoseconds, ``time_unit=``, or
  guessed from *every* value's magnitude (below 1e11 s, 1e14 ms, 1e17 µs,
  else ns). Values of several magnitudes are ambiguous: the reader asks for
  ``time_unit=`` instead of letting a few values decide for the rest. Whole
  numbers convert exactly (nanoseconds cut towards zero); fractional ones
  are rounded to the nearest microsecond, halves away from zero. NaN is a
  missing time.
* **Timestamp columns** are taken as they are (naive ones in ``tz``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import (
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_float_dtype,
    is_integer_dtype,
    is_numeric_dtype,
)

from ..errors import InputError, ParameterError

UTC_DTYPE = "datetime64[us, UTC]"
MIN_US = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z
MAX_US = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z
#: per time status: accepted, no value, not a time, outside the range
OK, MISSING, UNPARSABLE, OUT_OF_RANGE = 0, 1, 2, 3
#: ASCII whitespace trimmed around ids, names and times, on every engine
WHITESPACE = " \t\n\r\x0b\x0c"
#: epoch units: microseconds per unit (ns: a thousandth), and the magnitude below which a value is of that unit
UNITS = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 0}
BANDS = (("s", 1e11), ("ms", 1e14), ("us", 1e17), ("ns", 9.2e18))
NUMBER = "^-?[0-9]+([.][0-9]+)?([eE][+-]?[0-9]+)?$"

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_NAMES = ("jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(t(ember)?)?|"
                "oct(ober)?|nov(ember)?|dec(ember)?").replace("(", "(?:")
_DAY_NAMES = "(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*"
_ZONE = [("zulu", "[Zz]"), ("|", None), ("sign", "[+-]"), ("offh", "[0-9]{2}"), ("(?::?", None),
         ("offm", "[0-9]{2}"), (")?", None)]
#: strftime directives a format may use, and the part of a time each one reads
DIRECTIVES = {
    "Y": [("year", "[0-9]{4}")], "y": [("year2", "[0-9]{2}")],
    "m": [("month", "[0-9]{1,2}")], "d": [("day", "[0-9]{1,2}")],
    "b": [("monthname", _MONTH_NAMES)], "B": [("monthname", _MONTH_NAMES)],
    "a": [("", _DAY_NAMES)], "A": [("", _DAY_NAMES)],
    "H": [("hour", "[0-9]{1,2}")], "I": [("hour12", "[0-9]{1,2}")], "p": [("ampm", "[AaPp][Mm]")],
    "M": [("minute", "[0-9]{1,2}")], "S": [("second", "[0-9]{1,2}")], "f": [("fraction", "[0-9]{1,9}")],
    "z": [("(?:", None), *_ZONE, (")", None)],
}
PARTS = ("year", "year2", "month", "monthname", "day", "hour", "hour12", "ampm", "minute", "second", "fraction",
         "zulu", "sign", "offh", "offm")


@dataclass(frozen=True)
class Grammar:
    """A text time grammar: an anchored regular expression whose capturing groups are named :data:`PARTS`.

    ``pattern(named=False)`` has plain groups numbered as in ``groups`` (for SQL
    ``regexp_extract``); ``pattern(named=True)`` names them (for Arrow). Literal
    characters are written as classes, never with a backslash, so the text is
    the same regular expression in RE2 (Arrow, DuckDB) and Java (Spark).
    """

    pieces: tuple[tuple[str, str | None], ...]
    case_insensitive: bool = False

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(name for name, rx in self.pieces if rx is not None and name)

    def pattern(self, named: bool = False) -> str:
        out = []
        for name, rx in self.pieces:
            if rx is None:
                out.append(name)  # structure: "(?:", ")?", "|" …
            elif not name:
                out.append(f"(?:{rx})")
            else:
                out.append(f"(?P<{name}>{rx})" if named else f"({rx})")
        return ("(?i)" if self.case_insensitive else "") + "^" + "".join(out) + "$"


ISO = Grammar((
    ("year", "[0-9]{4}"), ("-", None), ("month", "[0-9]{2}"), ("-", None), ("day", "[0-9]{2}"),
    ("(?:[T ]", None), ("hour", "[0-9]{2}"),
    ("(?::", None), ("minute", "[0-9]{2}"), ("(?::", None), ("second", "[0-9]{2}"),
    ("(?:[.]", None), ("fraction", "[0-9]{1,9}"), (")?)?)?", None),
    ("(?: ?(?:", None), *_ZONE, ("))?", None),
    (")?", None),
))


def format_grammar(time_format: str, name: str = "time_format") -> Grammar:
    """The grammar of a strftime pattern (see :data:`DIRECTIVES`); a ParameterError for what it cannot read."""
    pieces: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    k = 0
    while k < len(time_format):
        ch = time_format[k]
        if ch == "%":
            code = time_format[k + 1: k + 2]
            k += 2
            if code == "%":
                pieces.append(("", "[%]"))
                continue
            if code not in DIRECTIVES:
                raise ParameterError(f"{name}={time_format!r}: directive %{code} is not supported "
                                     f"(supported: {' '.join('%' + d for d in DIRECTIVES)} %%)", name)
            parts = DIRECTIVES[code]
            for part, rx in parts:
                if rx is not None and part:
                    if part in seen:
                        raise ParameterError(f"{name}={time_format!r} reads the {part} twice", name)
                    seen.add(part)
            pieces.extend(parts)
            continue
        if ch.isspace():
            while k < len(time_format) and time_format[k].isspace():
                k += 1
            pieces.append(("", " +"))
            continue
        if ch in "]\\^":
            raise ParameterError(f"{name}={time_format!r}: the character {ch!r} is not supported in a format", name)
        pieces.append(("", ch if ch.isalnum() else f"[{ch}]"))
        k += 1
    if not ({"year", "year2"} & seen and {"month", "monthname"} & seen and "day" in seen):
        raise ParameterError(f"{name}={time_format!r} must read a year, a month and a day", name)
    return Grammar(tuple(pieces), case_insensitive=bool({"monthname", "ampm"} & seen) or "%a" in time_format
                   or "%A" in time_format)


def guessed_grammar(sample: str, dayfirst: bool) -> Grammar | None:
    """The grammar of the format pandas guesses from ``sample``, or None when it guesses none we can read."""
    fmt = pd.tseries.api.guess_datetime_format(sample, dayfirst=dayfirst)
    if not fmt:
        return None
    try:
        return format_grammar(fmt)
    except ParameterError:
        return None


# -- the arithmetic (the same in SQL: journeylens.engine.ingest) ----------------------------


def days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of a proleptic Gregorian date, for years ≥ 1 (all divisions on non-negatives)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def days_in_month(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    base = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[np.clip(month, 0, 12)]
    return base + ((month == 2) & leap)


@dataclass
class Times:
    """Parsed times: epoch microseconds (UTC) and a status per value (:data:`OK` …)."""

    us: np.ndarray
    status: np.ndarray
    unit: str | None = None  # the epoch unit, for epoch numbers

    def series(self, index: pd.Index | None = None) -> pd.Series:
        """As ``datetime64[us, UTC]`` with NaT where not accepted."""
        values = np.where(self.status == OK, self.us, np.iinfo(np.int64).min).view("datetime64[us]")
        return pd.Series(values, index=index).dt.tz_localize("UTC")


def _evaluate(text: pa.Array, grammar: Grammar) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """µs (naive values as if UTC), status, and which values carried a zone, for trimmed non-null ``text``."""
    n = len(text)
    found = pc.extract_regex(text, grammar.pattern(named=True)) if n else None
    us = np.zeros(n, dtype=np.int64)
    status = np.full(n, UNPARSABLE, dtype=np.int8)
    if not n:
        return us, status, np.zeros(0, dtype=bool)
    matched = found.is_valid().to_numpy(zero_copy_only=False)

    def part(name: str, default: int = 0) -> np.ndarray:
        if name not in grammar.groups:
            return np.full(n, default, dtype=np.int64)
        field = pc.struct_field(found, name)
        values = pc.cast(pc.if_else(pc.equal(field, ""), None, field), pa.int64())
        return values.fill_null(default).to_numpy(zero_copy_only=False).astype(np.int64)

    def given(name: str) -> np.ndarray:
        if name not in grammar.groups:
            return np.zeros(n, dtype=bool)
        return pc.fill_null(pc.not_equal(pc.struct_field(found, name), ""), False).to_numpy(zero_copy_only=False)

    year = part("year", -1)
    if "year2" in grammar.groups:
        y2 = part("year2")
        year = np.where(y2 < 69, 2000 + y2, 1900 + y2)
    month = part("month")
    if "monthname" in grammar.groups:
        names = pc.utf8_slice_codeunits(pc.utf8_lower(pc.struct_field(found, "monthname")), 0, 3)
        month = pc.index_in(names, pa.array(MONTHS)).fill_null(-1).to_numpy(zero_copy_only=False) + 1
    day = part("day")
    hour = part("hour")
    if "hour12" in grammar.groups:
        h12 = part("hour12")
        pm = pc.fill_null(pc.equal(pc.utf8_lower(pc.struct_field(found, "ampm")), "pm"), False)
        hour = np.where((h12 >= 1) & (h12 <= 12), h12 % 12 + 12 * pm.to_numpy(zero_copy_only=False), 99)
    minute, second = part("minute"), part("second")
    micro = np.zeros(n, dtype=np.int64)
    if "fraction" in grammar.groups:
        frac = pc.utf8_slice_codeunits(pc.utf8_rpad(pc.struct_field(found, "fraction"), 6, "0"), 0, 6)
        micro = pc.cast(frac, pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
    sign = np.where(given("sign"), 1, 0)
    if "sign" in grammar.groups:
        minus = pc.fill_null(pc.equal(pc.struct_field(found, "sign"), "-"), False).to_numpy(zero_copy_only=False)
        sign = np.where(minus, -1, sign)
    offh, offm = part("offh"), part("offm")
    aware = given("zulu") | given("sign")

    valid = (matched & (month >= 1) & (month <= 12) & (day >= 1) & (hour <= 23) & (minute <= 59)
             & (second <= 59) & (offh <= 23) & (offm <= 59))
    valid &= day <= days_in_month(year, month)
    in_years = year >= 1
    safe = valid & in_years
    days = days_from_civil(np.where(safe, year, 1970), np.where(safe, month, 1), np.where(safe, day, 1))
    us = (days * 86_400 + hour * 3_600 + minute * 60 + second - sign * (offh * 3_600 + offm * 60)) * 1_000_000 + micro
    status = np.where(valid, np.where(in_years, OK, OUT_OF_RANGE), UNPARSABLE).astype(np.int8)
    return np.where(safe, us, 0), status, aware


def _localise(us: np.ndarray, tz: str | None) -> np.ndarray:
    """Naive wall-clock µs in zone ``tz`` → UTC µs. Ambiguous times (DST fall-back) take the first
    occurrence; times skipped by DST move forward: documented, deterministic choices."""
    if tz is None or str(tz).upper() == "UTC" or not len(us):
        return us
    naive = pd.Series(us.view("datetime64[us]"))
    try:
        local = naive.dt.tz_localize(tz, ambiguous=np.ones(len(us), dtype=bool), nonexistent="shift_forward")
    except Exception as exc:  # an unknown zone name
        raise ParameterError(f"unknown time zone tz={tz!r} ({type(exc).__name__})", "tz") from None
    return local.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[us]").view(np.int64)


def check_tz(tz: Any) -> str | None:
    """``tz`` when it names a time zone (None: UTC); a ParameterError otherwise."""
    if tz is None:
        return None
    if not isinstance(tz, str):
        raise ParameterError(f"tz must be a time zone name such as 'Europe/Amsterdam', not {type(tz).__name__}", "tz")
    _localise(np.zeros(1, dtype=np.int64), tz)
    return tz


def _in_range(us: np.ndarray, status: np.ndarray) -> np.ndarray:
    out = (status == OK) & ((us < MIN_US) | (us > MAX_US))
    return np.where(out, OUT_OF_RANGE, status).astype(np.int8)


def _parse_text(trimmed: pa.Array, tz: str | None, time_format: str | None, dayfirst: bool) -> Times:
    """Times of trimmed text (null: missing): ISO 8601, else the given or the guessed format."""
    n = len(trimmed)
    present = pc.is_valid(trimmed).to_numpy(zero_copy_only=False)
    us = np.zeros(n, dtype=np.int64)
    status = np.full(n, MISSING, dtype=np.int8)
    at = np.flatnonzero(present)
    if not len(at):
        return Times(us, status)
    values = trimmed.filter(pa.array(present)) if len(at) < n else trimmed
    if time_format is not None:
        got_us, got_status, aware = _evaluate(values, format_grammar(time_format))
    else:
        got_us, got_status, aware = _fast_iso(values)
        if got_us is None:
            got_us, got_status, aware = _evaluate(values, ISO)
            failed = np.flatnonzero(got_status == UNPARSABLE)
            if len(failed):  # one format, guessed from the first value that is not ISO, for those that are not
                grammar = guessed_grammar(str(values[int(failed[0])]), dayfirst)
                if grammar is not None:
                    r_us, r_status, r_aware = _evaluate(values.take(pa.array(failed)), grammar)
                    got_us[failed], got_status[failed], aware[failed] = r_us, r_status, r_aware
    naive = np.flatnonzero((got_status == OK) & ~aware)
    if len(naive):
        got_us[naive] = _localise(got_us[naive], tz)
    us[at], status[at] = got_us, got_status
    return Times(us, _in_range(us, status))


def trimmed_text(values: pd.Series) -> pa.Array:
    """Values as Arrow text without surrounding ASCII whitespace; blank and missing values are null."""
    text = values if isinstance(values.dtype, pd.StringDtype) else values.astype("string")
    arrow = pa.array(text.array, type=pa.large_string()) if len(text) else pa.array([], pa.large_string())
    trimmed = pc.utf8_trim(arrow, WHITESPACE)
    return pc.if_else(pc.equal(trimmed, ""), None, trimmed)


def _fast_iso(values: pa.Array) -> tuple[Any, Any, Any]:
    """Arrow's own cast when every value is ISO without a zone, or every value has one (a subset of the grammar)."""
    for target, has_zone in ((pa.timestamp("us"), False), (pa.timestamp("us", "UTC"), True)):
        try:
            cast = pc.cast(values, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        us = np.array(cast.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
        return us, np.full(len(us), OK, dtype=np.int8), np.full(len(us), has_zone)
    return None, None, None


def epoch_unit(values: np.ndarray, column: str = "time") -> str:
    """The unit of epoch numbers from every finite value's magnitude (see the module docstring)."""
    magnitude = np.abs(np.asarray(values, dtype=np.float64))
    magnitude = magnitude[np.isfinite(magnitude)]
    counts, low = {}, 0.0
    for unit, high in BANDS:
        counts[unit] = int(((magnitude >= low) & (magnitude < high)).sum())
        low = high
    return unit_from_counts(counts, column)


def unit_from_counts(counts: Mapping[str, int], column: str) -> str:
    """The one unit whose magnitude band holds values; an error naming the bands when several do."""
    used = [u for u, _ in BANDS if counts.get(u, 0)]
    if len(used) > 1:
        shown = ", ".join(f"{counts[u]:,} look like {u}" for u in used)
        raise InputError(f"epoch numbers in column {column!r} have the magnitudes of several units ({shown}); "
                         f"pass time_unit='s', 'ms', 'us' or 'ns'")
    return used[0] if used else "s"


def check_unit(unit: Any) -> str | None:
    """``unit`` when it is an epoch unit (None: guess); a ParameterError otherwise."""
    if unit is not None and unit not in UNITS:
        raise ParameterError(f"time_unit must be one of {sorted(UNITS)}, not {unit!r}", "time_unit")
    return unit


def _epoch(values: pd.Series, unit: str | None, column: str) -> Times:
    """Times of epoch numbers: a numeric column, or text (null: missing) read as decimal numbers."""
    n = len(values)
    missing = values.isna().to_numpy()
    if is_integer_dtype(values.dtype):
        ints = values.to_numpy(dtype=np.int64, na_value=0)
        unit = check_unit(unit) or epoch_unit(ints[~missing], column)
        factor = UNITS[unit]
        if factor:
            fits = np.abs(ints) <= MAX_US // factor
            us = np.where(fits, ints, 0) * factor
        else:
            fits = np.ones(n, dtype=bool)
            us = (ints - np.fmod(ints, 1000)) // 1000  # nanoseconds cut towards zero
        status = np.where(missing, MISSING, np.where(fits, OK, OUT_OF_RANGE)).astype(np.int8)
        return Times(us, _in_range(us, status), unit)
    if is_float_dtype(values.dtype) or is_numeric_dtype(values.dtype) and not is_bool_dtype(values.dtype):
        nums = values.to_numpy(dtype=np.float64, na_value=np.nan)
    else:  # text: numbers parsed by Arrow (correctly rounded, as every engine does); anything else is not one
        text = pa.array(values.astype(object).where(values.notna(), None).to_numpy(), type=pa.large_string())
        number = pc.fill_null(pc.match_substring_regex(text, NUMBER), False)
        nums = pc.cast(pc.if_else(number, text, None), pa.float64()).to_numpy(zero_copy_only=False)
    unit = check_unit(unit) or epoch_unit(nums, column)
    scaled = nums * float(UNITS[unit] or 1e-3)
    fits = np.abs(scaled) <= 9.2e18  # NaN and ±inf are not
    safe = np.where(fits, scaled, 0.0)
    whole = np.trunc(safe)
    us = (whole + np.where(np.abs(safe - whole) >= 0.5, np.sign(safe), 0.0)).astype(np.int64)  # halves away from 0
    status = np.where(missing, MISSING, np.where(np.isnan(nums), UNPARSABLE,
                                                 np.where(fits, OK, OUT_OF_RANGE))).astype(np.int8)
    return Times(us, _in_range(us, status), unit)


def _datetimes(values: pd.Series, tz: str | None) -> Times:
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        tz = None
    raw = values.to_numpy()
    unit, _ = np.datetime_data(raw.dtype)
    ints = raw.view(np.int64)
    per = {"s": 1_000_000, "ms": 1_000, "us": 1}.get(unit)
    if per is not None and len(ints):  # the common case in two passes: every value present and in range
        lo, hi = int(ints.min()), int(ints.max())
        if lo > np.iinfo(np.int64).min and MIN_US <= lo * per and hi * per <= MAX_US:
            us = _localise(ints * per if per != 1 else ints.copy(), tz)
            ok = np.zeros(len(ints), dtype=np.int8)
            return Times(us, ok if tz is None else _in_range(us, ok))  # a zone can move a time out of range
    missing = np.isnat(raw)
    if per is None:  # ns (or finer): always within range; cut towards zero
        step = {"ns": 1000, "ps": 1_000_000}.get(unit, 1000)
        us = (ints - np.fmod(ints, step)) // step
        fits = np.ones(len(ints), dtype=bool)
    else:
        fits = np.abs(ints) <= MAX_US // per
        us = np.where(fits, ints, 0) * per
    status = np.where(missing, MISSING, np.where(fits, OK, OUT_OF_RANGE)).astype(np.int8)
    keep = np.flatnonzero(status == OK)
    us[keep] = _localise(us[keep], tz)
    return Times(np.where(status == OK, us, 0), _in_range(us, status))


def parse_times(values: pd.Series, *, tz: str | None = None, time_format: str | None = None,
                time_unit: str | None = None, dayfirst: bool = False, column: str = "time") -> Times:
    """Epoch µs and a status (:data:`OK`, :data:`MISSING`, :data:`UNPARSABLE`, :data:`OUT_OF_RANGE`) per value.

    >>> t = parse_times(pd.Series(["2024-03-01T10:00:00+01:00", "2024-03-01 09:30", "epoch", "0000-01-01", " "]))
    >>> t.status.tolist(), t.series().dt.strftime("%H:%M").tolist()[:2]
    ([0, 0, 2, 3, 1], ['09:00', '09:30'])
    """
    if is_datetime64_any_dtype(values.dtype):
        return _datetimes(values, tz)
    if is_numeric_dtype(values.dtype) and not is_bool_dtype(values.dtype):
        return _epoch(values, time_unit, column)
    if is_bool_dtype(values.dtype):
        values = values.astype("string").str.lower()
    trimmed = trimmed_text(values)
    if time_format == "epoch" or time_unit is not None or (time_format is None and _all_numbers(trimmed)):
        return _epoch(pd.Series(trimmed.to_pandas(), dtype=object), time_unit, column)
    return _parse_text(trimmed, tz, time_format, dayfirst)


def _all_numbers(trimmed: pa.Array) -> bool:
    """Whether the text holds values and every one of them is a number."""
    present = trimmed.drop_null()
    return len(present) > 0 and bool(pc.all(pc.match_substring_regex(present, NUMBER)).as_py())


def parse_timestamps(values: pd.Series, *, tz: str | None = None, time_format: str | None = None,
                     time_unit: str | None = None, dayfirst: bool = False) -> pd.Series:
    """:func:`parse_times` as ``datetime64[us, UTC]``; values not accepted become ``NaT``.

    >>> parse_timestamps(pd.Series(["2024-03-01T10:00:00+01:00", "2024-03-01 09:30", "soon"])).dt.hour.tolist()
    [9.0, 9.0, nan]
    """
    return parse_times(values, tz=tz, time_format=time_format, time_unit=time_unit,
                       dayfirst=dayfirst).series(values.index)


def micros_per(unit: str) -> float:
    """Microseconds in one epoch ``unit`` (s/ms/us/ns); a one-line error for any other unit."""
    check_unit(unit)
    return float(UNITS[unit] or 1e-3)


def timestamp_us(value: Any, name: str) -> int | None:
    """A bound given as an argument (``min_time``, ``max_time``), in epoch µs; None stays None."""
    from ..core.params import timestamp_us as checked

    return None if value is None else checked(value, name)



# -- the same rule in SQL, for engine-held sources (journeylens.engine.ingest) ---------------


def grammar_sql(grammar: Grammar, text: str, dialect: str, p: str) -> tuple[list[list[str]], str, str]:
    """SQL layers that evaluate ``grammar`` over the trimmed text column ``text`` (NULL: missing).

    Returns the select items of each layer (each layer reads the columns of the one
    before), then the µs and status expressions over the last layer, the arithmetic
    of :func:`_evaluate` spelled in SQL (names start with ``p``).
    """
    from ..engine.sql import literal

    pattern = literal(grammar.pattern(), dialect)
    groups = grammar.groups
    matched = f"({text} RLIKE {pattern})" if dialect == "spark" else f"regexp_full_match({text}, {pattern})"
    if grammar is ISO:  # fixed positions once the pattern matched: substrings, far cheaper than capture groups
        layers = [[f"{matched} AS {p}_ok"], *_iso_parts(text, dialect, p)]
    elif dialect == "spark":
        layers = [[f"{matched} AS {p}_ok", *(f"regexp_extract({text}, {pattern}, {k + 1}) AS {p}_{g}"
                                             for k, g in enumerate(groups))]]
    else:
        names = "[" + ", ".join(literal(g, dialect) for g in groups) + "]"
        layers = [[f"{matched} AS {p}_ok", f"regexp_extract({text}, {pattern}, {names}) AS {p}_all"],
                  [f"struct_extract({p}_all, {literal(g, dialect)}) AS {p}_{g}" for g in groups]]

    def num(g: str, default: int = 0) -> str:
        return f"coalesce(CAST(NULLIF({p}_{g}, '') AS BIGINT), {default})" if g in groups else str(default)

    year = num("year", -1)
    if "year2" in groups:
        year = f"(CASE WHEN {num('year2')} < 69 THEN 2000 + {num('year2')} ELSE 1900 + {num('year2')} END)"
    month = num("month")
    if "monthname" in groups:
        cases = " ".join(f"WHEN '{m}' THEN {k + 1}" for k, m in enumerate(MONTHS))
        month = f"coalesce(CASE lower(substr({p}_monthname, 1, 3)) {cases} END, 0)"
    hour = num("hour")
    if "hour12" in groups:
        h12 = num("hour12")
        hour = (f"(CASE WHEN {h12} BETWEEN 1 AND 12 THEN {h12} % 12 + "
                f"(CASE WHEN lower({p}_ampm) = 'pm' THEN 12 ELSE 0 END) ELSE 99 END)")
    micro = (f"coalesce(CAST(NULLIF(rpad({p}_fraction, 6, '0'), '') AS BIGINT), 0)" if "fraction" in groups
             else "0")
    sign = f"(CASE {p}_sign WHEN '-' THEN -1 WHEN '+' THEN 1 ELSE 0 END)" if "sign" in groups else "0"
    layers.append([f"{year} AS {p}_Y", f"{month} AS {p}_M", f"{num('day')} AS {p}_D", f"{hour} AS {p}_H",
                   f"{num('minute')} AS {p}_MI", f"{num('second')} AS {p}_S", f"{micro} AS {p}_F",
                   f"{sign} AS {p}_SG", f"{num('offh')} AS {p}_OH", f"{num('offm')} AS {p}_OM"])
    Y, M, D = f"{p}_Y", f"{p}_M", f"{p}_D"
    leap = f"(CASE WHEN ({Y} % 4 = 0 AND {Y} % 100 <> 0) OR {Y} % 400 = 0 THEN 1 ELSE 0 END)"
    dim = f"(CASE WHEN {M} = 2 THEN 28 + {leap} WHEN {M} IN (4, 6, 9, 11) THEN 30 ELSE 31 END)"
    valid = (f"coalesce({p}_ok, FALSE) AND {M} BETWEEN 1 AND 12 AND {D} >= 1 AND {D} <= {dim} AND {p}_H <= 23 AND {p}_MI <= 59 "
             f"AND {p}_S <= 59 AND {p}_OH <= 23 AND {p}_OM <= 59")
    yy = f"({Y} - (CASE WHEN {M} <= 2 THEN 1 ELSE 0 END))"
    layers.append([f"({valid}) AS {p}_V", f"div({yy}, 400) AS {p}_era", f"{yy} - div({yy}, 400) * 400 AS {p}_yoe",
                   f"div(153 * (({M} + 9) % 12) + 2, 5) + {D} - 1 AS {p}_doy"])
    layers.append([f"{p}_era * 146097 + {p}_yoe * 365 + div({p}_yoe, 4) - div({p}_yoe, 100) + {p}_doy - 719468 "
                   f"AS {p}_days"])
    us = (f"(({p}_days * 86400 + {p}_H * 3600 + {p}_MI * 60 + {p}_S - {p}_SG * ({p}_OH * 3600 + {p}_OM * 60)) "
          f"* 1000000 + {p}_F)")
    status = (f"(CASE WHEN {text} IS NULL THEN {MISSING} WHEN NOT {p}_V THEN {UNPARSABLE} "
              f"WHEN {Y} < 1 OR {us} < {MIN_US} OR {us} > {MAX_US} THEN {OUT_OF_RANGE} ELSE {OK} END)")
    return layers, us, status


def _iso_parts(text: str, dialect: str, p: str) -> list[list[str]]:
    """Layers giving the parts of :data:`ISO` text by position (valid once the pattern matched, ``{p}_ok``;
    '' for a part not given), each computing once what the next one reads."""
    def given(condition: str, sql: str) -> str:
        return f"(CASE WHEN {condition} THEN {sql} ELSE '' END)"

    hour = f"{p}_ok AND length({text}) >= 13"
    minute = f"{hour} AND substr({text}, 14, 1) = ':'"
    second = f"{minute} AND substr({text}, 17, 1) = ':'"
    point = f"{second} AND substr({text}, 20, 1) = '.'"
    first = [f"{given(point, f'regexp_extract({text}, {chr(39)}[.]([0-9]+){chr(39)}, 1)')} AS {p}_fraction",
             f"(CASE WHEN {second} THEN 19 WHEN {minute} THEN 16 WHEN {hour} THEN 13 ELSE length({text}) END) "
             f"AS {p}_end",
             f"{given(hour, f'substr({text}, 12, 2)')} AS {p}_hour",
             f"{given(minute, f'substr({text}, 15, 2)')} AS {p}_minute",
             f"{given(second, f'substr({text}, 18, 2)')} AS {p}_second",
             *(f"{given(f'{p}_ok', f'substr({text}, {at}, {size})')} AS {p}_{name}"
               for name, at, size in (("year", 1, 4), ("month", 6, 2), ("day", 9, 2)))]
    skip = f"(CASE WHEN {p}_fraction <> '' THEN 1 + length({p}_fraction) ELSE 0 END)"
    zone = [f"ltrim(substr({text}, {p}_end + {skip} + 1)) AS {p}_zone"]
    z = f"{p}_zone"
    signed = f"substr({z}, 1, 1) IN ('+', '-')"
    minutes = f"(CASE length({z}) WHEN 6 THEN substr({z}, 5, 2) WHEN 5 THEN substr({z}, 4, 2) ELSE '' END)"
    parts = [f"{given(f'{z} IN ({chr(39)}Z{chr(39)}, {chr(39)}z{chr(39)})', repr('Z'))} AS {p}_zulu",
             f"{given(signed, f'substr({z}, 1, 1)')} AS {p}_sign",
             f"{given(signed, f'substr({z}, 2, 2)')} AS {p}_offh",
             f"{given(signed, minutes)} AS {p}_offm"]
    return [first, zone, parts]


def epoch_sql(expr: str, integer: bool, unit: str, missing: str | None = None) -> tuple[str, str]:
    """SQL for :func:`_epoch`: µs and status of epoch numbers ``expr`` in ``unit``; ``missing`` (default:
    ``expr`` is NULL) tells a missing value from one that is not a number (``expr`` NULL otherwise)."""
    factor = UNITS[unit]
    missing = missing or f"{expr} IS NULL"
    if integer:
        if factor:
            fits = f"{expr} BETWEEN {-(MAX_US // factor)} AND {MAX_US // factor}"
            us = f"(CASE WHEN {fits} THEN CAST({expr} AS BIGINT) * {factor} END)"
        else:
            fits = "TRUE"
            us = f"div(CAST({expr} AS BIGINT) - CAST({expr} AS BIGINT) % 1000, 1000)"
        status = (f"(CASE WHEN {missing} THEN {MISSING} WHEN NOT ({fits}) THEN {OUT_OF_RANGE} "
                  f"WHEN {us} < {MIN_US} OR {us} > {MAX_US} THEN {OUT_OF_RANGE} ELSE {OK} END)")
        return us, status
    scaled = f"(CAST({expr} AS DOUBLE) * CAST({float(factor or 1e-3)!r} AS DOUBLE))"
    fits = f"abs({scaled}) <= 9.2e18"
    us = f"CAST(round(CASE WHEN {fits} THEN {scaled} END) AS BIGINT)"
    status = (f"(CASE WHEN {missing} OR isnan(CAST({expr} AS DOUBLE)) THEN {MISSING} "
              f"WHEN {expr} IS NULL THEN {UNPARSABLE} WHEN NOT ({fits}) THEN {OUT_OF_RANGE} WHEN {us} < {MIN_US} OR {us} > {MAX_US} THEN {OUT_OF_RANGE} "
              f"ELSE {OK} END)")
    return us, status


def band_sql(expr: str) -> str:
    """Select items counting epoch numbers ``expr`` per magnitude band (named like :data:`BANDS`' units)."""
    m = f"abs(CAST({expr} AS DOUBLE))"
    items, low = [], 0.0
    for unit, high in BANDS:
        items.append(f"count(CASE WHEN {m} >= {low!r} AND {m} < {high!r} THEN 1 END) AS {unit}")
        low = high
    return ", ".join(items)
