"""Identity stitching: hand-computed merges, canonical choice, a networkx reference."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import journeylens as jl
from journeylens.prepare.identities import identity_map, stitch
from journeylens.prepare.sessions import sessionize

T0 = pd.Timestamp("2024-01-01 00:00", tz="UTC")


def _log(rows) -> jl.EventLog:
    """rows: (user, minutes after T0, event)."""
    users, minutes, events = zip(*rows)
    return jl.from_pandas(
        pd.DataFrame({"user": users, "time": [T0 + pd.Timedelta(minutes=m) for m in minutes], "event": events}),
        duplicates="keep",
    )


def _users(log: jl.EventLog) -> dict[str, str]:
    t = log.to_pandas()
    return dict(zip(t["original_user_id"].astype(str), t["user_id"].astype(str)))


ABC = [("a", 0, "x"), ("b", 1, "y"), ("c", 2, "z"), ("d", 3, "w")]


def test_a_chain_of_links_merges_into_one_person():
    merged = stitch(_log(ABC), [("a", "b"), ("b", "c")], prefer=None)
    assert _users(merged) == {"a": "a", "b": "a", "c": "a", "d": "d"}
    assert merged.parameters["stitch"] == {
        "links": 2, "links_ignored": 0, "prefer": None, "users_before": 4, "users_after": 2,
        "components_merged": 1, "ids_merged": 2, "largest_component": 3, "largest_component_id": "a"}


def test_canonical_id_prefers_the_right_column_then_the_smallest():
    log = _log(ABC)
    assert _users(stitch(log, [("a", "b"), ("b", "c")])) == {"a": "b", "b": "b", "c": "b", "d": "d"}
    assert _users(stitch(log, [("a", "b"), ("b", "c")], prefer="left")) == {"a": "a", "b": "a", "c": "a", "d": "d"}
    assert _users(stitch(log, [("a", "b"), ("b", "c")], prefer={"c"})) == {"a": "c", "b": "c", "c": "c", "d": "d"}
    by_function = stitch(log, [("a", "b"), ("c", "d")], prefer=lambda ids: ids.isin(["b", "d"]).to_numpy())
    assert _users(by_function) == {"a": "b", "b": "b", "c": "d", "d": "d"}


def test_link_order_and_direction_do_not_matter_without_preference():
    log = _log(ABC)
    links = [("a", "b"), ("c", "b"), ("d", "c")]
    expected = _users(stitch(log, links, prefer=None))
    for perm in ([2, 0, 1], [1, 2, 0]):
        flipped = [links[k][::-1] if k % 2 else links[k] for k in perm]
        assert _users(stitch(log, flipped, prefer=None)) == expected == {u: "a" for u in "abcd"}


def test_an_id_known_only_from_the_links_can_be_the_person():
    log = _log([("cookie1", 0, "ad"), ("cookie2", 5, "visit"), ("cookie3", 9, "visit")])
    links = pd.DataFrame({"cookie": ["cookie1", "cookie2"], "customer": ["cust9", "cust9"], "other": [1, 2]})
    merged = stitch(log, links)
    t = merged.to_pandas()
    assert t["user_id"].tolist() == ["cookie3", "cust9", "cust9"]  # re-sorted by the new user
    assert t["original_user_id"].tolist() == ["cookie3", "cookie1", "cookie2"]
    assert t["event"].tolist() == ["visit", "ad", "visit"]
    assert list(merged.users) == ["cookie3", "cust9"]
    assert t.columns[:2].tolist() == ["user_id", "original_user_id"]
    # named columns, reversed: the cookie side is now preferred
    assert _users(stitch(log, links, left="customer", right="cookie"))["cookie2"] == "cookie1"


def test_identity_map_lists_each_original_id_with_its_person():
    merged = stitch(_log(ABC + [("b", 9, "y")]), [("a", "b")], prefer=None)
    t = identity_map(merged)
    assert t.values.tolist() == [["a", "a", 1], ["b", "a", 2], ["c", "c", 1], ["d", "d", 1]]
    with pytest.raises(jl.ValidationError, match="call jl.stitch"):
        identity_map(_log(ABC))


def test_numeric_ids_and_missing_link_values():
    log = jl.from_pandas(pd.DataFrame({"user": [1, 2, 3], "time": ["2024-01-01"] * 3, "event": ["x", "y", "z"]}))
    links = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [2.0, 3.0, None]})  # floats from gaps: 1.0 is id "1"
    merged = stitch(log, links, prefer=None)
    assert _users(merged) == {"1": "1", "2": "1", "3": "3"}
    assert merged.parameters["stitch"]["links"] == 1 and merged.parameters["stitch"]["links_ignored"] == 2


def test_stitching_twice_keeps_the_source_id_and_resessionizes():
    log = sessionize(_log([("c1", 0, "ad"), ("c2", 20, "visit"), ("c1", 40, "cart")]), gap="30min")
    assert log.to_pandas()["session_id"].tolist() == [0, 1, 2]  # c1: 0, 40 apart → 2 sessions
    once = stitch(log, [("c1", "c2")], prefer=None)
    t = once.to_pandas()
    assert t["user_id"].tolist() == ["c1"] * 3 and t["event"].tolist() == ["ad", "visit", "cart"]
    assert t["session_id"].tolist() == [0, 0, 0]  # merged, the pauses are 20 min
    twice = stitch(once, [("c1", "z9")])
    assert _users(twice) == {"c1": "z9", "c2": "z9"}


def test_giant_components_are_reported_and_can_be_refused():
    links = [("hub", f"c{k}") for k in range(5)]
    log = _log([(f"c{k}", k, "x") for k in range(5)] + [("solo", 0, "x")])
    merged = stitch(log, links, prefer={"hub"})
    assert merged.parameters["stitch"]["largest_component"] == 6
    assert merged.parameters["stitch"]["largest_component_id"] == "hub"
    with pytest.raises(jl.ValidationError, match=r"6 ids would merge into 'c0' \(more than max_component=3\)"):
        stitch(log, links, max_component=3)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"links": 42}, "links must be a DataFrame or a list"),
     ({"links": pd.DataFrame({"a": ["x"]})}, "links need two id columns"),
     ({"links": pd.DataFrame({"a": ["x"], "b": ["y"]}), "left": "nope"}, "no column 'nope'"),
     ({"links": [("a", "b")], "prefer": "middle"}, "prefer='middle'"),
     ({"links": [("a", "b")], "prefer": lambda ids: [True]}, "one boolean per id")],
)
def test_bad_requests_are_one_line_errors(kwargs, message):
    with pytest.raises(jl.ValidationError, match=message) as info:
        stitch(_log(ABC), **kwargs)
    assert "\n" not in str(info.value)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 9), min_size=1, max_size=12),
    st.lists(st.tuples(st.integers(0, 14), st.integers(0, 14)), max_size=12),
)
def test_persons_are_the_connected_components_of_networkx(users, pairs):
    log = _log([(f"u{u:02d}", k, "x") for k, u in enumerate(users)])
    links = [(f"u{a:02d}", f"u{b:02d}") for a, b in pairs]
    merged = stitch(log, links, prefer=None)
    graph = nx.Graph()
    graph.add_nodes_from(f"u{u:02d}" for u in users)
    graph.add_edges_from(links)
    expected = {node: min(comp) for comp in nx.connected_components(graph) for node in comp}
    assert _users(merged) == {u: expected[u] for u in _users(merged)}
    assert len(merged) == len(users)
    t = merged.to_pandas(source_row=True)
    keys = list(zip(t["user_id"].astype(str), t["timestamp"], t["source_row"]))
    assert keys == sorted(keys)  # sorted by person, time, source row
