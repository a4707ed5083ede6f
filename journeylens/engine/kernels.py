"""Kernels shared by every analysis, as SQL over the integer relation ``ev``.

Each function takes numpy arrays, runs one SQL statement on the engine and
returns numpy arrays. Row positions ``i`` make results independent of how
the engine schedules work: every ordering is total.
"""

from __future__ import annotations

import numpy as np

from . import duck

SORT_SQL = "SELECT i FROM ev ORDER BY u, t, r, i"

# One window pass per user: a session starts at a user's first event or after
# a pause longer than the gap; with a maximum duration, a session is further cut
# into consecutive windows of that length counted from its first event.
SESSION_SQL = """
WITH g AS (
    SELECT i, u, t,
           CASE WHEN lag(t) OVER w IS NULL OR t - lag(t) OVER w > {gap} THEN 1 ELSE 0 END AS brk
    FROM ev WINDOW w AS (PARTITION BY u ORDER BY i)
), s AS (
    SELECT i, u, t, sum(brk) OVER (PARTITION BY u ORDER BY i ROWS UNBOUNDED PRECEDING) AS k FROM g
), p AS (
    SELECT i, u, k, (t - min(t) OVER (PARTITION BY u, k)) // {span} AS part FROM s
)
SELECT i,
       CASE WHEN lag(i) OVER w IS NULL OR lag(k) OVER w <> k OR lag(part) OVER w <> part THEN 1 ELSE 0 END AS start
FROM p WINDOW w AS (PARTITION BY u ORDER BY i)
ORDER BY i
"""


def sort_order(user: np.ndarray, time_us: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Permutation sorting events by user code, time, then source row."""
    n = len(user)
    out = duck.run(SORT_SQL, {"ev": {"i": np.arange(n, dtype=np.int64), "u": user, "t": time_us, "r": row}})
    return out["i"].astype(np.int64, copy=False)


def session_starts(user: np.ndarray, time_us: np.ndarray, gap_us: int, max_us: int | None) -> np.ndarray:
    """Boolean mask, in log order, of the events that open a session.

    The log must already be sorted by (user, time, source row).
    """
    n = len(user)
    if n == 0:
        return np.zeros(0, dtype=bool)
    span = int(max_us) if max_us else np.iinfo(np.int64).max
    sql = SESSION_SQL.format(gap=int(gap_us), span=span)
    out = duck.run(sql, {"ev": {"i": np.arange(n, dtype=np.int64), "u": user, "t": time_us}})
    return out["start"].astype(bool)
