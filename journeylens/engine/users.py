"""Per-user kernels: one row per user (counts, first and last touch, first goal and lost event, value),
the distinct users of each code per segment, and each user's first codes in order."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .sql import Table, frame, run

USER_SQL = """
SELECT u, count(*) AS events, count(DISTINCT div(t, {day})) AS active_days, {sessions} AS sessions,
       min(t) AS first_t, max(t) AS last_t,
       min(CASE WHEN e IN ({goal}) THEN i END) AS goal_i, min(CASE WHEN e IN ({goal}) THEN t END) AS goal_t,
       min(CASE WHEN e IN ({lost}) THEN i END) AS lost_i, min(CASE WHEN e IN ({lost}) THEN t END) AS lost_t,
       {value} AS value
FROM ev GROUP BY u
"""

#: a value, NULL when it is missing or NaN (NaN would make every sum NaN)
FINITE = "CASE WHEN isnan(v_value) THEN NULL ELSE v_value END"

REACH_SQL = "SELECT s, e, count(DISTINCT u) AS users FROM ev GROUP BY s, e"

# The rows themselves, in log order, rather than a list per user: DuckDB cannot spill millions of
# ordered list aggregates. The numbered rows are materialised first: DuckDB runs out of memory
# handing a large window's output straight to a result, while it can store it and sort it.
NUMBERED_SQL = "SELECT u, i, e, row_number() OVER (PARTITION BY u ORDER BY i) AS k FROM ev"
PATHS_SQL = "SELECT u, e FROM numbered WHERE k <= {depth} ORDER BY u, i"


def _codes(codes: Sequence[int]) -> str:
    return ", ".join(str(int(c)) for c in codes) or "-2"  # -2 is no code: IN (-2) matches nothing


def user_summary(ev: Table, goal: Sequence[int] = (), lost: Sequence[int] = (), *, sessions: bool = False,
                 value: bool = False) -> dict[str, np.ndarray]:
    """One row per user of ``ev(i, u, t, e[, c_session][, v_value])``: ``events``, ``active_days`` (distinct
    UTC days), ``sessions`` (0 without), ``first_t``/``last_t`` (µs), the position ``goal_i`` and time
    ``goal_t`` of the first ``goal`` code (NULL: none), the same for ``lost``, and the sum of ``value``
    (NULL without)."""
    sql = USER_SQL.format(day=86_400_000_000, goal=_codes(goal), lost=_codes(lost),
                          sessions="count(DISTINCT c_session)" if sessions else "0",
                          value=f"sum({FINITE})" if value else "CAST(NULL AS DOUBLE)")
    return run(sql, {"ev": ev})


def reach(ev: Table) -> dict[str, np.ndarray]:
    """Distinct users of each code ``e`` per segment ``s`` in ``ev(u, e, s)``."""
    return run(REACH_SQL, {"ev": ev})


def first_codes(ev: Table, depth: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each user's first ``depth`` codes (all with None) of ``ev(i, u, e)`` in order, flat: user codes, list
    offsets and the codes (user ``users[k]`` has ``codes[offsets[k]:offsets[k + 1]]``)."""
    numbered = frame(NUMBERED_SQL, {"ev": ev}, materialise=True)
    out = run(PATHS_SQL.format(depth=int(depth) if depth else 2 ** 62), {"numbered": numbered})
    users, codes = out["u"].astype(np.int64), out["e"].astype(np.int64)
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]]) if len(users) else np.zeros(0, dtype=np.int64)
    return users[starts], np.r_[starts, len(users)].astype(np.int64), codes
