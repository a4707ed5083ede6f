"""Mining analyses on small hand-computed logs, and on real logs against plain pandas written here."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import journeylens as jl
from tests.conftest import shared_file


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


# -- directly-follows graphs and variants -----------------------------------------------
def test_dfg_counts_users_gaps_and_endpoints():
    log = make_log(
        {"u1": ["home", "product", "home", "product", "cart"], "u2": ["home", "product"], "u3": ["cart"]},
        minutes={"u1": [0, 1, 3, 6, 10], "u2": [0, 5], "u3": [0]},
    )
    result = jl.dfg(log)
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
    assert edge_map(jl.dfg(log, per="session")) == {("a", "b"): 2}
    assert edge_map(jl.dfg(log, per="user")) == {("a", "b"): 2, ("b", "a"): 1}
    with pytest.raises(jl.ParameterError, match="sessionize"):
        jl.dfg(make_log({"u": ["a"]}), per="session")


def test_channel_level_and_errors():
    log = make_log({"u1": ["a", "b", "c"]}, channel={"u1": ["email", "web", "web"]})
    assert edge_map(jl.dfg(log, level="channel")) == {("email", "web"): 1, ("web", "web"): 1}
    with pytest.raises(jl.ParameterError, match="assign_stages"):
        jl.dfg(log, level="stage")
    with pytest.raises(jl.ParameterError, match="level must be"):
        jl.dfg(log, level="planet")


def test_variants_counts_shares_and_top():
    log = make_log({"a": ["x", "y"], "b": ["x", "y"], "c": ["x"], "d": ["y", "x"], "e": ["x", "y"]})
    v = jl.variants(log)
    t = v.to_frame()
    assert t["variant"].tolist() == [("x", "y"), ("x",), ("y", "x")]  # ties ordered by sequence
    assert t["count"].tolist() == [3, 1, 1]
    assert np.allclose(t["share"], [0.6, 0.2, 0.2]) and np.allclose(t["cumulative_share"], [0.6, 0.8, 1.0])
    top = jl.variants(log, top=1)
    assert top.n_variants == 3 and len(top.to_frame()) == 1 and top.n_journeys == 5


# -- loops ------------------------------------------------------------------------------
def test_variant_hashes_are_checked_code_by_code():
    """In memory, variants are grouped by a hash of their codes; two sequences sharing a hash (built
    here from the hash's constant) must not merge: the engine then groups the sequences themselves."""
    from journeylens.engine import kernels

    constant = 0x9E3779B97F4A7C15 - 2**64  # (a, 0) and (0, 1) hash alike when a ≡ the constant (mod 2**64)
    g = np.array([0, 0, 1, 1, 2, 2], dtype=np.int64)
    e = np.array([constant, 0, 0, 1, 0, 1], dtype=np.int64)
    assert kernels.counted_sequences(g, e) is None
    offsets, codes, counts, n_variants, n_journeys = kernels.variants({"i": np.arange(6), "g": g, "e": e})
    assert (n_variants, n_journeys, counts.tolist()) == (2, 3, [2, 1])
    assert codes[offsets[0]:offsets[1]].tolist() == [0, 1]
    counted = kernels.counted_sequences(g, np.array([3, 0, 0, 1, 0, 1]))
    assert counted["n"].tolist() == [1, 2] and counted["v"].to_pylist() == [[3, 0], [0, 1]]


@pytest.mark.parametrize("types", [3, 40, 5_000])
def test_variants_in_memory_equal_the_sql_query(types, monkeypatch):
    """Counted by hash and ordered by packed codes, or ordered by the engine when the packed keys would be
    too large: both equal the SQL that held engines run (lists grouped and ordered by DuckDB)."""
    from journeylens.engine import kernels
    from journeylens.engine.sql import query

    rng = np.random.default_rng(types)
    n = 60_000
    frame = pd.DataFrame({"user": rng.integers(0, n // (4 if types == 3 else 30), n).astype(str),
                          "time": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 30 * 86_400, n), "s"),
                          "event": np.char.add("e", (rng.zipf(1.5, n) % types).astype(str))})
    ev = jl.from_pandas(frame).journeys(per="user", window=False)
    for top in (None, 5):
        sql = query(kernels.VARIANTS_SQL.replace("{counted}", kernels.COUNTED_SQL) + (f"LIMIT {top}" if top else ""),
                    {"ev": ev})
        seqs = sql.column("v").combine_chunks()
        expected = (seqs.offsets.to_numpy(), seqs.values.to_numpy(), sql.column("n").to_numpy())
        for words in (kernels._PACKED_WORDS, 0):
            monkeypatch.setattr(kernels, "_PACKED_WORDS", words)
            offsets, codes, counts, n_variants, n_journeys = kernels.variants(ev, top=top)
            for got, want in zip((offsets, codes, counts), expected):
                np.testing.assert_array_equal(got, want)
            assert (n_variants, n_journeys) == (sql.column("variants")[0].as_py(), sql.column("journeys")[0].as_py())
    assert n_journeys == frame["user"].nunique() and counts.sum() <= n_journeys


def test_loops_rounds_entries_and_repetitions():
    log = make_log(
        {
            "u1": ["p", "c", "p", "c", "p", "cart"],  # one run round p-c entered at p, 4 steps: 2 rounds
            "u2": ["p", "c", "p"],  # one round
            "u3": ["a", "a", "a", "b", "c", "a"],  # a > a twice (one run), then a > b > c > a once
        }
    )
    t = jl.loops(log, max_length=4, min_support=0).to_frame().set_index("loop")
    assert sorted(t.index) == ["a > a", "a > b > c > a", "p > c > p"]  # c > p > c is the same loop
    cols = ["kind", "length", "occurrences", "entries", "users", "median_repetitions"]
    assert t.loc["p > c > p", cols].tolist() == ["ping_pong", 2, 3, 2, 2, 1.5]
    assert t.loc["a > a", cols].tolist() == ["self", 1, 2, 1, 1, 2.0]
    assert t.loc["a > b > c > a", cols].tolist() == ["cycle", 3, 1, 1, 1, 1.0]
    assert t.index[0] == "p > c > p"  # most users first
    assert t.loc["p > c > p", "user_share"] == pytest.approx(2 / 3)
    assert t.loc["a > b > c > a", "events"] == ("a", "b", "c", "a")
    # min_support is the share of users going round the loop
    assert jl.loops(log, min_support=0.5).to_frame()["loop"].tolist() == ["p > c > p"]


def test_a_cycle_is_one_loop_named_from_its_most_frequent_entry_point():
    log = make_log({
        "x": ["x", "y", "z", "x"],
        "y1": ["y", "z", "x", "y", "q"],
        "y2": ["q", "y", "z", "x", "y", "z", "x", "y"],  # 6 steps round: 2 rounds
        "z": ["z", "x", "y", "z"],
        "other": ["x", "z", "y", "x"],  # the other direction is another cycle
    })
    t = jl.loops(log, min_support=0).to_frame()
    assert t[["loop", "occurrences", "entries", "users"]].values.tolist() == [
        ["y > z > x > y", 5, 4, 4],
        ["x > z > y > x", 1, 1, 1],
    ]
    tie = jl.loops(make_log({"a": ["b", "a", "b"], "b": ["a", "b", "a"]}), min_support=0).to_frame()
    assert tie["loop"].tolist() == ["a > b > a"]  # one entry each: the first name


def test_loops_parameters_are_checked():
    log = make_log({"u": ["a", "a"]})
    for kwargs, name in (({"max_length": 0}, "max_length"), ({"max_length": 9}, "max_length"),
                         ({"min_support": 1.5}, "min_support"), ({"per": "visit"}, "per")):
        with pytest.raises(jl.ParameterError, match=name):
            jl.loops(log, **kwargs)
    with pytest.raises(TypeError):
        jl.loops(log, "event")  # keyword-only after the log


def runs_of(sequence: list[str], cycle: tuple[str, ...]) -> list[tuple[str, int]]:
    """(entry event, complete rounds) of each maximal stretch of steps along ``cycle``'s edges."""
    edges = {(cycle[j], cycle[(j + 1) % len(cycle)]) for j in range(len(cycle))}
    out, start, length = [], 0, 0
    for pos, step in enumerate(zip(sequence, sequence[1:])):
        if step in edges:
            start, length = (pos, 1) if length == 0 else (start, length + 1)
            continue
        if length >= len(cycle):
            out.append((sequence[start], length // len(cycle)))
        length = 0
    if length >= len(cycle):
        out.append((sequence[start], length // len(cycle)))
    return out


def test_hospital_billing_lists_each_cycle_once_with_independent_counts():
    import networkx as nx

    path = shared_file("process", "hospital_billing.csv.gz")
    log = jl.read(path, user="case_id", event="activity", time="timestamp", sep=",", duplicates="keep")
    raw = pd.read_csv(path, dtype={"case_id": str, "activity": str})
    raw["time"] = pd.to_datetime(raw["timestamp"], utc=True, format="mixed")
    raw = raw.assign(row=np.arange(len(raw))).sort_values(["case_id", "time", "row"], kind="stable")
    sequences = raw.groupby("case_id", sort=True)["activity"].agg(list)
    # candidate cycles: every simple cycle of the directly-follows graph, from networkx
    cases_with = {}  # step → the cases taking it, to scan only the cases that take all steps of a cycle
    for user, seq in sequences.items():
        for pair in zip(seq, seq[1:]):
            cases_with.setdefault(pair, set()).add(user)
    candidates = nx.simple_cycles(nx.DiGraph(list(cases_with)), length_bound=4)
    expected = {}
    for cycle in candidates:
        cases = set.intersection(*(cases_with[(a, b)] for a, b in zip(cycle, cycle[1:] + cycle[:1])))
        runs = [(user, entry, rounds) for user in sorted(cases) for entry, rounds in runs_of(sequences[user], tuple(cycle))]
        users = {u for u, _, _ in runs}
        if len(users) < 0.01 * len(sequences):
            continue
        entries = Counter(entry for _, entry, _ in runs)
        best = min(entries, key=lambda e: (-entries[e], e))
        k = cycle.index(best)
        name = " > ".join(list(cycle[k:]) + list(cycle[:k]) + [best])
        per_user = Counter()
        for u, _, rounds in runs:
            per_user[u] += rounds
        expected[name] = (sum(per_user.values()), len(runs), len(users), float(np.median(list(per_user.values()))))

    t = jl.loops(log).to_frame()
    got = {r.loop: (r.occurrences, r.entries, r.users, r.median_repetitions) for r in t.itertuples()}
    assert got == expected
    # each cycle once: no two rows are rotations of one another
    keys = [frozenset(zip(e[:-1], e[1:])) for e in t["events"]]
    assert len(set(keys)) == len(keys)
    assert "FIN > RELEASE > CODE OK > REOPEN > FIN" in got  # the 4-cycle listed four times before
    # self loops go round once per step: their rounds are the directly-follows counts
    edges = edge_map(jl.dfg(log))
    for r in t[t["kind"] == "self"].itertuples():
        assert r.occurrences == edges[(r.events[0], r.events[0])]


# -- paths ----------------------------------------------------------------------------------
def test_paths_after_and_before_with_goal():
    log = make_log({"u1": ["home", "product", "cart", "buy"], "u2": ["home", "product"], "u3": ["product", "home", "cart"]})
    after = jl.paths(log, "home", depth=2, goal="buy").to_frame()
    assert after[["path", "journeys", "converted"]].values.tolist() == [
        [("cart", "(end)"), 1, 0],
        [("product", "(end)"), 1, 0],
        [("product", "cart"), 1, 1],
    ]
    before = jl.paths(log, "cart", direction="before", depth=3).to_frame()
    assert set(before["path"]) == {("(start)", "home", "product"), ("(start)", "product", "home")}
    assert "converted" not in before
    with pytest.raises(jl.ParameterError, match="anchor 'nowhere'"):
        jl.paths(log, "nowhere")
    with pytest.raises(jl.ParameterError, match="depth"):
        jl.paths(log, "home", depth=0)
    with pytest.raises(jl.ParameterError, match="direction"):
        jl.paths(log, "home", direction="sideways")
    with pytest.raises(jl.ParameterError, match="goal"):
        jl.paths(log, "home", goal="nothing")


def test_paths_take_the_first_anchor_after_and_the_last_before():
    log = make_log({"u": ["a", "x", "a", "y", "z", "a", "w"]})
    assert jl.paths(log, "a", depth=2).to_frame()["path"].tolist() == [("x", "a")]
    assert jl.paths(log, "a", direction="before", depth=2).to_frame()["path"].tolist() == [("y", "z")]


# -- journey flows ----------------------------------------------------------------------------
def test_journey_flows_by_position_with_ends_and_top_links():
    log = make_log({"a": ["home", "cart", "buy"], "b": ["home", "cart"], "c": ["home", "search"], "d": ["search"]})
    t = jl.journey_flows(log, depth=3).to_frame()
    assert t.values.tolist() == [
        [1, "home", "cart", 2], [1, "home", "search", 1], [1, "search", "(end)", 1],
        [2, "cart", "(end)", 1], [2, "cart", "buy", 1], [2, "search", "(end)", 1],
    ]
    top = jl.journey_flows(log, depth=2, top_links=1).to_frame()
    assert top.values.tolist() == [[1, "home", "cart", 2]]
    with pytest.raises(jl.ParameterError, match="top_links"):
        jl.journey_flows(log, top_links=0)


# -- decision points ----------------------------------------------------------------------------
def test_decision_points_shares_and_user_level_test():
    journeys = {f"m{i}": ["cart", "pay"] for i in range(30)} | {f"d{i}": ["cart", "leave"] for i in range(30)}
    journeys |= {"m_x": ["cart", "leave"], "d_x": ["cart", "pay"]}
    device = {u: ("mobile" if u.startswith("m") else "desktop") for u in journeys}
    log = make_log(journeys, device=device)
    plain = jl.decision_points(log).to_frame()
    assert plain[["node", "next", "count", "users", "first_choices"]].values.tolist() == [
        ["cart", "leave", 31, 31, 31], ["cart", "pay", 31, 31, 31]]
    by = jl.decision_points(log, by="device")
    shares = by.to_frame().set_index(["device", "next"])["share"]
    assert shares[("mobile", "pay")] == pytest.approx(30 / 31)
    test = by.tests.iloc[0]
    table = [[30, 1], [1, 30]]  # desktop/mobile × leave/pay, one first choice per user
    assert test["node"] == "cart" and test["users"] == 62 and test["test"] == "fisher"
    assert test["p_value"] == pytest.approx(stats.fisher_exact(table).pvalue, rel=1e-12)
    chi2 = stats.chi2_contingency(table, correction=False)[0]
    assert test["cramers_v"] == pytest.approx(np.sqrt(chi2 / 62), rel=1e-12)


def test_decision_points_count_users_not_transitions():
    # ten users per segment, half of each choosing pay first; one "loyal" user pays a hundred times
    journeys = {f"{s}{i}": ["cart", "pay" if i < 5 else "leave"] for s in ("new", "old") for i in range(10)}
    journeys["old0"] = ["cart", "pay"] * 100
    segment = {u: u[:3] for u in journeys}
    result = jl.decision_points(make_log(journeys), by=segment)
    counts = result.to_frame().set_index(["segment", "next"])
    assert counts.loc[("old", "pay"), "count"] == 104  # 100 transitions of one user, 4 of others
    assert counts.loc[("old", "pay"), "first_choices"] == 5
    test = result.tests.set_index("node").loc["cart"]
    assert test["users"] == 20 and test["p_value"] == pytest.approx(1.0)
    # a transition-level test would have called this a strong difference
    assert stats.chi2_contingency([[5, 5], [104, 5]])[1] < 1e-3


def test_decision_points_chi_square_over_three_segments_matches_scipy():
    rng = np.random.default_rng(5)
    journeys, segment = {}, {}
    for i in range(90):
        s = ("a", "b", "c")[i % 3]
        p = {"a": [0.6, 0.3, 0.1], "b": [0.3, 0.4, 0.3], "c": [0.2, 0.2, 0.6]}[s]
        first = rng.choice(["pay", "leave", "help"], p=p)
        journeys[f"u{i}"] = ["cart", first, "cart", rng.choice(["pay", "leave", "help"])]
        segment[f"u{i}"] = s
    firsts = pd.crosstab(pd.Series(segment), pd.Series({u: j[1] for u, j in journeys.items()}))
    chi2, p, dof, _ = stats.chi2_contingency(firsts.to_numpy(), correction=False)
    test = jl.decision_points(make_log(journeys), by=pd.Series(segment, name="group")).tests.iloc[0]
    assert (test["node"], test["test"], test["users"], test["dof"]) == ("cart", "chi2", 90, dof)
    assert test["chi2"] == pytest.approx(chi2, rel=1e-12) and test["p_value"] == pytest.approx(p, rel=1e-12)
    assert test["cramers_v"] == pytest.approx(np.sqrt(chi2 / (90 * 2)), rel=1e-12)


def test_decision_points_by_column_is_the_users_segment_and_pairs_no_dropped_rows():
    # b's first device is missing on its middle event: nothing is dropped, nothing is paired across it
    log = make_log({"a": ["cart", "pay"], "b": ["cart", "help", "leave"], "c": ["cart", "leave"]},
                   device={"a": ["mobile", "desktop"], "b": ["desktop", None, "mobile"], "c": [None, "mobile"]})
    got = jl.decision_points(log, by="device").to_frame()
    assert got[["device", "node", "next", "count"]].values.tolist() == [
        ["desktop", "cart", "help", 1], ["mobile", "cart", "leave", 1], ["mobile", "cart", "pay", 1]]
    assert ("cart", "leave") not in {(r.node, r.next) for r in got[got["device"] == "desktop"].itertuples()}
    # the branches are the DFG's steps
    edges = edge_map(jl.dfg(log))
    assert jl.decision_points(log).to_frame().set_index(["node", "next"])["count"].to_dict() == {
        k: v for k, v in edges.items() if k[0] == "cart"}
    with pytest.raises(jl.ParameterError, match="by"):
        jl.decision_points(log, by="colour")
    with pytest.raises(jl.ParameterError, match="min_count"):
        jl.decision_points(log, min_count=0)


def test_ecom_decision_points_test_users_first_choices():
    path = shared_file("clickstream", "ecom.csv.gz")
    log = jl.read(path)
    raw = pd.read_csv(path).drop_duplicates()
    raw["time"] = pd.to_datetime(raw["timestamp"], utc=True)
    raw = raw.assign(row=np.arange(len(raw))).sort_values(["user_id", "time", "row"], kind="stable")
    raw["next"] = raw.groupby("user_id")["event"].shift(-1)
    device = raw.groupby("user_id")["platform"].first()  # the user's first platform, read as device
    first = raw.dropna(subset=["next"]).groupby(["user_id", "event"])["next"].first().reset_index()
    first["device"] = device.reindex(first["user_id"]).to_numpy()
    result = jl.decision_points(log, by="device")
    tests = result.tests.set_index("node")
    for node in ("product_view", "cart", "payment_details"):
        table = pd.crosstab(first.loc[first["event"] == node, "device"], first.loc[first["event"] == node, "next"])
        chi2, p, dof, _ = stats.chi2_contingency(table.to_numpy(), correction=False)
        assert tests.loc[node, "users"] == table.to_numpy().sum() <= 600
        assert tests.loc[node, "p_value"] == pytest.approx(p, rel=1e-9)
        assert tests.loc[node, "dof"] == dof
    assert tests["p_adjusted"].between(tests["p_value"], 1).all()


# -- sessions that interleave in time ----------------------------------------------------------
def interleaved_log() -> jl.EventLog:
    frame = pd.DataFrame({
        "user": ["a"] * 4 + ["b"] * 3,
        "session": ["s1", "s2", "s1", "s2", "t1", "t1", "t1"],
        "time": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:01", "2024-01-01 10:02", "2024-01-01 10:03",
                                "2024-01-01 10:00", "2024-01-01 10:01", "2024-01-01 10:02"], utc=True),
        "event": ["home", "app_open", "cart", "app_close", "home", "search", "home"],
    })
    return jl.from_pandas(frame, session="session")


def test_every_kernel_reads_interleaved_sessions_whole():
    log = interleaved_log()
    assert edge_map(jl.dfg(log, per="session")) == {("home", "cart"): 1, ("app_open", "app_close"): 1,
                                                    ("home", "search"): 1, ("search", "home"): 1}
    assert jl.variants(log, per="session").to_dict() == {("app_open", "app_close"): 1, ("home", "cart"): 1,
                                                         ("home", "search", "home"): 1}
    assert jl.journey_flows(log, per="session", depth=2).to_frame().values.tolist() == [
        [1, "app_open", "app_close", 1], [1, "home", "cart", 1], [1, "home", "search", 1]]
    assert jl.paths(log, "home", per="session", depth=2).to_frame()[["path", "journeys"]].values.tolist() == [
        [("cart", "(end)"), 1], [("search", "home"), 1]]
    assert jl.loops(log, per="session", min_support=0).to_frame()[["loop", "users"]].values.tolist() == [
        ["home > search > home", 1]]
    assert jl.decision_points(log, per="session").to_frame()[["node", "next", "count"]].values.tolist() == [
        ["home", "cart", 1], ["home", "search", 1]]
    # per user, the whole history in time order
    assert edge_map(jl.dfg(log)) == {("home", "app_open"): 1, ("app_open", "cart"): 1, ("cart", "app_close"): 1,
                                     ("home", "search"): 1, ("search", "home"): 1}


def wikispeedia_steps() -> pd.DataFrame:
    """One row per click of each unfinished path, in path order, clicks spread over the path's duration."""
    path = shared_file("clickstream", "wikispeedia_paths_unfinished.tsv.gz")
    raw = pd.read_csv(path, sep="\t", comment="#", header=None,
                      names=["user", "start", "duration", "path", "target", "type"])
    raw["session"] = np.arange(len(raw))
    steps = raw.assign(event=raw["path"].str.split(";")).explode("event", ignore_index=True)
    steps["k"] = steps.groupby("session").cumcount()
    n = steps.groupby("session")["k"].transform("size")
    seconds = steps["start"] + steps["duration"] * steps["k"] / (n - 1).clip(lower=1)
    steps["time"] = pd.to_datetime(seconds, unit="s", utc=True)
    return steps[["user", "session", "time", "event"]]


def test_wikispeedia_paths_keep_every_transition_in_every_kernel():
    steps = wikispeedia_steps()
    log = jl.from_pandas(steps.astype({"session": str}), session="session", duplicates="keep")
    assert len(log) == len(steps) == 129_295
    # the given sessions interleave: a user's next path starts before the previous one's last click
    spans = steps.groupby("session").agg(user=("user", "first"), t0=("time", "min"), t1=("time", "max"))
    spans = spans.sort_values(["user", "t0"])
    assert (spans.groupby("user")["t1"].shift() > spans["t0"]).sum() > 1000
    # plain pandas: consecutive clicks inside each path
    nxt = steps.groupby("session")["event"].shift(-1)
    pairs = pd.DataFrame({"a": steps["event"], "b": nxt}).dropna()
    assert len(pairs) == 104_420
    want = pairs.value_counts().to_dict()
    graph = jl.dfg(log, per="session")
    assert graph.to_frame()["count"].sum() == len(pairs)
    assert edge_map(graph) == want
    # variants: every path once, as read
    v = jl.variants(log, per="session")
    want_v = steps.groupby("session")["event"].agg(tuple).value_counts()
    assert v.n_journeys == 24_875 and v.to_dict() == want_v.to_dict()
    # flows: the first two clicks of each path
    heads = pd.DataFrame({"a": steps["event"], "b": nxt.fillna("(end)")})[steps.groupby("session").cumcount() == 0]
    flows = jl.journey_flows(log, per="session", depth=2, top_links=100_000).to_frame()
    assert flows.set_index(["source", "target"])["journeys"].to_dict() == heads.value_counts().to_dict()
    assert flows["journeys"].sum() == 24_875
    # loops: self loops ("<" > "<", back-clicks in a row) go round once per step
    t = jl.loops(log, per="session", min_support=0, max_length=2).to_frame()
    for r in t[t["kind"] == "self"].itertuples():
        assert r.occurrences == want[(r.events[0], r.events[0])]
    # paths after a back-click: the next click of each path's first "<"
    first_back = steps[steps["event"] == "<"].groupby("session").head(1).index
    after = jl.paths(log, "<", per="session", depth=1, top=None).to_frame()
    expected = nxt.loc[first_back].fillna("(end)").value_counts()
    assert dict(zip([p[0] for p in after["path"]], after["journeys"])) == expected.to_dict()


# -- figures: labels are text --------------------------------------------------------------------
MARKUP = ["<b>deal</b>", "<a href='https://example.com'>click</a>", "a & b", "<span style='color:red'>x</span>"]


def test_figures_show_labels_from_the_data_as_plain_text():
    plotly = pytest.importorskip("plotly")
    log = make_log({"u1": [MARKUP[0], MARKUP[1], MARKUP[0], MARKUP[1], MARKUP[2]],
                    "u2": [MARKUP[0], MARKUP[3], MARKUP[0]], "u3": [MARKUP[0], MARKUP[1]]},
                   device={"u1": "<i>phone</i>", "u2": "desk", "u3": "desk"})
    figures = [
        jl.dfg(log).plot(), jl.variants(log).plot(), jl.loops(log, min_support=0).plot(),
        jl.paths(log, MARKUP[0], depth=2).plot(), jl.journey_flows(log).plot(),
        jl.decision_points(log, by="device").plot(),
    ]
    for fig in figures:
        text = json.dumps(fig.to_plotly_json(), cls=plotly.utils.PlotlyJSONEncoder)
        for raw in ("<b>deal", "<a href", "<span", "<i>phone", "a & b"):
            assert raw not in text
        assert "&lt;b&gt;deal&lt;/b&gt;" in text
    assert jl.decision_points(log, by="device").plot(MARKUP[0]).layout.title.text.endswith("&lt;b&gt;deal&lt;/b&gt;")


# -- pm4py -----------------------------------------------------------------------------------
def test_pm4py_interop_round_trip():
    log = make_log({"u1": ["a", "b"], "u2": ["a"]})
    df = jl.to_pm4py(log)
    assert df[["case:concept:name", "concept:name"]].values.tolist() == [["u1", "a"], ["u1", "b"], ["u2", "a"]]
    back = jl.from_pm4py(df)
    assert back.to_pandas()[["user_id", "event"]].astype(str).values.tolist() == [["u1", "a"], ["u1", "b"], ["u2", "a"]]


def test_discover_from_dfg_fits_a_sequential_log():
    pytest.importorskip("pm4py")
    log = make_log({f"u{i}": ["a", "b", "c"] for i in range(5)} | {"x": ["a", "c"]})
    model = jl.discover(log, algorithm="inductive", noise=0.0)
    assert model.summary["fitness"] == pytest.approx(1.0)
    assert {t.label for t in model.net.transitions} - {None} == {"a", "b", "c"}
    heur = jl.discover(log, algorithm="heuristics", noise=0.2)
    assert heur.summary["variants_evaluated"] == 2
    assert model.graph.number_of_nodes() == len(model.net.places) + len(model.net.transitions)
    assert "fitness" not in jl.discover(log, evaluate_top=0).summary
    for kwargs, name in (({"algorithm": "alpha"}, "algorithm"), ({"noise": 2}, "noise"),
                         ({"evaluate_top": -1}, "evaluate_top")):
        with pytest.raises(jl.ParameterError, match=name):
            jl.discover(log, **kwargs)
