"""Stages: the designed lifecycle stage of every event, from a journey map."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..core.eventlog import EventLog
from ..core.journey_map import JourneyMap, as_journey_map
from ..errors import ValidationError
from .sessions import require_log, set_column

MapLike = JourneyMap | Mapping[str, Any] | str | Path


def assign_stages(log: EventLog, journey_map: MapLike, overwrite: bool = True) -> EventLog:
    """A new log with ``stage``: the map's stage of each event, NaN for events not in the map.

    ``stage`` is an ordered categorical whose categories are the stages in designed
    order, so sorting and comparisons follow the journey. ``journey_map`` is a
    :class:`~journeylens.compare.JourneyMap`, a dict or a path to a YAML/JSON file.
    A stage column that came from the source is kept as ``source_stage``; pass
    ``overwrite=False`` to get an error instead of replacing an existing stage column.
    Counts are recorded in ``log.parameters["assign_stages"]``.

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
    frame, roles = log._frame, dict(log.roles)
    if "stage" in frame:
        if not overwrite:
            raise ValidationError(
                "the log already has a stage column: pass overwrite=True to replace it with the map's stages"
            )
        if "assign_stages" not in log.parameters:
            # The source's own stages are data too: keep them beside the map's.
            frame = set_column(frame, "source_stage", frame["stage"], after="stage")
            roles.pop("stage", None)
    codes = _stage_codes(log, jmap)[log.event_codes]
    stage = pd.Categorical.from_codes(codes, categories=pd.Index(jmap.stage_names, dtype=object), ordered=True)
    frame = set_column(frame, "stage", stage)
    mapped = codes >= 0
    present = set(log.event_names)
    record = {
        "journey_map": jmap.name,
        "source": jmap.source,
        "events_mapped": int(mapped.sum()),
        "events_unmapped": int((~mapped).sum()),
        "unmapped_event_types": int(len(present - set(jmap.touchpoints))),
        "touchpoints_not_in_log": [t for t in jmap.touchpoints if t not in present],
    }
    return log._derive(frame, roles=roles, parameters={**log.parameters, "assign_stages": record})


def unmapped_events(log: EventLog, journey_map: MapLike) -> pd.DataFrame:
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
    n_types = len(log.event_names)
    unmapped_type = _stage_codes(log, jmap) < 0
    rows = unmapped_type[log.event_codes]
    e, u = log.event_codes[rows].astype(np.int64), log.user_codes[rows].astype(np.int64)
    events = np.bincount(e, minlength=n_types)
    # distinct (event, user) pairs, then pairs per event
    pairs = np.unique(e * max(len(log.users), 1) + u)
    users = np.bincount(pairs // max(len(log.users), 1), minlength=n_types)
    keep = np.flatnonzero(unmapped_type & (events > 0))
    out = pd.DataFrame(
        {
            "event": pd.array(log.event_names.take(keep), dtype="string"),
            "events": events[keep].astype(np.int64),
            "users": users[keep].astype(np.int64),
        }
    )
    return out.sort_values(["events", "event"], ascending=[False, True], kind="stable").reset_index(drop=True)


def _stage_codes(log: EventLog, jmap: JourneyMap) -> np.ndarray:
    """Stage code of each event type of the log (-1 where the map has no such touchpoint)."""
    position = {name: k for k, name in enumerate(jmap.stage_names)}
    lookup = {t: position[s] for t, s in jmap.stage_of.items()}
    return np.array([lookup.get(str(name), -1) for name in log.event_names], dtype=np.int32)
