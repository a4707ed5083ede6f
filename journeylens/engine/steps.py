"""Step-matrix kernel: journeys at each code by step number (the k-th event of the journey)."""

from __future__ import annotations

import numpy as np

from .sql import Table, run

STEP_COUNTS_SQL = """
SELECT s, step, e, count(*) AS journeys
FROM (SELECT {s} AS s, e, row_number() OVER (PARTITION BY g ORDER BY i) AS step FROM ev) x
WHERE step <= {depth}
GROUP BY s, step, e
"""

JOURNEYS_SQL = "SELECT s, count(DISTINCT g) AS journeys FROM (SELECT {s} AS s, g FROM ev) x GROUP BY s"


def step_counts(ev: Table, depth: int, segmented: bool = False) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """For the journey table ``ev(i, g, e[, s])``: journeys whose ``step``-th code (1-based, ``step ≤ depth``)
    is ``e``, per segment ``s`` (all in segment 0 unless ``segmented``); and the journeys per segment."""
    s = "s" if segmented else "0"
    return (run(STEP_COUNTS_SQL.format(s=s, depth=int(depth)), {"ev": ev}),
            run(JOURNEYS_SQL.format(s=s), {"ev": ev}))
