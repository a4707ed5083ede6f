"""The in-memory attribution kernel (numpy over user-ordered rows) against the SQL kernel that held logs
run, on random tables: the same touches, the same distinct paths in the same order, the same sums."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings, strategies as st

from journeylens.engine import attribution as kernel


@st.composite
def touch_tables(draw):
    n = draw(st.integers(0, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    users = draw(st.integers(1, 6))
    u = np.sort(rng.integers(0, users, n))
    t = np.sort(rng.integers(0, 50, n)) * 1_000_000  # equal times too: order is by i, not t
    e = rng.integers(0, 4, n)
    p = rng.integers(-1, 3, n)  # -1: no touchpoint
    v = rng.choice([np.nan, np.inf, 1e19, -2.5, 0.1, 7.0, 3.0], n)
    ev = {"i": np.arange(n, dtype=np.int64), "u": u, "t": t, "e": e, "p": p, "v": v}
    if draw(st.booleans()):  # an engine's result: rows in any order
        order = rng.permutation(n)
        ev = {c: a[order] for c, a in ev.items()}
    return ev, draw(st.sampled_from([(0,), (0, 2)])), draw(st.sampled_from([None, 0, 5_000_000, 20_000_000]))


def _rows(tp) -> pd.DataFrame:
    frame = pd.DataFrame({c: np.asarray(pd.array(tp[c].to_pylist() if hasattr(tp[c], "to_pylist") else tp[c],
                                                 dtype="Float64" if c == "v" else "Int64"))
                          for c in ("u", "k", "i", "t", "e", "converted", "v")})
    return frame.sort_values("i").reset_index(drop=True)


@settings(max_examples=300, deadline=None)
@given(touch_tables(), st.booleans())
def test_memory_kernel_cuts_the_paths_the_sql_cuts(table, valued):
    ev, goal, lookback = table
    value = "v" if valued else None
    memory = kernel._touches_in_memory(ev, goal, lookback, "p", value)
    sql = kernel._touches_sql(ev, goal, lookback, "p", value)
    pd.testing.assert_frame_equal(_rows(memory), _rows(sql))
    a, b = kernel.path_counts(memory), kernel._paths_sql(sql)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_memory_kernel_by_hand():
    # user 0: web, web, (buy), email, (no touchpoint), ads | user 1: (buy), web
    ev = {"i": np.arange(8), "u": np.array([0, 0, 0, 0, 0, 0, 1, 1]), "t": np.arange(8) * 10,
          "e": np.array([1, 1, 0, 1, 1, 1, 0, 1]), "p": np.array([2, 2, 2, 1, -1, 0, 2, 2]),
          "v": np.array([0, 0, 9.5, 0, 0, 0, 4.0, 0])}
    tp = kernel._touches_in_memory(ev, (0,), None, "p", "v")
    assert tp["i"].tolist() == [1, 3, 5, 7]  # a run of web is one touch, at its last row
    assert tp["k"].tolist() == [0, 1, 1, 1] and tp["converted"].tolist() == [1, 0, 0, 0]
    assert tp["v"].to_pylist() == [9.5, None, None, None]
    paths = kernel.path_counts(tp)
    # paths in list order: email > ads [1, 0] (a null), then web [2] (user 0's conversion, user 1's null)
    assert paths["codes"].tolist() == [1, 0, 2] and paths["lengths"].tolist() == [2, 1]
    assert paths["conversions"].tolist() == [0, 1] and paths["nulls"].tolist() == [1, 1]
    assert paths["value"].tolist() == [0.0, 9.5]
