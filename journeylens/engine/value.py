"""Value kernel: the value recorded on the events of each code of a coded column (e.g. each channel)."""

from __future__ import annotations

import numpy as np

from .sql import Table, quote, run
from .users import FINITE

VALUE_BY_CODE_SQL = """
SELECT c, sum(v) AS value, count(DISTINCT u) AS users
FROM (SELECT u, {column} AS c, {finite} AS v FROM ev) x
WHERE v IS NOT NULL AND c >= 0
GROUP BY c
"""


def value_by_code(ev: Table, column: str, dialect: str) -> dict[str, np.ndarray]:
    """Sum of ``v_value`` over the events of each code ``c`` of ``ev``'s coded ``column`` (``c_<name>``), and
    the distinct users behind it; missing values (NULL, NaN) and missing codes (-1) are left out."""
    return run(VALUE_BY_CODE_SQL.format(column=quote(column, dialect), finite=FINITE), {"ev": ev})
