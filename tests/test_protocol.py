"""The log protocol: the same answers from an in-memory log and from the same log held by DuckDB.

Moving between engines (``hold``, ``collect``) keeps every row, code and column;
the protocol's derivations (a coded column, a subset of rows, new user ids,
sessions) give the same log on both engines; journeys are whole even when a
user's given sessions interleave in time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

import journeylens as jl

from conftest import minutes_frame


def _log(**options):
    rows = [("a", 0, "home"), ("a", 1, "app_open"), ("a", 2, "cart"), ("a", 3, "app_close"),
            ("b", 0, "home"), ("b", 5, "cart"), ("c", 9, "home")]
    frame = minutes_frame(rows, session=["s1", "s2", "s1", "s2", "t1", "t1", "u1"],
                          channel=["web", "app", "web", "app", "web", "Email", None], tier=["x", "x", "x", "x", "y", "y", None])
    return jl.from_pandas(frame, session="session", channel="channel", **options)


def test_interleaved_sessions_keep_their_transitions():
    log = _log()
    edges = jl.dfg(log, per="session").to_frame()
    assert sorted(zip(edges["source"], edges["target"], edges["count"])) == [
        ("app_open", "app_close", 1), ("home", "cart", 2)]
    found = jl.variants(log, per="session").to_dict()
    assert found == {("home", "cart"): 2, ("app_open", "app_close"): 1, ("home",): 1}


@pytest.fixture(scope="module")
def pair():
    log = _log()
    return log, log.hold("duckdb")


def test_hold_and_collect_keep_every_row_and_column(pair):
    log, held = pair
    assert held.engine == "duckdb" and log.engine == "memory"
    assert (held.rows_read, held.rows_accepted, held.rows_quarantined) == (log.rows_read, log.rows_accepted,
                                                                           log.rows_quarantined)
    back = held.collect()
    pd.testing.assert_frame_equal(back.to_pandas(source_row=True), log.to_pandas(source_row=True))
    assert held.columns == log.columns


def test_collect_samples_whole_users_deterministically(pair):
    log, held = pair
    one = held.collect(sample=2, random_state=3).to_pandas()
    two = log.collect(sample=2, random_state=3).to_pandas()
    pd.testing.assert_frame_equal(one, two)
    counts = log.to_pandas()["user_id"].astype(str).value_counts().to_dict()
    sampled = one["user_id"].astype(str).value_counts().to_dict()
    assert len(sampled) == 2 and all(counts[u] == n for u, n in sampled.items())  # whole users
    with pytest.raises(jl.ParameterError, match="fraction must be in"):
        held.collect(sample=1.5)


def test_journey_tables_agree_on_both_engines(pair):
    log, held = pair
    for per in ("user", "session"):
        a = pd.DataFrame(log.journeys(per=per, columns=("channel", "tier"))).sort_values("i", ignore_index=True)
        b = pd.DataFrame(jl.engine.sql.run("SELECT * FROM ev ORDER BY i", {"ev": held.journeys(per=per, columns=("channel", "tier"))}))
        pd.testing.assert_frame_equal(a[sorted(a.columns)], b[sorted(a.columns)], check_dtype=False)


def test_segments_and_added_columns_agree(pair):
    log, held = pair
    for by in ("tier", "channel", {"a": "vip", "c": "vip"}):
        a, b = log.segments(by), held.segments(by)
        np.testing.assert_array_equal(a[0], b[0])
        assert list(a[1]) == list(b[1]) and a[2] == b[2]
    labels = pd.Series({"a": "p1", "b": "p2"}, name="persona")
    for tagged in (jl.add_segment(log, labels, "persona"), jl.add_segment(held, labels, "persona")):
        codes, names, _ = tagged.segments("persona")
        assert [names[c] for c in codes] == ["p1", "p2", "(none)"]
    taken = [x.take({"i": np.array([0, 2, 6])}, {"why": "test"}) for x in (log, held)]
    assert [len(x) for x in taken] == [3, 3]
    pd.testing.assert_frame_equal(taken[1].collect().to_pandas(), taken[0].to_pandas())
    assert taken[0].summary()["filters"] == [{"why": "test"}] == taken[1].summary()["filters"]
    assert taken[1].summary()["rows_accepted"] == log.rows_accepted  # reconciliation is of the load


def test_one_held_window_pass_serves_the_kernels_that_want_some_of_its_codes(pair):
    held = jl.sessionize(pair[1], gap="2min")
    plain = held.journeys(per="user")
    assert held.journeys(per="user", columns=("channel",)) is plain
    assert held.journeys(per="user", columns=("session", "channel")) is plain
    assert {"c_session", "c_channel", "e2", "gp"} <= set(jl.engine.sql.columns_of(plain))
    assert held.journeys(per="user", columns=("channel", "tier")) is not plain  # a column it does not carry


def test_stitched_and_sessionized_logs_agree(pair):
    log, held = pair
    links = [("b", "c")]
    a, b = jl.stitch(log, links), jl.stitch(held, links)
    pd.testing.assert_frame_equal(b.collect().to_pandas(), a.to_pandas())
    pd.testing.assert_frame_equal(jl.identity_map(b), jl.identity_map(a))
    s_a, s_b = jl.sessionize(log, gap="2min"), jl.sessionize(held, gap="2min")
    pd.testing.assert_frame_equal(jl.sessions(s_b), jl.sessions(s_a))
    pd.testing.assert_frame_equal(jl.sessions(held), jl.sessions(log))  # the source's sessions


def _users(log):
    return sorted(log.head(10_000)["user_id"].astype(str).unique())


@pytest.mark.parametrize("kwargs, users, events", [
    ({"having": "cart"}, ["a", "b"], 6),
    ({"not_having": ["cart"]}, ["c"], 1),
    ({"min_length": 2}, ["a", "b"], 6),
    ({"max_length": 1}, ["c"], 1),
    ({"users": ["b", "zz"]}, ["b"], 2),
    ({"by": "tier", "segments": ["y"]}, ["b"], 2),
    ({"start": "2024-01-01 00:02", "end": "2024-01-01 00:06"}, ["a", "b"], 3),
    ({"top_variants": 1}, ["c"], 1),  # three variants of one journey each: ties go to the first in code order
    ({"top_variants": 1, "per": "session"}, ["a", "b"], 4),  # (home, cart) per session: a's s1 and b's t1
])
def test_filters_agree_with_a_hand_count_on_both_engines(pair, kwargs, users, events):
    log, held = pair
    for x in (log, held):
        kept = x.filter(**kwargs)
        assert _users(kept) == users and len(kept) == events
        assert kept.summary()["filters"][-1]["per"] == kwargs.get("per", "user")
        assert kept.rows_read == log.rows_read and kept.rows_quarantined == log.rows_quarantined


def test_bad_filters_are_parameter_errors(pair):
    log, _ = pair
    with pytest.raises(jl.ParameterError, match="having 'nope' is not an event"):
        log.filter(having="nope")
    with pytest.raises(jl.ParameterError, match="now"):
        log.filter(start="now")
    with pytest.raises(jl.ParameterError, match="segments"):
        log.filter(by="tier")
    with pytest.raises(jl.ParameterError, match="min_length"):
        log.filter(min_length=0)


def test_a_saved_log_comes_back_the_same_on_every_engine(pair, tmp_path):
    log, held = pair
    staged = jl.assign_stages(jl.sessionize(log, gap="2min"), {"stages": [
        {"name": "visit", "touchpoints": ["home", "app_open"]}, {"name": "buy", "touchpoints": ["cart"]}]})
    tagged = jl.add_segment(staged, {"a": "p1"}, "persona")
    for source, folder in ((tagged, tmp_path / "mem"), (tagged.hold("duckdb"), tmp_path / "held")):
        source.to_parquet(folder)
        back = jl.read_log(folder)
        got, want = back.to_pandas(source_row=True), tagged.to_pandas(source_row=True)
        # text dictionaries come back as pandas' default text type, whatever type they had
        pd.testing.assert_frame_equal(got, want, check_dtype=False, check_categorical=False)
        for name in ("user_id", "event", "channel", "stage", "persona"):
            assert list(got[name].cat.categories) == list(want[name].cat.categories)
            assert got[name].cat.ordered == want[name].cat.ordered
        assert back.summary() == tagged.summary() and back.parameters == tagged.parameters
        pd.testing.assert_frame_equal(back.quarantine_frame().astype(str), tagged.quarantine_frame().astype(str))
        again = jl.read_log(folder, engine="duckdb")
        pd.testing.assert_frame_equal(jl.dfg(again, level="stage").to_frame(), jl.dfg(tagged, level="stage").to_frame())
        pd.testing.assert_frame_equal(jl.sessions(again), jl.sessions(tagged))
    with pytest.raises(jl.InputError, match="not a saved journeylens log"):
        jl.read_log(tmp_path)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("keep me")
    with pytest.raises(jl.ParameterError, match="not a saved log"):
        log.to_parquet(tmp_path / "other")


def _segments_by_pandas(users: list[str], labels: pd.Series) -> list[str]:
    """Each user's label as text, the last one given for an id winning, "(none)" where there is none."""
    labels = labels.set_axis(labels.index.astype(str))
    last = labels[~labels.index.duplicated(keep="last")]
    return [str(last[u]) if u in last.index and not pd.isna(last[u]) else "(none)" for u in users]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "1", "2", "x y", "é", "zz"]),
                          st.sampled_from(["p1", "p2", 1, "1", 2.5, None, "(none)", "Ä"])), max_size=12))
def test_segments_by_labels_match_plain_pandas(pairs):
    log = jl.from_pandas(minutes_frame([(u, k, "home") for k, u in enumerate(["a", "b", "c", "1", "2", "x y"])]))
    ids = [k for k, _ in pairs]
    labels = pd.Series([v for _, v in pairs], index=pd.Index([1 if k == "1" else k for k in ids], dtype=object),
                       dtype=object)
    codes, names, _ = log.segments(labels)
    expected = _segments_by_pandas([str(u) for u in log.users], labels)
    assert [names[c] for c in codes] == expected
    assert list(names) == sorted(set(expected))  # only the labels users carry, sorted


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=3), max_size=20), st.lists(st.text(max_size=3), max_size=20, unique=True))
def test_positions_are_pandas_get_indexer(values, known):
    from journeylens.engine.kernels import positions

    expected = pd.Index(known, dtype=object).get_indexer(pd.Index(values, dtype=object))
    np.testing.assert_array_equal(positions(values, known), expected)
    np.testing.assert_array_equal(positions(pd.Index(values, dtype=object), pd.Index(known, dtype=object)), expected)


def test_positions_of_text_arrow_cannot_hold():
    from journeylens.engine.kernels import positions

    assert positions(["a\ud800", "b", "c"], ["b", "a\ud800"]).tolist() == [1, 0, -1]


def test_segments_and_segment_filters_of_a_real_log_match_plain_pandas():
    from conftest import shared_file

    path = shared_file("clickstream", "ecom.csv.gz")
    log = jl.read_csv(path)
    raw = pd.read_csv(path)
    first = raw.sort_values("timestamp", kind="stable").groupby("user_id")["user_cohort"].first()
    rng = np.random.default_rng(7)
    labels = first.iloc[rng.permutation(len(first))[: len(first) * 2 // 3]]  # a third of the users unlabelled
    labels = pd.concat([labels, pd.Series({"not_a_user": "2024-01", labels.index[0]: "late"})])  # last wins
    codes, names, _ = log.segments(labels)
    expected = _segments_by_pandas([str(u) for u in log.users], labels)
    assert [names[c] for c in codes] == expected and "(none)" in names and "late" in names
    chosen = sorted(set(expected) - {"(none)"})[:2]
    kept = log.filter(by=labels, segments=chosen)
    assert kept.summary()["users"] == sum(label in chosen for label in expected)
    accepted = log.to_pandas()["user_id"].astype(str)  # the rows the log kept (some are quarantined)
    assert len(kept) == int(accepted.map(dict(zip(map(str, log.users), expected))).isin(chosen).sum())
    some = list(labels.index[:50]) + ["not_a_user"]
    assert log.filter(users=some).summary()["users"] == len(set(some) & set(raw["user_id"]))
