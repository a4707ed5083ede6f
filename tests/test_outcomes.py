"""Drop-offs, roadblocks and time to convert: hand-computed cases, outcomes other than conversion (lost=),
sessions, parameter errors, an independent Aalen–Johansen reference, and real logs checked against plain
pandas written here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import journeylens as jl
from journeylens.outcomes.dropoffs import dropoffs
from journeylens.outcomes.roadblocks import roadblocks
from journeylens.outcomes.survival import time_to_convert
from tests.conftest import minutes_log, shared_file

T0 = pd.Timestamp("2024-01-01 00:00", tz="UTC")
DAY = 24 * 60


def _log(rows, **extra) -> jl.EventLog:
    """rows: (user, minutes after T0, event)."""
    return minutes_log(rows, **extra)


# -- plain-pandas reference of the outcome rules ----------------------------------------------------

WEEK = pd.Timedelta(days=7)


def reference(df: pd.DataFrame, goal, lost=(), journey: str = "user_id", inactivity: pd.Timedelta = WEEK
              ) -> pd.DataFrame:
    """Each row of ``df`` (``user_id, timestamp, event`` and ``journey``, in log order) with its journey's
    ``outcome``, whether it is a ``visit`` on the way to the outcome and whether it is an ``exit``."""
    df = df.reset_index(drop=True).assign(k=lambda d: np.arange(len(d)))
    end = df["timestamp"].max()
    by = df.groupby(journey, sort=False)
    terminal = df[df["event"].isin(list(goal) + list(lost))].groupby(journey, sort=False)["k"].min()
    first_terminal = df.loc[terminal.to_numpy(), "event"].set_axis(terminal.index)
    last_k, last_t = by["k"].max(), by["timestamp"].max()
    user_last = df.groupby("user_id")["timestamp"].max()
    over = (end - last_t >= inactivity) | (by["user_id"].first().map(user_last) > last_t)
    outcome = pd.Series(np.where(over, "dropped", "censored"), index=last_k.index, dtype=object)
    outcome[first_terminal.index] = np.where(first_terminal.isin(goal), "converted", "lost")
    df["outcome"] = df[journey].map(outcome)
    df["terminal_k"] = df[journey].map(terminal)
    df["last"] = df["k"] == df[journey].map(last_k)
    before_outcome = df["terminal_k"].isna() | (df["k"] < df["terminal_k"])
    df["visit"] = before_outcome & ~((df["outcome"] == "censored") & df["last"])
    df["exit"] = df["visit"] & (df["outcome"] == "dropped") & df["last"]
    return df


def reference_roadblocks(rows: pd.DataFrame, journey: str = "user_id", min_journeys: int = 20) -> pd.DataFrame:
    """Exit rate, baseline (the other touchpoints' visits pooled), lift and conversion per touchpoint."""
    v = rows[rows["visit"]]
    t = v.groupby("event").agg(journeys=(journey, "nunique"), visits=("exit", "size"), exits=("exit", "sum"))
    t["exit_rate"] = t["exits"] / t["visits"]
    t["baseline_exit_rate"] = (t["exits"].sum() - t["exits"]) / (t["visits"].sum() - t["visits"])
    t["exit_lift"] = t["exit_rate"] / t["baseline_exit_rate"]
    resolved = v[v["outcome"] != "censored"].drop_duplicates([journey, "event"])
    t["conversion_rate"] = resolved.groupby("event")["outcome"].agg(lambda o: (o == "converted").mean())
    return t[t["journeys"] >= min_journeys]


# -- drop-offs, censoring and lost journeys --------------------------------------------------------------

def _journeys():
    return _log([
        ("a", 0, "home"), ("a", 60, "cart"), ("a", 120, "buy"),            # converted
        ("b", 0, "home"), ("b", 60, "cart"),                               # left at cart 20 days before the end
        ("c", 0, "home"), ("c", DAY, "reviews"),                           # left at reviews
        ("d", 0, "home"), ("d", 18 * DAY, "cart"),                         # active 3 days before the end: censored
        ("e", 21 * DAY, "home"),                                           # the last event of the log
    ], stage=["aware", "decide", "decide", "aware", "decide", "aware", "consider", "aware", "decide", "aware"])


def test_dropoffs_never_count_censored_customers():
    d = dropoffs(_journeys(), goal="buy", inactivity="7d")
    s = d.summary.iloc[0]
    assert (s["users"], s["converted"], s["lost"], s["dropped_off"], s["censored"]) == (5, 1, 0, 2, 2)
    assert (s["conversion_rate"], s["loss_rate"], s["dropoff_rate"]) == (0.2, 0.0, 0.4)
    assert d.to_frame()[["event", "stage", "users", "rank"]].values.tolist() == [
        ["cart", "decide", 1, 1], ["reviews", "consider", 1, 2]]
    assert d.to_frame()["share_of_dropoffs"].tolist() == [0.5, 0.5]
    # with a shorter inactivity threshold d's 3 quiet days count as leaving
    assert dropoffs(_journeys(), goal="buy", inactivity="2d").summary["dropped_off"].iloc[0] == 3


def test_observation_end_hides_later_events():
    d = dropoffs(_journeys(), goal="buy", observation_end=T0 + pd.Timedelta(minutes=90), inactivity="1h")
    # at 01:30, a (cart at 01:00) has not converted yet and was active 30 min ago: censored
    s = d.summary.iloc[0]
    assert (s["users"], s["converted"], s["dropped_off"], s["censored"]) == (4, 0, 2, 2)


LOST_ROWS = [
    ("a", 0, "home"), ("a", 10, "cart"), ("a", 20, "declined"),                      # lost after the cart
    ("h", 0, "home"), ("h", 10, "declined"), ("h", 20, "cart"),                      # lost (the cart after it void)
    ("b", 0, "home"), ("b", 10, "buy"), ("b", 20, "declined"),                       # bought first: converted
    ("c", 0, "home"), ("c", 10, "declined"), ("c", 20, "buy"),                       # declined first: lost
    ("d", 0, "home"), ("d", 10, "declined"), ("d", 10, "buy"),                       # same instant: source order
    ("e", 0, "home"), ("e", 10, "buy"), ("e", 10, "declined"),
    ("f", 0, "home"), ("f", 10, "cart"),                                             # dropped at cart
    ("g", 30 * DAY, "home"),                                                         # censored
]


def test_lost_journeys_are_neither_converted_nor_dropped_nor_censored():
    log = _log(LOST_ROWS)
    d = dropoffs(log, "buy", lost="declined")
    s = d.summary.iloc[0]
    assert (s["users"], s["converted"], s["lost"], s["dropped_off"], s["censored"]) == (8, 2, 4, 1, 1)
    assert s["loss_rate"] == 0.5
    assert d.to_frame()[["event", "users"]].values.tolist() == [["cart", 1]]
    # without lost=, a decline reads as a drop-off point, and c's and d's purchases after it as conversions
    plain = dropoffs(log, "buy")
    assert plain.summary[["converted", "lost", "dropped_off"]].values.tolist() == [[4, 0, 3]]
    assert plain.to_frame()[["event", "users"]].values.tolist() == [["cart", 2], ["declined", 1]]


def test_terminal_events_are_never_roadblocks_and_visits_stop_at_the_outcome():
    log = _log(LOST_ROWS)
    t = roadblocks(log, "buy", lost="declined", min_journeys=1).to_frame().set_index("event")
    assert set(t.index) == {"home", "cart"}
    # home: everyone's but g's (its only event is the censored last one); cart: a (before its decline) and f
    assert t.loc["home", "visits"] == 7 and t.loc["cart", "visits"] == 2
    assert (t.loc["cart", "exits"], t.loc["home", "exits"]) == (1, 0)
    assert t.loc["cart", "exit_rate"] == 0.5 and t.loc["cart", "baseline_exit_rate"] == 0.0
    assert np.isnan(t.loc["cart", "exit_lift"])  # the others never lead out: no baseline to compare with
    assert t.loc["home", "exit_lift"] == 0.0 and t.loc["home", "baseline_exit_rate"] == 0.5
    assert t.loc["home", "conversion_rate"] == pytest.approx(2 / 7)  # b and e


def test_both_outcomes_the_first_wins_also_in_time_to_convert():
    r = time_to_convert(_log(LOST_ROWS), "buy", lost="declined")
    m = r.medians.iloc[0]
    assert (m["users"], m["converted"], m["lost"]) == (8, 2, 4)
    curve = r.to_frame().set_index("time_s")
    assert curve.loc[600.0, ["conversions", "losses"]].tolist() == [2, 3]  # b, e convert; c, d, h lost at 10 min
    assert curve.loc[1200.0, "losses"] == 1  # a


def test_goal_and_lost_must_not_overlap():
    with pytest.raises(jl.ParameterError, match="both a goal and a lost event"):
        dropoffs(_log(LOST_ROWS), "buy", lost=["declined", "buy"])


def test_sessions_followed_by_later_activity_are_over():
    log = jl.sessionize(_log([
        ("a", 0, "home"), ("a", 5, "cart"),               # session 1: the user comes back later: dropped at cart
        ("a", 600, "home"), ("a", 601, "buy"),            # session 2: converted
        ("b", 0, "home"), ("b", 1, "cart"),               # session 3: left long ago: dropped
        ("b", 3 * DAY, "home"), ("c", 3 * DAY + 5, "home"),  # sessions 4, 5: the log's last day: censored
    ]), gap="30min")
    d = dropoffs(log, "buy", per="session")
    assert d.summary[["sessions", "converted", "dropped_off", "censored"]].values.tolist() == [[5, 1, 2, 2]]
    assert d.to_frame()[["event", "sessions"]].values.tolist() == [["cart", 2]]
    per_user = dropoffs(log, "buy").summary
    assert per_user[["users", "converted", "dropped_off", "censored"]].values.tolist() == [[3, 1, 0, 2]]


@pytest.mark.parametrize("kwargs, name", [
    ({"goal": "purchase"}, "goal"), ({"goal": None}, "goal"), ({"goal": 3}, "goal"),
    ({"goal": "buy", "lost": "gone"}, "lost"), ({"goal": "buy", "inactivity": 7}, "inactivity"),
    ({"goal": "buy", "inactivity": "soon"}, "inactivity"),
    ({"goal": "buy", "observation_end": "now"}, "observation_end"),
    ({"goal": "buy", "observation_end": "2023-01-01"}, "observation_end"), ({"goal": "buy", "per": "visit"}, "per"),
    ({"goal": "buy", "by": "tier"}, "by"),
])
def test_bad_arguments_are_one_line_parameter_errors(kwargs, name):
    for analysis in (dropoffs, roadblocks, time_to_convert):
        if analysis is time_to_convert and name == "inactivity":
            continue
        with pytest.raises(jl.ParameterError) as info:
            analysis(_journeys(), **kwargs)
        assert info.value.parameter == name and "\n" not in str(info.value)


def test_roadblock_specific_arguments_are_checked():
    for kwargs, name in (({"min_journeys": 0}, "min_journeys"), ({"error_pattern": "(["}, "error_pattern")):
        with pytest.raises(jl.ParameterError) as info:
            roadblocks(_journeys(), "buy", **kwargs)
        assert info.value.parameter == name


def test_arguments_after_goal_are_keyword_only():
    with pytest.raises(TypeError):
        dropoffs(_journeys(), "buy", "declined")  # type: ignore[misc]


# -- time to convert --------------------------------------------------------------------------------------

def test_time_to_convert_matches_a_hand_kaplan_meier():
    # conversions after 1 and 2 days, one customer censored at 1.5 days, one conversion at 3 days
    log = _log([
        ("a", 0, "home"), ("a", DAY, "buy"),
        ("b", 0, "home"), ("b", 2 * DAY, "buy"),
        ("c", 1.5 * DAY, "home"),  # first touch 1.5 days before the end (d's purchase at 3 days)
        ("d", 0, "home"), ("d", 3 * DAY, "buy"),
    ])
    r = time_to_convert(log, "buy")
    curve = r.to_frame().set_index("time_s")
    assert curve.loc[86400.0, "cumulative_conversion"] == pytest.approx(0.25)
    # c is censored at 1.5 days: at 2 days 2 remain at risk → S = 0.75 · 0.5
    assert curve.loc[2 * 86400.0, "cumulative_conversion"] == pytest.approx(1 - 0.375)
    assert curve.loc[2 * 86400.0, "at_risk"] == 2
    assert curve.loc[3 * 86400.0, "cumulative_conversion"] == pytest.approx(1.0)
    assert (curve["cumulative_loss"] == 0).all()
    assert r.medians["median_s"].iloc[0] == 2 * 86400.0 and r.medians["median_note"].iloc[0] == "2.0 days"


def test_median_not_reached_keeps_nan_and_says_why():
    log = _log([("a", 0, "buy"), ("b", 0, "home"), ("c", 0, "home"), ("c", 10, "home"), ("d", 10, "home")])
    m = time_to_convert(log, "buy").medians.iloc[0]
    assert np.isnan(m["median_s"]) and m["median_note"] == "not reached: 25% converted"


def aalen_johansen_reference(duration: np.ndarray, kind: np.ndarray) -> pd.DataFrame:
    """Cumulative incidences written from the definition, one time at a time: kind 1 = conversion,
    2 = loss, 0 = censored; the risk set at t is every subject whose time is ≥ t."""
    times = np.unique(duration)
    free, conv, loss, rows = 1.0, 0.0, 0.0, []
    for t in times:
        n = int((duration >= t).sum())
        c = int(((duration == t) & (kind == 1)).sum())
        lo = int(((duration == t) & (kind == 2)).sum())
        conv += free * c / n
        loss += free * lo / n
        free *= 1 - (c + lo) / n
        rows.append((t, n, c, lo, conv, loss))
    return pd.DataFrame(rows, columns=["d", "at_risk", "conversions", "losses", "conv", "loss"])


def test_aalen_johansen_against_a_reference_written_from_the_definition():
    rng = np.random.default_rng(4)
    rows = []
    for k in range(300):
        start = int(rng.integers(0, 40)) * 60  # whole hours: many ties
        rows.append((f"u{k}", start, "home"))
        fate = rng.choice(["buy", "declined", None], p=[0.35, 0.25, 0.4])
        if fate is not None:
            rows.append((f"u{k}", start + int(rng.integers(1, 30)) * 60, str(fate)))
    rows.append(("last", 80 * 60, "home"))
    log = _log(rows)
    got = time_to_convert(log, "buy", lost="declined").to_frame()
    frame = log.to_pandas()
    t = frame.groupby("user_id", observed=True)["timestamp"]
    first, last = t.min(), t.max()
    fate = frame.groupby("user_id", observed=True)["event"].last().astype(str)
    end = frame["timestamp"].max()
    duration = np.where(fate.isin(["buy", "declined"]), (last - first).dt.total_seconds(),
                        (end - first).dt.total_seconds())
    kind = fate.map({"buy": 1, "declined": 2}).fillna(0).astype(int).to_numpy()
    want = aalen_johansen_reference(duration, kind)
    np.testing.assert_array_equal(got["time_s"].to_numpy(), want["d"].to_numpy())
    np.testing.assert_array_equal(got["at_risk"].to_numpy(), want["at_risk"].to_numpy())
    np.testing.assert_allclose(got["cumulative_conversion"].to_numpy(), want["conv"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(got["cumulative_loss"].to_numpy(), want["loss"].to_numpy(), rtol=1e-12)
    # Kaplan–Meier with the losses censored would claim more conversion than can happen
    km = 1 - np.cumprod(1 - want["conversions"] / want["at_risk"])
    assert km.iloc[-1] > got["cumulative_conversion"].iloc[-1] + 0.04


def test_without_censoring_the_cumulative_incidences_are_the_plain_shares():
    # everybody reaches an outcome: the estimate at t is the share converted (lost) by t
    rows = []
    for k, (minutes, fate) in enumerate([(5, "buy"), (5, "declined"), (10, "buy"), (20, "declined"), (20, "buy"),
                                         (30, "buy"), (40, "declined"), (60, "buy")]):
        rows += [(f"u{k}", 0, "home"), (f"u{k}", minutes, fate)]
    curve = time_to_convert(_log(rows), "buy", lost="declined").to_frame()
    assert curve["cumulative_conversion"].tolist() == pytest.approx([1 / 8, 2 / 8, 3 / 8, 4 / 8, 4 / 8, 5 / 8])
    assert curve["cumulative_loss"].tolist() == pytest.approx([1 / 8, 1 / 8, 2 / 8, 2 / 8, 3 / 8, 3 / 8])
    assert time_to_convert(_log(rows), "buy", lost="declined").medians["median_s"].iloc[0] == 30 * 60


# -- roadblocks ----------------------------------------------------------------------------------------------

def test_roadblock_signals_on_a_hand_built_log():
    rows = []
    # 30 users pass pay twice with an error between; a third of them leave after the second pay;
    # 30 users browse and buy; 10 browse and leave
    for i in range(30):
        u = f"p{i}"
        rows += [(u, 0, "browse"), (u, 1, "pay"), (u, 31, "pay_error"), (u, 32, "pay")]
        if i % 3:
            rows.append((u, 62, "buy"))
    for i in range(40):
        rows += [(f"q{i}", 0, "browse")] + ([(f"q{i}", 1, "buy")] if i < 30 else [])
    rows.append(("z", 60 * DAY, "browse"))  # moves the end of observation far away
    r = roadblocks(_log(rows), goal="buy", min_journeys=10).to_frame().set_index("event")
    assert r.loc["pay", "rank"] == 1 and "buy" not in r.index
    assert (r.loc["pay", "visits"], r.loc["pay", "exits"], r.loc["pay", "users"]) == (60, 10, 30)
    assert r.loc["pay", "exit_rate"] == pytest.approx(10 / 60)
    # the others: browse (70 visits, 10 exits) and pay_error (30 visits, none)
    assert r.loc["pay", "baseline_exit_rate"] == pytest.approx(10 / 100)
    assert r.loc["pay", "exit_lift"] == pytest.approx((10 / 60) / (10 / 100))
    assert r.loc["browse", "exit_lift"] == pytest.approx((10 / 70) / (10 / 90))
    assert r.loc["pay", "visits_per_journey"] == 2.0
    assert r.loc["pay", "error_follow_share"] == pytest.approx(0.5)
    assert r.loc["pay", "conversion_rate"] == pytest.approx(20 / 30)
    assert r.loc["pay", "dwell_median_s"] == 1800.0  # 30 min before the error, 30 min before buying
    from scipy.stats import binom

    assert r.loc["pay", "exit_p_value"] == pytest.approx(binom.sf(9, 60, 0.1))


def test_with_stages_the_baseline_is_the_stage():
    rows = []
    for i in range(40):
        u = f"u{i}"
        rows += [(u, 0, "ad"), (u, 1, "landing")]
        if i < 20:  # half leave at landing, the rest go on to pay; of those 5 leave at pay
            continue
        rows += [(u, 2, "cart"), (u, 3, "pay")] + ([(u, 4, "buy")] if i >= 25 else [])
    rows.append(("z", 60 * DAY, "ad"))
    log = jl.assign_stages(_log(rows), {"stages": [{"name": "aware", "touchpoints": ["ad", "landing"]},
                                                   {"name": "decide", "touchpoints": ["cart", "pay", "buy"]}]})
    r = roadblocks(log, "buy", min_journeys=5)
    t = r.to_frame().set_index("event")
    assert r.baseline == "stage" and t.loc["pay", "stage"] == "decide"
    # pay's baseline is cart alone (20 visits, no exit), landing's is ad (40 visits, none; z's is censored)
    assert t.loc["pay", "baseline_exit_rate"] == 0.0 and t.loc["landing", "baseline_exit_rate"] == 0.0
    assert t.loc["cart", "baseline_exit_rate"] == pytest.approx(5 / 20)
    assert roadblocks(_log(rows), "buy", min_journeys=5).baseline == "all"


def test_roadblocks_per_session_judge_each_session():
    rows = []
    for i in range(30):  # every user comes back later and buys; the first session errs for half of them
        u = f"u{i}"
        rows += [(u, 0, "cart"), (u, 1, "pay")] + ([(u, 2, "pay_error")] if i % 2 else [(u, 2, "buy")])
        rows += [(u, DAY, "cart"), (u, DAY + 1, "pay"), (u, DAY + 2, "buy")]
    for i in range(40):  # one-session shoppers: half leave at the cart
        rows += [(f"w{i}", 0, "cart")] + ([(f"w{i}", 1, "pay"), (f"w{i}", 2, "buy")] if i % 2 else [])
    rows.append(("z", 30 * DAY, "cart"))
    log = jl.sessionize(_log(rows), gap="30min")
    per_user = roadblocks(log, "buy", min_journeys=5).to_frame().set_index("event")
    per_session = roadblocks(log, "buy", per="session", min_journeys=5).to_frame().set_index("event")
    # the users who erred all bought the next day: nobody left after an error
    assert per_user.loc["pay_error", ["users", "exits"]].tolist() == [15, 0]
    signals = ["sessions", "exits", "exit_rate", "conversion_rate"]
    assert per_session.loc["pay_error", signals].tolist() == [15, 15, 1.0, 0.0]
    assert per_session.loc["pay_error", "rank"] == 1
    assert per_session.loc["pay_error", "exit_lift"] == pytest.approx(1.0 / (20 / 180))
    assert per_session.loc["pay", "error_follow_share"] == pytest.approx(15 / 80)


# -- real logs ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bpic2012():
    """bpic2012's COMPLETE events (one row per finished activity) as a log and as the frame it was built from."""
    frame = jl.read_xes(shared_file("process", "bpic2012.xes.gz")).to_pandas()
    if "lifecycle:transition" in frame:
        frame = frame[frame["lifecycle:transition"].astype(str).str.upper() == "COMPLETE"]
    frame = frame[["user_id", "timestamp", "event"]].astype({"user_id": str, "event": str}).reset_index(drop=True)
    return jl.from_pandas(frame, user="user_id", time="timestamp", event="event", duplicates="keep"), frame


BPIC_GOAL, BPIC_LOST = "A_APPROVED", ["A_DECLINED", "A_CANCELLED"]


def test_bpic2012_bank_decisions_are_outcomes_not_dropoffs(bpic2012):
    log, frame = bpic2012
    assert {BPIC_GOAL, *BPIC_LOST} <= set(log.event_names)
    before = dropoffs(log, BPIC_GOAL).to_frame()
    assert before["event"].iloc[0] == "A_DECLINED"  # a bank decision read as customers abandoning
    d = dropoffs(log, BPIC_GOAL, lost=BPIC_LOST)
    ref = reference(frame, [BPIC_GOAL], BPIC_LOST)
    outcome = ref.groupby("user_id")["outcome"].first().value_counts()
    s = d.summary.iloc[0]
    assert (s["converted"], s["lost"], s["dropped_off"], s["censored"]) == (
        outcome["converted"], outcome["lost"], outcome["dropped"], outcome["censored"])
    assert s["users"] == frame["user_id"].nunique()
    points = ref[ref["exit"]]["event"].value_counts()
    got = d.to_frame()
    assert got["event"].iloc[0] != "A_DECLINED" and not set(got["event"]) & {BPIC_GOAL, *BPIC_LOST}
    assert dict(zip(got["event"], got["users"])) == points.to_dict()
    assert got["event"].iloc[0] == points.index[0]


def test_bpic2012_roadblocks_never_list_outcomes(bpic2012):
    log, frame = bpic2012
    t = roadblocks(log, BPIC_GOAL, lost=BPIC_LOST).to_frame().set_index("event")
    assert not set(t.index) & {BPIC_GOAL, *BPIC_LOST}
    want = reference_roadblocks(reference(frame, [BPIC_GOAL], BPIC_LOST))
    assert sorted(t.index) == sorted(want.index)
    np.testing.assert_allclose(t.loc[want.index, "exit_lift"], want["exit_lift"], rtol=1e-12)
    np.testing.assert_allclose(t.loc[want.index, "conversion_rate"], want["conversion_rate"], rtol=1e-12)


def test_simple_onlineshop_roadblocks_rank_friction_not_traffic():
    df = pd.read_csv(shared_file("clickstream", "simple-onlineshop.csv.gz"))
    log = jl.from_pandas(df, duplicates="keep")
    frame = log.to_pandas()[["user_id", "timestamp", "event"]].astype({"user_id": str, "event": str})
    want = reference_roadblocks(reference(frame, ["payment_done"]))
    t = roadblocks(log, "payment_done").to_frame().set_index("event")
    np.testing.assert_allclose(t.loc[want.index, "exit_lift"], want["exit_lift"], rtol=1e-12)
    np.testing.assert_array_equal(t.loc[want.index, "visits"], want["visits"])
    # no error-like events here, so the exit lift alone ranks: the most friction first
    assert t.sort_values("rank").index[0] == want["exit_lift"].idxmax() == "payment_cash"
    assert t.loc["catalog", "rank"] > 3  # the busiest page leads to fewer exits per visit than payment_cash
    assert t.loc["payment_cash", "exit_lift"] > 2 > t.loc["catalog", "exit_lift"] > 1


def test_ecom_sessions_with_a_payment_error_rarely_purchase():
    path = shared_file("clickstream", "ecom.csv.gz")
    log = jl.read_csv(path)
    frame = log.to_pandas()[["user_id", "session_id", "timestamp", "event"]].astype(
        {"user_id": str, "session_id": str, "event": str})
    # the figures: sessions with payment_error purchase 12% of the time; after payment_details 42%
    bought = frame.groupby("session_id")["event"].agg(lambda e: (e == "purchase").any())
    with_error = frame.loc[frame["event"] == "payment_error", "session_id"].unique()
    assert bought[with_error].mean() == pytest.approx(0.12, abs=0.005)
    order = frame.assign(k=np.arange(len(frame)))
    first_details = order[order["event"] == "payment_details"].groupby("session_id")["k"].min()
    last_buy = order[order["event"] == "purchase"].groupby("session_id")["k"].max()
    assert (last_buy.reindex(first_details.index) > first_details).mean() == pytest.approx(0.42, abs=0.005)
    # ours: of the sessions that passed it on the way to their outcome (known), the share that then purchased
    ref = reference(frame.sort_values("session_id", kind="stable"), ["purchase"], journey="session_id")
    want = reference_roadblocks(ref, journey="session_id")
    t = roadblocks(log, "purchase", per="session").to_frame().set_index("event")
    np.testing.assert_allclose(t.loc[want.index, "conversion_rate"], want["conversion_rate"], rtol=1e-12)
    np.testing.assert_allclose(t.loc[want.index, "exit_lift"], want["exit_lift"], rtol=1e-12)
    np.testing.assert_array_equal(t.loc[want.index, "sessions"], want["journeys"])
    assert t.loc["payment_error", "rank"] == 1
    assert t.loc["payment_error", "conversion_rate"] < 0.1 and t.loc["payment_details", "conversion_rate"] > 0.6
    assert t.loc["payment_error", "exit_lift"] > 1.5 and t.loc["payment_details", "exit_lift"] < 1


def test_traffic_fines_collection_is_lost_and_time_to_payment_competes_with_it():
    df = pd.read_csv(shared_file("process", "traffic_fines.csv.gz"))
    log = jl.from_pandas(df[["case_id", "activity", "timestamp"]], user="case_id", event="activity", time="timestamp",
                         duplicates="keep")
    lost = ["Send for Credit Collection"]
    frame = log.to_pandas()[["user_id", "timestamp", "event"]].astype({"user_id": str, "event": str})
    ref = reference(frame, ["Payment"], lost)
    d = dropoffs(log, "Payment", lost=lost)
    assert "Send for Credit Collection" not in set(d.to_frame()["event"])
    assert dict(zip(d.to_frame()["event"], d.to_frame()["users"])) == ref[ref["exit"]]["event"].value_counts().to_dict()
    per_case = ref.groupby("user_id").agg(outcome=("outcome", "first"), first=("timestamp", "min"),
                                          terminal=("terminal_k", "first"))
    ended = per_case["outcome"].isin(["converted", "lost"]).to_numpy()
    stop = np.full(len(per_case), ref["timestamp"].max())
    stop[ended] = ref["timestamp"].to_numpy()[per_case["terminal"].to_numpy()[ended].astype(np.int64)]
    duration = (pd.DatetimeIndex(stop) - pd.DatetimeIndex(per_case["first"])).total_seconds().to_numpy()
    kind = per_case["outcome"].map({"converted": 1, "lost": 2}).fillna(0).astype(int).to_numpy()
    want = aalen_johansen_reference(duration, kind)
    got = time_to_convert(log, "Payment", lost=lost).to_frame()
    np.testing.assert_array_equal(got["time_s"].to_numpy(), want["d"].to_numpy())
    np.testing.assert_allclose(got["cumulative_conversion"].to_numpy(), want["conv"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(got["cumulative_loss"].to_numpy(), want["loss"].to_numpy(), rtol=1e-12)


def test_results_plot_and_show_escaped_html():
    rows = [(f"u{k}", m, e) for k in range(30) for m, e in ((0, "<b>home</b>"), (1, "pay"))]
    rows += [(f"u{k}", 2, "buy") for k in range(10)] + [(f"u{k}", 2, "declined") for k in range(10, 15)]
    log = _log(rows + [("z", 30 * DAY, "<b>home</b>")], tier=["gold"] * (len(rows) + 1))
    for result in (dropoffs(log, "buy", lost="declined", by="tier"), roadblocks(log, "buy", lost="declined", by="tier"),
                   time_to_convert(log, "buy", lost="declined", by="tier")):
        assert len(result.plot().data) >= 1
        assert "<b>home</b>" not in result._repr_html_()
    assert "&lt;b&gt;home&lt;/b&gt;" in roadblocks(log, "buy")._repr_html_()
    # a lost curve is drawn beside the conversion curve when journeys were lost
    assert len(time_to_convert(log, "buy", lost="declined").plot().data) == 2


@pytest.mark.parametrize("seed", [0, 1])
def test_the_time_to_convert_figure_draws_a_thinned_curve_within_one_bin(seed):
    from journeylens.outcomes.survival import visible_steps

    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.exponential(1.0, 200_000)) * rng.choice([1e-3, 1e3])
    y = np.cumsum(rng.random(len(x)) ** 8) / len(x)
    z = np.cumsum(rng.random(len(x)) < 0.01) / len(x)
    shown = visible_steps(x, y, z, points=500)
    assert shown[0] == 0 and shown[-1] == len(x) - 1 and len(shown) <= 3 * 501 + 2
    # every step of the full curve has a drawn point within one bin in x and in each y
    nearest = shown[np.clip(np.searchsorted(shown, np.arange(len(x))), 0, len(shown) - 1)]
    for v in (x, y, z):
        assert (np.abs(v[nearest] - v) <= (v.max() - v.min()) / 500 * (1 + 1e-9)).all()


def test_the_time_to_convert_figure_of_a_real_log_is_small_and_ends_where_the_curve_ends():
    log = jl.read_xes(shared_file("process", "bpic2012.xes.gz"))
    t = time_to_convert(log, "A_APPROVED", lost="A_DECLINED")
    trace = t.plot().data[0]
    curve = t.to_frame()
    assert len(trace.x) < len(curve) + 1 and len(trace.x) <= 3 * 2_001 + 2
    assert trace.y[-1] == curve["cumulative_conversion"].iloc[-1] and trace.x[-1] == curve["time_s"].iloc[-1] / 86_400
