"""Personas on logs we did not design: mvad against an optimal-matching + Ward reference, ecom against
its planted segments, wikispeedia's 4,062 event types within memory and time, and finite effect sizes
on bpic2012 and traffic_fines, ecom read and profiled by DuckDB. Every expected figure is computed here,
with plain numpy/pandas/scipy."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.metrics import adjusted_rand_score

import journeylens as jl
from tests.conftest import shared_file

ROOT = Path(__file__).resolve().parents[1]
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def lcs_lengths(seqs: np.ndarray, chunk: int = 50_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Longest common subsequence of every pair of the equal-length integer sequences ``seqs`` (rows):
    the textbook recurrence one row at a time for many pairs at once, whose row maximum is a running
    maximum of max(L[i-1][j], L[i-1][j-1] + match)."""
    n, width = seqs.shape
    a, b = np.triu_indices(n, 1)
    out = np.empty(len(a), dtype=np.int64)
    for s in range(0, len(a), chunk):
        A, B = seqs[a[s:s + chunk]], seqs[b[s:s + chunk]]
        prev = np.zeros((len(A), width + 1), dtype=np.int16)
        for i in range(width):
            best = np.maximum(prev[:, 1:], prev[:, :-1] + (A[:, i, None] == B))
            prev = np.concatenate([prev[:, :1], np.maximum.accumulate(best, axis=1)], axis=1)
        out[s:s + chunk] = prev[:, -1]
    return a, b, out


def test_lcs_by_hand():
    seqs = np.array([[0, 1, 2, 3], [1, 2, 3, 0], [3, 2, 1, 0]])
    a, b, lcs = lcs_lengths(seqs)
    assert dict(zip(zip(a.tolist(), b.tolist()), lcs.tolist())) == {(0, 1): 3, (0, 2): 1, (1, 2): 2}


@lru_cache(maxsize=None)
def _mvad() -> tuple[pd.DataFrame, jl.EventLog]:
    wide = pd.read_csv(shared_file("sequences", "mvad_wide.csv.gz"))
    months = [c for c in wide.columns if c[:3] in MONTHS]
    long = wide.melt(id_vars="id", value_vars=months, var_name="month", value_name="state")
    long["time"] = pd.to_datetime(long["month"], format="%b.%y")
    return wide, jl.from_pandas(long, user="id", time="time", event="state", duplicates="keep")


@pytest.mark.slow
def test_mvad_beside_optimal_matching_and_ward():
    """TraMineR's vignette groups mvad in 4 (optimal matching, Ward; 265/153/194/100 with its transition-
    rate costs). Reference here: optimal matching with substitution cost 2 and indel cost 1 (so the
    distance is 2·70 − 2·LCS), scipy's Ward linkage on it, cut at k = 4."""
    wide, log = _mvad()
    months = [c for c in wide.columns if c[:3] in MONTHS]
    codes, _ = pd.factorize(wide[months].to_numpy().ravel())
    _, _, lcs = lcs_lengths(codes.reshape(len(wide), len(months)))
    reference = fcluster(linkage((2 * len(months) - 2 * lcs).astype(float), method="ward"), 4, criterion="maxclust")
    assert sorted(np.bincount(reference)[1:].tolist(), reverse=True) == [252, 204, 133, 123]
    ids = wide["id"].astype(str)

    model = jl.PersonaModel(random_state=0).fit(log)  # the default: the sequence model, k chosen
    ours = model.personas().reindex(ids).to_numpy()
    assert 2 <= model.k_ <= 8 and len(model.users_) == 712
    # monthly states repeat for years: a first-order chain sees mostly self-transitions, and its
    # partitions of two halves do not agree (no stable k: the lowest BIC is taken)
    assert (model.scores_["stability"].dropna() < 0.8).all()
    assert adjusted_rand_score(reference, ours) < 0.3
    # time spent in each state is what optimal matching measures: the features method at k = 4 agrees
    shares = jl.PersonaModel(k=4, method="features", random_state=0).fit(log)
    assert adjusted_rand_score(reference, shares.personas().reindex(ids).to_numpy()) > 0.5
    # the sequence personas still differ on where people end up
    final = wide.set_index(ids)[months[-1]]
    assert stats.chi2_contingency(pd.crosstab(ours, final.to_numpy()))[1] < 1e-10


@lru_cache(maxsize=None)
def _ecom() -> tuple[jl.EventLog, pd.DataFrame]:
    path = shared_file("clickstream", "ecom.csv.gz")
    return jl.read_csv(path), pd.read_csv(path).groupby("user_id").first()


def test_ecom_personas_against_its_planted_segments():
    log, users = _ecom()
    model = jl.PersonaModel(goal="purchase", random_state=0).fit(log)
    personas = model.personas()
    seg = users.loc[personas.index]
    ari = {c: adjusted_rand_score(seg[c], personas) for c in ("platform", "user_cohort", "acquisition_channel")}
    assert ari["platform"] > 0.5  # the personas follow the device customers shop on
    assert abs(ari["user_cohort"]) < 0.05 and abs(ari["acquisition_channel"]) < 0.05  # no behaviour of their own
    table = jl.profile(log, personas, goal="purchase").to_frame()
    assert table["users"].sum() == 600 and table["top_devices"].str.len().gt(0).all()
    # conversion differs between the device personas, computed here from the raw rows
    converted = (pd.read_csv(shared_file("clickstream", "ecom.csv.gz")).assign(buy=lambda f: f["event"] == "purchase")
                 .groupby("user_id")["buy"].any())
    by_persona = converted.loc[personas.index].groupby(personas).mean()
    assert np.allclose(by_persona.sort_index().to_numpy(), table.set_index("persona")["conversion_rate"].sort_index())
    assert by_persona.max() - by_persona.min() > 0.1


@pytest.mark.slow
def test_wikispeedia_fits_within_two_gigabytes_and_a_minute():
    path = shared_file("clickstream", "wikispeedia_paths_unfinished.tsv.gz")
    script = textwrap.dedent(f"""
        import json, resource, time
        import numpy as np, pandas as pd
        import journeylens as jl
        raw = pd.read_csv({str(path)!r}, sep="\\t", comment="#", header=None,
                          names=["user", "start", "duration", "path", "target", "type"])
        steps = raw["path"].str.split(";")
        n = steps.str.len().to_numpy()
        row = np.repeat(np.arange(len(raw)), n)
        frame = pd.DataFrame({{"user": raw["user"].to_numpy()[row], "session": row.astype(str),
            "time": pd.to_datetime(raw["start"].to_numpy()[row], unit="s", utc=True)
                    + pd.to_timedelta(np.concatenate([np.arange(k) for k in n]), unit="ms"),
            "event": np.concatenate(steps.to_numpy())}})
        log = jl.from_pandas(frame, user="user", time="time", event="event", session="session", duplicates="keep")
        out = {{"users": log.summary()["users"], "event_types": log.summary()["event_types"]}}
        t = time.perf_counter()
        model = jl.PersonaModel(random_state=0).fit(log)
        out["markov_s"], out["k"] = time.perf_counter() - t, model.k_
        t = time.perf_counter()
        table = jl.user_features(log)
        jl.PersonaModel(method="features", random_state=0).fit(table)
        out["features_s"], out["columns"] = time.perf_counter() - t, table.shape[1]
        t = time.perf_counter()
        jl.profile(log, model.personas(), features=table)
        out["profile_s"] = time.perf_counter() - t
        out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(out))
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True)
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert (out["users"], out["event_types"]) == (11485, 4062)
    assert out["peak_mb"] <= 2048, out
    assert out["markov_s"] <= 60 and out["features_s"] <= 60 and out["profile_s"] <= 60, out
    assert out["columns"] < 120


def _process_log(name: str) -> tuple[jl.EventLog, str, list[str]]:
    if name == "bpic2012":
        return jl.read(shared_file("process", "bpic2012.xes.gz")), "A_APPROVED", ["A_DECLINED", "A_CANCELLED"]
    log = jl.read_csv(shared_file("process", "traffic_fines.csv.gz"), user="case_id", event="activity", time="timestamp")
    return log, "Payment", ["Send for Credit Collection"]


@pytest.mark.parametrize("name", [pytest.param("bpic2012", marks=pytest.mark.slow), "traffic_fines"])
def test_effect_sizes_are_finite_on_real_logs(name):
    log, goal, lost = _process_log(name)
    personas = jl.PersonaModel(goal=goal, lost=lost, random_state=0).fit(log).personas()
    prof = jl.profile(log, personas, goal=goal, lost=lost)
    effects = prof.effects
    assert len(effects) and np.isfinite(effects[["cohens_d"]].to_numpy()).all()
    assert effects["cohens_d"].abs().max() <= 10
    table = prof.to_frame()
    assert not table["distinguishing"].str.contains("inf|nan", case=False).any()
    assert table["conversion_rate"].between(0, 1).all() and table["lost_rate"].between(0, 1).all()
    assert not table["main_dropoff"].isin(lost).any()
    # conversion per persona, from the raw codes
    users = log.users.astype(str)
    converted = pd.Series(np.isin(log.event_codes, log.event_names.get_indexer([goal])), dtype=bool).groupby(
        users[log.user_codes]).any()
    expected = converted.loc[personas.index].groupby(personas).mean()
    assert np.allclose(expected.sort_index().to_numpy(), table.set_index("persona")["conversion_rate"].sort_index())
    # each persona's feature means, inside and outside, by pandas on the same per-user table
    features = jl.user_features(log, goal=goal, lost=lost)
    label = personas.reindex(features.index.astype(str)).to_numpy()
    for name, rows in effects.groupby("persona"):
        inside = features[label == name][rows["feature"]].mean()
        outside = features[label != name][rows["feature"]].mean()
        np.testing.assert_allclose(rows["mean"].to_numpy(), inside.to_numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(rows["mean_others"].to_numpy(), outside.to_numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("per", ["user", "session"])
def test_journey_counts_of_ecom_by_hand(per):
    """The sufficient statistics of the sequence model against plain pandas on the accepted rows."""
    from journeylens.personas import markov
    from journeylens.personas.features import excluded_codes

    log, _ = _ecom()
    excluded = excluded_codes(log, ["purchase"], [], include_goal=False)
    c = markov.counts(log, 50, excluded, per, ("channel", "device"))
    rows = log.to_pandas()
    rows = rows[rows["event"] != "purchase"]
    users = pd.Index(log.users.astype(str))[c.users]
    journey = ["user_id"] if per == "user" else ["user_id", "session_id"]
    journeys = rows.groupby("user_id", observed=True)[journey[-1]].nunique() if per == "session" else None
    first = np.asarray(c.X[:, c.blocks["first"]].sum(axis=1)).ravel()
    steps = np.asarray(c.X[:, c.blocks["steps"]].sum(axis=1)).ravel()
    expected_steps = rows.groupby("user_id", observed=True).size().reindex(users).to_numpy()
    assert (steps == expected_steps).all()  # one step out of every behaviour event, the end included
    assert (first == (1 if per == "user" else journeys.reindex(users).to_numpy())).all()
    # the device is counted once per journey when it rarely changes along one
    per_journey = rows.groupby(journey, observed=True)["device"].agg(["nunique", "size"])
    constant = (per_journey.loc[per_journey["size"] >= 2, "nunique"] == 1).mean()
    assert ("device" in c.once) == (constant >= 0.9)
    device = np.asarray(c.X[:, c.blocks["device"]].sum(axis=1)).ravel()
    expected = (rows.groupby(journey, observed=True)["device"].nunique().groupby("user_id").sum()
                if "device" in c.once else rows.groupby("user_id", observed=True).size())
    assert (device == expected.reindex(users).to_numpy()).all()


def test_held_reading_and_features_of_ecom_against_pandas(tmp_path):
    """ecom (30 exact copies among 31,106 rows) read by DuckDB from Parquet: the copies quarantined are
    pandas' ``duplicated()`` rows, and the held per-user features (sessions of the source and of a 30-minute
    gap, event shares) equal plain-pandas counts of the same rows."""
    df = pd.read_csv(shared_file("clickstream", "ecom.csv.gz"))
    path = tmp_path / "ecom.parquet"
    df.to_parquet(path, index=False)
    held = jl.read_parquet(path, engine="duckdb", session="session_id")
    copies = df.duplicated()
    assert held.rows_read == len(df) and held.rows_accepted == len(df) - copies.sum()
    q = held.quarantine_frame()
    assert q["reason"].eq("duplicate").all() and q["source_row"].tolist() == (np.flatnonzero(copies) + 1).tolist()
    kept = df[~copies].assign(timestamp=lambda f: pd.to_datetime(f["timestamp"], utc=True))

    def features(log):
        run = jl.engine.sql.run
        return run("SELECT * FROM f ORDER BY user_id", {"f": jl.user_features(log, as_table=True)})

    f = pd.DataFrame(features(held)).set_index("user_id")
    np.testing.assert_array_equal(f["n_sessions"], kept.groupby("user_id")["session_id"].nunique().sort_index())
    shares = pd.crosstab(kept["user_id"], kept["event"], normalize="index").sort_index()
    shown = [c for c in f.columns if c.startswith("event:") and c != "event:(other)"]
    assert len(shown) >= 5
    np.testing.assert_allclose(f[shown].to_numpy(), shares[[c[len("event:"):] for c in shown]].to_numpy(), rtol=1e-12)
    kept = kept.sort_values(["user_id", "timestamp"], kind="stable")
    pause = kept.groupby("user_id")["timestamp"].diff()
    gap_sessions = (pause.isna() | (pause > pd.Timedelta("30min"))).groupby(kept["user_id"]).sum().sort_index()
    gapped = pd.DataFrame(features(jl.sessionize(held, gap="30min"))).set_index("user_id")
    np.testing.assert_array_equal(gapped["n_sessions"], gap_sessions)


def test_in_memory_features_of_ecom_against_pandas(tmp_path):
    """ecom read in memory: per-user event shares, active days and bigram shares equal plain-pandas
    counts over the same rows (copies dropped, each user's rows in time order)."""
    df = pd.read_csv(shared_file("clickstream", "ecom.csv.gz"))
    path = tmp_path / "ecom.parquet"
    df.to_parquet(path, index=False)
    f = jl.user_features(jl.read_parquet(path), bigrams=10)
    kept = df[~df.duplicated()].assign(timestamp=lambda x: pd.to_datetime(x["timestamp"], utc=True))
    kept = kept.sort_values(["user_id", "timestamp"], kind="stable")
    assert f.index.tolist() == sorted(kept["user_id"].astype(str).unique())
    by_user = kept.groupby(kept["user_id"].astype(str))
    shares = pd.crosstab(kept["user_id"].astype(str), kept["event"], normalize="index")
    shown = [c for c in f.columns if c.startswith("event:") and c != "event:(other)"]
    assert len(shown) >= 5
    np.testing.assert_allclose(f[shown].to_numpy(), shares[[c[len("event:"):] for c in shown]].to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(f["active_days"], by_user["timestamp"].apply(lambda t: t.dt.date.nunique()))
    step = kept.assign(next=by_user["event"].shift(-1)).dropna(subset=["next"])
    pairs = pd.crosstab(step["user_id"].astype(str), step["event"] + ">" + step["next"], normalize="index")
    bigrams = [c for c in f.columns if c.startswith("bigram:")]
    assert len(bigrams) == 10
    expected = pairs.reindex(index=f.index, columns=[c[len("bigram:"):] for c in bigrams], fill_value=0)
    np.testing.assert_allclose(f[bigrams].to_numpy(), expected.to_numpy(), rtol=1e-12)
