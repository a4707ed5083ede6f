"""Observed journeys against the designed one: the journey map spec, conformance, model fitness, drift."""

from .conformance import Comparison, compare
from .drift import Drift, drift
from .journey_map import JourneyMap, Stage, as_journey_map
from .model_fitness import map_fitness, model_fitness

__all__ = ["Comparison", "Drift", "JourneyMap", "Stage", "as_journey_map", "compare", "drift", "map_fitness",
           "model_fitness"]
