"""The kernels' input relations, built from whichever log an analysis was given.

This is the one place that tells an in-memory :class:`~journeylens.EventLog`
(numpy columns, run by the embedded DuckDB) from a
:class:`~journeylens.core.tablelog.TableLog` (a table held by DuckDB on disk or by
Spark). Analyses ask for a table here, hand it to the kernels, and decode the
small results the same way for both.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .sql import Table
from .window import neighbours


def is_table_log(log: Any) -> bool:
    """Whether ``log`` is an engine-held :class:`~journeylens.core.tablelog.TableLog`."""
    from ..core.tablelog import TableLog

    return isinstance(log, TableLog)


def journey_table(log: Any, level: str = "event", within: str = "user", window: bool = True) -> tuple[Table, pd.Index]:
    """``ev(i, g, e, u, t)``: the rows with a value at ``level`` (code ``e``) in log order,
    ``g`` their journey (user, or user and session), and the names of the codes.

    With ``window``, the window pass over the journeys (``e2, dt, gp, head``; see
    :mod:`journeylens.engine.window`) comes with it.
    """
    if is_table_log(log):
        return log.journey_table(level, within, window=window)
    codes, names = log.level_codes(level)
    keep = codes >= 0
    group = log.journey_codes(within)[keep]
    ev = {"i": np.arange(len(group), dtype=np.int64), "g": group, "e": codes[keep],
          "u": log.user_codes[keep], "t": log.time_us[keep]}
    return (neighbours(ev) if window else ev), names


def feature_table(log: Any) -> tuple[Table, dict[str, pd.Index]]:
    """The window pass by user over ``ev(i, u, t, s, e, c_channel?, c_device?, c_stage?)`` for
    per-user features (``s``: session, 0 without one; ``c_*``: codes, -1 missing), and the
    names of each ``c_*`` column."""
    if is_table_log(log):
        return log.feature_table()
    u = np.asarray(log.user_codes, dtype=np.int64)
    frame = log._frame
    session = frame["session_id"].to_numpy() if log.has("session_id") else np.zeros(len(u), dtype=np.int64)
    ev: dict[str, np.ndarray] = {"i": np.arange(len(u), dtype=np.int64), "u": u,
                                 "t": np.asarray(log.time_us, dtype=np.int64), "s": session,
                                 "e": np.asarray(log.event_codes, dtype=np.int64)}
    names: dict[str, pd.Index] = {}
    for column in ("channel", "device", "stage"):
        if log.has(column):
            values = frame[column]
            if not isinstance(values.dtype, pd.CategoricalDtype):
                values = values.astype("category")
            ev[f"c_{column}"] = values.cat.codes.to_numpy().astype(np.int64)
            names[f"c_{column}"] = values.cat.categories
    return neighbours(ev, group="u"), names
