"""journeylens: journey mining from multichannel event logs.

>>> import journeylens as jl
>>> log = jl.datasets.load_sample()          # doctest: +SKIP
>>> jl.sessionize(log, gap="30min")          # doctest: +SKIP

pm4py and PySpark are optional and imported only by the functions that need them.
"""

from __future__ import annotations

from . import compare, datasets
from .app.pipeline import report, run_analysis
from .app.export import journey_export
from .compare.drift import drift
from .compare.segments import compare_segments
from .compare.model_fitness import map_fitness, model_fitness
from .core.eventlog import EventLog
from .core.journey_map import JourneyMap
from .core.segments import add_segment
from .core.tablelog import TableLog
from .engine.backends.spark import session as spark_session
from .errors import (
    ColumnError,
    InputError,
    JourneyLensError,
    JourneyMapError,
    MissingDependencyError,
    ParameterError,
    ValidationError,
)
from .io import from_pandas, read, read_csv, read_jsonl, read_parquet, read_sql, read_xes
from .io.logfile import read_log
from .io.spark import from_spark
from .mining.decisions import decision_points
from .mining.dfg import dfg
from .mining.flows import journey_flows
from .mining.loops import loops
from .mining.models import discover, from_pm4py, to_pm4py
from .mining.paths import paths
from .mining.steps import differential_step_matrix, step_matrix
from .mining.transitions import transition_matrix
from .mining.variants import variants
from .outcomes.attribution import attribution, attribution_from_paths
from .outcomes.dropoffs import dropoffs
from .outcomes.funnels import funnel
from .outcomes.retention import retention
from .outcomes.roadblocks import roadblocks
from .outcomes.survival import time_to_convert
from .outcomes.value import value_breakdown
from .personas.features import user_features
from .personas.model import PersonaModel
from .personas.profiles import profile
from .predict.conversion import ConversionModel
from .predict.next_step import NextStepModel
from .predict.split import split_by_time
from .prepare.identities import identity_map, stitch
from .prepare.sessions import sessionize, sessions
from .prepare.stages import assign_stages, unmapped_events

__version__ = "0.1.0"

__all__ = [
    "ColumnError",
    "ConversionModel",
    "EventLog",
    "InputError",
    "JourneyLensError",
    "JourneyMap",
    "JourneyMapError",
    "MissingDependencyError",
    "NextStepModel",
    "ParameterError",
    "PersonaModel",
    "TableLog",
    "ValidationError",
    "add_segment",
    "assign_stages",
    "attribution",
    "attribution_from_paths",
    "compare",
    "compare_segments",
    "datasets",
    "decision_points",
    "dfg",
    "differential_step_matrix",
    "discover",
    "drift",
    "dropoffs",
    "from_pandas",
    "from_pm4py",
    "from_spark",
    "funnel",
    "identity_map",
    "journey_export",
    "journey_flows",
    "loops",
    "map_fitness",
    "model_fitness",
    "paths",
    "profile",
    "read",
    "read_csv",
    "read_jsonl",
    "read_log",
    "read_parquet",
    "read_sql",
    "read_xes",
    "report",
    "retention",
    "roadblocks",
    "run_analysis",
    "sessionize",
    "sessions",
    "spark_session",
    "split_by_time",
    "step_matrix",
    "stitch",
    "time_to_convert",
    "to_pm4py",
    "transition_matrix",
    "unmapped_events",
    "user_features",
    "value_breakdown",
    "variants",
]
