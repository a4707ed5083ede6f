"""Numbers as people read them: durations in words, shares in %, counts with thousand separators.

The report shows every table through :func:`display_frame`, which picks a format
for each column from its name, the convention of every journeylens table:

* ``*_s`` (``median_s``, ``dwell_median_s``, ``time_s``) are seconds → :func:`duration`;
* ``*_days`` and ``days_*`` are days → :func:`duration` too;
* rates and shares (``*_rate``, ``*share*``, ``cumulative_*``, ``conversion_from_*``,
  ``fitness``, ``probability``) → :func:`percent`;
* ``*_lift`` → ``1.8×``; p-values (``*_p``, ``p_value``, ``q_value``) → :func:`p_value`;
* whole numbers → :func:`count`, other numbers → :func:`number` (never ``e+05``).

A missing value is shown as the reason it is missing: the row's ``note`` (or
``<column>_note``) when the table has one, else the reason given for the column,
else "n/a". The CSV files keep the raw values; only the display is formatted.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

#: what a missing value is replaced by when neither the table nor the caller says why
UNKNOWN = "n/a"

_DAY = 86_400.0


def _missing(value: Any) -> bool:
    try:
        return value is None or value is pd.NA or value is pd.NaT or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def duration(seconds: float | None, missing: str = UNKNOWN) -> str:
    """A duration as people say it: ``45 s``, ``12 min``, ``3 h 12 min``, ``4.2 days``.

    >>> [duration(s) for s in (0.4, 45, 750, 11_520, 86_400 * 4.2, 86_400 * 400)]
    ['0.4 s', '45 s', '13 min', '3 h 12 min', '4.2 days', '400 days']
    >>> duration(float("nan"), missing="not reached")
    'not reached'
    """
    if _missing(seconds) or not math.isfinite(float(seconds)):
        return missing
    s = float(seconds)
    sign, s = ("-" if s < 0 else ""), abs(s)
    if s < 10:
        text = f"{s:.1f} s".replace(".0 s", " s")
    elif s < 60:
        text = f"{s:.0f} s"
    elif s < 3_600:
        minutes = s / 60
        text = f"{minutes:.1f} min".replace(".0 min", " min") if minutes < 10 else f"{math.floor(minutes + 0.5)} min"
    elif s < 2 * _DAY:
        h, m = divmod(int(round(s / 60)), 60)
        text = f"{h} h {m} min" if m else f"{h} h"
    else:
        days = s / _DAY
        text = f"{days:.1f} days".replace(".0 days", " days") if days < 100 else f"{days:,.0f} days"
    return sign + text


def days(value: float | None, missing: str = UNKNOWN) -> str:
    """Days as :func:`duration` says them (``0.5`` → ``12 h``).

    >>> days(0.5), days(13.04)
    ('12 h', '13 days')
    """
    return missing if _missing(value) else duration(float(value) * _DAY, missing)


def percent(share: float | None, missing: str = UNKNOWN) -> str:
    """A share (0–1) in %: whole percent from 10 % on, one decimal below, ``< 0.1%`` for tiny ones.

    >>> [percent(x) for x in (0.4, 0.009416, 0.0004, 0.0, 1.0, -0.052)]
    ['40%', '0.9%', '< 0.1%', '0%', '100%', '-5.2%']
    """
    if _missing(share) or not math.isfinite(float(share)):
        return missing
    p = float(share) * 100
    if p == 0:
        return "0%"
    if abs(p) < 0.1:
        return "< 0.1%" if p > 0 else "> -0.1%"
    return f"{p:.1f}%".replace(".0%", "%") if abs(p) < 10 else f"{p:.0f}%"


def count(value: float | None, missing: str = UNKNOWN) -> str:
    """A whole number with thousand separators.

    >>> count(1941), count(2_000_000.0)
    ('1,941', '2,000,000')
    """
    if _missing(value):
        return missing
    return f"{int(round(float(value))):,}"


def number(value: float | None, missing: str = UNKNOWN, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, thousand separators, never in exponent notation.

    >>> [number(x) for x in (6.887313000000001, 144_500.2, 0.000123, 2.0, -0.5)]
    ['6.89', '144,500', '0.000123', '2', '-0.5']
    """
    if _missing(value):
        return missing
    x = float(value)
    if not math.isfinite(x):
        return "∞" if x > 0 else ("-∞" if x < 0 else missing)
    if x == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(x)))
    decimals = max(digits - 1 - magnitude, 0)
    text = f"{x:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def lift(value: float | None, missing: str = UNKNOWN) -> str:
    """A ratio to a baseline: ``1.8×``.

    >>> lift(1.8349), lift(12.0)
    ('1.83×', '12×')
    """
    return missing if _missing(value) else number(value, missing) + "×"


def p_value(value: float | None, missing: str = UNKNOWN) -> str:
    """A p-value: ``< 0.001`` below it, two significant digits above.

    >>> p_value(0.00002), p_value(0.04321), p_value(0.5)
    ('< 0.001', '0.043', '0.5')
    """
    if _missing(value):
        return missing
    return "< 0.001" if float(value) < 0.001 else number(value, missing, digits=2)


def timestamp(value: Any, missing: str = UNKNOWN) -> str:
    """A point in time to the minute, UTC.

    >>> timestamp(pd.Timestamp("2025-02-15 09:54:29", tz="UTC"))
    '2025-02-15 09:54 UTC'
    """
    if _missing(value):
        return missing
    t = pd.Timestamp(value)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return t.strftime("%Y-%m-%d %H:%M UTC")


_SHARE = re.compile(r"(_rate|rate_|share|^cumulative_|^conversion_from_|fitness$|probability|^retention$|^reach)")
_PVALUE = re.compile(r"(_p$|^p_value$|^q_value$|_p_value$)")


def formatter(column: str, values: pd.Series) -> Callable[[Any, str], str] | None:
    """The format of a column, from its name (module docstring); None: shown as it is (text)."""
    name = str(column)
    if _PVALUE.search(name):
        return p_value
    if name.endswith("_s"):
        return duration
    if re.search(r"(^|_)days($|_)", name):
        return days
    if name.endswith("_lift"):
        return lift
    if _SHARE.search(name):
        return percent
    if pd.api.types.is_bool_dtype(values.dtype) or not pd.api.types.is_numeric_dtype(values.dtype):
        return None
    if pd.api.types.is_integer_dtype(values.dtype):
        return count
    finite = values.dropna().to_numpy(dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if len(finite) and np.all(finite == np.round(finite)) and np.abs(finite).max() >= 1:
        return count
    return number


def display_frame(frame: pd.DataFrame, reasons: Mapping[str, str] | None = None,
                  rows_by: str | None = None) -> pd.DataFrame:
    """``frame`` as text for reading: each column formatted by :func:`formatter`, missing values replaced by
    their reason (the row's ``<column>_note`` or ``note``, else ``reasons[column]``, else ``n/a``). The
    ``<column>_note`` columns themselves are not shown. ``rows_by``: a column naming what each row measures
    (``metric``, ``target``): the numbers of a row are then formatted by that name, not by their column's.

    >>> m = pd.DataFrame({"metric": ["users", "conversion_rate", "median_days"], "a": [618.0, 0.494, 1.15]})
    >>> display_frame(m, rows_by="metric")["a"].tolist()
    ['618', '49%', '27 h 36 min']

    >>> t = pd.DataFrame({"step": ["a", "b"], "users": [2000, 0], "conversion_rate": [0.42, float("nan")],
    ...                   "median_s": [11_520.0, float("nan")], "note": ["", "no users reached b"]})
    >>> display_frame(t).values.tolist()
    [['a', '2,000', '42%', '3 h 12 min', ''], ['b', '0', 'no users reached b', 'no users reached b', 'no users reached b']]
    """
    reasons = dict(reasons or {})
    out = pd.DataFrame(index=frame.index)
    general = frame["note"] if "note" in frame.columns else None
    notes = {f"{c}_note" for c in frame.columns} & set(map(str, frame.columns))
    for col in frame.columns:
        if col in notes:  # a column's reasons are shown in its own cells
            continue
        values = frame[col]
        fmt = formatter(col, values)
        if rows_by is not None and col != rows_by and fmt in (number, count):
            per_row = [formatter(name, values.iloc[[k]]) or number for k, name in enumerate(frame[rows_by].astype(str))]
            why = reasons.get(str(col), UNKNOWN)
            out[col] = [why if _missing(v) else f(v) for v, f in zip(values.tolist(), per_row)]
            continue
        own = frame[f"{col}_note"] if f"{col}_note" in frame.columns else None
        fallback = reasons.get(str(col), UNKNOWN)
        cells = []
        for k, v in enumerate(values.tolist()):
            if _missing(v):
                why = own.iloc[k] if own is not None else (general.iloc[k] if general is not None else None)
                cells.append(str(why) if isinstance(why, str) and why else fallback)
            elif isinstance(v, (bool, np.bool_)):
                cells.append("yes" if v else "no")
            elif fmt is None:
                cells.append(" › ".join(map(str, v)) if isinstance(v, tuple) else str(v))
            else:
                cells.append(fmt(v))
        out[col] = cells
    return out
