"""Parameters checked once, at the boundary: durations, points in time, event names.

Every public function hands its user-given values to these helpers before any
work, so a bad value fails with one line naming the parameter
(:class:`~journeylens.errors.ParameterError`) instead of deep inside pandas.

* **Durations** are strings with a unit (``"30min"``, ``"2h"``, ``"7d"``,
  ``"1h30min"``, ``"00:30:00"``) or ``timedelta``/``Timedelta``/``timedelta64``
  values. A bare number (``30``, ``"30"``) is refused: its unit would be a guess.
* **Points in time** are timestamps or ISO 8601-like text; naive ones are UTC.
  ``"now"`` and ``"today"`` are refused: two runs would disagree.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from ..errors import ParameterError, bounded_repr

_HAS_UNIT = re.compile(r"[A-Za-z:]")
_RELATIVE = {"now", "today", "yesterday", "tomorrow"}


def duration(value: Any, name: str, *, allow_zero: bool = False) -> pd.Timedelta:
    """A positive duration (see the module docstring); ``name`` labels errors.

    >>> duration("30min", "gap")
    Timedelta('0 days 00:30:00')
    >>> duration(30, "gap")
    Traceback (most recent call last):
    ...
    journeylens.errors.ParameterError: gap=30 is not a duration: give a unit, e.g. '30min', '2h' or '7d'
    """
    if isinstance(value, (bool, np.bool_)) or isinstance(value, (int, float, np.number)):
        raise ParameterError(f"{name}={value!r} is not a duration: give a unit, e.g. '30min', '2h' or '7d'", name)
    if isinstance(value, str):
        text = value.strip()
        if not _HAS_UNIT.search(text):
            raise ParameterError(f"{name}={value!r} is not a duration: give a unit, e.g. '30min', '2h' or '7d'", name)
        value = re.sub(r"(?<=\d)\s*d\b", "D", text)  # "7d" is what people write; pandas wants "7D"
    elif not isinstance(value, (dt.timedelta, np.timedelta64)):
        raise ParameterError(f"{name} must be a duration such as '30min' or a timedelta, not {type(value).__name__}",
                             name)
    try:
        delta = pd.Timedelta(value)
    except (ValueError, TypeError, OverflowError):
        raise ParameterError(f"{name}={_shown(value)} is not a duration (examples: '30min', '2h', '7d')", name) from None
    if pd.isna(delta) or delta < pd.Timedelta(0) or (delta == pd.Timedelta(0) and not allow_zero):
        raise ParameterError(f"{name}={_shown(value)} must be a positive duration", name)
    return delta


def micros(value: Any, name: str, *, allow_zero: bool = False) -> int:
    """:func:`duration` in whole microseconds (the engines' time unit).

    >>> micros("1s", "within")
    1000000
    """
    return int(duration(value, name, allow_zero=allow_zero) // pd.Timedelta(microseconds=1))


def optional_micros(value: Any, name: str) -> int | None:
    """:func:`micros`, or None when ``value`` is None (no limit)."""
    return None if value is None else micros(value, name)


def timestamp(value: Any, name: str) -> pd.Timestamp:
    """A point in time as a UTC ``Timestamp`` (see the module docstring).

    >>> timestamp("2024-03-01", "split_at")
    Timestamp('2024-03-01 00:00:00+0000', tz='UTC')
    """
    if isinstance(value, str) and value.strip().lower() in _RELATIVE:
        raise ParameterError(f"{name}={value!r} depends on when the job runs: give a date or time, "
                             "e.g. '2024-03-01'", name)
    if value is None or isinstance(value, (bool, np.bool_)) or isinstance(value, (int, float, np.number)):
        raise ParameterError(f"{name}={value!r} is not a point in time (example: '2024-03-01 12:00')", name)
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        raise ParameterError(f"{name}={_shown(value)} is not a point in time (example: '2024-03-01 12:00')",
                             name) from None
    if pd.isna(ts):
        raise ParameterError(f"{name}={_shown(value)} is not a point in time", name)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def timestamp_us(value: Any, name: str) -> int:
    """:func:`timestamp` as microseconds since the epoch."""
    return int(timestamp(value, name).value // 1_000)


def event_names(value: str | Iterable[str] | None, known: pd.Index, name: str, *,
                required: bool = True) -> tuple[str, ...]:
    """One event name or a list of them, each an event of the log; ``()`` for None when not required.

    >>> event_names("buy", pd.Index(["buy", "view"]), "goal")
    ('buy',)
    """
    if value is None:
        if required:
            raise ParameterError(f"{name}= is required: give an event name or a list of them", name)
        return ()
    names = (value,) if isinstance(value, str) else tuple(value) if _iterable(value) else None
    if not names or not all(isinstance(n, str) for n in names):
        raise ParameterError(f"{name} must be an event name or a list of event names, not {_shown(value)}", name)
    present = set(map(str, known))
    unknown = [n for n in names if n not in present]
    if unknown:
        shown = ", ".join(map(str, list(known[:12]))) + (", …" if len(known) > 12 else "")
        raise ParameterError(f"{name} {unknown[0]!r} is not an event of the log (events: {shown})", name)
    return tuple(dict.fromkeys(names))


def event_codes(names: Sequence[str], known: pd.Index) -> np.ndarray:
    """Codes (positions in ``known``) of names already checked by :func:`event_names`."""
    return pd.Index(known.astype(str)).get_indexer(list(names)).astype(np.int64)


def choice(value: Any, name: str, allowed: Sequence[Any]) -> Any:
    """``value`` when it is one of ``allowed``, else a one-line error listing them.

    >>> choice("user", "per", ("user", "session"))
    'user'
    """
    if not isinstance(value, (str, int, type(None))) or value not in allowed:
        listed = ", ".join(repr(a) for a in allowed)
        raise ParameterError(f"{name} must be one of {listed}, not {_shown(value)}", name)
    return value


def positive_int(value: Any, name: str, *, minimum: int = 1, allow_none: bool = False) -> int | None:
    """An integer ≥ ``minimum`` (None passes when ``allow_none``)."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ParameterError(f"{name} must be an integer of at least {minimum}, not {_shown(value)}", name)
    return int(value)


def fraction(value: Any, name: str, *, low: float = 0.0, high: float = 1.0) -> float:
    """A number in ``[low, high]``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)) or not (
            low <= float(value) <= high):
        raise ParameterError(f"{name} must be a number between {low:g} and {high:g}, not {_shown(value)}", name)
    return float(value)


def _iterable(value: Any) -> bool:
    return isinstance(value, (list, tuple, set, frozenset, pd.Index, pd.Series, np.ndarray))


def _shown(value: Any, width: int = 60) -> str:
    """A bounded ``repr``: error messages stay one short line, whatever the value."""
    return bounded_repr(value, width)
