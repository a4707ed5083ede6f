"""Process mining on journeys: directly-follows graphs, variants, loops, paths, decision points, models."""

from .decisions import DecisionPoints, decision_points
from .dfg import DFG, dfg
from .loops import Loops, loops
from .models import ProcessModel, discover, from_pm4py, to_pm4py
from .paths import Paths, paths
from .variants import Variants, variants

__all__ = [
    "DFG",
    "DecisionPoints",
    "Loops",
    "Paths",
    "ProcessModel",
    "Variants",
    "decision_points",
    "dfg",
    "discover",
    "from_pm4py",
    "loops",
    "paths",
    "to_pm4py",
    "variants",
]
