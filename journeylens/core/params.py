"""Durations given by users (``"30min"``, ``"7d"``, a Timedelta) checked once, as one-line errors."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from ..errors import ValidationError


def to_timedelta(value: Any, name: str) -> pd.Timedelta:
    """A positive duration from a pandas offset string or Timedelta; ``name`` labels errors.

    >>> to_timedelta("30min", "gap")
    Timedelta('0 days 00:30:00')
    """
    if isinstance(value, str):  # "7d" is what people write; pandas now wants "7D"
        value = re.sub(r"(?<=\d)\s*d\b", "D", value.strip())
    try:
        delta = pd.Timedelta(value)
    except (ValueError, TypeError):
        raise ValidationError(f"{name}={value!r} is not a duration (examples: '30min', '2h', '7d')") from None
    if pd.isna(delta) or delta <= pd.Timedelta(0):
        raise ValidationError(f"{name}={value!r} must be a positive duration")
    return delta


def to_microseconds(value: Any, name: str) -> int:
    """:func:`to_timedelta` in whole microseconds (the engine's time unit)."""
    return int(to_timedelta(value, name) // pd.Timedelta(microseconds=1))
