"""Kernels of the designed-vs-observed comparison and of drift, as SQL over the journey table.

Conformance reads journeys at the map's level (:func:`map_level`): a shipped
table ``mp(e, c, s)`` gives each event code that is a touchpoint of the map its
touchpoint code ``c`` and stage rank ``s``; events without one are left out and
a touchpoint repeated back to back counts once. The designed steps are a shipped
table of pairs ``d(a, b)`` and the designed starts a table ``st(c)``: nothing is
ever a touchpoints × touchpoints matrix, so a map with tens of thousands of
touchpoints costs what its transitions cost.

Drift selects the rows of each period (:func:`period_rows`) for
:meth:`JourneyLog.take`, and counts users per edge, variant and outcome in each.
Every result that leaves the engine is small: one row per journey at most. Results are
sorted here, by their codes, not by the engine: a global ORDER BY costs Spark a sampling
job per query, and these results are small.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .sql import Table, frame, run

_NONE = "-1"  # an IN list that matches no code


def _sorted(out: dict[str, np.ndarray], *keys: str) -> dict[str, np.ndarray]:
    """A small kernel result in the order of its ``keys`` (codes: a total order)."""
    order = np.lexsort([np.asarray(out[k], dtype=np.int64) for k in reversed(keys)])
    return {k: np.asarray(v)[order] for k, v in out.items()}


def codes_list(codes: Sequence[int]) -> str:
    """Codes as the inside of a SQL ``IN (...)`` (one that matches nothing when empty)."""
    return ", ".join(str(int(c)) for c in codes) or _NONE


# -- conformance -------------------------------------------------------------------------------
# The map-level journey: mapped rows only, back-to-back repeats dropped, then each row's next
# touchpoint and stage within the journey (-1 after the last).
MAP_LEVEL_SQL = """
WITH m AS (SELECT ev.g, ev.u, ev.i, ev.t, mp.c, mp.s FROM ev JOIN mp ON ev.e = mp.e),
d AS (SELECT m.*, lag(c) OVER (PARTITION BY g ORDER BY i) AS prev FROM m),
k AS (SELECT g, u, i, t, c, s FROM d WHERE prev IS NULL OR prev <> c)
SELECT g, u, i, t, c, s,
       coalesce(lead(c) OVER w, -1) AS c2, coalesce(lead(s) OVER w, -1) AS s2,
       CASE WHEN lag(i) OVER w IS NULL THEN 1 ELSE 0 END AS head
FROM k WINDOW w AS (PARTITION BY g ORDER BY i)
"""

# One row per journey: its outcome (the first goal or lost event decides) and its walk on the map.
JOURNEY_SQL = """
WITH oc AS (
    SELECT g, min(u) AS u, min(t) AS t0,
           coalesce(min(CASE WHEN e IN ({goal}) THEN i END), -1) AS goal_i,
           coalesce(min(CASE WHEN e IN ({goal}) THEN t END), -1) AS goal_t,
           coalesce(min(CASE WHEN e IN ({lost}) THEN i END), -1) AS lost_i{label}
    FROM ev GROUP BY g
), tp AS (
    SELECT mt.g, count(*) AS touchpoints,
           CAST(sum(CASE WHEN mt.c2 >= 0 THEN 1 ELSE 0 END) AS BIGINT) AS transitions,
           CAST(sum(CASE WHEN mt.c2 >= 0 AND {allowed} THEN 1 ELSE 0 END) AS BIGINT) AS allowed,
           CAST(sum(CASE WHEN mt.c2 >= 0 AND mt.s2 < mt.s THEN 1 ELSE 0 END) AS BIGINT) AS backward,
           CAST(max(CASE WHEN mt.head = 1 AND st.c IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS started
    FROM mt LEFT JOIN d ON mt.c = d.a AND mt.c2 = d.b LEFT JOIN st ON mt.c = st.c
    GROUP BY mt.g
)
SELECT oc.g, oc.u, oc.t0, oc.goal_t{label_out},
       coalesce(tp.touchpoints, 0) AS touchpoints, coalesce(tp.transitions, 0) AS transitions,
       coalesce(tp.allowed, 0) AS allowed, coalesce(tp.backward, 0) AS backward,
       coalesce(tp.started, 0) AS started,
       CASE WHEN oc.goal_i >= 0 AND (oc.lost_i < 0 OR oc.goal_i < oc.lost_i) THEN 1 ELSE 0 END AS converted,
       CASE WHEN oc.lost_i >= 0 AND (oc.goal_i < 0 OR oc.lost_i < oc.goal_i) THEN 1 ELSE 0 END AS lost,
       CASE WHEN tp.transitions >= 1 AND tp.allowed + tp.started = tp.transitions + 1 THEN 1 ELSE 0 END
           AS conforming
FROM oc LEFT JOIN tp ON oc.g = tp.g
"""

# Every observed step at map level, with the journeys taking it and their outcomes.
PAIRS_SQL = """
SELECT p.c AS a, p.c2 AS b, count(*) AS n, count(DISTINCT p.g) AS journeys, count(DISTINCT p.u) AS users,
       count(DISTINCT CASE WHEN j.converted = 1 THEN p.g END) AS converted,
       count(DISTINCT CASE WHEN j.lost = 1 THEN p.g END) AS lost,
       max(CASE WHEN {allowed} THEN 1 ELSE 0 END) AS designed
FROM mt p JOIN jt j ON p.g = j.g LEFT JOIN d ON p.c = d.a AND p.c2 = d.b
WHERE p.c2 >= 0 GROUP BY p.c, p.c2
"""
REACHED_SQL = """
SELECT c, count(DISTINCT g) AS journeys, count(DISTINCT u) AS users FROM mt GROUP BY c
"""
BACKWARD_SQL = """
SELECT s AS a, s2 AS b, count(*) AS n, count(DISTINCT g) AS journeys, count(DISTINCT u) AS users
FROM mt WHERE c2 >= 0 AND s2 < s GROUP BY s, s2
"""
# Stages passed over: journeys whose lowest and highest stage ranks lo < k < hi pass stage k;
# counted as journeys by lo and by hi (the caller's running sums give the passing ones) and the
# journeys visiting k in between.
SPAN_SQL = """
WITH span AS (SELECT g, min(s) AS lo, max(s) AS hi FROM mt GROUP BY g),
inner_visits AS (
    SELECT DISTINCT mt.g, mt.s FROM mt JOIN span ON mt.g = span.g WHERE mt.s > span.lo AND mt.s < span.hi
)
SELECT 0 AS kind, lo AS k, count(*) AS n FROM span WHERE hi - lo >= 2 GROUP BY lo
UNION ALL SELECT 1 AS kind, hi AS k, count(*) AS n FROM span WHERE hi - lo >= 2 GROUP BY hi
UNION ALL SELECT 2 AS kind, s AS k, count(*) AS n FROM inner_visits GROUP BY s
"""
UNMAPPED_SQL = """
SELECT ev.e, count(*) AS n, count(DISTINCT ev.u) AS users
FROM ev LEFT JOIN mp ON ev.e = mp.e WHERE mp.e IS NULL GROUP BY ev.e
"""
MAP_ROWS_SQL = "SELECT ev.i FROM ev JOIN mp ON ev.e = mp.e"


def map_level(ev: Table, mapping: Table) -> Table:
    """The map-level journeys ``mt(g, u, i, t, c, s, c2, s2, head)`` of ``ev(i, g, u, t, e)``
    through ``mapping(e, c, s)`` (see the module docstring), kept in the engine."""
    return frame(MAP_LEVEL_SQL, {"ev": ev, "mp": mapping}, materialise=True)


def map_rows(ev: Table, mapping: Table) -> Table:
    """The rows ``i`` of ``ev`` whose event is a touchpoint of ``mapping(e, ...)``, kept in the engine."""
    return frame(MAP_ROWS_SQL, {"ev": ev, "mp": mapping}, materialise=True)


def _allowed(any_step: bool) -> str:
    return "1 = 1" if any_step else "d.a IS NOT NULL"


def journey_table(ev: Table, mt: Table, designed: Table, starts: Table, goal: Sequence[int],
                  lost: Sequence[int], any_step: bool, label: str | None = None) -> Table:
    """One row per journey of ``ev``, kept in the engine: ``g, u, t0, goal_t`` (-1: none),
    ``touchpoints, transitions, allowed, backward, started`` on the map and ``converted, lost,
    conforming`` (0/1); with ``label`` (a column of ``ev``) also its first value as ``label``."""
    sql = JOURNEY_SQL.format(goal=codes_list(goal), lost=codes_list(lost), allowed=_allowed(any_step),
                             label=f",\n           min({label}) AS label" if label else "",
                             label_out=", oc.label" if label else "")
    return frame(sql, {"ev": ev, "mt": mt, "d": designed, "st": starts}, materialise=True)


def journey_rows(jt: Table) -> dict[str, np.ndarray]:
    """The journey table, in journey order."""
    return _sorted(run("SELECT * FROM jt", {"jt": jt}), "g")


def observed_pairs(mt: Table, jt: Table, designed: Table, any_step: bool) -> dict[str, np.ndarray]:
    """Observed steps ``a → b`` (touchpoint codes): ``n``, ``journeys``, ``users``, the journeys
    among them that ``converted`` or were ``lost``, and whether the step is ``designed``."""
    return _sorted(run(PAIRS_SQL.format(allowed=_allowed(any_step)), {"mt": mt, "jt": jt, "d": designed}), "a", "b")


def reached(mt: Table) -> dict[str, np.ndarray]:
    """Journeys and users reaching each touchpoint code ``c``."""
    return _sorted(run(REACHED_SQL, {"mt": mt}), "c")


def backward_steps(mt: Table) -> dict[str, np.ndarray]:
    """Steps from a later stage rank ``a`` back to an earlier ``b``: ``n``, ``journeys``, ``users``."""
    return _sorted(run(BACKWARD_SQL, {"mt": mt}), "a", "b")


def stage_spans(mt: Table, n_stages: int) -> tuple[np.ndarray, np.ndarray]:
    """Per stage rank: journeys passing it (lowest stage below, highest above) and those
    among them that never visit it."""
    out = run(SPAN_SQL, {"mt": mt})
    kind, k, n = (out[c].astype(np.int64) for c in ("kind", "k", "n"))
    per = np.zeros((3, n_stages + 1), dtype=np.int64)
    np.add.at(per, (kind, k), n)
    below = np.concatenate([[0], np.cumsum(per[0])[:-1]])[:n_stages]  # journeys with lo < k
    at_or_below = np.cumsum(per[1])[:n_stages]  # journeys with hi <= k (then lo < k too)
    passing = below - at_or_below
    return passing, passing - per[2][:n_stages]


def unmapped(ev: Table, mapping: Table) -> dict[str, np.ndarray]:
    """Events (codes ``e``) that are no touchpoint of the map: ``n`` events and ``users``."""
    return _sorted(run(UNMAPPED_SQL, {"ev": ev, "mp": mapping}), "e")


# -- drift -------------------------------------------------------------------------------------
# The users of a period and their exposure: their first event in the period, and whether they
# are followed for the whole window before the period ends (always, without a window).
PERIOD_USERS_SQL = """
WITH first_seen AS (SELECT u, min(t) AS f FROM ev GROUP BY u),
p AS (SELECT ev.i, ev.u, ev.t FROM ev JOIN first_seen ON ev.u = first_seen.u WHERE {inside})
SELECT u, min(t) AS t0, {kept} AS kept FROM p GROUP BY u
"""
PERIOD_ROWS_SQL = """
WITH first_seen AS (SELECT u, min(t) AS f FROM ev GROUP BY u)
SELECT ev.i FROM ev JOIN first_seen ON ev.u = first_seen.u JOIN pu ON ev.u = pu.u
WHERE pu.kept = 1 AND {inside} AND ev.t < pu.t0 + {window}
"""
PERIOD_COUNTS_SQL = """
SELECT count(*) AS users, CAST(coalesce(sum(kept), 0) AS BIGINT) AS kept FROM pu
"""
EDGE_USERS_SQL = """
SELECT e AS a, e2 AS b, count(DISTINCT u) AS users FROM ev WHERE e2 >= 0 GROUP BY e, e2
"""
USERS_SQL = "SELECT count(DISTINCT u) AS users, count(*) AS events, min(t) AS lo, max(t) AS hi FROM ev"
# How many journeys follow each wanted sequence ``w(g, i, e)`` (its rows in order of ``i``).
VARIANT_COUNT_SQL = """
WITH seq AS (SELECT g, {seq_e} AS v FROM ev GROUP BY g),
want AS (SELECT g AS k, {seq_e} AS v FROM w GROUP BY g)
SELECT want.k, count(seq.g) AS n FROM want LEFT JOIN seq ON want.v = seq.v GROUP BY want.k
"""
# Per segment: users, and how each user's journey ended by its end of observation (the end of its
# window, or of the period): converted or lost (the first such event decides), dropped off
# (inactive for ``idle`` µs before that end) or still open (censored).
OUTCOMES_SQL = """
WITH o AS (
    SELECT u, min(s) AS s, min(t) AS t0, max(t) AS t1,
           coalesce(min(CASE WHEN e IN ({goal}) THEN i END), -1) AS gi,
           coalesce(min(CASE WHEN e IN ({lost}) THEN i END), -1) AS li
    FROM ev GROUP BY u
), c AS (
    SELECT s, t0, t1,
           CASE WHEN gi >= 0 AND (li < 0 OR gi < li) THEN 1 ELSE 0 END AS conv,
           CASE WHEN li >= 0 AND (gi < 0 OR li < gi) THEN 1 ELSE 0 END AS lost
    FROM o
)
SELECT s, count(*) AS users, CAST(sum(conv) AS BIGINT) AS converted, CAST(sum(lost) AS BIGINT) AS lost,
       CAST(sum(CASE WHEN conv = 0 AND lost = 0 AND least(t0 + {window}, {end}) - t1 >= {idle}
                     THEN 1 ELSE 0 END) AS BIGINT) AS dropped
FROM c GROUP BY s
"""
_FOREVER = int(np.iinfo(np.int64).max // 4)  # "no window": far beyond any epoch µs, no overflow in sums


def _inside(mode: str, side: int, cut_us: int) -> str:
    """The SQL test that a row ``ev`` belongs to period ``side`` (0 before the cut, 1 from it)."""
    when = "first_seen.f" if mode == "cohort" else "ev.t"
    return f"{when} < {int(cut_us)}" if side == 0 else f"{when} >= {int(cut_us)}"


def period_rows(ev: Table, *, mode: str, side: int, cut_us: int | None, window_us: int | None,
                end_us: int) -> tuple[Table, int, int]:
    """The rows ``i`` of one period of ``ev(i, u, t)``: with ``cut_us``, the users first seen
    before/from it (``mode="cohort"``) or the events before/from it (``"calendar"``); without,
    every row. With ``window_us``, each user's first ``window_us`` in the period, users whose
    window ends after ``end_us`` left out. Returns the rows (kept in the engine), the period's
    users and the users kept."""
    inside = "1 = 1" if cut_us is None else _inside(mode, side, cut_us)
    window = _FOREVER if window_us is None else int(window_us)
    kept = "1" if window_us is None else f"CASE WHEN min(t) + {window} <= {int(end_us)} THEN 1 ELSE 0 END"
    users = frame(PERIOD_USERS_SQL.format(inside=inside, kept=kept), {"ev": ev}, materialise=True)
    counts = run(PERIOD_COUNTS_SQL, {"pu": users})
    rows = frame(PERIOD_ROWS_SQL.format(inside=inside, window=window), {"ev": ev, "pu": users}, materialise=True)
    return rows, int(counts["users"][0]), int(counts["kept"][0])


def period_size(ev: Table) -> dict[str, int]:
    """Users, events and first and last time of ``ev``."""
    out = run(USERS_SQL, {"ev": ev})
    return {k: (0 if out[k][0] is None or out[k][0] != out[k][0] else int(out[k][0])) for k in out}


def edge_users(ev: Table) -> dict[str, np.ndarray]:
    """Users taking each directly-follows step ``a → b`` of the window pass ``ev(u, e, e2)``."""
    return _sorted(run(EDGE_USERS_SQL, {"ev": ev}), "a", "b")


def variant_counts(ev: Table, wanted: Table) -> np.ndarray:
    """Journeys of ``ev(g, i, e)`` following each wanted sequence ``w(g, i, e)`` (by ``g`` = 0..k-1)."""
    return _sorted(run(VARIANT_COUNT_SQL, {"ev": ev, "w": wanted}), "k")["n"].astype(np.int64)


def outcome_counts(ev: Table, goal: Sequence[int], lost: Sequence[int], *, window_us: int | None,
                   end_us: int, idle_us: int) -> dict[str, np.ndarray]:
    """Per segment ``s`` of ``ev(i, u, t, e, s)``: ``users, converted, lost, dropped`` (see
    :data:`OUTCOMES_SQL`)."""
    sql = OUTCOMES_SQL.format(goal=codes_list(goal), lost=codes_list(lost),
                              window=_FOREVER if window_us is None else int(window_us), end=int(end_us),
                              idle=int(idle_us))
    return _sorted(run(sql, {"ev": ev}), "s")
