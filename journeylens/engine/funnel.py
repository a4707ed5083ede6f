"""Funnel kernel: which occurrences of a step can be reached through the steps before it.

One window pass per step over the union of the previous step's reachable rows
and the candidate rows of this step: the latest reachable previous occurrence
before each candidate (in log order) is a running maximum of its time, which a
distributed SQL engine computes the same way. Journeys that end at a lost event
are cut there first (:func:`cut_at_first`).
"""

from __future__ import annotations

import numpy as np

from .sql import Table, frame, is_held, run

STEP_SQL = """
WITH x AS (
    SELECT g, i, t, 1 AS prev FROM p
    UNION ALL
    SELECT g, i, t, 0 AS prev FROM c
), y AS (
    SELECT g, i, t, prev,
           max(CASE WHEN prev = 1 THEN t END) OVER (
               PARTITION BY g ORDER BY i, prev ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS pt
    FROM x
)
SELECT g, i, t, pt FROM y
WHERE prev = 0 AND pt IS NOT NULL AND t - pt <= {within}
"""

# Per group: its first reachable occurrence (the one first in log order), timed from the latest
# reachable previous-step occurrence before it (``pt``) and from the group's first one.
FIRST_SQL = """
WITH a AS (SELECT g, min_by(t - pt, i) AS latest, min_by(t, i) AS at FROM hit GROUP BY g),
f AS (SELECT g, min(t) AS ft FROM p GROUP BY g)
SELECT a.g AS g, a.latest AS latest, a.at - f.ft AS first FROM a JOIN f ON a.g = f.g ORDER BY g
"""
# The rows of each group up to its first row with one of the codes (all rows of groups without one).
CUT_SQL = """
SELECT ev.* FROM ev LEFT JOIN (SELECT g, min(i) AS ci FROM ev WHERE e IN ({codes}) GROUP BY g) c ON ev.g = c.g
WHERE c.ci IS NULL OR ev.i <= c.ci
"""
GROUPS_SQL = "SELECT DISTINCT g FROM c ORDER BY g"
OWNERS_SQL = "SELECT g, min(u) AS u FROM ev GROUP BY g ORDER BY g"


def reachable_step(prev: Table, cand: Table, within_us: int | None) -> Table:
    """Candidate rows (``g`` group, ``i`` log position, ``t`` µs) preceded in their group by a reachable
    previous-step row at most ``within_us`` earlier; ``pt`` is that previous row's time.

    Rows of one group must be in time order along ``i`` (the log order). In an
    engine the result stays a held table: it feeds the next step.
    """
    within = np.iinfo(np.int64).max if within_us is None else int(within_us)
    sql = STEP_SQL.format(within=within)
    if is_held(cand):
        return frame(sql, {"p": prev, "c": cand}, materialise=True)
    if len(prev["i"]) == 0 or len(cand["i"]) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return {"g": empty, "i": empty, "t": empty, "pt": empty}
    out = run(sql + "ORDER BY i", {"p": prev, "c": cand})
    return {k: v.astype(np.int64, copy=False) for k, v in out.items()}


def step_rows(ev: Table, codes: np.ndarray) -> Table:
    """Rows ``(g, i, t)`` of ``ev`` whose event code is one of ``codes``."""
    if is_held(ev):
        listed = ", ".join(str(int(c)) for c in codes) or "-1"
        return frame(f"SELECT g, i, t FROM ev WHERE e IN ({listed})", {"ev": ev})
    mask = np.isin(ev["e"], codes)
    return {c: np.asarray(ev[c], dtype=np.int64)[mask] for c in ("g", "i", "t")}


def groups(rows: Table) -> np.ndarray:
    """The distinct groups of ``rows``, sorted."""
    return run(GROUPS_SQL, {"c": rows})["g"].astype(np.int64)


def first_arrivals(prev: Table, hit: Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Groups of ``hit`` (sorted) and, for each one's first row in log order, the µs since the latest
    previous-step row it came through and since the group's first row of ``prev``."""
    out = run(FIRST_SQL, {"hit": hit, "p": prev})
    return out["g"].astype(np.int64), out["latest"].astype(np.int64), out["first"].astype(np.int64)


def cut_at_first(ev: Table, codes: np.ndarray) -> Table:
    """The rows of ``ev(i, g, e, ...)`` up to and including each group's first row whose code is one of
    ``codes`` (whole groups without one), on ``ev``'s engine; in memory, each group's rows together in
    order of ``i``, as in the journey table."""
    sql = CUT_SQL.format(codes=", ".join(str(int(c)) for c in codes) or "-1")
    if is_held(ev):
        return frame(sql, {"ev": ev})
    out = run(sql + "ORDER BY ev.g, ev.i", {"ev": ev})
    return {k: v.astype(np.int64, copy=False) for k, v in out.items()}


def group_owners(ev: Table) -> np.ndarray:
    """User code of every group of ``ev(g, u)``, by group code (groups are numbered 0..n-1)."""
    return run(OWNERS_SQL, {"ev": ev})["u"].astype(np.int64)
