"""Model-level conformance with pm4py: token replay of the journeys on a process model or on the map.

Replays each distinct variant once and weights it by its journeys, which gives
pm4py's whole-log figures at the cost of the variants only.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from ..core.journey_map import JourneyMap
from ..core.protocol import JourneyLog, check_per
from ..engine import compare as kernels
from ..engine.sql import ship
from ..errors import InputError, JourneyLensError, JourneyMapError
from ..mining.models import ProcessModel, _pm4py, replay_variants


def _load_model(model: Any) -> tuple:
    pm4py = _pm4py()
    if isinstance(model, ProcessModel):
        return model.net, model.initial_marking, model.final_marking
    if isinstance(model, tuple) and len(model) == 3:
        return model
    path = os.fspath(model)
    if not os.path.exists(path):
        raise InputError(f"{path}: no such model file")
    try:
        if path.lower().endswith(".bpmn"):
            return pm4py.convert_to_petri_net(pm4py.read_bpmn(path))
        if path.lower().endswith(".pnml"):
            return pm4py.read_pnml(path)
    except Exception as exc:  # pm4py's parsers raise many kinds of errors for bad files
        raise InputError(f"{path}: cannot read the model ({type(exc).__name__}: {str(exc)[:80]})") from None
    raise InputError(f"{path}: a model must be .bpmn or .pnml")


def model_fitness(log: JourneyLog, model: Any, *, per: str = "user") -> dict[str, Any]:
    """Token-replay fitness of the log on a model: a ``.bpmn``/``.pnml`` path, ``(net, im, fm)`` or a
    :class:`ProcessModel`. Keys: ``log_fitness``, ``fitness`` (mean journey fitness),
    ``fitting_journeys_share``, ``variants_evaluated``.

    >>> import journeylens as jl
    >>> log = jl.read_xes("receipt.xes.gz")                              # doctest: +SKIP
    >>> jl.model_fitness(log, "receipt.bpmn")["log_fitness"]             # doctest: +SKIP
    1.0
    """
    check_per(per)
    net, im, fm = _load_model(model)
    return replay_variants(log, net, im, fm, per=per)


def map_petri_net(journey_map: JourneyMap) -> tuple:
    """The designed map as a Petri net: one transition per touchpoint, a place per touchpoint
    after which the designed next touchpoints may fire; designed starts begin, and the
    conversion events, the failure events (``lost``: a journey may end there by design) and
    touchpoints without a designed successor may end."""
    _pm4py()
    from pm4py.objects.conversion.dfg.variants import (
        to_petri_net_activity_defines_place as to_net,
    )

    dfg = {(a, b): 1 for a, b in journey_map.transitions}
    sources = {a for a, _ in journey_map.transitions}
    lost = set(getattr(journey_map, "lost", ())) & set(journey_map.touchpoints)
    ends = set(journey_map.conversion) | lost | {t for t in journey_map.touchpoints if t not in sources}
    starts = set(journey_map.start) or set(journey_map.touchpoints)
    if not dfg:
        raise JourneyLensError(f"the map {journey_map.name!r} designs no transitions: nothing to replay")
    params = {to_net.Parameters.START_ACTIVITIES: {s: 1 for s in starts},
              to_net.Parameters.END_ACTIVITIES: {e: 1 for e in ends}}
    return to_net.apply(dfg, parameters=params)


def map_fitness(log: JourneyLog, journey_map: JourneyMap, *, per: str = "user") -> dict[str, Any]:
    """Token-replay fitness of the journeys, restricted to the map's touchpoints, on the map's Petri net."""
    check_per(per)
    known = pd.Index(log.event_names.astype(str))
    codes = known.get_indexer(list(journey_map.touchpoints))
    codes = codes[codes >= 0].astype(np.int64)
    if not len(codes):
        raise JourneyMapError(f"the map {journey_map.name!r} shares no touchpoint with the log: nothing to replay")
    ev = log.journeys(per=per, window=False)
    rows = kernels.map_rows(ev, ship({"e": codes}, ev))
    on_map = log.take(rows, {"touchpoints_of_map": journey_map.name})
    return replay_variants(on_map, *map_petri_net(journey_map), per=per)
