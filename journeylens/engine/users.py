"""Per-user kernels: one row per user (counts, first and last touch, first goal and lost event, value),
the distinct users of each code per segment, and each user's first codes in order.

A log in memory has its rows in user order already: its per-user rows and first codes are cut from the
arrays (reductions over each user's run), held logs run the SQL.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .kernels import distinct, run_starts, user_order
from .sql import Table, frame, is_held, run

_DAY_US = 86_400_000_000
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
    if not is_held(ev):
        return _user_summary_in_memory(ev, goal, lost, sessions, value)
    return _user_summary_sql(ev, goal, lost, sessions, value)


def _user_summary_sql(ev: Table, goal: Sequence[int], lost: Sequence[int], sessions: bool,
                      value: bool) -> dict[str, np.ndarray]:
    sql = USER_SQL.format(day=_DAY_US, goal=_codes(goal), lost=_codes(lost),
                          sessions="count(DISTINCT c_session)" if sessions else "0",
                          value=f"sum({FINITE})" if value else "CAST(NULL AS DOUBLE)")
    return run(sql, {"ev": ev})


def reach(ev: Table) -> dict[str, np.ndarray]:
    """Distinct users of each code ``e`` per segment ``s`` in ``ev(u, e, s)``."""
    return run(REACH_SQL, {"ev": ev})


def first_codes(ev: Table, depth: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each user's first ``depth`` codes (all with None) of ``ev(i, u, e)`` in order, flat: user codes, list
    offsets and the codes (user ``users[k]`` has ``codes[offsets[k]:offsets[k + 1]]``)."""
    if not is_held(ev):
        rows = _in_user_order(ev, ("u", "e"))
        users, codes = rows["u"], rows["e"].astype(np.int64, copy=False)
        if depth:
            starts = np.flatnonzero(run_starts(users))
            lengths = np.diff(np.append(starts, len(users)))
            first = np.arange(len(users)) - np.repeat(starts, lengths) < depth
            users, codes = users[first], codes[first]
        return _grouped(users, codes)
    return _first_codes_sql(ev, depth)


def _first_codes_sql(ev: Table, depth: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    numbered = frame(NUMBERED_SQL, {"ev": ev}, materialise=True)
    out = run(PATHS_SQL.format(depth=int(depth) if depth else 2 ** 62), {"numbered": numbered})
    return _grouped(out["u"].astype(np.int64), out["e"].astype(np.int64))


def _grouped(users: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Users, offsets and codes of rows in user order (see :func:`first_codes`)."""
    starts = np.flatnonzero(run_starts(users))
    return users[starts], np.append(starts, len(users)).astype(np.int64), codes


def _in_user_order(ev: Table, columns: Sequence[str]) -> dict[str, np.ndarray]:
    """``i`` and ``columns`` of numpy (or Arrow) ``ev`` as numpy arrays, rows in (user, position) order."""
    rows = {c: np.asarray(ev[c]) for c in dict.fromkeys(("i", "u", *columns))}
    rows["u"] = rows["u"].astype(np.int64, copy=False)
    order = user_order(rows["u"], rows["i"])
    return rows if order is None else {c: a[order] for c, a in rows.items()}


def _user_summary_in_memory(ev: Table, goal: Sequence[int], lost: Sequence[int], sessions: bool,
                            value: bool) -> dict[str, np.ndarray]:
    """:func:`user_summary` of numpy columns, users ascending: reductions over each user's run of rows.
    Missing results are NaN, as the SQL's NULLs read into numpy are."""
    rows = _in_user_order(ev, ("t", "e") + (("c_session",) if sessions else ()) + (("v_value",) if value else ()))
    u, t, i = rows["u"], rows["t"].astype(np.int64, copy=False), rows["i"].astype(np.int64, copy=False)
    head = run_starts(u)
    starts, owner = np.flatnonzero(head), np.cumsum(head) - 1
    users = len(starts)
    if not users:
        return {c: np.zeros(0) for c in ("u", "events", "active_days", "sessions", "first_t", "last_t", "goal_i",
                                         "goal_t", "lost_i", "lost_t", "value")}

    def distinct_per_user(code: np.ndarray) -> np.ndarray:
        low, width = int(code.min()), int(code.max()) - int(code.min()) + 1
        return np.bincount(distinct(owner * width + (code - low)) // width, minlength=users)

    def first_of(codes: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        hit = np.flatnonzero(np.isin(rows["e"], np.asarray(codes, dtype=np.int64)))
        seen = hit[run_starts(owner[hit])]  # rows are in position order: a user's first hit comes first
        at, when = np.full(users, np.nan), np.full(users, np.nan)
        at[owner[seen]], when[owner[seen]] = i[seen], t[seen]
        return at, when

    day = t // _DAY_US
    day += (t < 0) & (day * _DAY_US != t)  # the SQL's integer division truncates towards zero
    goal_i, goal_t = first_of(goal)
    lost_i, lost_t = first_of(lost)
    summed = np.full(users, np.nan)
    if value:  # a sum of no values is NULL (NaN), as in SQL
        v = np.asarray(rows["v_value"], dtype=np.float64)
        finite = ~np.isnan(v)
        summed = np.where(np.bincount(owner[finite], minlength=users) > 0,
                          np.bincount(owner[finite], weights=v[finite], minlength=users), np.nan)
    return {"u": u[starts], "events": np.diff(np.append(starts, len(u))), "active_days": distinct_per_user(day),
            "sessions": distinct_per_user(np.asarray(rows["c_session"], dtype=np.int64)) if sessions
            else np.zeros(users, dtype=np.int64),
            "first_t": np.minimum.reduceat(t, starts), "last_t": np.maximum.reduceat(t, starts),
            "goal_i": goal_i, "goal_t": goal_t, "lost_i": lost_i, "lost_t": lost_t, "value": summed}
