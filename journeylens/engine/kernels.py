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


# Directly-follows pairs inside each group (user or session) with the gap between
# them; one window pass, then a group-by. Gaps are exact integers (µs).
DFG_SQL = """
WITH w AS (
    SELECT g, u, e, t, lead(e) OVER win AS e2, lead(t) OVER win AS t2
    FROM ev WINDOW win AS (PARTITION BY g ORDER BY i)
)
SELECT e AS a, e2 AS b, count(*) AS n, count(DISTINCT u) AS users,
       avg(t2 - t) AS mean_us, median(t2 - t) AS median_us, quantile_cont(t2 - t, 0.9) AS p90_us
FROM w WHERE e2 IS NOT NULL
GROUP BY a, b ORDER BY a, b
"""

ENDPOINTS_SQL = """
SELECT arg_min(e, i) AS first, arg_max(e, i) AS last FROM ev GROUP BY g
"""

VARIANTS_SQL = """
WITH seq AS (SELECT g, list(e ORDER BY i) AS v FROM ev GROUP BY g)
SELECT v, count(*) AS n FROM seq GROUP BY v ORDER BY n DESC, v
"""


def _ev(group: np.ndarray, codes: np.ndarray, **extra: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    cols = {"i": np.arange(len(group), dtype=np.int64), "g": group, "e": codes}
    cols.update(extra)
    return {"ev": cols}


def directly_follows(group: np.ndarray, codes: np.ndarray, user: np.ndarray, time_us: np.ndarray) -> dict[str, np.ndarray]:
    """Pairs (a, b) of consecutive codes within each group, with counts, users and gap statistics (µs)."""
    return duck.run(DFG_SQL, _ev(group, codes, u=user, t=time_us))


def endpoints(group: np.ndarray, codes: np.ndarray) -> dict[str, np.ndarray]:
    """First and last code of every group."""
    return duck.run(ENDPOINTS_SQL, _ev(group, codes))


def variants(group: np.ndarray, codes: np.ndarray, top: int | None = None) -> tuple[list[list[int]], np.ndarray, int]:
    """Distinct code sequences of the groups, most frequent first (ties in sequence order).

    Returns the ``top`` sequences (all when None), their counts, and the number of distinct sequences.
    """
    table = duck.query(VARIANTS_SQL, _ev(group, codes))
    shown = table.slice(0, top) if top else table  # decode only what is returned
    return shown.column("v").to_pylist(), shown.column("n").to_numpy(), table.num_rows
