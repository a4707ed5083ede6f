"""The filter kernel: which events of a journey table a log filter keeps, in one query.

Events are first kept by time (``t`` in ``[start, end)``); journeys (``g``) are then
kept by their user, by the events they have or lack, by their length and by their
variant among the most frequent ones, each counted on the events that remain.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .sql import Table, frame


def _listed(codes: Sequence[int]) -> str:
    return ", ".join(str(int(c)) for c in codes) or "-1"


def kept_rows(ev: Table, *, start_us: int | None, end_us: int | None, users: np.ndarray | None,
              having: Sequence[int], not_having: Sequence[int], min_length: int | None,
              max_length: int | None, top_variants: int | None) -> Table:
    """Positions ``i`` of the rows of ``ev(i, g, u, t, e)`` that the conditions keep (see the module docstring).

    ``users``: user codes to keep (None: all); ``having``: event codes a journey must contain
    (any of them); ``not_having``: codes it must not contain.
    """
    where = [f"t >= {int(start_us)}" if start_us is not None else "", f"t < {int(end_us)}" if end_us is not None else "",
             "u IN (SELECT u FROM keep_users)" if users is not None else ""]
    conditions = " AND ".join(w for w in where if w) or "1 = 1"
    tests = []
    if len(having):
        tests.append(f"max(CASE WHEN e IN ({_listed(having)}) THEN 1 ELSE 0 END) = 1")
    if len(not_having):
        tests.append(f"max(CASE WHEN e IN ({_listed(not_having)}) THEN 1 ELSE 0 END) = 0")
    if min_length is not None:
        tests.append(f"count(*) >= {int(min_length)}")
    if max_length is not None:
        tests.append(f"count(*) <= {int(max_length)}")
    ctes = [f"r AS (SELECT i, g, e FROM ev WHERE {conditions})",
            f"j AS (SELECT g FROM r GROUP BY g{' HAVING ' + ' AND '.join(tests) if tests else ''})"]
    last = "j"
    if top_variants is not None:
        ctes += ["seq AS (SELECT r.g, {seq_e} AS v FROM r JOIN j ON r.g = j.g GROUP BY r.g)",
                 f"top AS (SELECT v FROM seq GROUP BY v ORDER BY count(*) DESC, v LIMIT {int(top_variants)})",
                 "jv AS (SELECT seq.g FROM seq JOIN top ON seq.v = top.v)"]
        last = "jv"
    sql = f"WITH {', '.join(ctes)} SELECT r.i FROM r JOIN {last} ON r.g = {last}.g"
    tables = {"ev": ev}
    if users is not None:
        tables["keep_users"] = {"u": np.asarray(users, dtype=np.int64)}
    return frame(sql, tables, materialise=True)
