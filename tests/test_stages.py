"""Stages from a journey map: hand-computed assignment, unmapped events, a real log."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import journeylens as jl
from journeylens.core.journey_map import JourneyMap
from journeylens.prepare.stages import assign_stages, unmapped_events
from tests.conftest import minutes_log, shared_file

T0 = pd.Timestamp("2024-01-01 00:00", tz="UTC")

MAP = {
    "name": "shop",
    "stages": [
        {"name": "browse", "touchpoints": ["home", "product"]},
        {"name": "buy", "touchpoints": ["cart", "paid"]},
        {"name": "aftercare", "touchpoints": ["review"]},
    ],
}


def _log(rows, **extra) -> jl.EventLog:
    """rows: (user, minutes after T0, event)."""
    return minutes_log(rows, **extra)


ROWS = [("a", 0, "home"), ("a", 1, "faq"), ("a", 2, "cart"), ("b", 0, "faq"), ("b", 1, "faq"), ("b", 2, "chat"),
        ("c", 0, "paid"), ("c", 1, "home")]


def test_stages_are_an_ordered_categorical_in_designed_order():
    log = assign_stages(_log(ROWS), MAP)
    stage = log.to_pandas()["stage"]
    assert stage.dtype == pd.CategoricalDtype(["browse", "buy", "aftercare"], ordered=True)
    assert stage.astype(object).where(stage.notna(), None).tolist() == [
        "browse", None, "buy", None, None, None, "buy", "browse"]
    assert stage.max() == "buy" and (stage.dropna() >= "browse").all()
    assert log.parameters["assign_stages"] == {
        "journey_map": "shop", "source": "journey map", "events_mapped": 4, "events_unmapped": 4,
        "unmapped_event_types": 2, "touchpoints_not_in_log": ["product", "review"]}
    rows = log.journeys(level="stage", window=False)  # what stage-level mining reads
    assert list(log.names("stage")) == ["browse", "buy", "aftercare"]
    assert rows["i"].tolist() == [0, 2, 6, 7] and rows["e"].tolist() == [0, 1, 1, 0]


def test_map_may_be_a_journey_map_a_dict_or_a_file(tmp_path):
    path = tmp_path / "shop.json"
    path.write_text(__import__("json").dumps(MAP))
    log = _log(ROWS)
    expected = assign_stages(log, MAP).to_pandas()["stage"]
    for given in (JourneyMap.from_dict(MAP), str(path), path):
        pd.testing.assert_series_equal(assign_stages(log, given).to_pandas()["stage"], expected)
    with pytest.raises(jl.JourneyMapError, match="missing 'stages'"):
        assign_stages(log, {"name": "x"})


def test_a_source_stage_is_kept_and_overwrite_false_refuses():
    log = _log(ROWS[:3], stage=["top", "top", "bottom"])
    assert log.roles["stage"] == "stage"
    with pytest.raises(jl.ParameterError, match="overwrite=True"):
        assign_stages(log, MAP, overwrite=False)
    out = assign_stages(log, MAP)
    t = out.to_pandas()
    assert t["source_stage"].astype(str).tolist() == ["top", "top", "bottom"]
    assert t["stage"].tolist()[::2] == ["browse", "buy"] and pd.isna(t["stage"].iloc[1])
    assert "stage" not in out.roles
    again = assign_stages(out, {"stages": [{"name": "all", "touchpoints": ["home", "faq", "cart"]}]})
    assert again.to_pandas()["stage"].astype(str).tolist() == ["all"] * 3 and again.columns == out.columns


def test_unmapped_events_counts_events_and_users():
    t = unmapped_events(_log(ROWS), MAP)
    assert t.values.tolist() == [["faq", 3, 2], ["chat", 1, 1]]
    assert unmapped_events(_log(ROWS[:1]), MAP).empty


def test_simple_onlineshop_unmapped_events_match_pandas():
    df = pd.read_csv(shared_file("clickstream", "simple-onlineshop.csv.gz"))
    log = jl.from_pandas(df, duplicates="keep")
    jmap = {"stages": [{"name": "browse", "touchpoints": ["main", "catalog", "product1", "product2"]},
                       {"name": "buy", "touchpoints": ["cart", "payment_done"]}]}
    staged = assign_stages(log, jmap)
    mapped = df["event"].isin(["main", "catalog", "product1", "product2", "cart", "payment_done"])
    assert staged.parameters["assign_stages"]["events_mapped"] == int(mapped.sum()) == 27388
    counts = staged.to_pandas()["stage"].value_counts().to_dict()
    assert counts == {"browse": 5635 + 14518 + 1515 + 2172, "buy": 2842 + 706}

    got = unmapped_events(log, jmap)
    rest = df[~mapped]
    ref = pd.DataFrame({"events": rest.groupby("event").size(), "users": rest.groupby("event")["user_id"].nunique()})
    ref = ref.reset_index().sort_values(["events", "event"], ascending=[False, True])
    assert got.values.tolist() == ref.values.tolist()
    assert got["event"].tolist()[0] == "delivery_choice" and np.sum(got["events"]) == len(rest)
