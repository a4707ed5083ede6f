"""journeylens: journey mining from multichannel event logs.

>>> import journeylens as jl
>>> log = jl.datasets.load_sample()          # doctest: +SKIP
>>> jl.sessionize(log, gap="30min")          # doctest: +SKIP
"""

from __future__ import annotations

from .errors import (
    ColumnError,
    InputError,
    JourneyLensError,
    JourneyMapError,
    MissingDependencyError,
    ValidationError,
)
from .io import from_pandas, read_sql
from .log import EventLog

__version__ = "0.1.0"

__all__ = [
    "ColumnError",
    "EventLog",
    "InputError",
    "JourneyLensError",
    "JourneyMapError",
    "MissingDependencyError",
    "ValidationError",
    "from_pandas",
    "read_sql",
]
