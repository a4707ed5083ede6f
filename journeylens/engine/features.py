"""Per-user feature kernels: one summary pass, conditional counts, bigram counts.

The results are narrow (one row per user, or per user and code); callers
scatter them into dense matrices.
"""

from __future__ import annotations

import numpy as np

from .dialect import Table, run

USER_SQL = """
WITH w AS (SELECT u, t, s, t - lag(t) OVER (PARTITION BY u ORDER BY i) AS gap FROM ev)
SELECT u, count(*) AS n, min(t) AS first_t, max(t) AS last_t,
       count(DISTINCT div(t, 86400000000)) AS active_days, count(DISTINCT s) AS sessions,
       coalesce(median(gap), 0) AS median_gap, coalesce(avg(gap), 0) AS mean_gap
FROM w GROUP BY u ORDER BY u
"""

PAIR_SQL = "SELECT u, {c} AS c, count(*) AS n FROM ev WHERE {c} >= 0 GROUP BY u, {c} ORDER BY u, c"

BIGRAM_SQL = """
WITH w AS (SELECT u, e AS a, lead(e) OVER (PARTITION BY u ORDER BY i) AS b FROM ev)
SELECT u, a, b, count(*) AS n FROM w WHERE b IS NOT NULL GROUP BY u, a, b ORDER BY u, a, b
"""


def user_summary(ev: Table) -> dict[str, np.ndarray]:
    """Per user code of ``ev(i, u, t, s)``: events, first/last time, active days, sessions ``s``,
    median/mean gap (µs)."""
    return run(USER_SQL, {"ev": ev})


def user_code_counts(ev: Table, column: str) -> dict[str, np.ndarray]:
    """Rows per (user ``u``, code ``c``) for the codes in ``column`` of ``ev``; codes < 0 (missing) left out."""
    return run(PAIR_SQL.format(c=column), {"ev": ev})


def user_bigrams(ev: Table) -> dict[str, np.ndarray]:
    """Directly-follows pairs (a, b) of codes ``e`` per user ``u`` of ``ev(i, u, e)``, with their counts."""
    return run(BIGRAM_SQL, {"ev": ev})
