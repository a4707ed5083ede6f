"""Step-matrix kernel: journeys at each code by step number (the k-th event of the journey)."""

from __future__ import annotations

import numpy as np

from .kernels import journey_steps, key_counts
from .sql import Table, is_held, run

STEP_COUNTS_SQL = """
SELECT s, step, e, count(*) AS journeys
FROM (SELECT {s} AS s, e, row_number() OVER (PARTITION BY g ORDER BY i) AS step FROM ev) x
WHERE step <= {depth}
GROUP BY s, step, e
"""

JOURNEYS_SQL = "SELECT s, count(DISTINCT g) AS journeys FROM (SELECT {s} AS s, g FROM ev) x GROUP BY s"


def step_counts(ev: Table, depth: int, segmented: bool = False) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """For the journey table ``ev(i, g, e[, s])``: journeys whose ``step``-th code (1-based, ``step ≤ depth``)
    is ``e``, per segment ``s`` (all in segment 0 unless ``segmented``); and the journeys per segment.
    A journey's rows carry one segment (the user's)."""
    counted = None if is_held(ev) else _step_counts_in_memory(ev, int(depth), segmented)
    if counted is not None:
        return counted
    s = "s" if segmented else "0"
    return (run(STEP_COUNTS_SQL.format(s=s, depth=int(depth)), {"ev": ev}),
            run(JOURNEYS_SQL.format(s=s), {"ev": ev}))


def _step_counts_in_memory(ev: Table, depth: int, segmented: bool
                           ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None:
    """:func:`step_counts` of numpy columns on one packed key (segment, step, code); None when it would
    overflow."""
    order, step = journey_steps(np.asarray(ev["g"]), np.asarray(ev["i"]))
    e = np.asarray(ev["e"], dtype=np.int64)
    s = np.asarray(ev["s"], dtype=np.int64) if segmented else np.zeros(len(e), dtype=np.int64)
    if order is not None:
        e, s = e[order], s[order]
    low = int(s.min(initial=0))
    s = s - low
    segments = int(s.max(initial=0)) + 1
    width = int(e.max(initial=0)) + 1
    if segments * depth * width >= 2**62:
        return None
    first = step == 1
    keep = step <= depth
    keys, journeys = key_counts((s[keep] * depth + step[keep] - 1) * width + e[keep], segments * depth * width)
    found, per_segment = key_counts(s[first], segments)
    return ({"s": keys // (depth * width) + low, "step": keys // width % depth + 1, "e": keys % width,
             "journeys": journeys},
            {"s": found + low, "journeys": per_segment})
