"""Mining functions on small hand-computed logs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import journeylens as jl
import journeylens as mining  # the analyses, by their public names


def make_log(journeys: dict[str, list[str]], minutes: dict[str, list[int]] | None = None, **extra) -> jl.EventLog:
    rows = []
    for user, events in journeys.items():
        offsets = (minutes or {}).get(user, list(range(len(events))))
        for k, (event, m) in enumerate(zip(events, offsets)):
            row = {"user": user, "time": pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(minutes=m), "event": event}
            for col, values in extra.items():
                row[col] = values[user][k] if isinstance(values[user], list) else values[user]
            rows.append(row)
    return jl.from_pandas(pd.DataFrame(rows))


def edge_map(result) -> dict:
    t = result.to_frame()
    return {(a, b): n for a, b, n in zip(t["source"], t["target"], t["count"])}


def test_dfg_counts_users_gaps_and_endpoints():
    log = make_log(
        {"u1": ["home", "product", "home", "product", "cart"], "u2": ["home", "product"], "u3": ["cart"]},
        minutes={"u1": [0, 1, 3, 6, 10], "u2": [0, 5], "u3": [0]},
    )
    result = mining.dfg(log)
    assert edge_map(result) == {("home", "product"): 3, ("product", "home"): 1, ("product", "cart"): 1}
    t = result.to_frame().set_index(["source", "target"])
    hp = t.loc[("home", "product")]
    assert hp["users"] == 2
    assert hp["mean_s"] == pytest.approx((60 + 180 + 300) / 3)
    assert hp["median_s"] == pytest.approx(180)
    assert hp["p90_s"] == pytest.approx(180 + 0.8 * 120)  # linear interpolation between 180 and 300
    assert result.starts.to_dict() == {"cart": 1, "home": 2}
    assert result.ends.to_dict() == {"cart": 2, "product": 1}
    g = result.graph
    assert g["home"]["product"]["count"] == 3 and g.nodes["home"]["starts"] == 2


def test_dfg_per_session_cuts_journeys():
    log = make_log({"u1": ["a", "b", "a", "b"]}, minutes={"u1": [0, 1, 120, 121]})
    log = jl.sessionize(log, gap="30min")
    assert edge_map(mining.dfg(log, per="session")) == {("a", "b"): 2}
    assert edge_map(mining.dfg(log, per="user")) == {("a", "b"): 2, ("b", "a"): 1}
    with pytest.raises(jl.JourneyLensError, match="sessionize"):
        mining.dfg(make_log({"u": ["a"]}), per="session")


def test_channel_level_and_errors():
    log = make_log({"u1": ["a", "b", "c"]}, channel={"u1": ["email", "web", "web"]})
    assert edge_map(mining.dfg(log, level="channel")) == {("email", "web"): 1, ("web", "web"): 1}
    with pytest.raises(jl.JourneyLensError, match="assign_stages"):
        mining.dfg(log, level="stage")
    with pytest.raises(jl.JourneyLensError, match="level must be"):
        mining.dfg(log, level="planet")


def test_variants_counts_shares_and_top():
    log = make_log({"a": ["x", "y"], "b": ["x", "y"], "c": ["x"], "d": ["y", "x"], "e": ["x", "y"]})
    v = mining.variants(log)
    t = v.to_frame()
    assert t["variant"].tolist() == [("x", "y"), ("x",), ("y", "x")]  # ties ordered by sequence
    assert t["count"].tolist() == [3, 1, 1]
    assert np.allclose(t["share"], [0.6, 0.2, 0.2]) and np.allclose(t["cumulative_share"], [0.6, 0.8, 1.0])
    top = mining.variants(log, top=1)
    assert top.n_variants == 3 and len(top.to_frame()) == 1 and top.n_journeys == 5


def test_loops_kinds_occurrences_and_repetitions():
    log = make_log(
        {
            "u1": ["p", "c", "p", "c", "p", "cart"],  # p>c>p twice, c>p>c once
            "u2": ["p", "c", "p"],  # p>c>p once
            "u3": ["a", "a", "a", "b", "c", "a"],  # a>a twice, a>b>c>a once
        }
    )
    t = mining.loops(log, max_length=4, min_support=0).to_frame().set_index("loop")
    assert t.loc["p > c > p", ["kind", "occurrences", "users", "median_repetitions"]].tolist() == ["ping_pong", 3, 2, 1.5]
    assert t.loc["c > p > c", ["occurrences", "users"]].tolist() == [1, 1]
    assert t.loc["a > a", ["kind", "occurrences", "users", "median_repetitions"]].tolist() == ["self", 2, 1, 2.0]
    assert t.loc["a > b > c > a", ["kind", "length", "occurrences"]].tolist() == ["cycle", 3, 1]
    assert t.index[0] == "p > c > p"  # most users first
    assert t.loc["p > c > p", "user_share"] == pytest.approx(2 / 3)
    # a support threshold on the DFG edges removes rare cycles
    assert "a > b > c > a" not in mining.loops(log, min_support=0.5).to_frame()["loop"].tolist()


def test_paths_after_and_before_with_goal():
    log = make_log({"u1": ["home", "product", "cart", "buy"], "u2": ["home", "product"], "u3": ["product", "home", "cart"]})
    after = mining.paths(log, "home", steps=2, goal="buy").to_frame()
    assert after[["path", "journeys", "converted"]].values.tolist() == [
        [("cart", "(end)"), 1, 0],
        [("product", "(end)"), 1, 0],
        [("product", "cart"), 1, 1],
    ]
    before = mining.paths(log, "cart", direction="before", steps=3).to_frame()
    assert set(before["path"]) == {("(start)", "home", "product"), ("(start)", "product", "home")}
    with pytest.raises(jl.JourneyLensError, match="does not occur"):
        mining.paths(log, "nowhere")


def test_decision_points_shares_and_segment_test():
    journeys = {f"m{i}": ["cart", "pay"] for i in range(30)} | {f"d{i}": ["cart", "leave"] for i in range(30)}
    journeys |= {"m_x": ["cart", "leave"], "d_x": ["cart", "pay"]}
    device = {u: ("mobile" if u.startswith("m") else "desktop") for u in journeys}
    log = make_log(journeys, device=device)
    plain = mining.decision_points(log).to_frame()
    assert plain[["node", "next", "count"]].values.tolist() == [["cart", "leave", 31], ["cart", "pay", 31]]
    by = mining.decision_points(log, by="device")
    shares = by.to_frame().set_index(["device", "next"])["share"]
    assert shares[("mobile", "pay")] == pytest.approx(30 / 31)
    test = by.tests.iloc[0]
    assert test["node"] == "cart" and test["p_value"] < 1e-6 and test["cramers_v"] > 0.8


def test_pm4py_interop_round_trip():
    log = make_log({"u1": ["a", "b"], "u2": ["a"]})
    df = mining.to_pm4py(log)
    assert df[["case:concept:name", "concept:name"]].values.tolist() == [["u1", "a"], ["u1", "b"], ["u2", "a"]]
    back = mining.from_pm4py(df)
    assert back.to_pandas()[["user_id", "event"]].astype(str).values.tolist() == [["u1", "a"], ["u1", "b"], ["u2", "a"]]


def test_discover_from_dfg_fits_a_sequential_log():
    pytest.importorskip("pm4py")
    log = make_log({f"u{i}": ["a", "b", "c"] for i in range(5)} | {"x": ["a", "c"]})
    model = mining.discover(log, "inductive", noise=0.0)
    assert model.summary["fitness"] == pytest.approx(1.0)
    assert {t.label for t in model.net.transitions} - {None} == {"a", "b", "c"}
    heur = mining.discover(log, "heuristics", noise=0.2)
    assert heur.summary["variants_evaluated"] == 2
    assert model.graph.number_of_nodes() == len(model.net.places) + len(model.net.transitions)
