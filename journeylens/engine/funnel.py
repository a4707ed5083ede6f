"""Funnel kernel: which occurrences of a step can be reached through the steps before it.

One window pass per step over the union of the previous step's reachable rows
and the candidate rows of this step: the latest reachable previous occurrence
before each candidate (in log order) is a running maximum of its time, which a
distributed SQL engine computes the same way.
"""

from __future__ import annotations

import numpy as np

from . import duck

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
ORDER BY i
"""


def reachable_step(
    prev: dict[str, np.ndarray], cand: dict[str, np.ndarray], within_us: int | None
) -> dict[str, np.ndarray]:
    """Candidate rows (``g`` group, ``i`` log position, ``t`` µs) preceded in their group by a reachable
    previous-step row at most ``within_us`` earlier; ``pt`` is that previous row's time.

    Rows of one group must be in time order along ``i`` (the log order).
    """
    if len(prev["i"]) == 0 or len(cand["i"]) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return {"g": empty, "i": empty, "t": empty, "pt": empty}
    within = np.iinfo(np.int64).max if within_us is None else int(within_us)
    out = duck.run(STEP_SQL.format(within=within), {"p": prev, "c": cand})
    return {k: v.astype(np.int64, copy=False) for k, v in out.items()}
