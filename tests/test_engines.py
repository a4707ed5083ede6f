"""Engine agreement: a plain-pandas reference, the in-memory EventLog (embedded DuckDB), and logs held
by DuckDB on disk and by Spark local mode (TableLog) give the same sessions, directly-follows graph,
variants, funnel and user features, on a seeded random log full of ties and on the seeded
multichannel generator's journeys."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import journeylens as jl
from journeylens.engine import sql as dialect
from journeylens.mining.dfg import dfg
from journeylens.mining.variants import variants
from journeylens.outcomes.funnels import funnel
from journeylens.personas.features import user_features
from journeylens.prepare.sessions import sessionize, sessions

EVENTS = ["home", "search", "product", "cart", "checkout", "buy", "help", "email_open"]
GAP = pd.Timedelta("30min")
#: per data set: the funnel steps and the goal event
STEPS = {"synthetic": (["home", "product", "cart"], "buy"),
         "generator": (["landing_page", "product_page", "cart"], "order_placed")}
# pyspark 4.x warns that it does not fully support pandas 3 when converting test frames
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning:pyspark", "ignore::DeprecationWarning:pyspark",
                                        "ignore:The copy keyword is deprecated")


def synthetic_log(seed: int = 7, n: int = 5000) -> pd.DataFrame:
    """~5k events of 84 users in no particular row order; times on a 5-minute grid so many events tie."""
    rng = np.random.default_rng(seed)
    users = np.array([f"u{k:03d}" for k in range(80)] + ["10", "9", "Zed", "émile"], dtype=object)  # text order
    minutes = rng.integers(0, 3 * 24 * 60 // 5, n) * 5  # a 5-minute grid over three days
    return pd.DataFrame({
        "user": rng.choice(users, n),
        "time": pd.Timestamp("2024-03-01", tz="UTC") + pd.to_timedelta(minutes, unit="min"),
        "event": rng.choice(EVENTS, n, p=[.25, .15, .2, .12, .08, .05, .1, .05]),
        "channel": rng.choice(np.array(["web", "app", "E-mail", None], dtype=object), n),  # E-mail → email
    })


def generated_log(seed: int = 11, customers: int = 400) -> pd.DataFrame:
    """The seeded multichannel generator's journeys, shuffled, with 25 exact copies of rows planted."""
    df = jl.datasets.make_journeys(customers, seed=seed)
    df = pd.DataFrame({"user": df["user_id"].astype(str), "time": df["timestamp"], "event": df["event"].astype(str),
                       "channel": df["channel"].astype(str)})
    return pd.concat([df, df.sample(25, random_state=seed)]).sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.fixture(scope="module", params=list(STEPS))
def data(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def frame(data) -> pd.DataFrame:
    return synthetic_log() if data == "synthetic" else generated_log()


@pytest.fixture(scope="module")
def steps(data) -> list[str]:
    return STEPS[data][0]


@pytest.fixture(scope="module")
def goal(data) -> str:
    return STEPS[data][1]


@pytest.fixture(scope="module")
def ordered(frame) -> pd.DataFrame:
    """The reference order: user, time, then source row; exact duplicate rows dropped (first kept)."""
    f = frame.assign(row=np.arange(len(frame))).loc[~frame.duplicated(keep="first")]
    return f.sort_values(["user", "time", "row"], kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module")
def log(frame):
    return jl.from_pandas(frame)


# -- plain pandas references -------------------------------------------------
def ref_sessions(o: pd.DataFrame) -> np.ndarray:
    new = (o["user"] != o["user"].shift()) | (o["time"].diff() > GAP)
    return np.cumsum(new.to_numpy()) - 1


def ref_dfg(o: pd.DataFrame) -> pd.DataFrame:
    nxt = o.groupby("user", sort=False).shift(-1)
    pairs = pd.DataFrame({"source": o["event"], "target": nxt["event"], "user": o["user"],
                          "gap": (nxt["time"] - o["time"]).dt.total_seconds()}).dropna(subset=["target"])
    g = pairs.groupby(["source", "target"])
    return pd.DataFrame({"count": g.size(), "users": g["user"].nunique(), "mean_s": g["gap"].mean(),
                         "median_s": g["gap"].median(), "p90_s": g["gap"].quantile(0.9)}).reset_index()


def ref_variants(o: pd.DataFrame) -> list[tuple[tuple[str, ...], int]]:
    counts = o.groupby("user", sort=False)["event"].agg(tuple).value_counts()
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def ref_funnel(o: pd.DataFrame, steps: list[str]) -> tuple[list[int], list[float]]:
    """Users reaching each step and the median delay of their first arrival from the occurrence it came through."""
    reached, delays = [0] * len(steps), [[] for _ in steps]
    for _, u in o.groupby("user", sort=False):
        ev, t = u["event"].to_numpy(), u["time"].to_numpy()
        ok = ev == steps[0]  # reachable occurrences of the current step
        if not ok.any():
            continue
        reached[0] += 1
        for k in range(1, len(steps)):
            last_prev = pd.Series(np.where(ok, t, np.datetime64("NaT"))).ffill().shift().to_numpy()
            ok = (ev == steps[k]) & ~pd.isna(last_prev)
            if not ok.any():
                break
            reached[k] += 1
            first = np.flatnonzero(ok)[0]
            delays[k].append((t[first] - last_prev[first]) / np.timedelta64(1, "s"))
    return reached, [float(np.median(d)) if d else np.nan for d in delays]


# -- the agreements -------------------------------------------------------------
def dfg_frame(d) -> pd.DataFrame:
    return d.to_frame().sort_values(["source", "target"]).reset_index(drop=True)


def assert_same_dfg(got: pd.DataFrame, want: pd.DataFrame, exact_mean: bool = False) -> None:
    assert got[["source", "target"]].astype(str).values.tolist() == want[["source", "target"]].astype(str).values.tolist()
    assert got["count"].tolist() == want["count"].tolist()
    assert got["users"].tolist() == want["users"].tolist()
    np.testing.assert_array_equal(got["median_s"].to_numpy(), want["median_s"].to_numpy())
    # Both engines average exact integer µs; pandas averages float seconds. The 90th percentile is
    # interpolated by a different formula in each (Spark: (c-p)*lo + (p-f)*hi): equal up to the last bits.
    check = np.testing.assert_array_equal if exact_mean else lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12)
    check(got["mean_s"].to_numpy(), want["mean_s"].to_numpy())
    np.testing.assert_allclose(got["p90_s"].to_numpy(), want["p90_s"].to_numpy(), rtol=1e-12)


def test_duckdb_agrees_with_pandas_reference(log, ordered, steps):
    assert len(log) == len(ordered)
    s = sessionize(log, gap=GAP)
    np.testing.assert_array_equal(s.to_pandas()["session_id"].to_numpy(), ref_sessions(ordered))
    assert_same_dfg(dfg_frame(dfg(log)), ref_dfg(ordered))
    got = variants(log).to_frame()
    assert list(zip(got["variant"], got["count"])) == ref_variants(ordered)
    reached, medians = ref_funnel(ordered, steps)
    f = funnel(log, steps).to_frame()
    assert f["users"].tolist() == reached
    np.testing.assert_array_equal(f["median_s_from_latest_previous"].to_numpy()[1:], np.array(medians[1:]))


def test_ties_keep_source_order(log, ordered, data):
    """Events of one user at the same instant stay in source order: the order the kernels see."""
    tied = ordered.duplicated(["user", "time"], keep=False)
    assert tied.sum() > 100 or data == "generator"  # the synthetic log has many ties
    assert log.to_pandas()["event"].astype(str).tolist() == ordered["event"].tolist()


# -- engine-held logs: DuckDB on disk and Spark local mode ---------------------
@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark")
    from journeylens.engine.backends.spark import session

    s = session()
    yield s
    s.stop()


@pytest.fixture(scope="module", params=["duckdb", pytest.param("spark", marks=pytest.mark.slow)])
def held(request, frame, tmp_path_factory):
    """The same rows as ``log``, validated and encoded by an engine: a TableLog."""
    if request.param == "spark":
        from journeylens.io.spark import from_spark

        return from_spark(request.getfixturevalue("spark").createDataFrame(frame))
    path = tmp_path_factory.mktemp("held") / "events.parquet"
    frame.to_parquet(path)
    return jl.read_parquet(path, engine="duckdb")


def test_held_log_encodes_like_eventlog(held, log):
    assert held.rows_read == log.rows_read == held.rows_accepted + held.rows_quarantined
    assert held.rows_quarantined == log.rows_quarantined > 0  # exact duplicate rows
    assert held.quarantine_frame()["reason"].unique().tolist() == ["duplicate"]
    assert held.summary()["quarantine_reasons"] == log.summary()["quarantine_reasons"]
    assert held.users.tolist() == log.users.astype(str).tolist()
    assert held.event_names.tolist() == log.event_names.astype(str).tolist()
    assert held.levels["channel"].tolist() == log.names("channel").astype(str).tolist()
    rows = held.codes()
    np.testing.assert_array_equal(rows["u"].to_numpy(), log.user_codes)
    np.testing.assert_array_equal(rows["t"].to_numpy(), log.time_us)
    np.testing.assert_array_equal(rows["e"].to_numpy(), log.event_codes)
    np.testing.assert_array_equal(rows["c_channel"].to_numpy(), log.to_pandas()["channel"].cat.codes.to_numpy())


def test_held_sessions_dfg_variants_agree(held, log):
    s_held, s_mem = sessionize(held, gap=GAP), sessionize(log, gap=GAP)
    ids = dialect.run("SELECT session_id FROM f ORDER BY i", {"f": s_held.frame})["session_id"]
    np.testing.assert_array_equal(ids, s_mem.to_pandas()["session_id"].to_numpy())
    assert s_held.parameters["sessionize"] == s_mem.parameters["sessionize"]
    pd.testing.assert_frame_equal(sessions(s_held), sessions(s_mem))
    for level, per in (("event", "user"), ("channel", "session")):
        a, b = dfg(s_held, level=level, per=per), dfg(s_mem, level=level, per=per)
        assert_same_dfg(dfg_frame(a), dfg_frame(b), exact_mean=True)
        pd.testing.assert_series_equal(a.starts, b.starts)
        pd.testing.assert_series_equal(a.ends, b.ends)
    for top in (None, 5):
        a, b = variants(held, top=top), variants(log, top=top)
        pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
        assert (a.n_variants, a.n_journeys) == (b.n_variants, b.n_journeys)


def test_held_funnels_agree(held, log, steps):
    for kwargs in ({}, {"within": "2h"}, {"mode": "open"}, {"by": "channel"}):
        a, b = funnel(held, steps, **kwargs).to_frame(), funnel(log, steps, **kwargs).to_frame()
        pd.testing.assert_frame_equal(a, b)
    a = funnel(sessionize(held, gap=GAP), steps, per="session").to_frame()
    b = funnel(sessionize(log, gap=GAP), steps, per="session").to_frame()
    pd.testing.assert_frame_equal(a, b)


def test_held_user_features_agree(held, log, goal):
    a = user_features(sessionize(held, gap=GAP), goal=goal)
    b = user_features(sessionize(log, gap=GAP), goal=goal)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)
    kept = user_features(held, as_table=True)  # stays in the engine, user ids as a column
    got = dialect.query("SELECT * FROM f ORDER BY user_id", {"f": kept}).to_pandas().set_index("user_id")
    pd.testing.assert_frame_equal(got.drop(columns="u"), user_features(log), check_exact=False, rtol=1e-12,
                                  check_names=False)


def test_a_duckdb_log_passed_over_in_chunks_of_a_few_users_agrees(frame, log, goal, tmp_path, monkeypatch):
    """The held passes (window, sessions) read DuckDB in chunks of whole groups: with chunks of a few
    dozen rows a user or session that straddled two chunks would break a step, a session or a count."""
    from journeylens.engine.backends import duckdb as held_duckdb

    ranges = []
    cut = held_duckdb._group_chunks
    monkeypatch.setattr(held_duckdb, "CHUNK_ROWS", 40)
    monkeypatch.setattr(held_duckdb, "_group_chunks", lambda *a: ranges.append(cut(*a)) or ranges[-1])
    path = tmp_path / "events.parquet"
    frame.to_parquet(path)
    held = jl.read_parquet(path, engine="duckdb")
    for kwargs in ({"gap": GAP}, {"gap": GAP, "max_duration": "20min"}):
        s_held, s_mem = sessionize(held, **kwargs), sessionize(log, **kwargs)
        ids = dialect.run("SELECT session_id FROM f ORDER BY i", {"f": s_held.frame})["session_id"]
        np.testing.assert_array_equal(ids, s_mem.to_pandas()["session_id"].to_numpy())
        pd.testing.assert_frame_equal(sessions(s_held), sessions(s_mem))
    for per in ("user", "session"):
        a, b = dfg(s_held, per=per), dfg(s_mem, per=per)
        assert_same_dfg(dfg_frame(a), dfg_frame(b), exact_mean=True)
        pd.testing.assert_series_equal(a.starts, b.starts)
        pd.testing.assert_frame_equal(variants(s_held, per=per).to_frame(), variants(s_mem, per=per).to_frame())
    pd.testing.assert_frame_equal(user_features(s_held, goal=goal), user_features(s_mem, goal=goal),
                                  check_exact=False, rtol=1e-12)
    kept = user_features(s_held, goal=goal, as_table=True)
    got = dialect.query("SELECT * FROM f ORDER BY user_id", {"f": kept}).to_pandas().set_index("user_id")
    pd.testing.assert_frame_equal(got.drop(columns="u"), user_features(s_mem, goal=goal), check_exact=False,
                                  rtol=1e-12, check_names=False)
    assert len(ranges) >= 4 and min(len(r) for r in ranges) > len(frame) // 80  # many chunks in every pass
    # source sessions that interleave in time: their chunks are not in (session, i) order as read
    mixed = frame.assign(visit=frame.index % 3)
    mixed.to_parquet(path)
    a, b = jl.read_parquet(path, engine="duckdb", session="visit"), jl.from_pandas(mixed, session="visit")
    assert_same_dfg(dfg_frame(dfg(a, per="session")), dfg_frame(dfg(b, per="session")), exact_mean=True)
    pd.testing.assert_frame_equal(variants(a, per="session").to_frame(), variants(b, per="session").to_frame())
    # sequences whose hashes collide are grouped by the engine, chunk by chunk
    from journeylens.engine import kernels

    monkeypatch.setattr(kernels, "counted_sequences", lambda g, e: None)
    pd.testing.assert_frame_equal(variants(a, per="session").to_frame(), variants(b, per="session").to_frame())


def test_chunks_cut_from_a_sample_of_whole_vectors_hold_whole_users_and_agree(tmp_path, monkeypatch):
    """A large table's chunk edges come from a sample of whole vectors (random, so the edges move from
    call to call): the chunks are still balanced, each holds whole users, and the results agree."""
    from journeylens.engine.backends import duckdb as held_duckdb

    rng = np.random.default_rng(3)
    n = 300_000  # 30k users, about 10 events each, in no order
    frame = pd.DataFrame({"user": rng.integers(0, 30_000, n).astype(str),
                          "time": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 10**7, n), "s"),
                          "event": rng.choice(EVENTS, n)})
    path = tmp_path / "events.parquet"
    frame.to_parquet(path)
    monkeypatch.setattr(held_duckdb, "CHUNK_ROWS", 30_000)
    # 3 vectors per chunk, 20% of the rows: the vector sample, not every few rows. With 2 the sample was
    # too thin for the bound below: 8-10% of 40 draws each cut a chunk of over 3x the rows (none with 3)
    monkeypatch.setattr(held_duckdb, "SAMPLED_VECTORS", 3)
    sampled, cut = [], held_duckdb._group_chunks
    monkeypatch.setattr(held_duckdb, "_group_chunks", lambda *a: sampled.append(cut(*a)) or sampled[-1])
    held, log = jl.read_parquet(path, engine="duckdb"), jl.from_pandas(frame)
    s_held, s_mem = sessionize(held, gap=GAP), sessionize(log, gap=GAP)
    pd.testing.assert_frame_equal(sessions(s_held), sessions(s_mem))
    assert_same_dfg(dfg_frame(dfg(s_held)), dfg_frame(dfg(s_mem)), exact_mean=True)
    pd.testing.assert_frame_equal(variants(s_held).to_frame(), variants(s_mem).to_frame())
    pd.testing.assert_frame_equal(user_features(s_held), user_features(s_mem), check_exact=False, rtol=1e-12)
    ev = s_held.journeys(per="user", window=False)
    sizes = [int(dialect.run(f"SELECT count(*) AS n FROM ev WHERE {w}", {"ev": ev})["n"][0])
             for w in cut(ev, "g", 30_000)]
    assert sum(sizes) == n and len(sizes) >= 8 and max(sizes) < 4 * 30_000  # 80 draws: at most 2.9x
    assert all(len(r) >= 8 for r in sampled)


def test_without_pyspark_the_error_says_what_to_install(monkeypatch):
    import sys

    from journeylens.errors import MissingDependencyError
    from journeylens.io.spark import from_spark

    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(MissingDependencyError, match=r"journeylens\[spark\]"):
        from_spark(object())


BAD_ROWS = [("a", "2024-01-01 10:00:00", "visit"), (None, "2024-01-01 10:00:00", "visit"),
            ("b", "not a time", "visit"), ("b", "2024-01-01 11:00:00", " "), ("a", "2024-01-01 10:00:00", "visit"),
            ("c", None, "buy"), ("d", "2031-05-01 00:00:00", "visit")]


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.slow)])
def read_held(request, tmp_path):
    """A reader of rows (user, time text, event) into a TableLog of the parametrised engine."""
    columns = ["customer", "ts", "action"]
    if request.param == "spark":
        from journeylens.io.spark import from_spark

        spark = request.getfixturevalue("spark")
        return lambda rows, **options: from_spark(spark.createDataFrame(rows, columns), **options)

    def read(rows, **options):
        path = tmp_path / "events.parquet"
        pd.DataFrame(rows, columns=columns).to_parquet(path)
        return jl.read_parquet(path, engine="duckdb", **options)

    return read


def test_held_column_errors_quarantine_reasons_and_limits(read_held):
    with pytest.raises(jl.ParameterError, match="user='client' is not a column.*available columns: 'customer', 'ts', 'action'"):
        read_held(BAD_ROWS, user="client")
    log = read_held(BAD_ROWS, time="ts", max_time="2030-01-01")
    q = log.quarantine_frame()
    assert q["reason"].tolist() == ["missing_user", "unparsable_time", "missing_event", "duplicate", "missing_time",
                                    "out_of_range_time"]  # in source order
    assert q["column"].tolist() == ["customer", "ts", "action", "*", "ts", "ts"]
    assert q["action"].tolist()[:3] == ["visit", "visit", " "]  # original values kept
    assert (log.rows_read, log.rows_accepted, log.rows_quarantined) == (7, 1, 6)
    assert log.summary()["quarantine_reasons"]["duplicate"] == 1
    with pytest.raises(jl.ValidationError, match="6 row.*strict=True"):
        read_held(BAD_ROWS, time="ts", max_time="2030-01-01", strict=True)
    with pytest.raises(jl.ParameterError, match="needs an in-memory log"):
        read_held(BAD_ROWS, time="ts", tz="Europe/Amsterdam")


def test_persona_model_fits_a_held_log(tmp_path):
    """Features of a TableLog come from its engine; the personas equal those of the same rows in memory."""
    df = jl.datasets.make_journeys(600, seed=3).drop(columns=["persona", "stage"])
    path = tmp_path / "journeys.parquet"
    df.to_parquet(path)
    held, mem = jl.read_parquet(path, engine="duckdb"), jl.from_pandas(df)
    a = jl.PersonaModel(k=4, random_state=0).fit(held)
    b = jl.PersonaModel(k=4, random_state=0).fit(mem)
    pd.testing.assert_series_equal(a.personas(), b.personas())
    pa_, pb_ = jl.profile(held, a.personas(), goal="order_placed"), jl.profile(mem, b.personas(), goal="order_placed")
    pd.testing.assert_frame_equal(pa_.to_frame(), pb_.to_frame())  # profiles on every engine


def test_held_epoch_numbers_match_memory_and_bad_units_are_one_line_errors(tmp_path):
    frame = pd.DataFrame({"user": ["a", "a", "b"], "time": [1_700_000_000_000, 1_700_000_060_000, 1_700_000_000_500],
                          "event": ["home", "cart", "home"]})
    path = tmp_path / "epoch.parquet"
    frame.to_parquet(path)
    held, mem = jl.read_parquet(path, engine="duckdb"), jl.from_pandas(frame)  # ms, guessed from magnitude
    np.testing.assert_array_equal(held.codes()["t"].to_numpy(), mem.time_us)
    with pytest.raises(jl.ParameterError, match="time_unit must be one of"):
        jl.read_parquet(path, engine="duckdb", time_unit="weeks")


def test_the_held_database_leaves_half_the_memory_to_the_analysis():
    probe = ("from journeylens.engine.backends.duckdb import held_database; "
             "print(held_database().con.execute(\"SELECT current_setting('memory_limit')\").fetchone()[0])")
    env = {k: v for k, v in os.environ.items() if k != "JOURNEYLENS_MEMORY_LIMIT"}
    default = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    total_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    assert float(default.stdout.split()[0]) == pytest.approx(total_gib / 2, rel=0.02)  # DuckDB's own: 80%
    given = subprocess.run([sys.executable, "-c", probe], env={**env, "JOURNEYLENS_MEMORY_LIMIT": "1GB"},
                           capture_output=True, text=True, check=True)
    assert given.stdout.strip() == "953.6 MiB"  # 1 GB in DuckDB's binary units


def _held_row_counts() -> list[int]:
    """Rows of every table now in the held database (after the garbage collector has run)."""
    import gc

    from journeylens.engine.backends.duckdb import held_database

    gc.collect()
    con = held_database().con
    names = con.execute("SELECT database_name || '.' || schema_name || '.' || table_name FROM duckdb_tables() "
                        "WHERE database_name IN ('temp', current_database())").fetchall()
    return [int(con.execute(f"SELECT count(*) FROM {n}").fetchall()[0][0]) for (n,) in names]


def test_the_window_pass_kept_by_sessions_is_the_pass_of_the_sessionized_log(tmp_path, monkeypatch):
    """Sessions by user keep their window pass as the journeys' pass of the new log: every column, row
    for row, equals the pass the log would run itself; and a log with an extra column named like the
    pass's hidden columns keeps that column as it was."""
    from journeylens.engine.backends import duckdb as held_duckdb

    monkeypatch.setattr(held_duckdb, "CHUNK_ROWS", 500)  # several chunks of whole users
    frame = synthetic_log(seed=5, n=3000).assign(_w_gp=lambda f: np.arange(len(f)))
    path = tmp_path / "events.parquet"
    frame.to_parquet(path)
    log = sessionize(jl.read_parquet(path, engine="duckdb"), gap=GAP)
    passes, chunked = [], held_duckdb.map_groups
    monkeypatch.setattr(held_duckdb, "map_groups", lambda *a: passes.append(a) or chunked(*a))
    kept = dialect.query("SELECT * FROM w ORDER BY i", {"w": log.journeys()}).to_pandas()
    assert passes == []  # the kept pass, not one run now
    fresh = log._derived(log.frame)  # the same log without its cache: it runs the pass
    assert "journeys" not in {key[0] for key in fresh._cache if isinstance(key, tuple)}
    ran = dialect.query("SELECT * FROM w ORDER BY i", {"w": fresh.journeys()}).to_pandas()
    assert len(passes) == 1
    pd.testing.assert_frame_equal(kept, ran)
    assert {"e2", "gp", "head", "c_session"} <= set(kept.columns) and kept["head"].sum() == len(log.users)
    rows = dialect.query('SELECT source_row, "_w_gp" FROM f', {"f": log.frame}).to_pandas()
    assert len(rows) == len(frame) and (rows["_w_gp"] == rows["source_row"] - 1).all()  # row r's own value


def test_a_held_log_keeps_one_copy_of_its_rows(tmp_path):
    """Validation's working table (every source row and column) goes once the log is coded: what stays is
    the coded log, the quarantine (rejected rows only) and the dictionaries."""
    frame = jl.datasets.make_journeys(400, seed=3)
    path = tmp_path / "events.parquet"
    pd.concat([frame, frame.head(25)]).to_parquet(path)  # 25 exact copies quarantined
    before = len(_held_row_counts())
    log = jl.read_parquet(path, engine="duckdb")
    counts = _held_row_counts()
    assert log.rows_read == len(frame) + 25 and log.rows_quarantined == 25
    assert sum(n >= log.rows_accepted for n in counts) == 1  # the coded log, and no second copy
    assert log.quarantine_frame()["reason"].tolist() == ["duplicate"] * 25
    del log
    assert len(_held_row_counts()) == before  # and everything goes with the log


def test_a_segment_added_to_a_held_log_shares_its_journey_tables(tmp_path):
    frame = jl.datasets.make_journeys(300, seed=8).drop(columns=["persona"])
    path = tmp_path / "events.parquet"
    frame.to_parquet(path)
    log = jl.read_parquet(path, engine="duckdb")
    users = pd.Series(np.where(np.arange(len(log.users)) % 2, "odd", "even"), index=log.users)
    plain = log.journeys(window=False), log.journeys(per="user")
    tagged = jl.add_segment(log, users, "half")
    assert tagged.journeys(window=False) is plain[0] and tagged.journeys(per="user") is plain[1]
    memory = jl.add_segment(jl.from_pandas(frame), users, "half")
    pd.testing.assert_frame_equal(dfg(tagged).to_frame(), dfg(memory).to_frame())
    for segment in ("odd", "even"):
        held_rows = variants(tagged.filter(by="half", segments=[segment])).to_frame()
        pd.testing.assert_frame_equal(held_rows, variants(memory.filter(by="half", segments=[segment])).to_frame())
