"""Personas: the feature table by hand (outcomes excluded, shares, folding, missing gaps, bounded memory),
the estimator contract of both methods, small personas, profiles (medoid path, finite effect sizes,
descriptions) and personas as segments."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import adjusted_rand_score

import journeylens as jl
from journeylens.core.segments import add_segment
from journeylens.personas.features import user_features
from journeylens.personas.model import PersonaModel
from journeylens.personas.profiles import Profiles, profile
from journeylens.personas.model import prediction_strength
from journeylens.personas.profiles import D_CAP, GroupSums, effect_sizes
from tests.conftest import minutes_log

ROOT = Path(__file__).resolve().parents[1]


def _tiny() -> jl.EventLog:
    frame = pd.DataFrame({
        "user": ["a", "a", "a", "b", "b"],
        "time": ["2024-01-01 10:00", "2024-01-01 10:10", "2024-01-03 10:00", "2024-01-02 09:00", "2024-01-02 09:30"],
        "event": ["visit", "cart", "buy", "visit", "visit"],
        "channel": ["web", "web", "app", "email", "web"],
    })
    return jl.from_pandas(frame)


# -- the feature table -----------------------------------------------------------------------------
@pytest.mark.parametrize("shape", ["short journeys", "thousands of event types", "given sessions, before 1970"])
def test_in_memory_features_equal_the_sql_query(shape):
    """The in-memory bincount kernel against the SQL query that held engines run, on the same rows."""
    from journeylens.engine import features as kernel
    from journeylens.engine.sql import query

    rng = np.random.default_rng(len(shape))
    n = 20_000
    users = rng.integers(0, n // 2 if shape == "short journeys" else n // 20, n)
    names = rng.zipf(1.3, n) % 3_000 if shape == "thousands of event types" else rng.integers(0, 12, n)
    start = pd.Timestamp("1969-12-20" if "1970" in shape else "2024-01-01")
    frame = pd.DataFrame({"user": users.astype(str), "time": start + pd.to_timedelta(rng.integers(0, 30 * 86_400, n), "s"),
                          "event": np.char.add("e", names.astype(str)), "channel": rng.choice(["web", "app", None], n)})
    if "sessions" in shape:
        frame["session"] = rng.integers(0, 3, n)  # a user's sessions interleave in time
        log = jl.from_pandas(frame, session="session")
    else:
        log = jl.sessionize(jl.from_pandas(frame), gap="30min")
    goal = str(log.event_names[1])
    sql = []
    original = kernel.user_feature_frame

    def by_sql(ev, *spec):
        sql.append(query(kernel.feature_sql(ev, *spec, user_table=False), {"ev": ev}).to_pandas())
        return original(ev, *spec)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("journeylens.personas.features.user_feature_frame", by_sql)
        got = user_features(log, goal=goal, top_events=20, bigrams=15)
    expected = sql[0].set_axis(got.index, axis=0).drop(columns="u")
    assert got.shape[1] > 30 and got["converted"].between(0, 1).all()
    pd.testing.assert_frame_equal(got, expected.astype(np.float64), check_exact=True)


def test_user_features_by_hand_leave_the_goal_out():
    f = user_features(_tiny(), goal="buy")
    a, b = f.loc["a"], f.loc["b"]
    assert (a["n_events"], a["active_days"], b["active_days"]) == (3, 2, 1)  # volume counts every event
    assert a["tenure_days"] == pytest.approx(2.0)
    assert a["recency_days"] == 0 and b["recency_days"] == pytest.approx(1 + 0.5 / 24)
    assert a["median_gap_s"] == pytest.approx((600 + (2 * 86400 - 600)) / 2)
    # shares over behaviour rows (visit, cart): the purchase on the app is an outcome, not behaviour
    assert (a["channel:web"], a["channel:app"], b["channel:email"]) == pytest.approx((1.0, 0.0, 0.5))
    assert (a["event:visit"], a["event:cart"], b["event:visit"]) == pytest.approx((0.5, 0.5, 1.0))
    assert a["bigram:visit>cart"] == 1.0 and b["bigram:visit>visit"] == 1.0  # cart > buy is not a step
    assert (a["converted"], b["converted"]) == (1, 0)
    assert not [c for c in f.columns if "buy" in c]


def test_include_goal_and_lost():
    f = user_features(_tiny(), goal="buy", include_goal=True)
    a = f.loc["a"]
    assert (a["event:buy"], a["channel:app"], a["bigram:visit>cart"]) == pytest.approx((1 / 3, 1 / 3, 0.5))
    lost = user_features(_tiny(), lost="cart")
    assert (lost.loc["a", "lost"], lost.loc["b", "lost"]) == (1, 0) and "event:cart" not in lost
    assert lost.loc["a", "event:visit"] == pytest.approx(0.5)  # visit and buy are behaviour without a goal
    with pytest.raises(jl.ParameterError, match="lost"):
        user_features(_tiny(), lost="nope")


def test_a_single_event_has_no_gap():
    f = user_features(minutes_log([("a", 0, "x"), ("b", 0, "x"), ("b", 5, "y")]))
    assert np.isnan(f.loc["a", "median_gap_s"]) and np.isnan(f.loc["a", "mean_gap_s"])
    assert f.loc["b", "median_gap_s"] == 300


def test_events_beyond_the_top_fold_into_other():
    # event j is done by 30 - j users: the five done by most users are e00..e04
    rows = [(f"u{u:02d}", j, f"e{j:02d}") for j in range(30) for u in range(30 - j)]
    f = user_features(minutes_log(rows), top_events=5, bigrams=0)
    events = [c for c in f.columns if c.startswith("event:")]
    assert events == [f"event:e{j:02d}" for j in range(5)] + ["event:(other)"]
    # u00 does all 30 events once: 25 of them are other
    assert f.loc["u00", "event:(other)"] == pytest.approx(25 / 30) and f.loc["u00", "event:e00"] == pytest.approx(1 / 30)
    assert np.allclose(f[events].sum(axis=1), 1.0)
    assert "event:(other)" not in user_features(minutes_log(rows), top_events=30, bigrams=0)


def test_feature_memory_stays_small_with_thousands_of_event_names():
    """2,000 URL-like event names across 60 users: the wide table used to peak at 4.2 GB."""
    script = textwrap.dedent("""
        import json, resource
        import numpy as np, pandas as pd
        import journeylens as jl
        rng = np.random.default_rng(0)
        names = np.array([f"https://shop.example/p/{i}?ref=campaign-{i % 7}" for i in range(2000)])
        n = 60 * 120
        frame = pd.DataFrame({"user": np.repeat([f"u{i}" for i in range(60)], 120),
                              "time": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.arange(n), unit="s"),
                              "event": names[rng.integers(0, 2000, n)]})
        log = jl.from_pandas(frame)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        table = jl.user_features(log)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"columns": table.shape[1], "extra_mb": (after - before) / 1024}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["columns"] < 120  # 50 events + other + 30 bigrams + the rest
    assert result["extra_mb"] < 300, result


# -- the estimator contract ------------------------------------------------------------------------
ROUTES = {0: ["ad", "landing", "product", "compare", "product", "cart"], 1: ["email", "app_open", "product", "wishlist"],
          2: ["store", "phone", "product", "pickup", "cart"], 3: ["sms", "coupon", "cart", "product"]}


def _planted(n_per: int = 120, seed: int = 0, personas: int = 3) -> tuple[jl.EventLog, dict[str, int]]:
    """Users who go round their persona's route (sharing product and cart, each step replaced by a random
    event 15% of the time), on channels drawn alike for everyone; every third user then buys."""
    rng = np.random.default_rng(seed)
    common = np.array(sorted({e for route in ROUTES.values() for e in route}))
    users, times, events, channels, truth = [], [], [], [], {}
    for p in range(personas):
        route = np.asarray(ROUTES[p])
        for i in range(n_per):
            user = f"s{seed}-p{p}-{i:04d}"
            truth[user] = p
            n = int(rng.integers(4, 12))
            walk = route[(rng.integers(0, len(route)) + np.arange(n)) % len(route)]
            walk = np.where(rng.random(n) < 0.15, common[rng.integers(0, len(common), n)], walk)
            journey = list(walk) + (["buy"] if i % 3 == 0 else [])
            users += [user] * len(journey)
            times += list(pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.arange(len(journey)), unit="h"))
            events += journey
            channels += list(np.asarray(["web", "app", "email"])[rng.integers(0, 3, len(journey))])
    frame = pd.DataFrame({"user": users, "time": times, "event": events, "channel": channels})
    return jl.from_pandas(frame, duplicates="keep"), truth


@pytest.mark.parametrize("method", ["markov", "features"])
def test_both_methods_find_distinct_behaviours_and_predict_them(method):
    log, truth = _planted(n_per=400, seed=1)  # BIC needs about a thousand users for twelve states
    model = PersonaModel(k="auto", method=method, goal="buy", random_state=0).fit(log)
    assert model.k_ == 3 and adjusted_rand_score([truth[u] for u in model.users_], model.labels_) > 0.95
    assert (model.predict(log) == model.labels_).all()
    assert (model.personas(log) == model.personas()).all()
    assert model.scores_["chosen"].sum() == 1
    sizes = np.bincount(model.labels_)
    assert (np.diff(sizes) <= 0).all()  # numbered by size


def test_the_default_is_the_sequence_model_and_it_gives_probabilities():
    log, _ = _planted(seed=2)
    model = PersonaModel(k=3, goal="buy").fit(log)
    assert model.method == "markov"
    proba = model.predict_proba(log)
    assert proba.shape == (len(model.users_), 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert (proba.argmax(axis=1) == model.labels_).all()
    assert np.isclose(model.weights_.sum(), 1.0) and model.states_[-1] == "(other)"
    assert "buy" not in model.states_  # the goal is an outcome, not a state
    t = model.transitions()
    assert np.allclose(t.groupby(["persona", "source"])["probability"].sum(), 1.0)
    with pytest.raises(jl.ParameterError, match="predict_proba"):
        PersonaModel(k=3, method="features").fit(log).predict_proba(log)


def test_deterministic_and_clonable():
    log, _ = _planted(seed=5)
    for method in ("markov", "features"):
        first = PersonaModel(k=3, method=method, random_state=7).fit_predict(log)
        again = clone(PersonaModel(k=3, method=method, random_state=7)).fit_predict(log)
        assert (first == again).all()


def test_predict_on_new_users_agrees_with_a_refit():
    model = PersonaModel(k=3, goal="buy", random_state=0).fit(_planted(seed=5)[0])
    fresh, truth = _planted(seed=6)
    predicted = model.predict(fresh)
    assert adjusted_rand_score([truth[u] for u in model.personas(fresh).index], predicted) > 0.95


def test_estimator_contract_and_parameter_checks():
    log, _ = _planted(n_per=20)
    model = PersonaModel(k=2)
    assert model.get_params()["k"] == 2 and model.set_params(k=3).k == 3
    with pytest.raises(jl.ParameterError, match="no parameter"):
        model.set_params(colour="red")
    assert "method='features'" in repr(PersonaModel(method="features"))
    with pytest.raises(NotFittedError):
        PersonaModel().predict(log)
    with pytest.raises(NotFittedError):
        PersonaModel().personas()
    # parameters are checked before the input is even looked at
    for bad, match in (({"method": "magic"}, "method"), ({"k": 0}, "k must"), ({"k_range": (3, 2)}, "k_range"),
                       ({"min_size": 0.9}, "min_size"), ({"smoothing": 0}, "smoothing"),
                       ({"emissions": ["colour"]}, "emissions"), ({"per": "week"}, "per"), ({"tol": -1}, "tol")):
        with pytest.raises(jl.ParameterError, match=match):
            PersonaModel(**bad).fit("not a log")
    with pytest.raises(jl.ParameterError, match="pass the log"):
        PersonaModel(k=2).fit(user_features(log))
    with pytest.raises(jl.ParameterError, match="goal"):
        PersonaModel(k=2, goal="nope").fit(log)
    with pytest.raises(jl.ParameterError, match="sessionize"):
        PersonaModel(k=2, per="session").fit(log)


def test_a_fitted_model_keeps_no_log_and_no_table():
    log, _ = _planted(n_per=30)
    for method in ("markov", "features"):
        model = PersonaModel(k=3, method=method).fit(log)
        kept = [v for v in vars(model).values() if isinstance(v, (jl.EventLog, pd.DataFrame)) and v is not model.scores_]
        assert kept == [] and not hasattr(model, "profiles_")


def test_features_method_on_a_table_leaves_it_alone_and_imputes_missing_gaps():
    log, truth = _planted(n_per=40)
    table = user_features(log, goal="buy")
    table.loc[table.index[:5], "median_gap_s"] = np.nan  # as for single-event users
    before = table.copy()
    model = PersonaModel(k=3, method="features").fit(table)
    assert table.equals(before)
    gap = list(model.feature_names_in_).index("median_gap_s")
    assert model.impute_[gap] == pytest.approx(np.nanmedian(np.log1p(table["median_gap_s"])))
    assert not any(c.startswith(("tenure", "active_days", "converted", "recency")) for c in model.feature_names_in_)
    assert adjusted_rand_score([truth[u] for u in model.users_], model.labels_) > 0.95


@pytest.mark.parametrize("method", ["markov", "features"])
def test_personas_below_the_minimum_size_are_dissolved(method):
    log, _ = _planted(n_per=120, personas=3)
    many = PersonaModel(k=6, method=method, min_size=0, random_state=0).fit(log)
    assert many.k_ == 6 and many.merged_ == 0
    model = PersonaModel(k=6, method=method, min_size=0.2, random_state=0).fit(log)  # 72 of 360 users
    assert model.merged_ >= 1 and model.k_ + model.merged_ == 6
    assert np.bincount(model.labels_).min() >= 72


def test_prediction_strength_by_hand():
    # own cluster 0 = users 0-2: only the pair (0, 1) stays together elsewhere; own cluster 1 = users 3-4: kept
    assert prediction_strength(np.array([0, 0, 0, 1, 1]), np.array([5, 5, 7, 7, 7])) == pytest.approx(1 / 3)
    assert prediction_strength(np.array([0, 0, 1, 2]), np.array([1, 1, 0, 0])) == 1.0  # singletons have no pairs


# -- profiles ------------------------------------------------------------------------------------------
def test_effect_sizes_are_finite_and_say_only_in_persona():
    x = np.array([[1.0, 5.0, 1.0], [1.0, 7.0, np.nan], [0.0, 5.0, 3.0], [0.0, 7.0, np.nan], [0.0, 6.0, np.nan]])
    inside = np.array([True, True, False, False, False])
    mean, others, d, only = effect_sizes(x, inside)
    assert d[0] == D_CAP and only[0]  # no variance anywhere and different means: capped, only here
    # column 1: pooled SD by hand
    pooled = np.sqrt((1 * np.var([5, 7], ddof=1) + 2 * np.var([5, 7, 6], ddof=1)) / 3)
    assert d[1] == pytest.approx((6 - 6) / pooled) and not only[1]
    assert d[2] == 0.0  # one user with a value on each side: not comparable
    assert np.isfinite(d).all()


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 4), st.sampled_from([0.0, 1e6, -3.5]))
def test_group_sums_give_the_effect_sizes_of_each_group_on_its_own(seed, k, offset):
    """Every persona's effects from one set of group sums equal those of its own rows, computed with numpy's
    nan-functions (a large offset: the deviations keep their precision; constant columns: d by the rule)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40))
    x = np.column_stack([rng.normal(size=n) + offset, rng.integers(0, 3, n).astype(float),
                         np.full(n, 0.1), (rng.random(n) < 0.2).astype(float), np.full(n, np.nan)])
    x[rng.random(x.shape) < 0.15] = np.nan
    group = rng.integers(-1, k, n)
    sums = GroupSums(x, group, k)
    for j in range(k):
        a, b = x[group == j], x[group != j]
        na, nb = (~np.isnan(a)).sum(axis=0), (~np.isnan(b)).sum(axis=0)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ma, mb = np.nanmean(a, axis=0), np.nanmean(b, axis=0)
            va, vb = np.nanvar(a, axis=0, ddof=1), np.nanvar(b, axis=0, ddof=1)
        pooled = np.sqrt(((na - 1) * va + (nb - 1) * vb) / (na + nb - 2))
        got_a, got_b, d, only = sums.effects(j)
        np.testing.assert_allclose(got_a, ma, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(got_b, mb, rtol=1e-9, atol=1e-9)
        comparable = (na >= 2) & (nb >= 2)
        spread = comparable & (pooled > 1e-6)
        with np.errstate(all="ignore"):
            expected = np.clip((ma - mb) / pooled, -D_CAP, D_CAP)
        np.testing.assert_allclose(d[spread], expected[spread], rtol=1e-6, atol=1e-9)
        assert (d[~comparable] == 0).all()
        assert (d[2] == 0) and not only[2]  # 0.1 everywhere: the same constant on both sides
        assert (only == (comparable & (np.nan_to_num(b, nan=0.0) == 0).all(axis=0) & (ma > 0))).all()


def test_typical_path_is_the_medoid_and_ignores_name_order():
    journeys = [list("pqrst")] * 4 + [list("abc")] * 3 + [list("ab")] * 2
    rows = [(f"u{i}", minute, event) for i, path in enumerate(journeys) for minute, event in enumerate(path)]
    everyone = pd.Series("persona 1", index=[f"u{i}" for i in range(len(journeys))])
    log = minutes_log(rows)
    assert jl.variants(log).to_frame()["variant"].iloc[0] == tuple("pqrst")  # the most frequent one
    # cosine distances: pqrst is 1 from the others; abc–ab = 1 - 3/√15
    near = 1 - 3 / np.sqrt(15)
    cost = {"pqrst": 3 + 2, "abc": 4 + 2 * near, "ab": 4 + 3 * near}
    assert min(cost, key=cost.get) == "abc"
    assert profile(log, everyone).to_frame()["typical_path"].iloc[0] == "a › b › c"
    # the same journeys under names that sort the other way round
    rename = {c: chr(ord("z") - (ord(c) - ord("a"))) for c in "abcpqrst"}
    renamed = minutes_log([(u, m, rename[e]) for u, m, e in rows])
    assert profile(renamed, everyone).to_frame()["typical_path"].iloc[0] == " › ".join(rename[c] for c in "abc")


def test_profiles_describe_the_planted_groups():
    log, truth = _planted(seed=3)
    personas = PersonaModel(k=3, goal="buy", random_state=0).fit(log).personas()
    prof = profile(log, personas, goal="buy")
    assert isinstance(prof, Profiles)
    table = prof.to_frame()
    assert table["users"].sum() == len(truth) and table["share"].sum() == pytest.approx(1.0)
    assert table["conversion_rate"].between(0.2, 0.5).all()  # a third of each group buys
    starts = set(table["starts_at"])
    assert starts <= {"ad", "landing", "product", "compare", "email", "app_open", "cart", "wishlist", "store",
                      "phone", "pickup"} and len(starts) == 3
    for _, row in table.iterrows():
        assert row["persona"] in row["description"] and "convert" in row["description"]
        assert "buy" not in row["typical_path"] or row["typical_path"].endswith("buy")
    store = table[table["does_more"].str.contains("store|phone|pickup")]
    assert len(store) == 1 and "pickup" in store["typical_path"].iloc[0] + store["does_more"].iloc[0] + "pickup"
    effects = prof.effects
    assert np.isfinite(effects["cohens_d"]).all() and not effects["feature"].isin(["converted", "lost"]).any()
    assert "<li>persona 1:" in prof._repr_html_() and len(prof.plot().data) == 1


def test_profile_main_dropoff_is_never_a_lost_event():
    rows = []
    for i in range(40):  # 10 buy, 20 are declined after the form, 10 leave after the form
        path = ["home", "form", "buy"] if i % 4 == 0 else (["home", "form", "declined"] if i % 2 else ["home", "form"])
        rows += [(f"u{i}", m, e) for m, e in enumerate(path)]
    rows.append(("late", 60 * 24 * 30, "home"))  # observation ends a month later: the others are inactive
    log = minutes_log(rows)
    labels = pd.Series("p", index=[f"u{i}" for i in range(40)] + ["late"])
    with_lost = profile(log, labels, goal="buy", lost="declined").to_frame().iloc[0]
    assert with_lost["main_dropoff"] == "form" and with_lost["lost_rate"] == pytest.approx(20 / 41)
    assert profile(log, labels, goal="buy").to_frame().iloc[0]["main_dropoff"] == "declined"  # 20 against 10


def test_personas_work_as_by_in_every_analysis():
    log, _ = _planted(seed=4)
    personas = PersonaModel(k=3, goal="buy", random_state=0).fit(log).personas()
    steps = ["cart", "buy"]
    per, overall = jl.funnel(log, steps, by=personas).to_frame(), jl.funnel(log, steps).to_frame()
    assert per.groupby("step_index")["users"].sum().tolist() == overall["users"].tolist()
    per_edge = jl.dfg(log, by=personas).to_frame().groupby(["source", "target"])["count"].sum()
    assert per_edge.equals(jl.dfg(log).edges.set_index(["source", "target"])["count"])
    tagged = add_segment(log, personas, "persona")
    two = sorted(personas.unique())[:2]
    counts = jl.compare_segments(tagged, "persona", segments=two, goal="buy").to_frame().set_index("metric")
    assert counts.loc["users", ["a", "b"]].tolist() == [float((personas == s).sum()) for s in two]


def test_the_sequence_model_on_a_held_log_equals_the_in_memory_one(tmp_path):
    log, _ = _planted(n_per=60, seed=2)
    path = tmp_path / "events.parquet"
    log.to_pandas().to_parquet(path)
    held = jl.read_parquet(path, engine="duckdb")
    a = PersonaModel(k=3, goal="buy", random_state=0).fit(held)
    b = PersonaModel(k=3, goal="buy", random_state=0).fit(log)
    assert a.states_ == b.states_ and a.users_.equals(b.users_)
    assert (a.labels_ == b.labels_).all() and np.isclose(a.loglik_, b.loglik_)
    assert (a.personas(held) == b.personas(log)).all()
