"""Mining kernels over the journey table: loops, anchored paths, flows by position, branches.

Each kernel takes the journey table ``ev`` of a log (``log.journeys(...)``: ``i``
log position, ``g`` journey, ``u`` user, ``e`` code, and from the window pass
``e2``) and is one SQL text of the common DuckDB/Spark subset. Rows of a journey
are ordered by ``i`` inside ``PARTITION BY g``, never by their place in the
table, so journeys whose rows interleave in time (a user's overlapping sessions)
are read whole. Only small results come back: one row per distinct loop, path,
flow or branch.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .kernels import journey_steps, key_counts
from .sql import Table, frame, is_held, run

# -- loops ---------------------------------------------------------------------------
# A cycle c0 → … → c(k-1) → c0 (distinct nodes, k ≤ K) is traversed by a journey where k
# consecutive steps follow its edges. At each position p at most one cycle closes: x0 = e[p]
# and k the first j ≥ 1 with e[p+j] = x0, when e[p..p+k-1] are distinct. Two closings at
# consecutive positions with the same k are the same cycle (the second is the first rotated by
# one), so a run of closings at p, p+1, …, p+m-1 is one stretch of m + k - 1 steps round the
# cycle: the journey entered it at e[p] and went round ⌊(m + k - 1) / k⌋ times.
LOOP_RUNS_SQL = """
WITH w AS (
    SELECT g, u, row_number() OVER win AS p, e AS x0, {leads}
    FROM ev WINDOW win AS (PARTITION BY g ORDER BY i)
), a AS (
    SELECT g, u, p, {xs}, CASE {first_return} END AS k FROM w
), c AS (
    SELECT * FROM a WHERE k IS NOT NULL AND {distinct}
), r AS (
    SELECT *, CASE WHEN lag(p) OVER v = p - 1 AND lag(k) OVER v = k THEN 0 ELSE 1 END AS fresh
    FROM c WINDOW v AS (PARTITION BY g ORDER BY p)
), s AS (
    SELECT *, sum(fresh) OVER (PARTITION BY g ORDER BY p ROWS UNBOUNDED PRECEDING) AS run FROM r
), runs AS (
    SELECT g, min(u) AS u, min(k) AS k, count(*) AS m, {entry_rotation} FROM s GROUP BY g, run
)
SELECT u, k, y0 AS entry, div(m + k - 1, k) AS rounds, {canonical} FROM runs
"""

# Per cycle (its rotation from the smallest code, c0..c(K-1), -1 past k): rounds and users,
# kept when enough users go round it, with how many runs entered it at each of its events.
LOOP_STATS_SQL = """
WITH pu AS (
    SELECT k, {cs}, u, CAST(sum(rounds) AS BIGINT) AS r FROM runs GROUP BY k, {cs}, u
), st AS (
    SELECT k, {cs}, CAST(sum(r) AS BIGINT) AS occurrences, count(*) AS users, median(r) AS median_reps
    FROM pu GROUP BY k, {cs} HAVING count(*) >= {min_users}
), en AS (
    SELECT k, {cs}, entry, count(*) AS entries FROM runs GROUP BY k, {cs}, entry
)
SELECT {st_cs}, st.occurrences, st.users, st.median_reps, en.entry, en.entries
FROM st JOIN en ON {on}
ORDER BY {st_cs}, en.entry
"""


def _loop_sql(K: int) -> tuple[str, list[str]]:
    xs = [f"x{j}" for j in range(K + 1)]
    leads = ", ".join(f"lead(e, {j}) OVER win AS x{j}" for j in range(1, K + 1))
    first_return = " ".join(f"WHEN x{j} = x0 THEN {j}" for j in range(1, K + 1))
    # x0 differs from x1..x(k-1) by the choice of k; the inner nodes must differ from each other
    distinct = " AND ".join(["TRUE"] + [f"(k <= {j} OR ({' AND '.join(f'x{a} <> x{j}' for a in range(1, j))}))"
                                        for j in range(2, K)])
    entry_rotation = ", ".join(f"min_by(x{j}, p) AS y{j}" for j in range(K))

    def least(k: int) -> str:
        return "y0" if k == 1 else f"least({', '.join(f'y{j}' for j in range(k))})"

    canonical = []
    for j in range(K):  # c_j: the j-th node from the cycle's smallest code
        branches = [f"WHEN k <= {j} THEN -1"] + [f"WHEN k = {k} AND y{r} = {least(k)} THEN y{(r + j) % k}"
                                                 for k in range(j + 1, K + 1) for r in range(k)]
        canonical.append(f"CASE {' '.join(branches)} END AS c{j}")
    sql = LOOP_RUNS_SQL.format(leads=leads, xs=", ".join(xs[:K]), first_return=first_return, distinct=distinct,
                               entry_rotation=entry_rotation, canonical=", ".join(canonical))
    return sql, [f"c{j}" for j in range(K)]


def loops(ev: Table, max_length: int, min_users: int) -> dict[str, np.ndarray]:
    """The cycles of at most ``max_length`` distinct codes that journeys of ``ev(i, g, u, e)`` go round.

    One row per cycle and entry point: ``k`` (its length), ``c0..c{max_length-1}``
    (the cycle from its smallest code, -1 past ``k``), ``occurrences`` (complete
    rounds), ``users``, ``median_reps`` (median rounds of a user who goes round it),
    for cycles of at least ``min_users`` users; then ``entry`` (a code of the cycle)
    and ``entries`` (the runs that entered the cycle there). A run is a stretch of
    consecutive steps along the cycle's edges covering at least one round.
    """
    K = int(max_length)
    runs_sql, cs = _loop_sql(K)
    runs = frame(runs_sql, {"ev": ev}, materialise=True)
    st_cs = ", ".join(["st.k", *(f"st.{c}" for c in cs)])
    on = " AND ".join(f"st.{c} = en.{c}" for c in ["k", *cs])
    sql = LOOP_STATS_SQL.format(cs=", ".join(cs), st_cs=st_cs, on=on, min_users=int(min_users))
    return run(sql, {"runs": runs})


# -- anchored paths --------------------------------------------------------------------
# The steps after a journey's first anchor (or before its last one): ``lead``/``lag`` over the
# journey, kept on the anchor rows, the first (last) of them numbered 1.
PATHS_SQL = """
WITH w AS (
    SELECT g, i, e, {shifts} FROM ev WINDOW win AS (PARTITION BY g ORDER BY i)
), a AS (
    SELECT g, i, {ys}, row_number() OVER (PARTITION BY g ORDER BY i {order}) AS r FROM w WHERE e = {anchor}
), anch AS (SELECT * FROM a WHERE r = 1){goal_cte}
SELECT {ys}, count(*) AS journeys, {converted} AS converted
FROM anch{goal_join}
GROUP BY {ys} ORDER BY journeys DESC, {ys}
"""
GOAL_CTE = ", conv AS (SELECT g, max(i) AS last_goal FROM ev WHERE e IN ({goals}) GROUP BY g)"
GOAL_JOIN = " LEFT JOIN conv ON anch.g = conv.g"
CONVERTED = "CAST(sum(CASE WHEN conv.last_goal >= anch.i THEN 1 ELSE 0 END) AS BIGINT)"


def anchored_paths(ev: Table, anchor: int, depth: int, after: bool, goal: Sequence[int]) -> dict[str, np.ndarray]:
    """The ``depth`` codes after each journey's first ``anchor`` (or before its last one) in ``ev(i, g, e)``.

    Returns distinct paths ``y1..y{depth}`` (``y1`` next to the anchor; -1 where the
    journey ends or starts), the ``journeys`` taking each and how many of them reach
    a ``goal`` code at or after the anchor (``converted``; 0 without goals).
    """
    fn, order = ("lead", "ASC") if after else ("lag", "DESC")
    shifts = ", ".join(f"coalesce({fn}(e, {j}) OVER win, -1) AS y{j}" for j in range(1, int(depth) + 1))
    goals = ", ".join(str(int(c)) for c in goal)
    sql = PATHS_SQL.format(
        shifts=shifts, ys=", ".join(f"y{j}" for j in range(1, int(depth) + 1)), order=order, anchor=int(anchor),
        goal_cte=GOAL_CTE.format(goals=goals) if goals else "", goal_join=GOAL_JOIN if goals else "",
        converted=CONVERTED if goals else "CAST(0 AS BIGINT)")
    return run(sql, {"ev": ev})


# -- flows by position ---------------------------------------------------------------------
FLOWS_SQL = """
SELECT step, e AS a, e2 AS b, count(*) AS journeys
FROM (SELECT e, e2, row_number() OVER (PARTITION BY g ORDER BY i) AS step FROM ev) x
WHERE step < {depth}
GROUP BY step, e, e2 ORDER BY step, a, b
"""


def flows(ev: Table, depth: int) -> dict[str, np.ndarray]:
    """Journeys of the window pass ``ev(i, g, e, e2)`` moving from their ``step``-th code ``a`` to the
    next one ``b`` (-1: the journey ends there), for ``step < depth``."""
    counted = None if is_held(ev) else _flows_in_memory(ev, int(depth))
    return run(FLOWS_SQL.format(depth=int(depth)), {"ev": ev}) if counted is None else counted


def _flows_in_memory(ev: Table, depth: int) -> dict[str, np.ndarray] | None:
    """:func:`flows` of numpy columns, counted on one packed key; None when the key would overflow."""
    order, step = journey_steps(np.asarray(ev["g"]), np.asarray(ev["i"]))
    e, e2 = (np.asarray(ev[c]) if order is None else np.asarray(ev[c])[order] for c in ("e", "e2"))
    keep = step < depth
    e, e2, step = (a[keep].astype(np.int64) for a in (e, e2, step))
    width = int(max(e.max(initial=0), e2.max(initial=0))) + 2  # codes from -1
    if depth * width * width >= 2**62:
        return None
    keys, journeys = key_counts((step * width + e + 1) * width + e2 + 1, depth * width * width)
    return {"step": keys // (width * width), "a": keys // width % width - 1, "b": keys % width - 1,
            "journeys": journeys}


# -- branches -------------------------------------------------------------------------------
# Steps a → b per segment ``s`` of the user, with their users, and the users whose first step
# out of ``a`` (earliest in log order) went to ``b``: one choice per user and node.
BRANCHES_SQL = """
WITH st AS (
    SELECT s, e AS a, e2 AS b, count(*) AS n, count(DISTINCT u) AS users FROM ev WHERE e2 >= 0 GROUP BY s, e, e2
), fc AS (
    SELECT s, a, b, count(*) AS firsts
    FROM (SELECT min(s) AS s, e AS a, min_by(e2, i) AS b FROM ev WHERE e2 >= 0 GROUP BY u, e) x
    GROUP BY s, a, b
)
SELECT st.s, st.a, st.b, st.n, st.users, coalesce(fc.firsts, 0) AS firsts
FROM st LEFT JOIN fc ON st.s = fc.s AND st.a = fc.a AND st.b = fc.b
ORDER BY st.s, st.a, st.b
"""


def branches(ev: Table) -> dict[str, np.ndarray]:
    """Per segment ``s`` and step ``a → b`` of the window pass ``ev(i, u, e, e2, s)``: transitions ``n``,
    distinct ``users``, and ``firsts``, the users whose first step out of ``a`` went to ``b``."""
    return run(BRANCHES_SQL, {"ev": ev})
