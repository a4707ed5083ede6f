"""Cohort-retention kernel: users active in each period since the period of their first event."""

from __future__ import annotations

import numpy as np

from .sql import Table, run

DAY_US = 86_400_000_000

# ``periods(day, k)`` maps each day since ``anchor`` (a UTC midnight at or before the first event) to its
# period; the join is on equal integers, so every engine runs it as a plain hash join.
RETENTION_SQL = """
WITH d AS (
    SELECT DISTINCT ev.u AS u, p.k AS k FROM ev JOIN periods p ON div(ev.t - {anchor}, {day}) = p.day
), f AS (
    SELECT u, min(k) AS c FROM d GROUP BY u
)
SELECT f.c AS cohort, d.k - f.c AS since, count(*) AS users
FROM d JOIN f ON d.u = f.u
GROUP BY f.c, d.k - f.c
"""


def retention_counts(ev: Table, periods: Table, anchor_us: int) -> dict[str, np.ndarray]:
    """Users of each ``cohort`` (the period of their first event) active ``since`` periods later, for the
    journey table ``ev(u, t)`` and the day → period table ``periods(day, k)`` counted from ``anchor_us``."""
    return run(RETENTION_SQL.format(anchor=int(anchor_us), day=DAY_US), {"ev": ev, "periods": periods})
