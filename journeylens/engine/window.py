"""The window pass, materialised once: each row's neighbours in its group.

Most kernels need, for every event, the previous or the next event of the
same journey (a directly-follows step, a gap, a session break). That is one
window pass ordered by log position ``i`` within each group; the aggregations
that follow are plain GROUP BYs. This module is the per-engine hook for the pass:

* numpy tables come from an :class:`~journeylens.EventLog`, which is sorted by
  user, time and source row when it is built, so the rows of a group are
  contiguous and in order: the pass is a shift of the arrays, no sort at all;
* a table held by DuckDB is read in chunks of whole groups, each ordered by
  group and ``i``, and shifted like the arrays (one chunk in memory at a time;
  a SQL window over a larger-than-memory table sorts all of it and spills);
* Spark runs the same pass as a SQL window.

Either way the result gains ``e2`` (the next row's code, -1 after the last
row), ``dt`` (µs to the next row, 0 after the last), ``gp`` (µs since the
previous row, -1 on the first) and ``head`` (1 on a group's first row).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pyarrow as pa

from .backends import backend_of
from .sql import Table, frame, is_held

WINDOW_SQL = """
SELECT *,{next_code}
       coalesce((lead(t) OVER w) - t, 0) AS dt,
       coalesce(t - (lag(t) OVER w), -1) AS gp,
       CASE WHEN lag(i) OVER w IS NULL THEN 1 ELSE 0 END AS head
FROM ev WINDOW w AS (PARTITION BY {group} ORDER BY i)
"""


def neighbours(ev: Table, group: str = "g", codes: bool = True) -> Table:
    """``ev`` with ``e2, dt, gp, head`` computed within each ``group`` (see the module docstring);
    without ``codes`` (a table with no ``e``) no ``e2``.

    Numpy tables must hold each group's rows contiguously, in order of ``i``.
    """
    if is_held(ev):
        mapped = backend_of({"ev": ev}).map_groups(ev, group, lambda chunk: _shifted_chunk(chunk, group, codes))
        if mapped is not None:
            return mapped
        sql = WINDOW_SQL.format(group=group, next_code="\n       coalesce(lead(e) OVER w, -1) AS e2," if codes else "")
        return frame(sql, {"ev": ev}, materialise=True)
    e = np.asarray(ev["e"]) if codes else None
    return {**ev, **_shifted(np.asarray(ev[group]), e, np.asarray(ev["t"], dtype=np.int64))}


def _shifted_chunk(chunk: pa.Table, group: str, codes: bool) -> pa.Table:
    """An Arrow chunk of whole groups, ordered by group and ``i``, with the pass's columns added."""
    e = np.asarray(chunk.column("e")) if codes else None
    added = _shifted(np.asarray(chunk.column(group)), e, np.asarray(chunk.column("t"), dtype=np.int64))
    for name in ("e2", "dt", "gp", "head"):
        if name in added:
            chunk = chunk.append_column(name, pa.array(added[name]))
    return chunk


def _shifted(g: np.ndarray, e: np.ndarray | None, t: np.ndarray) -> Mapping[str, np.ndarray]:
    n = len(g)
    head = np.ones(n, dtype=np.int8)
    if n:
        head[1:] = g[1:] != g[:-1]
    tail = np.empty(n, dtype=bool)  # last row of its group
    tail[:-1] = head[1:] == 1
    tail[-1:] = True
    # fresh pages are what this pass costs most: the steps are made once and become the gaps in place
    step = np.zeros(n, dtype=np.int64)
    np.subtract(t[1:], t[:-1], out=step[1:])
    dt = np.zeros(n, dtype=np.int64)
    dt[:-1] = step[1:]
    dt[tail] = 0
    step[head.view(bool)] = -1
    out = {"dt": dt, "gp": step, "head": head}
    if e is not None:
        e2 = np.full(n, -1, dtype=np.promote_types(e.dtype, np.int32))  # the codes' width: 32 bits on a held log
        e2[:-1] = e[1:]
        e2[tail] = -1
        out["e2"] = e2
    return out
