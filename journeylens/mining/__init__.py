"""Process mining on journeys: directly-follows graphs, variants, loops, paths, models."""

from .dfg import DFG, dfg
from .variants import Variants, variants

__all__ = ["DFG", "Variants", "dfg", "variants"]
