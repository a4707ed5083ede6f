"""Personas: feature table by hand, estimator contract, recovery of planted groups (toy and
generator), profiles, personas as segments in every ``by=``, a real sequence data set."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.metrics import adjusted_rand_score

import journeylens as jl
from journeylens.core.segments import add_segment
from journeylens.datasets import PLANTED
from journeylens.personas import (
    PersonaModel,
    Profiles,
    compare_segments,
    profile,
    user_features,
)
from journeylens.personas.model import PS_TOLERANCE, prediction_strength
from journeylens.personas.profiles import levenshtein
from tests.conftest import shared_file


def _tiny() -> jl.EventLog:
    frame = pd.DataFrame({
        "user": ["a", "a", "a", "b", "b"],
        "time": ["2024-01-01 10:00", "2024-01-01 10:10", "2024-01-03 10:00", "2024-01-02 09:00", "2024-01-02 09:30"],
        "event": ["visit", "cart", "buy", "visit", "visit"],
        "channel": ["web", "web", "app", "email", "web"],
    })
    return jl.from_pandas(frame)


def test_user_features_by_hand():
    f = user_features(_tiny(), goal="buy")
    a, b = f.loc["a"], f.loc["b"]
    assert (a["n_events"], a["active_days"], b["active_days"]) == (3, 2, 1)
    assert a["tenure_days"] == pytest.approx(2.0)
    assert a["recency_days"] == 0 and b["recency_days"] == pytest.approx(1 + 0.5 / 24)
    assert a["median_gap_s"] == pytest.approx((600 + (2 * 86400 - 600)) / 2)
    assert (a["channel:web"], a["channel:app"], b["channel:email"]) == pytest.approx((2 / 3, 1 / 3, 0.5))
    assert (a["event:visit"], b["event:visit"]) == (1, 2)
    assert a["bigram:visit>cart"] == pytest.approx(0.5) and b["bigram:visit>visit"] == 1.0
    assert (a["converted"], b["converted"]) == (1, 0)


def _planted(n_per: int = 120, seed: int = 0, personas: int = 3) -> tuple[jl.EventLog, dict[str, int]]:
    """Users of three behaviours: web browsers who compare, app buyers, store-and-phone customers."""
    rng = np.random.default_rng(seed)
    paths = {0: (["ad", "landing", "product", "compare"], "web"), 1: (["email", "app_open", "cart", "buy"], "app"),
             2: (["store", "phone", "buy"], "store"), 3: (["sms", "coupon", "cart"], "sms")}
    users, times, events, channels, truth = [], [], [], [], {}
    for p in range(personas):
        names, channel = paths[p]
        for i in range(n_per):
            user = f"s{seed}-p{p}-{i:04d}"
            truth[user] = p
            n = int(rng.integers(4, 12))
            users += [user] * n
            times += list(pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.sort(rng.integers(0, 90 * 24, n)), unit="h"))
            events += list(np.asarray(names)[rng.integers(0, len(names), n)])
            channels += [channel if rng.random() < 0.85 else "email" for _ in range(n)]
    frame = pd.DataFrame({"user": users, "time": times, "event": events, "channel": channels})
    return jl.from_pandas(frame, duplicates="keep"), truth


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auto_k_recovers_planted_groups(seed):
    log, truth = _planted(seed=seed, personas=3 + seed % 2)
    model = PersonaModel(k="auto", random_state=seed).fit(log)
    assert model.k_ == 3 + seed % 2
    assert adjusted_rand_score([truth[u] for u in model.users_], model.labels_) >= 0.9
    scores = model.scores_
    assert list(scores.columns) == ["k", "prediction_strength", "silhouette", "chosen"] and scores["chosen"].sum() == 1


def test_deterministic_and_predict_agrees_on_new_users():
    log, _ = _planted(seed=5)
    first = PersonaModel(k=3, random_state=7).fit_predict(log)
    again = clone(PersonaModel(k=3, random_state=7)).fit_predict(log)
    assert (first == again).all()
    model = PersonaModel(k=3, random_state=7).fit(log)
    fresh, truth = _planted(seed=6)
    predicted = model.predict(fresh)
    refit = PersonaModel(k=3, random_state=7).fit_predict(fresh)
    assert adjusted_rand_score(predicted, refit) >= 0.95
    # labels are ordered by persona size, largest first
    sizes = np.bincount(model.labels_)
    assert (np.diff(sizes) <= 0).all()


def test_minibatch_path_for_many_users_recovers_the_groups():
    log, truth = _planted(seed=4)
    model = PersonaModel(k=3, minibatch_above=100, random_state=1).fit(log)  # 360 users count as many here
    assert type(model.estimator_).__name__ == "MiniBatchKMeans"
    assert adjusted_rand_score([truth[u] for u in model.users_], model.labels_) >= 0.9
    assert (clone(model).fit_predict(log) == model.labels_).all()


@lru_cache(maxsize=None)
def _journeys(seed: int) -> tuple[jl.EventLog, pd.Series]:
    """A make_journeys log of 2,000 customers and its planted persona per user (for scoring only)."""
    df = jl.datasets.make_journeys(2000, seed=seed)
    truth = df.groupby("user_id", observed=True)["persona"].first().astype(str)
    return jl.from_pandas(df, duplicates="keep"), truth


@lru_cache(maxsize=None)
def _fitted(seed: int) -> PersonaModel:
    return PersonaModel(k="auto", goal=PLANTED["goal"], random_state=0).fit(_journeys(seed)[0])


def _roadblock_persona(model: PersonaModel, truth: pd.Series) -> str:
    """The found persona most of the planted roadblock persona's customers are in."""
    personas = model.personas()
    return personas[truth.loc[personas.index] == PLANTED["roadblock"]["persona"]].mode().iloc[0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auto_k_finds_the_generators_personas(seed):
    log, truth = _journeys(seed)
    model = _fitted(seed)
    scores = model.scores_.set_index("k")
    assert model.k_ == PLANTED["personas"] and scores["chosen"].idxmax() == model.k_
    # the stated criterion: the largest k whose prediction strength is close to the best
    strength = scores["prediction_strength"]
    assert model.k_ == strength[strength >= strength.max() - PS_TOLERANCE].index.max()
    assert adjusted_rand_score(truth.loc[model.users_], model.labels_) >= 0.9


def test_generator_personas_are_deterministic_and_predictable():
    log, _ = _journeys(0)
    again = clone(_fitted(0)).fit_predict(log)
    assert (again == _fitted(0).labels_).all()
    new_log, _ = _journeys(1)  # another sample of the same generator
    predicted = _fitted(0).predict(new_log)
    assert adjusted_rand_score(predicted, _fitted(1).labels_) >= 0.95


def test_profiles_of_a_fitted_model():
    log, truth = _journeys(0)
    model = _fitted(0)
    prof = model.profiles_
    assert isinstance(prof, Profiles) and model.profiles_ is prof  # computed once
    table = prof.to_frame().set_index("persona")
    assert table["users"].sum() == len(truth) and len(table) == model.k_
    assert table["conversion_rate"].between(0, 1).all()  # computed with the model's goal
    # the roadblock persona, and only it, is mostly lost at the planted roadblock (the payment page or its error)
    paying = table["main_dropoff"].isin([PLANTED["roadblock"]["event"], PLANTED["roadblock"]["error"]])
    assert paying[paying].index.tolist() == [_roadblock_persona(model, truth)]
    assert PersonaModel(k=4).fit(user_features(log)).profiles_ is None  # a feature table has no journeys
    assert not hasattr(PersonaModel(), "profiles_")  # not fitted
    assert "<li>persona 1:" in prof._repr_html_() and len(prof.plot().data) == 1


def test_levenshtein_matches_the_textbook_recurrence():
    def reference(a, b):
        d = np.arange(len(b) + 1)
        for i, x in enumerate(a, 1):
            prev, d[0] = d.copy(), i
            for j, y in enumerate(b, 1):
                d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (x != y))
        return d[-1]

    kitten, sitting = ([ord(c) for c in w] for w in ("kitten", "sitting"))
    assert levenshtein([kitten, sitting])[0, 1] == 3
    rng = np.random.default_rng(0)
    seqs = [rng.integers(0, 3, rng.integers(0, 7)).tolist() for _ in range(12)]
    got = levenshtein(seqs)
    assert (got == got.T).all()
    assert [[got[i, j] for j in range(12)] for i in range(12)] == [[reference(a, b) for b in seqs] for a in seqs]


def test_typical_path_is_the_medoid_not_the_most_frequent_variant():
    journeys = [list("pqrst")] * 4 + [list("abc")] * 3 + [list("ab")] * 2
    rows = [(f"u{i}", minute, event) for i, path in enumerate(journeys) for minute, event in enumerate(path)]
    frame = pd.DataFrame(rows, columns=["user", "minute", "event"])
    frame["time"] = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(frame["minute"], unit="min")
    log = jl.from_pandas(frame.drop(columns="minute"))
    assert jl.variants(log).to_frame()["variant"].iloc[0] == tuple("pqrst")
    # weighted edit distances: pqrst 3·5 + 2·5 = 25, abc 4·5 + 2·1 = 22, ab 4·5 + 3·1 = 23
    everyone = pd.Series("persona 1", index=[f"u{i}" for i in range(len(journeys))])
    assert profile(log, everyone).to_frame()["typical_path"].iloc[0] == "a › b › c"


def test_dfg_per_segment_adds_up_to_the_overall_counts():
    log = jl.from_pandas(pd.DataFrame({
        "user": ["a", "a", "a", "b", "b", "c", "c", "c"],
        "time": pd.date_range("2024-01-01", periods=8, freq="h"),
        "event": ["home", "cart", "home", "home", "cart", "home", "cart", "buy"]}))
    result = jl.dfg(log, by=pd.Series({"a": "p1", "b": "p2", "c": "p2"}, name="persona"))
    per = result.to_frame()
    assert per[["persona", "source", "target", "count", "users"]].values.tolist() == [
        ["p1", "cart", "home", 1, 1], ["p1", "home", "cart", 1, 1],
        ["p2", "cart", "buy", 1, 1], ["p2", "home", "cart", 2, 2]]
    overall = result.edges.set_index(["source", "target"])[["count", "users"]]
    assert per.groupby(["source", "target"])[["count", "users"]].sum().equals(overall)
    assert result.graph["home"]["cart"]["count"] == 3  # the graph is the overall one


def test_personas_work_as_by_in_every_analysis():
    log, truth = _journeys(0)
    model = _fitted(0)
    personas = model.personas()
    goal, roadblock = PLANTED["goal"], PLANTED["roadblock"]
    steps = ["product_page", "cart", "checkout", goal]
    per, overall = jl.funnel(log, steps, by=personas).to_frame(), jl.funnel(log, steps).to_frame()
    assert per.groupby("step_index")["users"].sum().tolist() == overall["users"].tolist()
    assert set(per["persona"]) == set(personas)
    drops = jl.dropoffs(log, goal, by=personas).to_frame()
    at_payment = drops[drops["event"].isin([roadblock["event"], roadblock["error"]])]
    assert at_payment.groupby("persona")["share_of_dropoffs"].sum().idxmax() == _roadblock_persona(model, truth)
    ranked = jl.roadblocks(log, goal, by=personas).to_frame().query("rank == 1").set_index("persona")["event"]
    assert ranked[_roadblock_persona(model, truth)] == roadblock["event"]
    decisions = jl.decision_points(log, by=personas)
    # personas leave the payment page differently (errors and exits of the roadblock persona)
    assert decisions.tests.set_index("node").loc[roadblock["event"], "p_value"] < 1e-6
    assert set(decisions.to_frame()["persona"]) == set(personas)
    per_edge = jl.dfg(log, by=personas).to_frame().groupby(["source", "target"])["count"].sum()
    assert per_edge.equals(jl.dfg(log).edges.set_index(["source", "target"])["count"])


def test_hdbscan_finds_the_toy_groups_and_predicts_them():
    log, truth = _planted(seed=0)
    model = PersonaModel(algorithm="hdbscan").fit(log)
    clustered = model.labels_ >= 0
    assert model.k_ == 3 and model.scores_ is None and clustered.mean() > 0.8
    assert adjusted_rand_score(np.array([truth[u] for u in model.users_])[clustered], model.labels_[clustered]) >= 0.9
    assert (model.predict(log)[clustered] == model.labels_[clustered]).all()


def test_prediction_strength_by_hand():
    # own cluster 0 = users 0-2: only the pair (0, 1) stays together elsewhere; own cluster 1 = users 3-4: kept
    assert prediction_strength(np.array([0, 0, 0, 1, 1]), np.array([5, 5, 7, 7, 7])) == pytest.approx(1 / 3)
    assert prediction_strength(np.array([0, 0, 1, 2]), np.array([1, 1, 0, 0])) == 1.0  # singletons have no pairs


def test_estimator_contract_and_errors():
    table = user_features(_planted(n_per=20)[0])
    before = table.copy()
    PersonaModel(k=3).fit(table).predict(table)
    assert table.equals(before)  # scaling works on a copy, never on the caller's table
    model = PersonaModel(k=2)
    assert model.get_params()["k"] == 2
    assert model.set_params(k=3).k == 3
    with pytest.raises(jl.JourneyLensError, match="not fitted"):
        PersonaModel().predict(_tiny())
    with pytest.raises(jl.JourneyLensError, match="algorithm"):
        PersonaModel(k=2, algorithm="magic").fit(_planted(n_per=10)[0])
    with pytest.raises(jl.JourneyLensError, match="k must be"):
        PersonaModel(k=0).fit(_planted(n_per=10)[0])


def test_profiles_and_segment_tests_describe_the_planted_groups():
    log, truth = _planted(seed=3)
    model = PersonaModel(k=3, random_state=0).fit(log)
    prof = profile(log, model.personas(), goal="buy").to_frame()
    assert prof["users"].sum() == len(truth) and prof["share"].sum() == pytest.approx(1.0)
    by_channel = dict(zip(prof["top_channels"].str.split(" ").str[0], prof["conversion_rate"]))
    assert by_channel["web"] == 0.0  # the browsing persona never buys
    assert by_channel["store"] > 0.5
    assert all(p in d for p, d in zip(prof["persona"], prof["description"]))
    tagged = add_segment(log, model.personas(), "persona")
    tests = compare_segments(tagged, "persona", goal="buy")
    web = tests[tests["persona"].isin(prof.loc[prof["top_channels"].str.startswith("web"), "persona"])]
    assert web["conversion_rate"].iloc[0] == 0.0 and web["conversion_p"].iloc[0] < 1e-6


def test_compare_segments_counts_users_once():
    frame = pd.DataFrame({"user": ["a"] * 10 + ["b", "c"], "time": pd.date_range("2024-01-01", periods=12, freq="h"),
                          "event": ["x"] * 11 + ["buy"], "tier": ["g"] * 10 + ["n", "n"]})
    out = compare_segments(jl.from_pandas(frame), "tier", goal="buy").set_index("tier")
    assert out.loc["g", "users"] == 1 and out.loc["n", "users"] == 2
    assert out.loc["n", "conversion_rate"] == 0.5 and out.loc["g", "events_per_user"] == 10


def test_mvad_school_to_work_personas_differ_on_final_state():
    wide = pd.read_csv(shared_file("sequences", "mvad_wide.csv.gz"))
    months = [c for c in wide.columns if c[:3] in ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
                                                     "Oct", "Nov", "Dec")]
    long = wide.melt(id_vars="id", value_vars=months, var_name="month", value_name="state")
    long["time"] = pd.to_datetime(long["month"], format="%b.%y")
    log = jl.from_pandas(long, user="id", time="time", event="state", duplicates="keep")
    assert log.summary()["users"] == 712 and len(log) == 712 * len(months)
    model = PersonaModel(k="auto", random_state=0).fit(log)
    assert 2 <= model.k_ <= 8
    personas = model.personas()
    final = wide.set_index(wide["id"].astype(str))[months[-1]].reindex(personas.index)
    table = pd.crosstab(personas, final)
    chi2, p, dof, _ = stats.chi2_contingency(table)
    assert p < 1e-10, table
    # the description names each persona and says what it stands out by
    prof = profile(log, personas).to_frame()
    assert len(prof) == model.k_ and prof["distinguishing"].str.contains("d=").all()
