"""The exceptions journeylens raises for anything a user can fix.

Every message is one line and names what to look at (file, column, example
values), so a batch job can print it as is and a notebook user can act on it.
"""

from __future__ import annotations

import reprlib
from typing import Any

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxtuple, _REPR.maxset = 2, 4, 4, 4, 4
_REPR.maxstring, _REPR.maxother, _REPR.maxlong = 40, 40, 40


class JourneyLensError(Exception):
    """Base class: a problem with the input or the request, not a bug."""

    def __init__(self, message: str) -> None:
        # One line, always: batch logs and CLI stderr show the message alone.
        super().__init__(" ".join(str(message).split()))


class InputError(JourneyLensError):
    """A source could not be read: missing file, bad encoding, broken format."""


class ColumnError(InputError):
    """The columns of a source could not be mapped to the roles user/time/event/…"""


class ParameterError(JourneyLensError, ValueError):
    """An argument is not one the function accepts (a duration without a unit, an unknown mode …).

    ``parameter`` names the argument as Python spells it (``gap``); the command
    line shows it as its flag (``--gap``).
    """

    def __init__(self, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter


class ValidationError(JourneyLensError):
    """Rows were rejected while ``strict=True`` asked for no quarantine."""


class JourneyMapError(JourneyLensError):
    """A designed journey map (YAML/JSON) is malformed or inconsistent."""


class MissingDependencyError(JourneyLensError):
    """An optional extra (pm4py, pyspark) is needed for this feature."""


def first_line(value: Any, width: int | None = None) -> str:
    """The first non-blank line of ``str(value)`` (an exception's message, say), cut to ``width``;
    ``""`` when there is none.

    >>> first_line(ValueError("bad row\\nat line 3")), first_line(ValueError()), first_line("abcdef", 3)
    ('bad row', '', 'abc')
    """
    text = str(value).strip()
    return text.splitlines()[0][:width] if text else ""


def bounded_repr(value: Any, width: int = 60) -> str:
    """A ``repr`` of ``value`` cut to ``width`` characters, never walking more than a few of its items.

    >>> bounded_repr(list(range(10**6)))
    '[0, 1, 2, 3, ...]'
    """
    try:
        text = _REPR.repr(value)
    except Exception:  # a value whose own __repr__ fails
        text = f"<{type(value).__name__}>"
    return text if len(text) <= width else text[: width - 1] + "…"


def preview(values: object, limit: int = 3, width: int = 40) -> str:
    """Render up to ``limit`` example values for an error message, each cut to ``width`` (in bounded time)."""
    try:
        items = [v for _, v in zip(range(limit), values)]  # type: ignore[call-overload]
    except TypeError:
        items = [values]
    return ", ".join(bounded_repr(v, width) for v in items)
