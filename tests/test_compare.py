"""Designed vs observed journeys and drift: hand-built maps and logs, pm4py agreement on a real model."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

import journeylens as jl
from journeylens.compare.conformance import compare
from journeylens.compare.drift import drift
from journeylens.compare.model_fitness import map_fitness, model_fitness
from journeylens.core.journey_map import JourneyMap
from tests.conftest import shared_file

MAP = {
    "name": "tiny",
    "stages": [
        {"name": "awareness", "touchpoints": ["ad", "newsletter"]},
        {"name": "consideration", "touchpoints": ["landing", "product"]},
        {"name": "decision", "touchpoints": ["cart", "order"]},
    ],
    "transitions": [["ad", "landing"], ["newsletter", "landing"], ["landing", "product"], ["product", "cart"],
                    ["cart", "order"], ["newsletter", "product"]],
    "start": ["ad", "newsletter"],
    "conversion": "order",
    "targets": {"conversion_rate": 0.5, "max_days_to_convert": 2},
}


def _log(journeys: dict[str, list[str]], hours: float = 1.0, **extra) -> jl.EventLog:
    users, times, events = [], [], []
    for user, path in journeys.items():
        users += [user] * len(path)
        times += list(pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.arange(len(path)) * hours, unit="h"))
        events += path
    return jl.from_pandas(pd.DataFrame({"user": users, "time": times, "event": events}), duplicates="keep")


JOURNEYS = {
    "a": ["ad", "landing", "product", "cart", "order"],                 # the designed path
    "b": ["ad", "landing", "landing", "product", "help", "cart"],       # a repeat and an unmapped event
    "c": ["landing", "product", "landing", "cart", "product", "cart"],  # wrong start, unexpected steps, backtrack
    "d": ["newsletter", "cart", "order"],                               # skips consideration
}


def test_conformance_per_user_by_hand():
    r = compare(_log(JOURNEYS), MAP)
    c = r.to_frame().set_index("user_id")
    assert c.loc["a", ["transitions", "allowed"]].tolist() == [4, 4] and c.loc["a", "fitness"] == 1.0
    # b: repeats collapse, "help" is not on the map: ad>landing>product>cart, all designed
    assert c.loc["b", ["transitions", "allowed"]].tolist() == [3, 3] and c.loc["b", "fitness"] == 1.0
    # c: landing>product ok, product>landing no, landing>cart no, cart>product no (backward), product>cart ok
    assert c.loc["c", ["transitions", "allowed"]].tolist() == [5, 2]
    assert not c.loc["c", "started_as_designed"] and not c.loc["c", "follows_stage_order"]
    assert c.loc["c", "fitness"] == pytest.approx(2 / 6)
    assert c.loc["d", ["transitions", "allowed"]].tolist() == [2, 1] and c.loc["d", "fitness"] == pytest.approx(2 / 3)
    assert c["converted"].tolist() == [True, False, False, True]


def test_unexpected_missing_skipped_and_violations():
    r = compare(_log(JOURNEYS), MAP)
    unexpected = {(s, t): u for s, t, u in r.unexpected[["source", "target", "users"]].values}
    assert unexpected == {("product", "landing"): 1, ("landing", "cart"): 1, ("cart", "product"): 1,
                          ("newsletter", "cart"): 1}
    row = r.unexpected.set_index(["source", "target"]).loc[("newsletter", "cart")]
    assert row["conversion_rate"] == 1.0 and row["designed_path_conversion_rate"] == 0.5  # a converts, b not
    assert r.missing[["source", "target", "status"]].values.tolist() == [["newsletter", "landing", "never"],
                                                                          ["newsletter", "product", "never"]]
    skipped = r.skipped_stages.set_index("stage")
    assert skipped.loc["consideration", "users_skipping"] == 1 and skipped.loc["consideration", "users_passing"] == 3
    assert r.stage_order_violations.values.tolist() == [["decision", "consideration", 1, 1]]
    assert r.unmapped.values.tolist() == [["help", 1, 1]]


def test_targets_and_overall_by_segment():
    log = _log(JOURNEYS)
    r = compare(log, MAP)
    t = r.targets.set_index("target")
    assert t.loc["conversion_rate", "observed"] == 0.5 and t.loc["conversion_rate", "met"]
    assert t.loc["max_days_to_convert", "observed"] == 1.0  # both converters within 2 days
    assert t.loc["median_days_to_convert", "observed"] == pytest.approx((4 + 2) / 2 / 24)
    seg = compare(log, MAP, by=pd.Series({"a": "x", "b": "x", "c": "y", "d": "y"}, name="group")).overall
    assert seg.set_index("group")["conforming_share"].to_dict() == {"x": 1.0, "y": 0.0}


def test_rare_designed_transitions_are_reported():
    journeys = {f"u{i}": ["ad", "landing", "product"] for i in range(200)}
    journeys["z"] = ["newsletter", "product"]
    journeys["y"] = ["newsletter", "landing"] + ["product"] * 0
    r = compare(_log(journeys), MAP, rare=0.6)
    status = r.missing.set_index(["source", "target"])["status"].to_dict()
    assert status[("newsletter", "landing")] == "rare"  # 1 of 2 newsletter users (< 0.6)
    assert status[("cart", "order")] == "never"


def test_map_errors_are_journeylens_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nstages:\n  - name: a\n    touchpoints: [p]\ntransitions:\n  - [p, nowhere]\n")
    with pytest.raises(jl.JourneyLensError, match="nowhere"):
        compare(_log(JOURNEYS), str(bad))


def test_drift_finds_appeared_vanished_and_shifted_paths():
    before = {f"b{i}": ["ad", "landing", "product"] if i % 2 else ["newsletter", "landing", "cart"] for i in range(200)}
    after = {f"a{i}": ["ad", "landing", "product"] if i % 5 else ["newsletter", "product", "order"] for i in range(200)}
    d = drift(_log(before), _log(after))
    status = d.edges.set_index(["source", "target"])["status"].to_dict()
    assert status[("landing", "cart")] == "vanished"
    assert status[("product", "order")] == "appeared" and status[("newsletter", "product")] == "appeared"
    assert status[("ad", "landing")] == "increased"  # 50% → 80% of users
    shares = d.edges.set_index(["source", "target"]).loc[("ad", "landing")]
    assert (shares["share_before"], shares["share_after"]) == (0.5, 0.8)
    assert shares["cohens_h"] == pytest.approx(2 * np.arcsin(np.sqrt(0.8)) - 2 * np.arcsin(np.sqrt(0.5)))
    single = drift(_log({**before, **{k: v for k, v in after.items()}}), split_at="2024-01-01")  # everyone after
    assert single.periods[1] == "from 2024-01-01"


def test_drift_outcomes_per_segment():
    before = {f"b{i}": ["ad", "cart"] + (["order"] if i < 50 else []) for i in range(100)}
    after = {f"a{i}": ["ad", "cart"] + (["order"] if i < 20 else []) for i in range(100)}
    both = _log({**before, **after})
    split = pd.Timestamp("2024-01-01 00:30", tz="UTC")
    # put the "after" users a month later
    frame = both.to_pandas()
    frame.loc[frame["user_id"].astype(str).str.startswith("a"), "timestamp"] += pd.Timedelta(days=30)
    log = jl.from_pandas(frame, duplicates="keep")
    d = drift(log, split_at=split + pd.Timedelta(days=1), goal="order", inactivity="1D")
    conv = d.outcomes.set_index("metric").loc["conversion_rate"]
    assert (conv["before"], conv["after"]) == (0.5, 0.2) and conv["significant"]


@pytest.mark.pm4py
def test_model_fitness_agrees_with_pm4py_on_receipt():
    pm4py = pytest.importorskip("pm4py")
    os.environ.setdefault("PM4PY_SHOW_PROGRESS_BAR", "False")
    xes = shared_file("process", "08_receipt.xes.gz")
    bpmn = shared_file("models", "receipt.bpmn")
    ref_log = pm4py.read_xes(str(xes))
    net, im, fm = pm4py.convert_to_petri_net(pm4py.read_bpmn(str(bpmn)))
    ours = jl.read_xes(xes, duplicates="keep")
    for model in ((net, im, fm), pm4py.discover_petri_net_heuristics(ref_log, dependency_threshold=0.99)):
        ref = pm4py.fitness_token_based_replay(ref_log, *model)
        got = model_fitness(ours, model)
        assert got["log_fitness"] == pytest.approx(ref["log_fitness"], rel=1e-9)
        assert got["fitness"] == pytest.approx(ref["average_trace_fitness"], rel=1e-9)
        assert 100 * got["fitting_journeys_share"] == pytest.approx(ref["percentage_of_fitting_traces"], rel=1e-9)
    assert model_fitness(ours, str(bpmn))["log_fitness"] == 1.0


@pytest.mark.pm4py
def test_map_fitness_is_one_on_designed_walks_and_lower_off_map():
    pytest.importorskip("pm4py")
    ok = map_fitness(_log({"a": JOURNEYS["a"], "d": ["newsletter", "landing", "product", "cart", "order"]}),
                     JourneyMap.from_dict(MAP))
    assert ok["log_fitness"] == 1.0 and ok["fitting_journeys_share"] == 1.0
    off = map_fitness(_log(JOURNEYS), JourneyMap.from_dict(MAP))
    assert off["fitting_journeys_share"] < 1.0 and off["log_fitness"] < 1.0
