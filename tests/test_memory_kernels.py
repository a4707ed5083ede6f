"""The in-memory kernels (numpy over the rows of a log in memory, in user order) against the SQL
kernels that held logs run, on random tables: the same rows, in the same order, with the same sums."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings, strategies as st

from journeylens.engine import attribution as kernel
from journeylens.engine import outcomes, users


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


@st.composite
def user_rows(draw):
    """Rows of a few users in any order, times along the log positions (equal ones and before 1970), goal/lost codes, sessions, values."""
    n = draw(st.integers(0, 50))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    day = 86_400_000_000
    i = rng.permutation(n).astype(np.int64)  # log positions: time order, ties included
    ev = {"i": i, "u": rng.integers(0, 5, n), "t": (i // 2 - 6) * (day // 2) + i // 2 % 3, "e": rng.integers(0, 4, n),
          "c_session": rng.integers(0, 6, n), "v_value": rng.choice([np.nan, 1.5, -2.0, 0.25, np.inf], n)}
    order = np.lexsort((ev["i"], ev["u"])) if draw(st.booleans()) else np.arange(n)
    return {c: a[order] for c, a in ev.items()}


@settings(max_examples=300, deadline=None)
@given(user_rows(), st.booleans(), st.sampled_from([None, 1, 3]))
def test_per_user_rows_in_memory_equal_the_sql(ev, options, depth):
    got = users._user_summary_in_memory(ev, (1,), (2, 3), options, options)
    expected = users._user_summary_sql(ev, (1,), (2, 3), options, options)
    order = np.argsort(expected["u"], kind="stable")  # SQL groups come in any order
    assert got.keys() == expected.keys()
    for name in got:
        np.testing.assert_array_equal(np.asarray(got[name], dtype=np.float64),
                                      np.asarray(expected[name], dtype=np.float64)[order], err_msg=name)
    for a, b in zip(users.first_codes(ev, depth), users._first_codes_sql(ev, depth)):
        np.testing.assert_array_equal(a, b)


@st.composite
def journey_rows(draw):
    """A window pass of journeys (users, or sessions of users) with segments and stages, in any row order."""
    n = draw(st.integers(0, 50))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    u = np.sort(rng.integers(0, 5, n))
    g = u * 3 + rng.integers(0, 3, n) if draw(st.booleans()) else u  # sessions, or whole users
    g = np.sort(g)
    i = np.arange(n, dtype=np.int64)
    ev = {"i": i, "g": g, "u": u, "s": u % 2, "t": (i // 2) * 600_000_000, "e": rng.integers(0, 5, n),
          "c_stage": rng.integers(0, 3, n)}
    same = np.zeros(n, dtype=bool)  # a next row in the same journey
    same[:-1] = g[1:] == g[:-1]
    ev["e2"], ev["dt"] = np.full(n, -1), np.zeros(n, dtype=np.int64)
    ev["e2"][same], ev["dt"][same] = ev["e"][1:][same[:-1]], np.diff(ev["t"])[same[:-1]]
    if draw(st.booleans()):
        order = rng.permutation(n)
        ev = {c: a[order] for c, a in ev.items()}
    end = draw(st.sampled_from([5 * 600_000_000, 30 * 600_000_000]))
    return ev, end, draw(st.sampled_from([0, 1_200_000_000, 10**15])), draw(st.booleans())


def _table(columns) -> pd.DataFrame:
    return pd.DataFrame({c: pd.array(a.to_pylist() if hasattr(a, "to_pylist") else a, dtype="Float64")
                         for c, a in columns.items()}).sort_values("g").reset_index(drop=True)


@settings(max_examples=300, deadline=None)
@given(journey_rows())
def test_outcomes_in_memory_equal_the_sql(rows):
    ev, end, idle, stage = rows
    memory = outcomes._outcome_table_in_memory(ev, (1,), (2, 3), end, idle, stage)
    sql = outcomes._outcome_table_sql(ev, (1,), (2, 3), end, idle, stage)
    pd.testing.assert_frame_equal(_table(memory), _table(sql))
    for kernel_of in (outcomes.outcome_counts, outcomes.dropoff_points,
                      lambda jo: outcomes.outcome_durations(jo, end),
                      lambda jo: outcomes.roadblock_signals(ev, jo, end, (4,), stage=stage)):
        a, b = kernel_of(memory), kernel_of(sql)
        for name in a:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@settings(max_examples=200, deadline=None)
@given(journey_rows(), st.sampled_from([1, 2, 4, 60]))
def test_flows_in_memory_equal_the_sql(rows, depth):
    from journeylens.engine import mining

    ev = rows[0]
    a, b = mining._flows_in_memory(ev, depth), mining.run(mining.FLOWS_SQL.format(depth=depth), {"ev": ev})
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@settings(max_examples=200, deadline=None)
@given(journey_rows(), st.sampled_from([1, 2, 4, 60]), st.booleans())
def test_step_counts_in_memory_equal_the_sql(rows, depth, segmented):
    from journeylens.engine import steps

    ev = {**rows[0], "s": rows[0]["u"] % 3 - 1}  # users outside both segments (-1) too
    s = "s" if segmented else "0"
    expected = (steps.run(steps.STEP_COUNTS_SQL.format(s=s, depth=depth), {"ev": ev}),
                steps.run(steps.JOURNEYS_SQL.format(s=s), {"ev": ev}))
    for got, want in zip(steps._step_counts_in_memory(ev, depth, segmented), expected):
        frame = pd.DataFrame({c: np.asarray(a, dtype=np.int64) for c, a in got.items()})
        pd.testing.assert_frame_equal(frame, pd.DataFrame({c: np.asarray(want[c], dtype=np.int64) for c in got})
                                      .sort_values(list(got)[:-1]).reset_index(drop=True))


@settings(max_examples=200, deadline=None)
@given(journey_rows())
def test_journey_vectors_in_memory_equal_the_sql(rows):
    from journeylens.engine import features

    ev = rows[0]
    for got, sql in zip(features.journey_vectors(ev), (features.EVENT_COUNTS_SQL, features.PAIR_COUNTS_SQL)):
        frame = pd.DataFrame({c: np.asarray(a, dtype=np.int64) for c, a in got.items()})
        expected = features.run(sql, {"ev": ev})
        expected = pd.DataFrame({c: np.asarray(expected[c], dtype=np.int64) for c in got})
        pd.testing.assert_frame_equal(frame, expected.sort_values(list(got)[:-1]).reset_index(drop=True))
