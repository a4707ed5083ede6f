"""Attribution kernel: a log cut into conversion paths, aggregated where the log lives.

Input ``ev(i, u, t, e, <touch>[, <value>])``: log position (time order within a
user), user, epoch µs, event code, the touchpoint code (-1 = missing) and the
conversion value. A row whose event is a goal is a conversion; it closes the
path of the touches since the user's previous conversion. What follows a user's
last conversion is a path that did not convert (a null). On a path:

* the goal rows themselves are not touches (a conversion is the outcome), nor
  are rows without a touchpoint;
* only touches at most ``lookback`` before the path's end count: the conversion,
  or, for a null, the user's last event;
* a run of consecutive touches of one touchpoint is one touch, timed at its
  last row (ten page views on ``web`` are one visit of ``web``, not ten).

:func:`touches` materialises the kept touches once; :func:`path_counts` groups
them by path (only the distinct paths with their counts come back) and
:func:`decay_credits` shares each conversion over its touches by time. On a log in
memory the touches and paths are cut in numpy over the user-ordered rows (one
sort at most, no window queries); held logs run the SQL.
Sums of fractions and values are taken as ``DECIMAL(38, 12)``: exact, so the result
does not depend on the engine's summation order. A conversion value that is missing,
not finite or 10^18 or more in size counts as 0.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .kernels import counted_sequences, run_starts, sequence_order, user_order
from .sql import Table, frame, is_held, query, run

EXACT = "DECIMAL(38, 12)"

# One sort by user: ``k`` numbers a user's paths (conversions before the row), and the first goal at or
# after the row is the conversion that closes its path (none: a null, ending at the user's last event).
TOUCHES_SQL = """
WITH marked AS (
    SELECT i, u, t, {touch} AS p, {value} AS v, CASE WHEN e IN ({goal}) THEN 1 ELSE 0 END AS conv
    FROM ev
), cut AS (
    SELECT i, u, t, p, conv,
           sum(conv) OVER (PARTITION BY u ORDER BY i ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - conv AS k,
           min(CASE WHEN conv = 1 THEN i END) OVER ahead AS goal_i,
           min(CASE WHEN conv = 1 THEN t END) OVER ahead AS goal_t,
           max(t) OVER (PARTITION BY u) AS last_t
    FROM marked WINDOW ahead AS (PARTITION BY u ORDER BY i ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
), kept AS (
    SELECT u, k, i, t, p, goal_i,
           lead(p) OVER (PARTITION BY u ORDER BY i) AS p_next, lead(k) OVER (PARTITION BY u ORDER BY i) AS k_next
    FROM cut
    WHERE conv = 0 AND p >= 0{window}
)
SELECT kept.u, kept.k, kept.i, kept.t, kept.p AS e, CASE WHEN kept.goal_i IS NULL THEN 0 ELSE 1 END AS converted,
       goals.v
FROM kept LEFT JOIN (SELECT i, v FROM marked WHERE conv = 1) goals ON kept.goal_i = goals.i
WHERE kept.p_next IS NULL OR kept.p_next <> kept.p OR kept.k_next <> kept.k
"""

# One row per distinct path: its touchpoint codes in order, conversions, nulls and conversion value.
PATHS_SQL = """
SELECT path, sum(converted) AS conversions, sum(1 - converted) AS nulls, sum(CAST(v AS {exact})) AS value
FROM (SELECT u, k, max(converted) AS converted, max(v) AS v, {{seq_e}} AS path FROM tp GROUP BY u, k) j
GROUP BY path ORDER BY path
""".format(exact=EXACT)

# Each conversion shared over its touches with weights halving every half-life back in time. The
# weights are taken from the path's latest touch: the shares are the same, and never underflow.
DECAY_SQL = """
WITH w AS (
    SELECT u, k, e, v, power(2.0, -CAST((max(t) OVER s) - t AS DOUBLE) / {half_life}) AS w
    FROM tp WHERE converted = 1 WINDOW s AS (PARTITION BY u, k)
), shared AS (
    SELECT e, v, w / sum(w) OVER (PARTITION BY u, k) AS share FROM w
)
SELECT e, sum(CAST(share AS {exact})) AS credit, sum(CAST(share * v AS {exact})) AS value
FROM shared GROUP BY e ORDER BY e
"""


def touches(ev: Table, goal: Sequence[int], lookback_us: int | None, touch: str = "p",
            value: str | None = None) -> Table:
    """The kept touches ``tp(u, k, i, t, e, converted, v)`` of every path (see the module docstring),
    materialised in the engine that holds ``ev``: ``k`` numbers a user's paths, ``e`` is the
    touchpoint code, ``converted`` 1 on a converting path, ``v`` its conversion value.

    ``touch`` and ``value`` name the columns of ``ev`` holding the touchpoint code and the value.
    """
    if not is_held(ev):
        return _touches_in_memory(ev, goal, lookback_us, touch, value)
    return _touches_sql(ev, goal, lookback_us, touch, value)


def _touches_sql(ev: Table, goal: Sequence[int], lookback_us: int | None, touch: str, value: str | None) -> Table:
    window = "" if lookback_us is None else f" AND t >= coalesce(goal_t, last_t) - {int(lookback_us)}"
    number = "CAST(NULL AS DOUBLE)" if value is None else f"CAST({value} AS DOUBLE)"
    # NaN, infinite or absurd values count as missing: they have no exact decimal sum
    number = f"CASE WHEN abs({number}) < 1e18 THEN {number} END"
    sql = TOUCHES_SQL.format(touch=touch, value=number, goal=", ".join(str(int(g)) for g in goal), window=window)
    return frame(sql, {"ev": ev}, materialise=True)


def goal_count(ev: Table, goal: Sequence[int]) -> int:
    """The number of conversions (goal rows) in ``ev``, with or without touches."""
    out = run(f"SELECT count(*) AS n FROM ev WHERE e IN ({', '.join(str(int(g)) for g in goal)})", {"ev": ev})
    return int(out["n"][0])


def path_counts(tp: Table) -> dict[str, np.ndarray]:
    """The distinct paths of :func:`touches`, in a fixed order: ``codes`` (all paths' touchpoint codes
    end to end), ``lengths``, ``conversions`` and ``nulls`` (integers), ``value`` (0 without values)."""
    counted = None if is_held(tp) else _paths_in_memory(tp)
    return _paths_sql(tp) if counted is None else counted


def _paths_sql(tp: Table) -> dict[str, np.ndarray]:
    result = query(PATHS_SQL, {"tp": tp})
    path = result.column("path").combine_chunks()
    return {
        "codes": pc.list_flatten(path).to_numpy(zero_copy_only=False).astype(np.int64),
        "lengths": pc.list_value_length(path).to_numpy(zero_copy_only=False).astype(np.int64),
        "conversions": result.column("conversions").to_numpy().astype(np.int64),
        "nulls": result.column("nulls").to_numpy().astype(np.int64),
        "value": _floats(result.column("value")),
    }


def decay_credits(tp: Table, half_life_us: int) -> dict[str, np.ndarray]:
    """Time-decay credit (and value) per touchpoint code ``e`` over the converting paths of :func:`touches`."""
    result = query(DECAY_SQL.format(half_life=f"CAST({int(half_life_us)} AS DOUBLE)", exact=EXACT), {"tp": tp})
    return {"e": result.column("e").to_numpy().astype(np.int64), "credit": _floats(result.column("credit")),
            "value": _floats(result.column("value"))}


def _touches_in_memory(ev: Table, goal: Sequence[int], lookback_us: int | None, touch: str,
                       value: str | None) -> dict[str, np.ndarray]:
    """:func:`touches` of numpy (or Arrow) columns, the same rows in (user, path, time) order."""
    i, u, t, e, p = (_numbers(ev[c]).astype(np.int64, copy=False) for c in ("i", "u", "t", "e", touch))
    v = _numbers(ev[value]).astype(np.float64) if value is not None else None
    order = user_order(u, i)
    if order is not None:
        i, u, t, e, p = i[order], u[order], t[order], e[order], p[order]
        v = None if v is None else v[order]
    n = len(u)
    conv = np.isin(e, np.asarray(goal, dtype=np.int64))
    # Row-sized passes are what this costs: each row's user's last row is repeated, not gathered, and
    # what only the kept touches need is taken on them alone.
    starts = np.flatnonzero(run_starts(u))
    sizes = np.diff(np.append(starts, n))
    last = np.repeat(starts + sizes - 1, sizes)  # each row's user's last row
    before = np.cumsum(conv)
    before -= conv  # conversions before the row, over the whole table: with the user, it names the path
    # the first goal at or after the row (n: none); the row's path converts while that is its user's
    ahead = np.where(conv, np.arange(n), n)
    np.minimum.accumulate(ahead[::-1], out=ahead[::-1])
    converted = ahead <= last
    keep = ~conv & (p >= 0)
    if lookback_us is not None:
        keep &= t >= t[np.minimum(ahead, last)] - int(lookback_us)  # the goal's time, or the user's last
    kept = np.flatnonzero(keep)
    ku, kb, kp = u[kept], before[kept], p[kept]
    run_end = np.ones(len(kept), dtype=bool)  # the last row of a run of one touchpoint within a path
    run_end[:-1] = (ku[1:] != ku[:-1]) | (kb[1:] != kb[:-1]) | (kp[1:] != kp[:-1])
    rows = kept[run_end]
    done = converted[rows]
    if v is None:
        worth = np.full(len(rows), np.nan)
    else:
        worth = v[np.where(done, ahead[rows], 0)]
        worth = np.where(done & (np.abs(worth) < 1e18), worth, np.nan)  # NaN: no valid value
    k = before[rows] - np.repeat(before[starts], sizes)[rows]  # the path's number among its user's
    return {"u": u[rows], "k": k, "i": i[rows], "t": t[rows], "e": p[rows],
            "converted": done.astype(np.int64), "v": pa.array(worth, from_pandas=True)}


def _paths_in_memory(tp: Table) -> dict[str, np.ndarray] | None:
    """:func:`path_counts` of numpy touches in (user, path, time) order; None when the engine must group."""
    u, k, e = (_numbers(tp[c]).astype(np.int64, copy=False) for c in ("u", "k", "e"))
    if not len(u):
        return None
    head = run_starts(u) | run_starts(k)
    counted = counted_sequences(np.cumsum(head), e)
    order = None if counted is None else sequence_order(counted["v"], np.zeros(len(counted["n"]), dtype=np.int64))
    if order is None:
        return None
    starts = np.flatnonzero(head)
    of, paths = counted["of"], counted["v"].take(pa.array(order))
    conversions = np.bincount(of, weights=_numbers(tp["converted"])[starts], minlength=len(order)).astype(np.int64)
    value = np.zeros(len(order))
    worth = _numbers(tp["v"]).astype(np.float64)[starts]
    valued = ~np.isnan(worth)
    if valued.any():  # summed as exact decimals, as the SQL does
        sums = query(f"SELECT p, sum(CAST(v AS {EXACT})) AS s FROM pv GROUP BY p",
                     {"pv": {"p": of[valued], "v": worth[valued]}})
        value[sums.column("p").to_numpy().astype(np.int64)] = _floats(sums.column("s"))
    return {"codes": paths.flatten().to_numpy().astype(np.int64),
            "lengths": np.diff(paths.offsets.to_numpy()).astype(np.int64),
            "conversions": conversions[order], "nulls": counted["n"][order] - conversions[order],
            "value": value[order]}


def _numbers(column: object) -> np.ndarray:
    """A numpy or Arrow column as a numpy array (Arrow nulls as NaN)."""
    if isinstance(column, (pa.Array, pa.ChunkedArray)):
        return column.to_numpy(zero_copy_only=False)
    return np.asarray(column)


def _floats(column: pa.ChunkedArray) -> np.ndarray:
    """A numeric (or decimal) Arrow column as float64, missing values as 0."""
    return pc.fill_null(pc.cast(column, pa.float64()), 0.0).to_numpy()
