"""Per-user feature kernels: one summary pass, conditional counts, bigram counts.

The results are narrow (one row per user, or per user and code); callers
scatter them into dense matrices.
"""

from __future__ import annotations

import numpy as np

from . import duck

USER_SQL = """
WITH w AS (SELECT u, t, s, t - lag(t) OVER (PARTITION BY u ORDER BY i) AS gap FROM ev)
SELECT u, count(*) AS n, min(t) AS first_t, max(t) AS last_t,
       count(DISTINCT t // 86400000000) AS active_days, count(DISTINCT s) AS sessions,
       coalesce(median(gap), 0) AS median_gap, coalesce(avg(gap), 0) AS mean_gap
FROM w GROUP BY u ORDER BY u
"""

PAIR_SQL = "SELECT u, c, count(*) AS n FROM ev WHERE c >= 0 GROUP BY u, c ORDER BY u, c"

BIGRAM_SQL = """
WITH w AS (SELECT u, e AS a, lead(e) OVER (PARTITION BY u ORDER BY i) AS b FROM ev)
SELECT u, a, b, count(*) AS n FROM w WHERE b IS NOT NULL GROUP BY u, a, b ORDER BY u, a, b
"""


def user_summary(user: np.ndarray, time_us: np.ndarray, session: np.ndarray) -> dict[str, np.ndarray]:
    """Per user code: events, first/last time, active days, sessions, median/mean gap (µs)."""
    ev = {"i": np.arange(len(user), dtype=np.int64), "u": user, "t": time_us, "s": session}
    return duck.run(USER_SQL, {"ev": ev})


def user_code_counts(user: np.ndarray, codes: np.ndarray) -> dict[str, np.ndarray]:
    """Rows per (user, code), codes < 0 (missing) left out."""
    return duck.run(PAIR_SQL, {"ev": {"u": user, "c": codes}})


def user_bigrams(user: np.ndarray, codes: np.ndarray) -> dict[str, np.ndarray]:
    """Directly-follows pairs (a, b) per user with their counts (rows in log order)."""
    return duck.run(BIGRAM_SQL, {"ev": {"i": np.arange(len(user), dtype=np.int64), "u": user, "e": codes}})
