"""The in-memory counting kernels against plain numpy and pandas, on rows that repeat cells.

These run in the minimum-versions lane too: scipy's sparse constructor changed how it treats
repeated entries, and the kernels must count the same on every supported version.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from journeylens.engine.kernels import summed_matrix, users_per_code


def repeated_rows(seed: int, n: int, users: int, codes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    u = np.sort(rng.integers(0, users, n))
    return u, rng.integers(0, codes, n)


@pytest.mark.parametrize("n, users, codes", [(50, 3, 4), (2_000, 40, 7), (500, 400, 5_000)])
def test_users_per_code_counts_each_user_once(n, users, codes):
    u, code = repeated_rows(n, n, users, codes)
    expected = pd.DataFrame({"u": u, "c": code}).groupby("c")["u"].nunique()
    got_codes, got_users = users_per_code(u, code)
    assert got_codes.tolist() == expected.index.tolist()
    assert got_users.tolist() == expected.tolist()


def test_users_per_code_by_hand():
    # user 0 carries code 3 twice and code 1 once; user 1 code 3 twice; user 2 code 3 once
    got = users_per_code(np.array([0, 0, 0, 1, 1, 2]), np.array([3, 3, 1, 3, 3, 3]))
    assert [a.tolist() for a in got] == [[1, 3], [1, 3]]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_summed_matrix_holds_one_entry_per_cell_with_the_sum(seed):
    u, code = repeated_rows(seed, 300, 6, 9)
    values = np.random.default_rng(seed).integers(1, 5, len(u))
    dense = np.zeros((6, 9), dtype=np.int64)
    np.add.at(dense, (u, code), values)
    m = summed_matrix(values, u, code, (6, 9), dtype=np.int64)
    assert m.nnz == np.count_nonzero(dense)
    assert np.diff(m.indptr).tolist() == np.count_nonzero(dense, axis=1).tolist()
    assert (m.toarray() == dense).all()

