"""The exceptions journeylens raises for anything a user can fix.

Every message is one line and names what to look at (file, column, example
values), so a batch job can print it as is and a notebook user can act on it.
"""

from __future__ import annotations


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


def preview(values: object, limit: int = 3, width: int = 40) -> str:
    """Render up to ``limit`` example values for an error message, each cut to ``width``."""
    try:
        items = list(values)[:limit]  # type: ignore[call-overload]
    except TypeError:
        items = [values]
    shown = []
    for v in items:
        text = repr(v)
        shown.append(text if len(text) <= width else text[: width - 1] + "…")
    return ", ".join(shown)
