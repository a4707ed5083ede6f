"""In-memory and engine-held logs agree on the same input, row for row.

The same Parquet file is read into memory (an EventLog, rules in ``io/build.py``)
and into the held DuckDB database (a TableLog, the same rules spelled in SQL,
``io/held.py``); both must accept the same rows with the same codes and instants,
quarantine the same rows for the same reasons, or fail with the same error. The
inputs are the whole bad-input corpus (the raw table every reader builds before
validation, stored as Parquet) and typed tables for what Parquet holds beyond
text: trimming, the timestamp syntax and range, epoch numbers, floats, decimals,
booleans, bytes, int96 timestamps, columns named like ours. A few run on Spark too.
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import journeylens as jl
from journeylens.engine import sql as dialect
from journeylens.io import files, xes
from journeylens.io.build import LoadOptions
from tests.bad_inputs.hostile import CASES as HOSTILE

CORPUS = Path(__file__).parent / "bad_inputs"
# pyspark 4.x warns that it does not fully support pandas 3
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning:pyspark")


def _load(reader, path, **options):
    try:
        return reader(path, **options)
    except jl.JourneyLensError as exc:
        return exc


def agree(path, spark=None, **options):
    """Read ``path`` both ways (and on Spark when given) and check that they agree; the memory log or its error."""
    mem = _load(jl.read_parquet, path, **options)
    held = [_load(jl.read_parquet, path, engine="duckdb", **options)]
    if spark is not None:
        held.append(_load(lambda p, **o: jl.from_spark(spark.read.parquet(str(p)), **o), path, **options))
    for other in held:
        if isinstance(mem, Exception) or isinstance(other, Exception):
            assert type(mem) is type(other), (mem, other)
            assert "\n" not in str(mem) and "\n" not in str(other)
            continue
        same_log(mem, other)
    return mem


def same_log(mem: jl.EventLog, held: jl.TableLog) -> None:
    assert (held.rows_read, held.rows_accepted, held.rows_quarantined) == \
           (mem.rows_read, len(mem), mem.rows_quarantined)
    q_mem = mem.quarantine[["source_row", "reason", "column"]].astype({"source_row": "int64"})
    q_held = held.quarantine_frame()[["source_row", "reason", "column"]]
    if held.engine == "spark":  # Spark numbers rows by its own ids: compare the reasons in source order
        assert q_held["reason"].tolist() == q_mem["reason"].tolist()
        assert q_held["column"].tolist() == q_mem["column"].tolist()
    else:
        assert q_held.values.tolist() == q_mem.values.tolist()
    assert [str(u) for u in held.users] == [str(u) for u in mem.users]
    assert [str(e) for e in held.event_names] == [str(e) for e in mem.event_names]
    codes = held.codes()
    np.testing.assert_array_equal(codes["u"].to_numpy(), mem.user_codes)
    np.testing.assert_array_equal(codes["t"].to_numpy(), mem.time_us)
    np.testing.assert_array_equal(codes["e"].to_numpy(), mem.event_codes)
    frame = mem.to_pandas()
    for role in held.levels:
        names = np.append(np.asarray(held.levels[role], dtype=object), None)
        got = names[codes[f"c_{role}"].to_numpy()]
        want = frame[role].astype(object).where(frame[role].notna(), None).to_numpy()
        assert got.tolist() == [None if w is None else str(w) for w in want], role
    if "session_id" in held.columns:
        got = dialect.run("SELECT session_id FROM f ORDER BY i", {"f": held.frame})["session_id"]
        want = frame["session_id"].astype(object).where(frame["session_id"].notna(), None)
        assert [None if g is None else str(g) for g in got] == want.tolist()
    assert held.parameters.get("time_unit") == mem.parameters.get("time_unit")


def write(tmp_path, name, columns, **kwargs):
    path = tmp_path / name
    table = columns if isinstance(columns, pa.Table) else pa.table(columns)
    pq.write_table(table, path, **kwargs)
    return path


# -- the whole bad-input corpus ------------------------------------------------------------------------


def raw_table(path: Path, options: dict) -> pd.DataFrame | None:
    """The table a reader builds from ``path`` before validation (None: the reader stops before)."""
    name, lower = str(path), path.name.lower()
    try:
        opts = LoadOptions.from_kwargs({k: v for k, v in options.items() if k not in ("sep", "encoding", "quote")},
                                       name)
        if lower.endswith((".xes", ".xes.gz")):
            return xes._read_frame(name, opts, "all")[0]
        if lower.endswith((".jsonl", ".jsonl.gz", ".json")):
            return files.jsonl_table(name, opts, None)["raw"]
        if lower.endswith((".parquet", ".pq")):
            return files.to_pandas(files._parquet_table(files.parquet_files(name), name))
        return files.csv_table(name, opts, options.get("sep"), None, '"')["raw"]
    except jl.JourneyLensError:
        return None


def as_parquet(raw: pd.DataFrame, path: Path) -> Path | None:
    """``raw`` stored as Parquet (columns Parquet cannot hold as they are, mixed JSON values, become text)."""
    arrays = []
    for k in range(raw.shape[1]):
        values = raw.iloc[:, k]
        try:
            arrays.append(pa.array(values, from_pandas=True))
        except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):
            try:
                arrays.append(pa.array(values.map(lambda v: None if v is None else str(v)), pa.string()))
            except (pa.ArrowInvalid, UnicodeEncodeError):  # lone surrogates: no file can hold them
                return None
    if not arrays:
        return None
    pq.write_table(pa.Table.from_arrays(arrays, names=[str(c) for c in raw.columns]), path)
    return path


def corpus_inputs(tmp_path: Path) -> list[tuple[str, Path, dict]]:
    """Every committed bad file and every generated hostile file, with its reader options."""
    from tests.test_bad_inputs import CASES

    out = [(n, CORPUS / n, dict(opts)) for n, (opts, _) in sorted(CASES.items())]
    for k, (name, case) in enumerate(sorted(HOSTILE.items())):
        folder = tmp_path / f"hostile{k}"
        folder.mkdir()
        args = case.make(folder)
        path = args.get("path")
        if path and os.path.isfile(path) and case.category != 1 and os.path.getsize(path) < 50 << 20:
            out.append((name, Path(path), dict(args.get("options", {}))))
    return out


def test_memory_and_held_agree_on_the_whole_corpus(tmp_path):
    compared = 0
    for name, path, options in corpus_inputs(tmp_path):
        if path.name.lower().endswith((".yaml", ".yml")) or path.suffix == ".json":
            continue
        raw = raw_table(path, options)
        if raw is None or not len(raw.columns):
            continue
        stored = as_parquet(raw, tmp_path / f"corpus{compared}.parquet")
        if stored is None:
            continue
        read_options = {k: v for k, v in options.items() if k not in ("sep", "encoding", "quote", "max_bytes")}
        try:
            agree(stored, **read_options)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None
        compared += 1
    assert compared >= 50


# -- typed inputs ---------------------------------------------------------------------------------------

TIMES = ["2024-03-01T10:00:00+01:00", "2024-03-01 10:00", " 2024-03-01T10:00:00Z ", "2024-03-01T10:00z",
         "2024-03-01T10+0130", "2024-03-01 10:00:00 -05:00", "2024-03-01T10:00:00.1234567Z", "2024-03-01",
         "epoch", "infinity", "now", "0000-01-01", "0001-01-01T00:30:00+01:00", "10000-01-01", "9999-12-31",
         "9999-12-31T23:30:00-01:00", "2024-03-01 24:00", "2024-03-01T10:00+25:00", "2024-03-01T10:00+23:59",
         "2024-02-29", "2023-02-29", "2024-13-01", "2024-03-01T10:60", "2024-03-01T10:00:60", "", "   ", None,
         "1500-06-01T12:00", "2024-3-1"]


def test_timestamp_syntax_and_range(tmp_path):
    n = len(TIMES)
    path = write(tmp_path, "times.parquet", {"user_id": [f"u{k % 3}" for k in range(n)],
                                             "timestamp": pa.array(TIMES, pa.string()),
                                             "event": [f"e{k}" for k in range(n)]})
    mem = agree(path)
    reasons = dict(zip(mem.quarantine["source_row"], mem.quarantine["reason"]))
    for k in (9, 10, 11, 14, 17, 18, 21, 22, 23, 24, 29):  # epoch, infinity, now, 10000, 24:00, +25:00, ...
        assert reasons[k] == "unparsable_time", (k, TIMES[k - 1])
    for k in (12, 13, 16):  # year 0, and offsets that leave the range
        assert reasons[k] == "out_of_range_time", (k, TIMES[k - 1])
    assert reasons[25] == reasons[26] == reasons[27] == "missing_time"
    assert len(mem) == n - len(reasons)
    agree(path, min_time="2024-01-01", max_time="2025-01-01")


def test_a_guessed_format_and_a_given_one(tmp_path):
    times = ["2014/10/22 11:15:41.000", "2014/10/22 11:27:00.5", "2014-10-22T11:30:00Z", "22/10/2014", "garbage"]
    path = write(tmp_path, "formats.parquet", {"user_id": ["a"] * 5, "timestamp": times, "event": list("vwxyz")})
    mem = agree(path)
    assert len(mem) == 3 and mem.quarantine["reason"].tolist() == ["unparsable_time", "unparsable_time"]
    dutch = ["22-10-2014 11:15", "3-11-2014 9:00", "31-02-2014 10:00", "Mon, 01 Jan 2024 10:00:00 +0100"]
    path = write(tmp_path, "dutch.parquet", {"user_id": ["a"] * 4, "timestamp": dutch, "event": list("wxyz")})
    assert len(agree(path, time_format="%d-%m-%Y %H:%M")) == 2
    assert len(agree(path, time_format="%a, %d %b %Y %H:%M:%S %z")) == 1
    days = ["05/01/2024 10:00", "13/01/2024 10:00"]
    path = write(tmp_path, "days.parquet", {"user_id": ["a"] * 2, "timestamp": days, "event": list("xy")})
    first = agree(path, dayfirst=True)
    assert first.to_pandas()["timestamp"].dt.month.tolist() == [1, 1]


def test_trimming_ids_events_and_levels(tmp_path):
    path = write(tmp_path, "spaces.parquet", {
        "user_id": [" u1", "u1\t", "\nu1 ", "  ", "u2\r\n", "\u00a0u3"],
        "timestamp": ["2024-01-01", "2024-01-02", " 2024-01-03\t", "2024-01-04", "2024-01-05", "2024-01-06"],
        "event": ["home ", " home", "home", "x", "\t", "home"],
        "channel": [" E-mail ", "web", "  ", None, "app", "web"],
        "device": ["\tios", "ios", "", "x", "y", "z"]})
    mem = agree(path)
    assert [str(u) for u in mem.users] == ["u1", "\u00a0u3"]  # only ASCII whitespace is trimmed, on every engine
    assert mem.quarantine["reason"].tolist() == ["missing_user", "missing_event"]


def test_epoch_numbers(tmp_path):
    ints = {"user_id": ["a", "a", "b", "b"], "event": list("wxyz"),
            "ts": pa.array([1709287200000, 1709287260000, None, 9223372036854775807], pa.int64())}
    mem = agree(write(tmp_path, "ms.parquet", ints))
    assert mem.parameters["time_unit"] == "ms" and mem.quarantine["reason"].tolist() == ["missing_time",
                                                                                         "out_of_range_time"]
    agree(write(tmp_path, "ns.parquet", {**ints, "ts": pa.array([1709287200123456789, -1709287200123456789, 0, 1],
                                                                   pa.int64())}), time_unit="ns")
    floats = {"user_id": list("aaaaa"), "event": list("vwxyz"),
              "ts": [1709287200.4999996, 1709287200.0000005, float("nan"), float("-inf"), -1.5e-6]}
    agree(write(tmp_path, "float.parquet", floats))
    agree(write(tmp_path, "float_ns.parquet", {**floats, "ts": [2500.0, -2500.0, 1500.0, float("nan"), 1.7e18]}),
          time_unit="ns")
    text = {"user_id": list("aaaa"), "event": list("wxyz"), "ts": ["1709287200", " 1709287260.5 ", "", None]}
    assert agree(write(tmp_path, "text.parquet", text)).parameters["time_unit"] == "s"
    mixed = {"user_id": list("aaa"), "event": list("xyz"), "ts": [1709287200, 1709287200000, 5]}
    assert isinstance(agree(write(tmp_path, "mixed.parquet", mixed)), jl.InputError)  # several units: ask
    assert len(agree(write(tmp_path, "mixed.parquet", mixed), time_unit="s")) == 2
    assert isinstance(agree(write(tmp_path, "bad_unit.parquet", mixed), time_unit="weeks"), jl.ParameterError)
    agree(write(tmp_path, "text_unit.parquet", {**text, "ts": ["1709287200", "soon", "", "12"]}), time_unit="s")


def test_ids_of_every_type(tmp_path):
    n = 6
    base = {"timestamp": [f"2024-01-0{k + 1}" for k in range(n)], "event": [f"e{k}" for k in range(n)]}
    for ids in ([1.0, 1e20, 1.5, float("nan"), -0.0, 2.0 ** 53],
                pa.array([1, None, -5, 2 ** 62, 0, 7], pa.int64()),
                pa.array([1, 2, 3, 2 ** 64 - 1, None, 0], pa.uint64()),
                pa.array([True, False, None, True, True, False]),
                pa.array([decimal.Decimal("5.00"), decimal.Decimal("5.5"), None, decimal.Decimal("-12"),
                          decimal.Decimal("1" * 30), decimal.Decimal("0.000")], pa.decimal128(38, 3)),
                pa.array([b"u1", b" u1 ", b"\xff", None, b"caf\xc3\xa9", b""], pa.binary())):
        agree(write(tmp_path, "ids.parquet", {"user_id": ids, **base}))
    events = pa.array([b"home", b"\xe9", b"caf\xc3\xa9", None, b" cart ", b"\xc3"], pa.binary())
    mem = agree(write(tmp_path, "events.parquet", {"user_id": ["u"] * n, "timestamp": base["timestamp"],
                                                   "event": events, "channel": events}))
    assert mem.summary()["quarantine_reasons"] == {"undecodable_text": 2, "missing_event": 1}
    # events and channels of numbers: integers are numbered by value on DuckDB, floats are not (-0.0 = 0.0)
    for names in (pa.array([3, None, -5, 3, 2 ** 62, 0], pa.int64()),
                  pa.array([1, 2, 1, 2 ** 64 - 1, None, 0], pa.uint64()), [0.0, -0.0, 1.0, float("nan"), 1.5, 0.0]):
        columns = {"user_id": ["u", "v"] * 3, "timestamp": base["timestamp"], "event": names, "channel": names}
        mem = agree(write(tmp_path, "number_events.parquet", columns))
        assert mem.rows_quarantined >= 1  # the missing event
    times = pa.array([b"2024-01-01", b" 2024-01-02T10:00Z", b"\xff", None, b"1709287200", b"soon"], pa.binary())
    mem = agree(write(tmp_path, "binary_times.parquet", {"user_id": ["u"] * n, "timestamp": times,
                                                         "event": base["event"]}))
    assert mem.summary()["quarantine_reasons"] == {"undecodable_text": 1, "missing_time": 1, "unparsable_time": 2}
    lists = pa.array([[1], [2, 3], None, [], [1], [4]], pa.list_(pa.int64()))
    agree(write(tmp_path, "lists.parquet", {"user_id": lists, **base}))
    times = pa.array([dt.datetime(2024, 1, 1)] * n, pa.timestamp("us"))
    assert isinstance(agree(write(tmp_path, "ts_user.parquet", {"user_id": times, **base})), jl.ColumnError)


def test_timestamp_columns_and_int96(tmp_path):
    far = [dt.datetime(3000, 1, 1), dt.datetime(1500, 6, 1, 12), None, dt.datetime(1677, 9, 21)]
    table = {"user_id": list("abcd"), "event": list("wxyz"), "timestamp": pa.array(far, pa.timestamp("us"))}
    agree(write(tmp_path, "int96.parquet", table, use_deprecated_int96_timestamps=True))
    agree(write(tmp_path, "us.parquet", table))
    seconds = pa.array([0, 253402300800, -62135596801, None], pa.timestamp("s"))  # 10000-01-01 and year 0: out
    mem = agree(write(tmp_path, "s.parquet", {**table, "timestamp": seconds}))
    assert mem.summary()["quarantine_reasons"] == {"out_of_range_time": 2, "missing_time": 1}
    aware = pa.array([dt.datetime(2024, 1, 1, 10)] * 4, pa.timestamp("ns", tz="Europe/Amsterdam"))
    agree(write(tmp_path, "aware.parquet", {**table, "timestamp": aware}))
    dates = pa.array([dt.date(2024, 1, 1), None, dt.date(1, 1, 1), dt.date(9999, 12, 31)], pa.date32())
    agree(write(tmp_path, "dates.parquet", {**table, "timestamp": dates}))


def test_columns_named_like_ours_and_options(tmp_path):
    columns = {"user_id": ["u1", None, "u2", "u2", "NA"], "timestamp": ["2024-01-01"] * 5,
               "event": ["a", "b", "c", "c", "d"], "reason": ["r"] * 5, "column": ["c"] * 5,
               "source_row": [9] * 5, "filename": ["f"] * 5, "_r": [1] * 5, "c0": ["x"] * 5, "i": [0] * 5,
               "raw_text": ["t"] * 5, "session": ["s1", "s1", " s2 ", "s2", None], "value": ["1.5", "x", " 2", None, "3"]}
    path = write(tmp_path, "ours.parquet", columns)
    for options in ({}, {"duplicates": "keep"}, {"duplicates": "drop"}, {"na_values": ["NA", "x"]},
                    {"strict": True}, {"session": False}):
        agree(path, **options)
    agree(write(tmp_path, "frn.parquet", {**columns, "file_row_number": [1, 2, 3, 4, 5]}))
    held = jl.read_parquet(path, engine="duckdb")
    assert {"reason_source", "column_source", "source_row_source", "raw_text_source", "filename", "_r", "c0"} <= \
        set(held.quarantine_frame().columns)


def test_exact_copies_among_good_and_bad_rows(tmp_path):
    """Copies of accepted rows (up to four of a row), of quarantined rows (which keep their own reason),
    rows that differ only by a space, a NULL or an extra column (not copies), and copies far apart in source order."""
    rng = np.random.default_rng(3)
    n = 400
    users = rng.choice(["a", "b", " a", None, ""], n, p=[.4, .3, .1, .1, .1])
    times = rng.choice(["2024-01-01 10:00", "2024-01-01 10:00:00", "soon", None, "2024-01-02"], n)
    events = rng.choice(["x", "y", None], n, p=[.5, .4, .1])
    notes = rng.choice(["n1", "n2", None], n)
    columns = {"user_id": users.tolist(), "timestamp": times.tolist(), "event": events.tolist(),
               "note": notes.tolist()}
    mem = agree(write(tmp_path, "copies.parquet", columns))
    reasons = mem.summary()["quarantine_reasons"]
    assert reasons["duplicate"] > 50 and reasons["missing_user"] > 10 and reasons["unparsable_time"] > 10
    # by hand: an accepted row is a copy when all four values equal an earlier accepted row's
    frame = pd.DataFrame(columns)
    bad = set(mem.quarantine.loc[mem.quarantine["reason"] != "duplicate", "source_row"].astype(int) - 1)
    good = frame.drop(index=sorted(bad))
    assert reasons["duplicate"] == int(good.astype(str).duplicated().sum())
    for option in ("keep", "drop"):
        agree(write(tmp_path, "copies.parquet", columns), duplicates=option)


@pytest.mark.slow
def test_spark_agrees_too(tmp_path):
    from journeylens.engine.backends.spark import session

    spark = session()
    n = len(TIMES)
    agree(write(tmp_path, "times.parquet", {"user_id": [f"u{k % 3}" for k in range(n)],
                                            "timestamp": pa.array(TIMES, pa.string()),
                                            "event": [f" e{k % 4}" for k in range(n)]}), spark=spark)
    agree(write(tmp_path, "ids.parquet", {"user_id": [1.0, 1e20, 1.5, float("nan"), 7.0],
                                          "timestamp": pa.array([1.7e9, 1.7e9 + 1, float("nan"), 1.7e9, 1.7e9]),
                                          "event": pa.array([b"a", b"\xe9", b" b", None, b"c"], pa.binary())}),
          spark=spark)
    agree(write(tmp_path, "formats.parquet", {"user_id": ["a"] * 3, "event": list("xyz"),
                                              "timestamp": ["2014/10/22 11:15:41.000", "2014-10-22", "junk"]}),
          spark=spark)
