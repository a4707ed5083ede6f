"""The validation pipeline every reader shares: mapping, quarantine, encoding, order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import journeylens as jl
from journeylens.errors import ColumnError, InputError, ParameterError, ValidationError
from journeylens.io.columns import resolve_roles


def frame(**cols) -> pd.DataFrame:
    return pd.DataFrame(cols)


def reconciled(log: jl.EventLog) -> bool:
    s = log.summary()
    return s["rows_read"] == s["rows_accepted"] + s["rows_quarantined"] == log.rows_read


def test_each_reason_is_recorded_with_source_row_and_original_values():
    df = frame(
        user_id=["a", None, "c", "d", "e", "a", "  "],
        timestamp=["2024-01-01 10:00", "2024-01-01", None, "yesterday", "2024-01-02", "2024-01-01 10:00", "2024-01-03"],
        event=["visit", "visit", "visit", "visit", "", "visit", "buy"],
    )
    log = jl.from_pandas(df)
    q = log.quarantine
    assert q[["source_row", "reason", "column"]].values.tolist() == [
        [2, "missing_user", "user_id"],
        [3, "missing_time", "timestamp"],
        [4, "unparsable_time", "timestamp"],
        [5, "missing_event", "event"],
        [6, "duplicate", "*"],
        [7, "missing_user", "user_id"],
    ]
    assert q.loc[2, "timestamp"] == "yesterday"  # original value kept as given
    assert len(log) == 1 and reconciled(log)


def test_bounds_quarantine_out_of_range_times():
    df = frame(user=["a", "a", "a"], time=["1970-01-01", "2024-05-01", "2999-01-01"], event=["x", "y", "z"])
    log = jl.from_pandas(df, min_time="2000-01-01", max_time="2030-01-01")
    assert log.quarantine["reason"].tolist() == ["out_of_range_time", "out_of_range_time"]
    assert log.to_pandas()["event"].tolist() == ["y"]


def test_duplicate_policies_and_strict():
    df = frame(user=["a", "a", "b"], time=["2024-01-01"] * 3, event=["x", "x", "x"])
    assert len(jl.from_pandas(df)) == 2
    assert len(jl.from_pandas(df, duplicates="keep")) == 3
    dropped = jl.from_pandas(df, duplicates="drop", strict=True)  # drop is expected: no error
    assert len(dropped) == 2 and dropped.quarantine["reason"].tolist() == ["duplicate"]
    with pytest.raises(ValidationError, match="duplicate: 1"):
        jl.from_pandas(df, strict=True)
    with pytest.raises(ValidationError, match="row 2 .missing_user"):
        jl.from_pandas(frame(user=["a", None], time=["2024-01-01"] * 2, event=["x", "y"]), strict=True)
    with pytest.raises(ParameterError, match="duplicates must be"):
        jl.from_pandas(df, duplicates="sometimes")


def test_order_is_user_time_then_source_row_and_codes_are_sorted_ids():
    df = frame(
        user=["b", "a", "b", "a", "a"],
        time=["2024-01-02", "2024-01-02", "2024-01-01", "2024-01-02", "2024-01-01"],
        event=["b2", "tie1", "b1", "tie2", "a1"],
    )
    log = jl.from_pandas(df)
    assert log.to_pandas()["event"].tolist() == ["a1", "tie1", "tie2", "b1", "b2"]  # ties keep file order
    assert list(log.users) == ["a", "b"]
    assert log.user_codes.tolist() == [0, 0, 0, 1, 1]
    assert list(log.event_names) == sorted(["a1", "b1", "b2", "tie1", "tie2"])
    assert log.to_pandas(source_row=True)["source_row"].tolist() == [5, 2, 4, 3, 1]


def test_ids_are_text_and_integer_floats_lose_their_point():
    df = frame(user=[1.0, 2.0, np.nan], time=["2024-01-01"] * 3, event=[10, 20, 30])
    log = jl.from_pandas(df)
    assert list(log.users) == ["1", "2"] and list(log.event_names) == ["10", "20"]


def test_extra_columns_are_kept_and_name_clashes_renamed():
    df = frame(customer=["a"], created_at=["2024-01-01"], action=["x"], timestamp=["ignored"], campaign=["spring"])
    log = jl.from_pandas(df, user="customer", time="created_at", event="action")
    out = log.to_pandas()
    assert out["campaign"].tolist() == ["spring"]
    assert out["timestamp_source"].tolist() == ["ignored"]
    assert log.roles == {"user": "customer", "time": "created_at", "event": "action"}


def test_channels_are_normalised_and_unknown_kept():
    df = frame(
        user=list("abcdef"),
        time=["2024-01-01"] * 6,
        event=["x"] * 6,
        channel=["E-mail", "e-mail", "Newsletter", "Website", "Carrier pigeon", None],
    )
    out = jl.from_pandas(df, channel_aliases={"carrier pigeon": "post"}).to_pandas()
    assert out["channel"].tolist()[:5] == ["email", "email", "email", "web", "post"]
    assert pd.isna(out["channel"].iloc[5])
    assert jl.from_pandas(df).to_pandas()["channel"].iloc[4] == "Carrier pigeon"


def test_column_detection_prefers_xes_names_and_reports_ambiguity():
    roles = resolve_roles(["case:concept:name", "concept:name", "Activity", "time:timestamp", "case_id"], {}, "f")
    assert roles == {"user": "case:concept:name", "event": "concept:name", "time": "time:timestamp"}
    with pytest.raises(ColumnError, match=r"several columns could be the user: 'user_id', 'customer_id'"):
        resolve_roles(["user_id", "customer_id", "timestamp", "event"], {}, "f.csv")
    with pytest.raises(ColumnError, match=r"f.csv: cannot tell which column is the event; pass event=… \(available columns: 'who', 'when', 'what'\)"):
        resolve_roles(["who", "when", "what"], {"user": "who", "time": "when"}, "f.csv")
    assert resolve_roles(["case_id", "activity", "timestamp"], {}, "f")["user"] == "case_id"  # case_id ~ caseid
    with pytest.raises(ColumnError, match="is the delimiter right"):
        resolve_roles(["user;time;event"], {}, "f.csv")
    with pytest.raises(jl.ParameterError, match="user='nope' is not a column of f.csv"):
        resolve_roles(["a", "b"], {"user": "nope"}, "f.csv")


def test_optional_role_can_be_switched_off():
    df = frame(user=["a"], time=["2024-01-01"], event=["x"], channel=["web"])
    log = jl.from_pandas(df, channel=False)
    assert "channel" not in log.roles and log.to_pandas()["channel"].tolist() == ["web"]


def test_unknown_options_and_non_frames_fail_cleanly():
    with pytest.raises(ParameterError, match="unknown option"):
        jl.from_pandas(frame(user=["a"], time=["2024-01-01"], event=["x"]), gapp="1h")
    with pytest.raises(ParameterError, match="expects a pandas DataFrame"):
        jl.from_pandas([1, 2, 3])


@pytest.mark.parametrize("options, message", [
    ({"min_time": "now"}, "min_time='now' depends on when the job runs"),
    ({"max_time": "today"}, "max_time='today' depends on when the job runs"),
    ({"max_time": 5}, "max_time=5 is not a point in time"),
    ({"channel_aliases": ["web"]}, "channel_aliases must be a mapping"),
    ({"channel_aliases": {"web": 3}}, "spellings and channels are texts"),
    ({"na_values": 3}, "na_values must be a text or a list of texts"),
    ({"time_unit": "weeks"}, "time_unit must be one of"),
    ({"time_format": "%Y-%j"}, "directive %j is not supported"),
    ({"tz": "Mars/Olympus"}, "unknown time zone"),
    ({"strict": "yes"}, "strict must be True or False"),
    ({"max_columns": 0}, "max_columns must be an integer of at least 1"),
    ({"user": 3}, "user= must name a column"),
    ({"user": "user", "session": "user"}, "column 'user' is given for both user= and session="),
])
def test_options_are_checked_once_at_the_boundary(options, message):
    with pytest.raises(ParameterError, match=message) as info:
        jl.from_pandas(frame(user=["a"], time=["2024-01-01"], event=["x"]), **options)
    assert "\n" not in str(info.value)


def test_one_text_rule_for_ids_and_names():
    df = pd.DataFrame({"user": pd.array([1, "1", 1.0, 1.5, 1e20, True, b"caf\xc3\xa9", b"\xe9", [1], None, " 7 "],
                                        dtype=object),
                       "time": pd.date_range("2024-01-01", periods=11, freq="h", tz="UTC").astype(str),
                       "event": ["e"] * 11})
    log = jl.from_pandas(df)
    assert list(log.users) == ["1", "7", "café", "true"]  # 1, "1" and 1.0 are one user
    by_row = dict(zip(log.quarantine["source_row"], log.quarantine["reason"]))
    assert by_row == {4: "invalid_user", 5: "invalid_user", 8: "undecodable_text", 9: "invalid_user",
                      10: "missing_user"}
    assert reconciled(log)
    floats = jl.from_pandas(frame(user=[2.0 ** 53, 2.0 ** 53 - 1, -0.0], time=["2024-01-01"] * 3, event=["x"] * 3))
    assert list(floats.users) == ["0", "9007199254740991"]  # 2**53 and beyond: no longer exact
    assert floats.quarantine["reason"].tolist() == ["invalid_user"]


def test_only_empty_values_are_missing_unless_na_values_says_more():
    df = frame(user=["NA", "n/a", "", "NULL", "ZA"], time=["2024-01-01"] * 5, event=["x", "y", "z", "w", "NA"])
    assert list(jl.from_pandas(df).users) == ["NA", "NULL", "ZA", "n/a"]
    log = jl.from_pandas(df, na_values=["NA", "n/a"])
    assert list(log.users) == ["NULL"] and log.summary()["quarantine_reasons"] == {"missing_user": 3,
                                                                                  "missing_event": 1}
    assert log.parameters["na_values"] == ["NA", "n/a"]


def test_source_columns_named_like_the_quarantines_own():
    df = frame(user=["a", None], time=["2024-01-01"] * 2, event=["x", "y"], reason=["r1", "r2"],
               column=["c1", "c2"], source_row=[10, 11], raw_text=["t1", "t2"])
    log = jl.from_pandas(df)
    q = log.quarantine
    assert q.columns.tolist()[:3] == ["source_row", "reason", "column"]
    assert q[["reason", "reason_source", "column_source", "source_row_source", "raw_text_source"]].values.tolist() \
        == [["missing_user", "r2", "c2", 11, "t2"]]
    assert {"reason", "column", "source_row_source", "raw_text"} <= set(log.to_pandas().columns)


def test_lone_surrogates_are_quarantined_where_they_are():
    df = pd.DataFrame({"user": ["a", "b", "c"], "time": ["2024-01-01"] * 3, "event": ["x", "y", "z"],
                       "note": ["ok", "\ud800", None]}, dtype=object)
    log = jl.from_pandas(df)
    assert log.quarantine[["source_row", "reason", "column"]].values.tolist() == [[2, "undecodable_text", "note"]]
    assert log.quarantine["note"].tolist() == ["\ufffd"]  # shown, and writable


def test_log_is_immutable():
    log = jl.from_pandas(frame(user=["a"], time=["2024-01-01"], event=["x"]))
    with pytest.raises(Exception):
        log.source = "other"  # type: ignore[misc]
    with pytest.raises(ValueError):
        log.user_codes[0] = 5
    copy = log.to_pandas()
    copy.loc[0, "timestamp"] = pd.Timestamp("2000-01-01", tz="UTC")
    assert log.to_pandas()["timestamp"].iloc[0] == pd.Timestamp("2024-01-01", tz="UTC")


def test_html_repr_escapes_names():
    log = jl.from_pandas(frame(user=["<b>x</b>"], time=["2024-01-01"], event=["<script>alert(1)</script>"]))
    html = log._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_read_sql_from_duckdb_relation_and_query():
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE TABLE ev AS SELECT * FROM (VALUES ('u1', TIMESTAMPTZ '2024-01-01 10:00:00+02', 'a'), "
                "('u1', TIMESTAMPTZ '2024-01-01 09:30:00+00', 'b'), (NULL, TIMESTAMPTZ '2024-01-01', 'c')) t(user_id, ts, event)")
    log = jl.read_sql(con, "SELECT * FROM ev")
    assert log.to_pandas()["event"].tolist() == ["a", "b"]  # 08:00 UTC before 09:30 UTC
    assert log.quarantine["reason"].tolist() == ["missing_user"]
    assert len(jl.read_sql(con.sql("SELECT * FROM ev WHERE event = 'a'"))) == 1
    with pytest.raises(InputError, match="SQL query failed"):
        jl.read_sql(con, "SELECT * FROM missing_table")


rows = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", None]),
        st.one_of(
            st.none(),
            st.just("garbage"),
            st.integers(0, 10_000).map(lambda s: str(pd.Timestamp("2024-01-01") + pd.Timedelta(seconds=s))),
        ),
        st.sampled_from(["x", "y", "", None]),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(rows, st.randoms())
def test_reconciliation_and_order_independence(data, rnd):
    df = pd.DataFrame(data, columns=["user", "time", "event"])
    log = jl.from_pandas(df)
    other = jl.from_pandas(df.sample(frac=1, random_state=rnd.randint(0, 10**6)))
    assert reconciled(log) and reconciled(other)
    a, b = log.to_pandas().astype(str), other.to_pandas().astype(str)
    # Same (user, time) order; events tied on (user, time) keep their file order, so compare those as multisets.
    assert a[["user_id", "timestamp"]].values.tolist() == b[["user_id", "timestamp"]].values.tolist()
    assert sorted(a.values.tolist()) == sorted(b.values.tolist())
    assert sorted(log.quarantine["reason"]) == sorted(other.quarantine["reason"])


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5_000), st.integers(1, 3_000), st.floats(0, 0.3), st.randoms(use_true_random=False))
def test_text_codes_agree_with_pandas_for_few_and_many_distinct_values(n, distinct, missing, rnd):
    # few distinct values go through Arrow's dictionary encoding, many through the engine's join:
    # either way each row's code names its trimmed text in sorted labels, and missing is -1
    from journeylens.io.encode import text_codes

    pool = [f" id{k} " if k % 7 == 0 else f"id{k}" for k in range(distinct)]
    values = [None if rnd.random() < missing else rnd.choice(pool) for _ in range(n)]
    column = pd.Series(values, dtype="string[pyarrow]")
    codes, labels = text_codes(column)
    expected = column.str.strip()
    assert list(labels) == sorted(expected.dropna().unique())
    got = pd.Series(np.append(np.asarray(labels, dtype=object), None)[codes])  # code -1: the extra None
    assert got.isna().tolist() == expected.isna().tolist()
    assert got.dropna().tolist() == expected.dropna().tolist()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(st.characters(blacklist_categories=["Cs"]), max_size=4)), max_size=60))
def test_sorted_codes_order_any_text_by_code_point_as_python_does(values):
    # the engine sorts the distinct values: its order must be Python's (code points), repeats share a code
    from journeylens.io.encode import sorted_codes

    codes, labels = sorted_codes(pd.Series(values, dtype="string[pyarrow]"))
    assert list(labels) == sorted({v for v in values if v is not None})
    assert [None if c < 0 else labels[c] for c in codes] == values
