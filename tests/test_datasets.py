"""The generator plants structure; plain pandas finds it again, and so do the library's analyses.

Figures are computed here with pandas/numpy/scikit-learn only (an independent
reference); the last tests check that the analyses recover the same structure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

import journeylens.datasets as datasets
from journeylens.errors import InputError

PLANTED = datasets.PLANTED
GOAL = PLANTED["goal"]


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return datasets.make_journeys(5000, seed=3)


def _pairs(df: pd.DataFrame) -> pd.DataFrame:
    """Directly-follows pairs within each customer, with the time between them."""
    same = df["user_id"].to_numpy()[1:] == df["user_id"].to_numpy()[:-1]
    e = df["event"].astype(str).to_numpy()
    t = (df["timestamp"] - df["timestamp"].min()).dt.total_seconds().to_numpy()
    return pd.DataFrame({"user_id": df["user_id"].to_numpy()[:-1][same], "a": e[:-1][same], "b": e[1:][same],
                         "gap_s": (t[1:] - t[:-1])[same],
                         "persona": df["persona"].to_numpy()[:-1][same]})


def _ping_pongs(df: pd.DataFrame) -> pd.Series:
    """Users per a > b > a triple (a != b), most frequent first."""
    u, e = df["user_id"].to_numpy(), df["event"].astype(str).to_numpy()
    hit = (u[2:] == u[:-2]) & (u[1:-1] == u[:-2]) & (e[2:] == e[:-2]) & (e[1:-1] != e[:-2])
    triples = pd.DataFrame({"u": u[:-2][hit], "a": e[:-2][hit], "b": e[1:-1][hit]}).drop_duplicates()
    return triples.groupby(["a", "b"]).size().sort_values(ascending=False)


def _per_user(df: pd.DataFrame) -> pd.DataFrame:
    g = df.groupby("user_id", observed=True)
    return pd.DataFrame({"persona": g["persona"].first().astype(str), "first": g["timestamp"].min(),
                         "last": g["timestamp"].max(), "last_event": g["event"].last().astype(str),
                         "converted": (df["event"] == GOAL).groupby(df["user_id"], observed=True).any()})


# -- the frame itself -----------------------------------------------------------------------------


def test_deterministic_per_seed_and_well_formed():
    a, b = datasets.make_journeys(400, seed=5), datasets.make_journeys(400, seed=5)
    assert a.equals(b)
    assert not a.equals(datasets.make_journeys(400, seed=6))
    assert list(a.columns) == ["user_id", "timestamp", "event", "channel", "device", "stage", "persona", "campaign"]
    assert str(a["timestamp"].dtype) == "datetime64[us, UTC]"
    assert a["timestamp"].min() >= pd.Timestamp("2025-01-01", tz="UTC")
    assert a["timestamp"].max() < pd.Timestamp("2025-01-01", tz="UTC") + pd.Timedelta(days=90)
    # sorted by customer then time, with strictly increasing times inside a journey
    assert a["user_id"].astype(str).is_monotonic_increasing
    assert (_pairs(a)["gap_s"] > 0).all()
    assert (a["stage"].astype(str) == a["event"].astype(str).map(datasets.STAGE_OF)).all()
    assert set(a["channel"].astype(str)) <= set(datasets.CHANNELS)
    assert set(a["persona"].astype(str)) == set(datasets.PERSONAS)


def test_vocabulary_size(df):
    assert 25 <= len(datasets.EVENTS) <= 30 and set(df["event"].astype(str)) == set(datasets.EVENTS)
    assert set(df["channel"].astype(str)) == set(datasets.CHANNELS)
    assert PLANTED["personas"] == len(datasets.PERSONAS) == 4


def test_visits_make_30_minute_sessions_meaningful(df):
    gaps = _pairs(df)["gap_s"]
    assert not ((gaps >= 30 * 60) & (gaps < 45 * 60)).any()  # nothing ambiguous around the 30-minute cut
    within, between = (gaps < 30 * 60).mean(), (gaps >= 45 * 60).mean()
    assert 0.5 < within < 0.9 and between > 0.1
    assert gaps[gaps < 30 * 60].median() < 120 and gaps[gaps >= 45 * 60].median() > 6 * 3600


# -- planted structure, found with pandas -----------------------------------------------------------


def test_planted_loop_is_the_most_frequent_ping_pong(df):
    top = _ping_pongs(df)
    assert top.index[0] == PLANTED["loop"][:2]
    assert top.iloc[0] > 1.5 * top.iloc[1]
    loopers = df[df["user_id"].isin(_loop_users(df))].groupby("user_id", observed=True)["persona"].first()
    share = loopers.value_counts() / df.groupby("user_id", observed=True)["persona"].first().value_counts()
    assert share.idxmax() == PLANTED["loop_persona"]


def _loop_users(df: pd.DataFrame) -> set:
    u, e = df["user_id"].to_numpy(), df["event"].astype(str).to_numpy()
    a, b, _ = PLANTED["loop"]
    hit = (u[2:] == u[:-2]) & (u[1:-1] == u[:-2]) & (e[:-2] == a) & (e[1:-1] == b) & (e[2:] == a)
    return set(u[:-2][hit])


def test_planted_roadblock(df):
    rb = PLANTED["roadblock"]
    users = _per_user(df)
    end = df["timestamp"].max()
    gone = ~users["converted"] & (users["last"] < end - pd.Timedelta(days=7))  # dropped off, not censored
    reached = df.loc[df["event"] == rb["event"], "user_id"].unique()
    at = users.loc[reached]
    left_there = gone.loc[reached] & at["last_event"].isin([rb["event"], rb["error"]])
    rate = left_there.groupby(at["persona"]).mean()
    assert rate.idxmax() == rb["persona"] and rate[rb["persona"]] > 2 * rate.drop(rb["persona"]).max()
    # long dwell: time from the payment page to the customer's next step, inside a visit
    p = _pairs(df)
    dwell = p[(p["a"] == rb["event"]) & (p["gap_s"] < 1800)].groupby("persona", observed=True)["gap_s"].median()
    assert dwell.idxmax() == rb["persona"] and dwell[rb["persona"]] > 4 * dwell.drop(rb["persona"]).max()
    # repeated attempts
    attempts = df[df["event"] == rb["event"]].groupby("user_id", observed=True).size().groupby(users["persona"]).mean()
    assert attempts.idxmax() == rb["persona"] and attempts[rb["persona"]] > 1.3


def test_backward_stage_transitions_occur(df):
    p = _pairs(df)
    order = {s: k for k, s in enumerate(datasets.STAGES)}
    back = p[p["a"].map(datasets.STAGE_OF).map(order) > p["b"].map(datasets.STAGE_OF).map(order)]
    counts = back.groupby(["a", "b"]).size()
    for pair in PLANTED["backward_transitions"]:
        assert counts[pair] >= 50


def test_conversion_rates_differ_by_persona(df):
    users = _per_user(df)
    rate = users.groupby("persona")["converted"].mean()
    assert rate.between(0.05, 0.8).all() and rate.max() - rate.min() > 0.3
    assert rate.idxmin() == "researcher" and rate.idxmax() == "store_loyalist"


def test_censoring_late_starters_are_in_progress_and_dropoffs_went_quiet(df):
    users = _per_user(df)
    end = pd.Timestamp("2025-01-01", tz="UTC") + pd.Timedelta(days=90)
    open_ = users[~users["converted"]]
    early = open_[open_["first"] < end - pd.Timedelta(days=60)]
    late = open_[open_["first"] >= end - pd.Timedelta(days=3)]
    assert ((end - early["last"]) > pd.Timedelta(days=14)).mean() > 0.9  # drop-offs: long inactivity
    assert ((end - late["last"]) < pd.Timedelta(days=3)).all() and len(late) > 50  # still on their way


def test_personas_are_recoverable_by_clustering_behaviour(df):
    users = _per_user(df)
    shares = [pd.crosstab(df["user_id"], df[c].astype(str), normalize="index").add_prefix(f"{c}:")
              for c in ("channel", "device", "event")]
    size = np.log1p(df.groupby("user_id", observed=True).size()).rename("log_events")
    X = pd.concat(shares + [size], axis=1).loc[users.index]
    labels = KMeans(4, n_init=10, random_state=0).fit_predict(StandardScaler().fit_transform(X))
    assert adjusted_rand_score(users["persona"], labels) >= 0.9


# -- the designed map ------------------------------------------------------------------------------


def test_designed_map_differs_on_purpose(df):
    jmap = datasets.designed_map()
    assert list(jmap) == ["name", "stages", "transitions", "start", "conversion", "targets"]
    designed = set(map(tuple, jmap["transitions"]))
    p = _pairs(df)
    observed = set(zip(p["a"], p["b"]))
    non_self = {(a, b) for a, b in observed if a != b}
    assert non_self - designed == set(PLANTED["unexpected_transitions"])
    assert not observed & set(PLANTED["never_observed_transitions"])
    assert set(PLANTED["never_observed_transitions"]) <= designed
    touchpoints = {t for s in jmap["stages"] for t in s["touchpoints"]}
    assert set(PLANTED["never_observed_touchpoints"]) <= touchpoints - set(df["event"].astype(str))
    assert observed <= set(datasets.possible_transitions())


# -- the bundled sample ----------------------------------------------------------------------------


def test_sample_files_are_what_write_sample_writes(tmp_path):
    datasets.write_sample(tmp_path)
    for name in ("retail_journeys.csv", "retail_map.yaml"):
        assert (tmp_path / name).read_bytes() == (datasets.sample_path().parent / name).read_bytes()
    assert datasets.sample_path().stat().st_size <= 2 * 1024 * 1024
    assert yaml.safe_load(datasets.sample_map_path().read_text()) == datasets.designed_map()


def test_sample_has_the_planted_mess():
    raw = pd.read_csv(datasets.sample_path(), dtype=str, keep_default_na=False)
    assert list(raw.columns) == ["Customer Ref", "When", "Touchpoint", "Medium", "Device Type", "Campaign"]
    assert (raw["Customer Ref"] == "").sum() == 4 and raw.duplicated().sum() == 6
    when = raw["When"]
    for marker in ("Z", "+01:00", "+02:00"):
        assert when.str.endswith(marker).sum() > 1000
    assert (when.str.len() == 19).sum() > 1000  # naive UTC
    assert {"E-mail", "e-mail", "Newsletter", "SMS ", "Web"} <= set(raw["Medium"])


def test_load_sample_reconciles_and_matches_the_generator():
    log = datasets.load_sample()
    s = log.summary()
    assert s["rows_read"] == s["rows_accepted"] + s["rows_quarantined"]
    assert s["quarantine_reasons"] == {"duplicate": 6, "missing_user": 4, "unparsable_time": 4}
    assert set(s["channels"]) == set(datasets.CHANNELS)  # every spelling normalised
    # the accepted rows are the generated journeys minus the 8 damaged rows, instants intact whatever the offset
    truth = datasets.make_journeys(datasets.SAMPLE_CUSTOMERS, seed=datasets.SAMPLE_SEED)
    got = log.to_pandas(source_row=True)
    assert len(got) == len(truth) - 8
    keys = ["user_id", "timestamp", "event", "channel", "device"]
    merged = got[keys].astype(str).merge(truth[keys].astype(str), how="left", indicator=True)
    assert (merged["_merge"] == "both").all()


def test_sample_truth_matches_the_sample():
    truth = datasets.sample_truth()
    assert len(truth) == datasets.SAMPLE_CUSTOMERS and set(truth["persona"]) == set(datasets.PERSONAS)


def test_missing_sample_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets, "_SAMPLES", tmp_path)
    with pytest.raises(InputError, match="retail_journeys.csv.*missing"):
        datasets.sample_path()
    with pytest.raises(InputError, match="retail_journeys.csv.*missing"):
        datasets.load_sample()
    with pytest.raises(InputError, match="retail_map.yaml.*missing"):
        datasets.sample_map_path()


def test_bad_arguments_are_rejected():
    with pytest.raises(InputError, match="n_customers"):
        datasets.make_journeys(0)


# -- the analyses find the planted structure ------------------------------------------------------


@pytest.fixture(scope="module")
def log(df):
    import journeylens as jl

    return jl.from_pandas(df, duplicates="keep")


def test_analyses_find_loop_roadblock_and_backtracks(log):
    import journeylens as jl

    top = jl.loops(log).to_frame()
    assert tuple(top[top["kind"] != "self"].iloc[0]["events"]) == PLANTED["loop"]
    ranked = jl.roadblocks(log, GOAL, by="persona").to_frame()
    rb = PLANTED["roadblock"]
    assert ranked[(ranked["persona"] == rb["persona"]) & (ranked["rank"] == 1)]["event"].tolist() == [rb["event"]]
    edges = jl.dfg(jl.assign_stages(log, datasets.designed_map()), level="stage").to_frame()
    assert edges[edges["backward"]].set_index(["source", "target"]).loc[("decision", "consideration"), "count"] > 0


def test_analyses_separate_censored_from_dropped_and_report_map_differences(log):
    import journeylens as jl

    s = jl.dropoffs(log, GOAL, inactivity="7d").summary.iloc[0]
    assert s["censored"] > 0 and s["dropped_off"] > 0
    assert s["users"] == s["converted"] + s["dropped_off"] + s["censored"]
    result = jl.compare(log, datasets.designed_map())
    unexpected = set(map(tuple, result.unexpected[["source", "target"]].to_numpy()))
    assert set(PLANTED["unexpected_transitions"]) <= unexpected
    never = set(map(tuple, result.missing.query("status == 'never'")[["source", "target"]].to_numpy()))
    assert set(PLANTED["never_observed_transitions"]) <= never


def test_persona_model_recovers_the_personas(log, df):
    import journeylens as jl

    model = jl.PersonaModel(k="auto", random_state=0).fit(log)
    truth = df.groupby("user_id", observed=True)["persona"].first().astype(str)
    # the sequence model may split a planted persona along a real sub-group (its entry channel, its
    # device), never merge two: the partition must still be the planted one, up to small splits
    assert model.k_ >= PLANTED["personas"]
    assert adjusted_rand_score(truth.loc[model.users_], model.labels_) >= 0.9
