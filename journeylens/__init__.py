"""journeylens: journey mining from multichannel event logs.

>>> import journeylens as jl
>>> log = jl.datasets.load_sample()          # doctest: +SKIP
>>> jl.sessionize(log, gap="30min")          # doctest: +SKIP

pm4py and PySpark are optional and imported only by the functions that need them.
"""

from __future__ import annotations

from . import datasets
from .compare import JourneyMap, compare, drift, map_fitness, model_fitness
from .dropoff import dropoffs, roadblocks, time_to_convert
from .errors import (
    ColumnError,
    InputError,
    JourneyLensError,
    JourneyMapError,
    MissingDependencyError,
    ValidationError,
)
from .funnels import funnel
from .engine.spark import session as spark_session
from .io.spark import from_spark
from .io.tablelog import TableLog
from .io import from_pandas, read, read_csv, read_jsonl, read_parquet, read_sql, read_xes
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
from .personas import PersonaModel, compare_segments, profile, user_features
from .pipeline import run_analysis
from .prepare import assign_stages, identity_map, sessionize, sessions, stitch, unmapped_events
from .segments import add_segment
from .viz.report import report
from .viz.sankey import journey_flows

__version__ = "0.1.0"

__all__ = [
    "ColumnError",
    "EventLog",
    "InputError",
    "JourneyLensError",
    "JourneyMap",
    "JourneyMapError",
    "MissingDependencyError",
    "PersonaModel",
    "TableLog",
    "ValidationError",
    "add_segment",
    "assign_stages",
    "compare",
    "compare_segments",
    "datasets",
    "decision_points",
    "dfg",
    "discover",
    "drift",
    "dropoffs",
    "from_pandas",
    "from_pm4py",
    "from_spark",
    "funnel",
    "identity_map",
    "journey_flows",
    "loops",
    "map_fitness",
    "model_fitness",
    "paths",
    "profile",
    "read",
    "read_csv",
    "read_jsonl",
    "read_parquet",
    "read_sql",
    "read_xes",
    "report",
    "roadblocks",
    "run_analysis",
    "sessionize",
    "sessions",
    "spark_session",
    "stitch",
    "time_to_convert",
    "to_pm4py",
    "unmapped_events",
    "user_features",
    "variants",
]
