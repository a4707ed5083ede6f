"""Stages: the designed lifecycle stage of every event, from a journey map."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..core.journey_map import JourneyMap, as_journey_map
from ..core.protocol import JourneyLog
from ..engine.kernels import event_counts
from ..errors import ParameterError
from .sessions import require_log

MapLike = JourneyMap | Mapping[str, Any] | str | Path


def assign_stages(log: JourneyLog, journey_map: MapLike, overwrite: bool = True) -> JourneyLog:
    """A new log with ``stage``: the map's stage of each event, missing for events not in the map.

    ``stage`` is a coded column whose categories are the stages in designed order
    (in memory an ordered categorical), so sorting and comparisons follow the
    journey. ``journey_map`` is a :class:`~journeylens.core.journey_map.JourneyMap`, a dict
    or a path to a YAML/JSON file. A stage column that came from the source is kept as
    ``source_stage``; pass ``overwrite=False`` to get an error instead of replacing an
    existing stage column. Counts are recorded in ``log.parameters["assign_stages"]``.
    Runs on every engine.

    >>> import pandas as pd, journeylens as jl
    >>> from journeylens.prepare.stages import assign_stages
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "a"],
    ...     "time": ["2024-01-01 10:00", "2024-01-01 10:05", "2024-01-01 10:09"],
    ...     "event": ["home", "cart", "faq"]}))
    >>> m = {"stages": [{"name": "browse", "touchpoints": ["home"]}, {"name": "buy", "touchpoints": ["cart"]}]}
    >>> assign_stages(log, m).to_pandas()["stage"].tolist()
    ['browse', 'buy', nan]
    """
    require_log(log, "assign_stages")
    jmap = as_journey_map(journey_map)
    if log.has("stage") and not overwrite:
        raise ParameterError("the log already has a stage column: pass overwrite=True to replace it with the map's "
                             "stages", "overwrite")
    # the source's own stages are data too: keep them beside the map's
    keep_as = "source_stage" if log.has("stage") and "assign_stages" not in log.parameters else None
    codes = _stage_codes(log, jmap)
    counts = event_counts(log.journeys(window=False))
    per_type = np.zeros(len(log.event_names), dtype=np.int64)
    per_type[counts["e"].astype(np.int64)] = counts["events"]
    mapped = int(per_type[codes >= 0].sum())
    present = set(map(str, np.asarray(log.event_names)[per_type > 0]))
    record = {
        "journey_map": jmap.name,
        "source": jmap.source,
        "events_mapped": mapped,
        "events_unmapped": int(per_type.sum()) - mapped,
        "unmapped_event_types": int(len(present - set(jmap.touchpoints))),
        "touchpoints_not_in_log": [t for t in jmap.touchpoints if t not in present],
    }
    return log.with_codes("stage", codes, list(jmap.stage_names), of="event", ordered=True, keep_as=keep_as,
                          parameters={"assign_stages": record})


def unmapped_events(log: JourneyLog, journey_map: MapLike) -> pd.DataFrame:
    """Events of the log that are no touchpoint of the map: ``event``, ``events``, ``users``.

    Most frequent first (ties by name): the list to extend the map with.

    >>> import pandas as pd, journeylens as jl
    >>> from journeylens.prepare.stages import unmapped_events
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "b"],
    ...     "time": ["2024-01-01", "2024-01-02", "2024-01-01"], "event": ["faq", "faq", "home"]}))
    >>> unmapped_events(log, {"stages": [{"name": "browse", "touchpoints": ["home"]}]}).values.tolist()
    [['faq', 2, 1]]
    """
    require_log(log, "unmapped_events")
    jmap = as_journey_map(journey_map)
    counts = event_counts(log.journeys(window=False))
    e = counts["e"].astype(np.int64)
    keep = _stage_codes(log, jmap)[e] < 0
    out = pd.DataFrame(
        {
            "event": pd.array(log.event_names.take(e[keep]), dtype="string"),
            "events": counts["events"][keep].astype(np.int64),
            "users": counts["users"][keep].astype(np.int64),
        }
    )
    return out.sort_values(["events", "event"], ascending=[False, True], kind="stable").reset_index(drop=True)


def _stage_codes(log: JourneyLog, jmap: JourneyMap) -> np.ndarray:
    """Stage code of each event type of the log (-1 where the map has no such touchpoint)."""
    position = {name: k for k, name in enumerate(jmap.stage_names)}
    lookup = {t: position[s] for t, s in jmap.stage_of.items()}
    return np.array([lookup.get(str(name), -1) for name in log.event_names], dtype=np.int64)
