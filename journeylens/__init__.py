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
from .io import from_pandas, read, read_sql, read_xes
from .log import EventLog
from .mining import (
    decision_points,
    dfg,
    discover,
    from_pm4py,
    loops,
    paths,
    to_pm4py,
    variants,
)

__version__ = "0.1.0"

__all__ = [
    "ColumnError",
    "EventLog",
    "InputError",
    "JourneyLensError",
    "JourneyMapError",
    "MissingDependencyError",
    "ValidationError",
    "decision_points",
    "dfg",
    "discover",
    "from_pandas",
    "from_pm4py",
    "loops",
    "paths",
    "read",
    "read_sql",
    "read_xes",
    "to_pm4py",
    "variants",
]
