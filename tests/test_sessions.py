"""Sessions: hand-computed cases, a plain-Python reference under hypothesis, a real log."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import journeylens as jl
from journeylens.prepare.sessions import sessionize, sessions
from tests.conftest import minutes_frame, shared_file

T0 = pd.Timestamp("2024-01-01 00:00", tz="UTC")


def _frame(rows, **extra) -> pd.DataFrame:
    """rows: (user, minutes after T0, event); a ``rid`` column names each input row."""
    frame = minutes_frame(rows, **extra)
    frame["rid"] = np.arange(len(frame))
    return frame


def _log(rows, **extra) -> jl.EventLog:
    return jl.from_pandas(_frame(rows, **extra), duplicates="keep")


def _session_of_rid(log: jl.EventLog) -> dict[int, int]:
    t = log.to_pandas()
    return dict(zip(t["rid"].astype(int), t["session_id"].astype(int)))


# -- hand-computed -------------------------------------------------------------

def test_a_pause_of_exactly_gap_does_not_split_a_longer_one_does():
    log = sessionize(_log([("a", 0, "x"), ("a", 30, "y"), ("a", 61, "z"), ("b", 0, "x")]), gap="30min")
    t = log.to_pandas()
    assert t["session_id"].tolist() == [0, 0, 1, 2]
    assert t["session_id"].dtype == np.int64
    assert log.parameters["sessionize"] == {
        "gap": "30min", "gap_seconds": 1800.0, "max_duration": None, "max_duration_seconds": None, "sessions": 3}


def test_ids_follow_user_then_start_time_whatever_the_input_order():
    rows = [("b", 100, "x"), ("a", 200, "x"), ("b", 0, "x"), ("a", 0, "y"), ("a", 5, "z")]
    log = sessionize(_log(rows), gap="1h")
    # a: {0, 5} then {200}; b: {0} then {100}
    assert _session_of_rid(log) == {3: 0, 4: 0, 1: 1, 2: 2, 0: 3}


def test_max_duration_cuts_fixed_windows_from_the_session_start():
    minutes = [0, 20, 40, 55, 70, 90, 110, 125]
    log = sessionize(_log([("a", m, "x") for m in minutes]), gap="30min", max_duration="1h")
    # one 125-minute session without the cap; windows [0, 60), [60, 120), [120, 180)
    assert log.to_pandas()["session_id"].tolist() == [0, 0, 0, 0, 1, 1, 1, 2]
    assert sessionize(_log([("a", 0, "x"), ("a", 60, "x")]), gap="2h", max_duration="60min").to_pandas()[
        "session_id"].tolist() == [0, 1]  # an event exactly max_duration after the start opens a new one
    assert log.parameters["sessionize"]["max_duration_seconds"] == 3600.0


def test_timedelta_and_day_strings_are_accepted():
    log = _log([("a", 0, "x"), ("a", 60 * 24, "x"), ("a", 60 * 24 * 3, "x")])
    assert sessionize(log, gap=pd.Timedelta(days=1)).to_pandas()["session_id"].tolist() == [0, 0, 1]
    assert sessionize(log, gap="2d").to_pandas()["session_id"].tolist() == [0, 0, 0]


@pytest.mark.parametrize(
    "kwargs, message",
    [({"gap": "soon"}, "gap='soon' is not a duration"), ({"gap": "-5min"}, "positive"),
     ({"gap": 0}, "gap=0 is not a duration: give a unit"), ({"gap": 30}, "gap=30 is not a duration: give a unit"),
     ({"gap": "30"}, "gap='30' is not a duration: give a unit"), ({"gap": None}, "gap must be a duration"),
     ({"gap": "0min"}, "positive"), ({"max_duration": "forever"}, "max_duration='forever'"),
     ({"max_duration": "7"}, "max_duration='7' is not a duration: give a unit")],
)
def test_bad_durations_are_one_line_parameter_errors(kwargs, message):
    with pytest.raises(jl.ParameterError, match=message) as info:
        sessionize(_log([("a", 0, "x")]), **kwargs)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_not_a_log_is_a_validation_error():
    with pytest.raises(jl.ParameterError, match="expects an event log"):
        sessionize(pd.DataFrame({"a": [1]}))


def test_a_source_session_column_is_kept_and_resessionizing_replaces_ours():
    log = _log([("a", 0, "x"), ("a", 5, "y"), ("a", 200, "z")], visit_id=["v1", "v1", "v1"])
    assert log.roles["session"] == "visit_id"
    once = sessionize(log, gap="30min")
    t = once.to_pandas()
    assert t["session_id"].tolist() == [0, 0, 1] and t["source_session_id"].tolist() == ["v1", "v1", "v1"]
    assert "session" not in once.roles
    assert list(t.columns[:5]) == ["user_id", "timestamp", "event", "session_id", "source_session_id"]
    twice = sessionize(once, gap="1d")
    assert twice.to_pandas()["session_id"].tolist() == [0, 0, 0]
    assert twice.columns == once.columns  # replaced in place, the source column is not copied again
    assert once.to_pandas()["session_id"].tolist() == [0, 0, 1]  # the input log is unchanged


def test_empty_log_has_no_sessions():
    log = jl.from_pandas(pd.DataFrame({"user": [None], "time": ["2024-01-01"], "event": ["x"]}))
    assert len(log) == 0
    s = sessionize(log)
    assert s.parameters["sessionize"]["sessions"] == 0 and len(sessions(s)) == 0


# -- the per-session table -------------------------------------------------------

def test_sessions_table_hand_computed():
    log = _log(
        [("a", 0, "home"), ("a", 10, "cart"), ("a", 12, "home"), ("a", 120, "home"), ("b", 0, "ad")],
        channel=["web", "email", "web", None, None],
    )
    t = sessions(sessionize(log, gap="30min"))
    assert list(t.columns) == ["session_id", "user_id", "start", "end", "duration_s", "n_events", "channels",
                               "first_event", "last_event"]
    assert t["session_id"].tolist() == [0, 1, 2]
    assert t["user_id"].tolist() == ["a", "a", "b"]
    assert t["start"].tolist() == [T0, T0 + pd.Timedelta(minutes=120), T0]
    assert t["end"].tolist() == [T0 + pd.Timedelta(minutes=12), T0 + pd.Timedelta(minutes=120), T0]
    assert t["duration_s"].tolist() == [720.0, 0.0, 0.0]
    assert t["n_events"].tolist() == [3, 1, 1]
    assert t["channels"].tolist()[0] == "email|web" and t["channels"].isna().tolist() == [False, True, True]
    assert t["first_event"].tolist() == ["home", "home", "ad"] and t["last_event"].tolist() == ["home", "home", "ad"]


def test_first_and_last_event_break_time_ties_by_source_order():
    t = sessions(sessionize(_log([("a", 0, "b_first"), ("a", 0, "a_second"), ("a", 1, "z"), ("a", 1, "c_last")])))
    assert (t["first_event"].item(), t["last_event"].item()) == ("b_first", "c_last")


def test_sessions_of_a_log_without_channel_and_with_source_sessions():
    log = _log([("a", 0, "x"), ("a", 1, "y"), ("b", 0, "x")], visit_id=["s1", "s2", "s1"])
    t = sessions(log)  # the source's ids: "s1" of a and "s1" of b are two sessions
    assert t[["session_id", "user_id", "n_events"]].values.tolist() == [["s1", "a", 1], ["s2", "a", 1], ["s1", "b", 1]]
    assert t["channels"].isna().all()


@pytest.mark.parametrize("n_channels", [3, 70])  # a bit mask up to 62 channels, joined names beyond
def test_session_channels_match_a_pandas_reference(n_channels):
    rng = np.random.default_rng(7)
    n = 400
    names = [f"ch{k:02d}" for k in range(n_channels)] + [None]
    rows = [(f"u{u}", int(m), "x") for u, m in zip(rng.integers(0, 20, n), rng.integers(0, 600, n))]
    log = sessionize(_log(rows, channel=[names[k] for k in rng.integers(0, len(names), n)]), gap="20min")
    got = sessions(log).set_index("session_id")["channels"]
    t = log.to_pandas()
    expected = t.groupby("session_id")["channel"].agg(lambda c: "|".join(sorted(set(c.dropna()))) or None)
    assert got.fillna("-").to_dict() == expected.fillna("-").to_dict()
    assert got.str.contains("|", regex=False).sum() > 10


def test_sessions_needs_a_session_id():
    with pytest.raises(jl.ParameterError, match=r"call jl.sessionize\(log"):
        sessions(_log([("a", 0, "x")]))


# -- properties -------------------------------------------------------------------

def _reference(frame: pd.DataFrame, gap: pd.Timedelta, cap: pd.Timedelta | None) -> set[frozenset[int]]:
    """Sessions as sets of ``rid``, by walking each user's events in time order."""
    out: list[set[int]] = []
    for _, events in frame.sort_values(["user", "time", "rid"]).groupby("user"):
        prev = start = window = None
        for rid, t in zip(events["rid"], events["time"]):
            part = None if cap is None or start is None else (t - start) // cap
            if prev is None or t - prev > gap:
                start, part, window = t, 0, None
                out.append(set())
            elif cap is not None and part != window:
                out.append(set())
            window = part if cap is not None else None
            out[-1].add(int(rid))
            prev = t
    return {frozenset(s) for s in out}


# minutes on a 5-minute grid, so pauses of exactly the gap are common
EVENTS = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 60).map(lambda k: 5 * k), st.sampled_from("xyz")),
    min_size=1,
    max_size=60,
)


@settings(max_examples=80, deadline=None)
@given(EVENTS, st.sampled_from([1, 5, 10, 30]), st.sampled_from([None, 20, 60]), st.randoms(use_true_random=False))
def test_sessionize_invariants_and_reference(rows, gap_min, cap_min, rnd):
    frame = _frame([(f"u{u}", m, e) for u, m, e in rows])
    gap = pd.Timedelta(minutes=gap_min)
    cap = None if cap_min is None else pd.Timedelta(minutes=cap_min)
    log = sessionize(jl.from_pandas(frame, duplicates="keep"), gap=gap, max_duration=cap)
    t = log.to_pandas()

    # every event in exactly one session; ids 0..n-1 in (user, start) order
    assert len(t) == len(frame) and t["session_id"].notna().all()
    table = sessions(log)
    assert table["n_events"].sum() == len(frame)
    assert table["session_id"].tolist() == list(range(len(table)))
    assert table.sort_values(["user_id", "start"], kind="stable")["session_id"].tolist() == list(range(len(table)))

    # inside a session no pause exceeds the gap and the span stays under the cap
    pauses = t.groupby("session_id")["timestamp"].diff().dropna()
    assert (pauses <= gap).all()
    if cap is not None:
        assert (table["end"] - table["start"] < cap).all()
    # consecutive sessions of a user are separated by more than the gap (unless the cap cut them)
    between = table["start"] - table.groupby("user_id")["end"].shift()
    between = between.dropna()
    if cap is None:
        assert (between > gap).all()

    # the plain-Python reference, and independence of the input row order
    got = {frozenset(g["rid"].astype(int)) for _, g in t.groupby("session_id")}
    assert got == _reference(frame, gap, cap)
    shuffled = frame.sample(frac=1, random_state=rnd.randrange(2**32))
    again = sessionize(jl.from_pandas(shuffled, duplicates="keep"), gap=gap, max_duration=cap)
    assert _session_of_rid(again) == _session_of_rid(log)


# -- a real log -------------------------------------------------------------------

def test_simple_onlineshop_has_6454_sessions_of_30_minutes():
    df = pd.read_csv(shared_file("clickstream", "simple-onlineshop.csv.gz"))
    log = sessionize(jl.from_pandas(df, duplicates="keep"), gap="30min")
    table = sessions(log)
    assert len(table) == 6454 == log.summary()["sessions"] == log.parameters["sessionize"]["sessions"]
    assert table["n_events"].sum() == 32283 and table["user_id"].nunique() == 3751

    # independent count with plain pandas on the raw file: a break is a pause > 30 min
    ts = pd.to_datetime(df["timestamp"])
    raw = df.assign(ts=ts).sort_values(["user_id", "ts"], kind="stable")
    pause = raw.groupby("user_id")["ts"].diff()
    assert int((pause.isna() | (pause > pd.Timedelta("30min"))).sum()) == 6454
    per_user = raw.assign(brk=(pause.isna() | (pause > pd.Timedelta("30min"))))
    sizes = per_user.groupby(per_user["brk"].cumsum()).size()
    assert sorted(sizes.tolist()) == sorted(table["n_events"].tolist())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(-3, 40)), max_size=40), st.booleans())
def test_session_codes_number_user_session_pairs_in_order(rows, as_text):
    """Codes of (user, session) pairs, whatever the numbering (sessionize's, gaps left by a filter, a
    source's own ids in any order or as text), against pandas' sorted group numbers."""
    from journeylens.core.eventlog import _session_codes

    frame = pd.DataFrame(rows, columns=["u", "s"]).sort_values("u", kind="stable")
    if len(frame) and rows[0][1] % 2:  # sessionize-like: rising along the log (gaps: a filter's), or not
        step = frame["s"].to_numpy() % 3
        step[1:][np.diff(frame["u"].to_numpy()) != 0] += rows[0][1] % 4 > 1  # a new user, a new number?
        frame["s"] = np.cumsum(step)
    sessions = frame["s"].astype(str) if as_text else frame["s"]
    expected = frame.assign(s=sessions).groupby(["u", "s"], sort=True).ngroup().to_numpy()
    got = _session_codes(sessions.reset_index(drop=True), frame["u"].to_numpy())
    np.testing.assert_array_equal(got, expected)
