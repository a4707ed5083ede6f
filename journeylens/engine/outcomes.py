"""Outcome kernels: how each journey ended, where the unfinished ones left, and the friction of touchpoints.

A journey (``g`` of the journey table: a user, or a session) is observed up to
``end`` (epoch µs; later events do not exist for these kernels) and ends in one
of four ways, coded in ``outcome``:

* ``CONVERTED`` (0): its first terminal event is a goal event;
* ``LOST`` (1): its first terminal event is a lost event;
* ``DROPPED`` (2): no terminal event, and the journey is over: its user did
  something after its last event (a later session), or its last event is at
  least ``idle`` before ``end``;
* ``CENSORED`` (3): no terminal event and still possibly on its way.

"First" is in log order ``i``: by time, and on equal times by source order,
so a journey with both a goal and a lost event has the outcome of the one that
came first, and nothing after that event belongs to the journey's outcome.

:func:`outcome_table` computes one row per journey and keeps it in the engine;
the other kernels are GROUP BYs over it (and over the journey table), bringing
back counts per segment ``s`` only. For a log in memory the outcome table is
reduced in numpy over each journey's run of rows (no query). The journey table must carry ``s``, the
segment code of each row's user (:func:`~journeylens.engine.sql.with_user_values`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

import pyarrow as pa

from .kernels import run_starts, user_order
from .sql import Table, frame, is_held, run

CONVERTED, LOST, DROPPED, CENSORED = 0, 1, 2, 3

# The first goal and first lost event of each journey (times: rows of a journey are in time order
# along i, so the least time of a code is the time of its first row); the user's last observed
# time tells whether a session is followed by later activity.
OUTCOME_SQL = """
WITH o AS (SELECT * FROM ev WHERE t <= {end}),
j AS (
    SELECT g, min(u) AS u, min(s) AS s, min(t) AS t0, max(t) AS t1, max(i) AS last_i,
           max_by(e, i) AS last_e, {last_stage} AS last_stage,
           min(CASE WHEN e IN ({goal}) THEN i END) AS goal_i, min(CASE WHEN e IN ({goal}) THEN t END) AS goal_t,
           min(CASE WHEN e IN ({lost}) THEN i END) AS lost_i, min(CASE WHEN e IN ({lost}) THEN t END) AS lost_t
    FROM o GROUP BY g
),
a AS (SELECT u, max(t) AS ut FROM o GROUP BY u),
w AS (SELECT j.*, a.ut, CASE WHEN goal_i IS NOT NULL AND (lost_i IS NULL OR goal_i < lost_i) THEN 1 ELSE 0 END AS won
      FROM j JOIN a ON j.u = a.u)
SELECT g, u, s, t0, last_i, last_e, last_stage,
       CASE WHEN won = 1 THEN 0 WHEN lost_i IS NOT NULL THEN 1
            WHEN {end} - t1 >= {idle} OR ut > t1 THEN 2 ELSE 3 END AS outcome,
       CASE WHEN won = 1 THEN goal_i ELSE lost_i END AS term_i,
       CASE WHEN won = 1 THEN goal_t ELSE lost_t END AS term_t
FROM w
"""

COUNTS_SQL = "SELECT s, outcome, count(*) AS n FROM jo GROUP BY s, outcome ORDER BY s, outcome"

DROPOFFS_SQL = f"""
SELECT s, last_e AS e, last_stage AS stage, count(*) AS n FROM jo WHERE outcome = {DROPPED}
GROUP BY s, last_e, last_stage ORDER BY s, e, stage
"""

# Time from the journey's first event to its outcome: the terminal event for converted and lost
# journeys, the end of observation for the others (right-censored there).
DURATIONS_SQL = f"""
SELECT s, d, CAST(sum(CASE WHEN outcome = {CONVERTED} THEN 1 ELSE 0 END) AS BIGINT) AS converted,
       CAST(sum(CASE WHEN outcome = {LOST} THEN 1 ELSE 0 END) AS BIGINT) AS lost,
       CAST(sum(CASE WHEN outcome >= {DROPPED} THEN 1 ELSE 0 END) AS BIGINT) AS censored
FROM (SELECT s, outcome, CASE WHEN outcome <= {LOST} THEN term_t - t0 ELSE {{end}} - t0 END AS d FROM jo) x
GROUP BY s, d ORDER BY s, d
"""

# Visits of touchpoints on the way to the outcome: rows before the terminal event, except the last
# row of a censored journey (whether the customer leaves there is not known yet). A visit is an
# exit when it is the last one of a dropped journey; its next step counts only when observed.
ROADBLOCKS_SQL = f"""
SELECT jo.s AS s, ev.e AS e, {{stage}} AS stage, count(*) AS visits, count(DISTINCT ev.g) AS journeys,
       CAST(sum(CASE WHEN jo.outcome = {DROPPED} AND ev.i = jo.last_i THEN 1 ELSE 0 END) AS BIGINT) AS exits,
       CAST(sum(CASE WHEN ev.e2 IN ({{errors}}) AND ev.t + ev.dt <= {{end}} THEN 1 ELSE 0 END) AS BIGINT) AS errors,
       median(CASE WHEN ev.e2 >= 0 AND ev.t + ev.dt <= {{end}} THEN ev.dt END) AS dwell_us,
       count(DISTINCT CASE WHEN jo.outcome <> {CENSORED} THEN ev.g END) AS resolved,
       count(DISTINCT CASE WHEN jo.outcome = {CONVERTED} THEN ev.g END) AS converted
FROM ev JOIN jo ON ev.g = jo.g
WHERE ev.t <= {{end}} AND (jo.term_i IS NULL OR ev.i < jo.term_i)
  AND NOT (jo.outcome = {CENSORED} AND ev.i = jo.last_i)
GROUP BY jo.s, ev.e{{by_stage}} ORDER BY s, e, stage
"""


def _codes(codes: Sequence[int]) -> str:
    """An SQL list of codes; NULL for none (matches nothing, not even the -1 of a missing neighbour)."""
    return ", ".join(str(int(c)) for c in codes) or "NULL"


def outcome_table(ev: Table, goal: Sequence[int], lost: Sequence[int], end_us: int, idle_us: int,
                  stage: bool = False) -> Table:
    """One row per journey of ``ev(i, g, u, s, t, e[, c_stage])`` observed up to ``end_us``, kept in the
    engine: ``g, u, s, t0`` (first time), ``last_i, last_e, last_stage`` (last observed row, its code and
    stage, -1 without ``stage``), ``outcome`` (see the module docstring), ``term_i, term_t`` (the
    terminal row and its time; NULL without one)."""
    if not is_held(ev):
        return _outcome_table_in_memory(ev, goal, lost, end_us, idle_us, stage)
    return _outcome_table_sql(ev, goal, lost, end_us, idle_us, stage)


def _outcome_table_sql(ev: Table, goal: Sequence[int], lost: Sequence[int], end_us: int, idle_us: int,
                       stage: bool) -> Table:
    sql = OUTCOME_SQL.format(end=int(end_us), idle=int(idle_us), goal=_codes(goal), lost=_codes(lost),
                             last_stage="max_by(c_stage, i)" if stage else "-1")
    return frame(sql, {"ev": ev}, materialise=True)


def _outcome_table_in_memory(ev: Table, goal: Sequence[int], lost: Sequence[int], end_us: int, idle_us: int,
                             stage: bool) -> dict[str, object]:
    """:func:`outcome_table` of numpy columns, journeys ascending; terminal rows as Arrow with NULLs."""
    rows = {c: np.asarray(ev[c]) for c in ("i", "g", "u", "s", "t", "e") + (("c_stage",) if stage else ())}
    seen = rows["t"] <= end_us
    if not seen.all():
        rows = {c: a[seen] for c, a in rows.items()}
    order = user_order(rows["g"], rows["i"])
    if order is not None:
        rows = {c: a[order] for c, a in rows.items()}
    g, i, t, e = rows["g"], rows["i"].astype(np.int64, copy=False), rows["t"].astype(np.int64, copy=False), rows["e"]
    head = run_starts(g)
    starts, owner = np.flatnonzero(head), np.cumsum(head) - 1
    n = len(starts)
    if not n:
        empty = np.zeros(0, dtype=np.int64)
        return {c: empty for c in ("g", "u", "s", "t0", "last_i", "last_e", "last_stage", "outcome")} | \
            {c: pa.array(empty) for c in ("term_i", "term_t")}
    ends = np.append(starts[1:], len(g)) - 1  # rows are in position order: the last row has the largest i

    def first(codes: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        hit = np.isin(e, np.asarray(codes, dtype=np.int64))
        at = np.flatnonzero(hit)
        at = at[run_starts(owner[at])]  # each journey's first hit
        found = np.zeros(n, dtype=bool)
        found[owner[at]] = True
        row, when = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        row[owner[at]] = i[at]
        when[found] = np.minimum.reduceat(np.where(hit, t, np.iinfo(np.int64).max), starts)[found]
        return found, row, when

    won, goal_i, goal_t = first(goal)
    was_lost, lost_i, lost_t = first(lost)
    won &= ~was_lost | (goal_i < lost_i)
    u = np.minimum.reduceat(rows["u"].astype(np.int64, copy=False), starts)
    t1 = np.maximum.reduceat(t, starts)
    user_last = np.full(int(u.max()) + 1, np.iinfo(np.int64).min)
    np.maximum.at(user_last, u, t1)  # the user's last observed time, over all their journeys
    outcome = np.where(won, CONVERTED, np.where(was_lost, LOST, np.where(
        (end_us - t1 >= idle_us) | (user_last[u] > t1), DROPPED, CENSORED)))
    terminal = won | was_lost
    return {"g": g[starts], "u": u, "s": np.minimum.reduceat(rows["s"], starts),
            "t0": np.minimum.reduceat(t, starts), "last_i": i[ends], "last_e": e[ends],
            "last_stage": rows["c_stage"][ends] if stage else np.full(n, -1, dtype=np.int64),
            "outcome": outcome.astype(np.int64),
            "term_i": pa.array(np.where(won, goal_i, lost_i), mask=~terminal),
            "term_t": pa.array(np.where(won, goal_t, lost_t), mask=~terminal)}


def outcome_counts(jo: Table) -> dict[str, np.ndarray]:
    """Journeys per segment ``s`` and ``outcome`` (``n``)."""
    return run(COUNTS_SQL, {"jo": jo})


def dropoff_points(jo: Table) -> dict[str, np.ndarray]:
    """Dropped journeys per segment ``s``, last code ``e`` and last stage ``stage`` (``n``)."""
    return run(DROPOFFS_SQL, {"jo": jo})


def outcome_durations(jo: Table, end_us: int) -> dict[str, np.ndarray]:
    """Per segment ``s`` and duration ``d`` (µs since the journey's first event): journeys that
    ``converted``, were ``lost`` at ``d``, or are ``censored`` there (observed until ``end_us``)."""
    return run(DURATIONS_SQL.format(end=int(end_us)), {"jo": jo})


def roadblock_signals(ev: Table, jo: Table, end_us: int, errors: Sequence[int], stage: bool = False
                      ) -> dict[str, np.ndarray]:
    """Per segment ``s``, code ``e`` and (with ``stage``) the visit's stage: ``visits`` on the way to the
    outcome, distinct ``journeys``, ``exits`` (last visit of a dropped journey), ``errors`` (visits whose
    next observed code is one of ``errors``), ``dwell_us`` (median µs to the next observed event),
    ``resolved`` journeys among them (outcome known) and ``converted`` ones.

    ``ev`` is the window pass ``(i, g, t, e, e2, dt[, c_stage])``; ``jo`` its :func:`outcome_table`.
    """
    sql = ROADBLOCKS_SQL.format(end=int(end_us), errors=_codes(errors), stage="ev.c_stage" if stage else "-1",
                                by_stage=", ev.c_stage" if stage else "")
    return run(sql, {"ev": ev, "jo": jo})
