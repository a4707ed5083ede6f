"""CSV, Parquet and JSON-lines readers on small hand-built files."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest

import journeylens as jl


def _check(log):
    s = log.summary()
    assert s["rows_read"] == s["rows_accepted"] + s["rows_quarantined"]
    return s


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed_and_ids_keep_leading_zeros(tmp_path, sep):
    path = tmp_path / "e.csv"
    path.write_text(sep.join(["id", "ts", "what"]) + "\n" + sep.join(["007", "2024-01-01 10:00", "a"]) + "\n"
                    + sep.join(["0070", "2024-01-01 11:00", "b"]) + "\n")
    log = jl.read_csv(path, user="id", time="ts", event="what")
    assert sorted(log.to_pandas()["user_id"].astype(str)) == ["007", "0070"]
    assert log.parameters["csv"]["sep"] == sep
    _check(log)


def test_gzip_latin1_and_malformed_rows(tmp_path):
    text = "user_id,timestamp,event\nu1,2024-01-01,caf\xe9\nu1,2024-01-02,a,EXTRA\nu2,2024-01-03,b\n"
    path = tmp_path / "e.dat"
    path.write_bytes(gzip.compress(text.encode("latin-1")))
    log = jl.read_csv(path)
    s = _check(log)
    assert (s["rows_read"], s["rows_accepted"], s["quarantine_reasons"]) == (3, 2, {"malformed_row": 1})
    assert log.quarantine["source_row"].tolist() == [2]
    assert "café" in set(log.to_pandas()["event"].astype(str))
    assert log.parameters["csv"]["encoding"] == "cp1252"


def test_only_empty_fields_are_missing_unless_na_values_says_more(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text('user_id,timestamp,event,note\nNA,2024-01-01,a,NA\n"NA",2024-01-01,b,\n,2024-01-01,c,x\n')
    log = jl.read_csv(path)
    s = _check(log)
    assert (s["rows_accepted"], s["quarantine_reasons"]) == (2, {"missing_user": 1})  # Namibia's "NA" is a user
    assert log.to_pandas()["note"].tolist()[0] == "NA"
    s = _check(jl.read_csv(path, na_values="NA"))  # one rule, quoted or not
    assert (s["rows_accepted"], s["quarantine_reasons"]) == (0, {"missing_user": 3})


def _csv(tmp_path, data: bytes | str, name: str = "e.csv"):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def test_encoding_is_decided_with_evidence(tmp_path):
    utf8 = "user_id,timestamp,event\nu1,2024-01-01,café\nu2,2024-01-01,crème brûlée\n".encode()
    one_latin1 = utf8 + "u3,2024-01-02,caf\xe9\n".encode("latin-1")
    log = jl.read_csv(_csv(tmp_path, one_latin1))
    assert sorted(log.to_pandas()["event"].astype(str)) == ["café", "crème brûlée"]  # not "cafÃ©"
    assert log.quarantine[["source_row", "reason", "column"]].values.tolist() == [[3, "undecodable_text", "event"]]
    assert log.quarantine["event"].tolist() == ["caf\ufffd"]
    assert log.parameters["csv"] == {"sep": ",", "encoding": "utf-8", "utf8_characters": 4, "invalid_bytes": 1}
    latin1 = "user_id,timestamp,event\nu1,2024-01-01,café\nu2,2024-01-01,Ölgemälde\n".encode("latin-1")
    log = jl.read_csv(_csv(tmp_path, latin1))
    assert sorted(log.to_pandas()["event"].astype(str)) == ["café", "Ölgemälde"]
    assert log.parameters["csv"]["encoding"] == "cp1252"
    log = jl.read_csv(_csv(tmp_path, b"user_id,timestamp,event\nu1,2024-01-01,\x80\x81\n"))
    assert log.to_pandas()["event"].tolist() == ["\u20ac\x81"]  # cp1252's euro; 0x81, undefined there, as latin-1
    forced = jl.read_csv(_csv(tmp_path, one_latin1), encoding="ascii")
    assert forced.summary()["quarantine_reasons"] == {"undecodable_text": 3} and len(forced) == 0


def test_line_ends_header_and_quotes(tmp_path):
    rows = ["user_id,timestamp,event", "u1,2024-01-01,a", "u1,2024-01-02,b"]
    for end in ("\n", "\r\n", "\r"):
        assert len(jl.read_csv(_csv(tmp_path, end.join(rows) + end))) == 2
    wide = "user_id,timestamp,event," + "x" * 300_000 + "\nu1,2024-01-01,a,n\n"
    assert jl.read_csv(_csv(tmp_path, wide)).to_pandas()["x" * 300_000].tolist() == ["n"]
    with pytest.raises(jl.InputError, match="no line end in the first 1 MiB"):
        jl.read_csv(_csv(tmp_path, "user_id," + "y" * (2 << 20)))
    quoted = 'user_id,timestamp,event\nu1,2024-01-01,"a ""b"", c\nd"\nu1,2024-01-02,b\n'
    assert jl.read_csv(_csv(tmp_path, quoted)).to_pandas()["event"].tolist() == ['a "b", c\nd', "b"]
    stray = "\n".join(rows[:2] + ['u1,2024-01-02,"b'] + rows[1:] * 3) + "\n"
    with pytest.raises(jl.InputError, match=r"e.csv: line 3: a quoted field runs over 6 line\(s\) that look like "
                                            r"rows \(an unbalanced quote\?\).*quote=None"):
        jl.read_csv(_csv(tmp_path, stray))
    log = jl.read_csv(_csv(tmp_path, stray), quote=None, duplicates="keep")
    assert len(log) == 8 and log.to_pandas()["event"].tolist().count('"b') == 1
    with pytest.raises(jl.ParameterError, match="quote must be one character"):
        jl.read_csv(_csv(tmp_path, stray), quote="''")


def test_only_regular_files_are_read(tmp_path):
    import os

    fifo = tmp_path / "events.csv"
    os.mkfifo(fifo)
    for reader in (jl.read, jl.read_csv, jl.read_jsonl, jl.read_xes):
        with pytest.raises(jl.InputError, match="not a regular file \\(a FIFO\\)"):
            reader(fifo)
    with pytest.raises(jl.InputError, match="character device"):
        jl.read_csv("/dev/zero")


def test_max_bytes_bounds_what_a_gzip_file_may_inflate_to(tmp_path):
    body = ("user_id,timestamp,event\n" + "u1,2024-01-01,a\n" * 50_000).encode()
    path = _csv(tmp_path, gzip.compress(body), "e.csv.gz")
    assert len(jl.read_csv(path, duplicates="keep")) == 50_000  # 800 kB from 3 kB: under the default bound
    with pytest.raises(jl.InputError, match=r"decompresses to more than 100,000 bytes.*max_bytes"):
        jl.read_csv(path, max_bytes=100_000)
    with pytest.raises(jl.InputError, match="larger than max_bytes=1,000"):
        jl.read_csv(_csv(tmp_path, body), max_bytes=1_000)


def test_paths_with_brackets_are_files_when_they_exist(tmp_path):
    frame = pd.DataFrame({"user_id": ["a"], "timestamp": ["2024-01-01"], "event": ["x"]})
    frame.to_csv(tmp_path / "events[1].csv", index=False)
    frame.to_parquet(tmp_path / "part[1].parquet")
    assert len(jl.read(tmp_path / "events[1].csv")) == 1
    assert len(jl.read(tmp_path / "part[1].parquet")) == 1
    assert len(jl.read_parquet(tmp_path / "part[1].parquet", engine="duckdb")) == 1
    with pytest.raises(jl.InputError, match="no file matches"):
        jl.read(str(tmp_path / "nothing[0-9].parquet"))


def test_int96_timestamps_far_from_today(tmp_path):
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    times = [dt.datetime(3000, 1, 1), dt.datetime(1500, 6, 1, 12)]
    path = tmp_path / "legacy.parquet"
    pq.write_table(pa.table({"user_id": ["a", "b"], "timestamp": pa.array(times, pa.timestamp("us")),
                             "event": ["x", "y"]}), path, use_deprecated_int96_timestamps=True)
    for engine in ("memory", "duckdb"):
        log = jl.read_parquet(path, engine=engine)
        us = log.time_us if engine == "memory" else log.codes()["t"].to_numpy()
        assert us.tolist() == [(t - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1) for t in times]


def test_parquet_file_folder_and_glob(tmp_path):
    frame = pd.DataFrame({"user_id": ["a", "a", "b"], "timestamp": pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC"),
                          "event": ["x", "y", "x"]})
    folder = tmp_path / "parts"
    folder.mkdir()
    frame.iloc[:2].to_parquet(folder / "p1.parquet")
    frame.iloc[2:].to_parquet(folder / "p2.parquet")
    assert len(jl.read_parquet(folder)) == 3
    assert len(jl.read_parquet(str(folder / "*.parquet"))) == 3
    assert len(jl.read_parquet(folder / "p1.parquet")) == 2
    with pytest.raises(jl.InputError, match="no file matches"):
        jl.read_parquet(str(folder / "*.nothing"))


def test_parquet_names_read_as_categories_give_the_log_and_quarantine_of_plain_pages(tmp_path):
    """Event names and channels with few values are read from their dictionary pages; ids with many
    are not. The log and the quarantine equal those of the same rows written without dictionaries."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from journeylens.io.build import LoadOptions
    from journeylens.io.files import check_parquet, few_values

    rng = np.random.default_rng(3)
    n = 60_000
    events = np.array(["view", " view ", "cart", "", "buy", "NA"], dtype=object)[rng.integers(0, 6, n)]
    events[rng.random(n) < 0.01] = None
    table = pa.table({
        "user_id": [f"u{k:06d}" for k in rng.integers(0, 30_000, n)],
        "timestamp": pa.array(rng.integers(0, 10**12, n) // 10**6 * 10**6, pa.timestamp("us", "UTC")),
        "event": pa.array(events, pa.string()),
        "channel": pa.array(np.array(["web", "Email", "sms"], dtype=object)[rng.integers(0, 3, n)], pa.string()),
        "note": pa.array(np.array(["a", "b"], dtype=object)[rng.integers(0, 2, n)], pa.string()),
    })
    table = pa.concat_tables([table, table.slice(0, 50)])  # exact copies: duplicates
    paged, plain = tmp_path / "paged.parquet", tmp_path / "plain.parquet"
    pq.write_table(table, paged, row_group_size=20_000)
    pq.write_table(table, plain, row_group_size=20_000, use_dictionary=False)
    for path, expected in ((str(paged), ["channel", "event"]), (str(plain), [])):
        assert few_values(check_parquet([path], path, None), path, LoadOptions()) == expected
    a, b = jl.read_parquet(paged, na_values=["NA"]), jl.read_parquet(plain, na_values=["NA"])
    pd.testing.assert_frame_equal(a.to_pandas(source_row=True), b.to_pandas(source_row=True))
    pd.testing.assert_frame_equal(a.quarantine_frame(), b.quarantine_frame())
    assert set(a.quarantine_frame()["reason"]) == {"missing_event", "duplicate"}
    assert a.to_pandas()["note"].dtype == b.to_pandas()["note"].dtype != "category"


def test_jsonl_lines_end_at_lf_only_and_ids_follow_one_rule(tmp_path):
    lines = [{"user_id": 1, "timestamp": "2024-01-01", "event": "a\u2028b"},
             {"user_id": "1", "timestamp": "2024-01-02", "event": "c\u2029d"},
             {"user_id": 1.0, "timestamp": "2024-01-03", "event": "e\u0085f"},
             {"user_id": 1.5, "timestamp": "2024-01-04", "event": "g"},
             {"user_id": True, "timestamp": "2024-01-05", "event": "h"}]
    path = tmp_path / "e.jsonl"
    path.write_text("\r\n".join(json.dumps(r, ensure_ascii=False) for r in lines) + "\n", encoding="utf-8")
    log = jl.read_jsonl(path)
    assert list(log.users) == ["1", "true"]
    assert log.to_pandas()["event"].tolist() == ["a\u2028b", "c\u2029d", "e\u0085f", "h"]
    assert log.quarantine[["source_row", "reason"]].values.tolist() == [[4, "invalid_user"]]


def test_jsonl_bad_lines_and_keys(tmp_path):
    path = tmp_path / "e.jsonl"
    good = json.dumps({"user_id": "u", "timestamp": "2024-01-01", "event": "a"})
    path.write_bytes(b"\n".join([good.encode(), b'{"user_id": "u", "event": "a", "event": "b"}',
                                  b'{"user_id": "caf\xe9", "timestamp": "2024-01-01", "event": "x"}',
                                  ('{"x": ' + "[" * 5000 + "]" * 5000 + "}").encode(),
                                  ('{"x": ' + '{"y": ' * 70 + "1" + "}" * 71).encode(), b"[1, 2]"]))
    log = jl.read_jsonl(path)
    assert log.quarantine[["source_row", "reason", "column"]].values.tolist() == [
        [2, "malformed_row", "event"], [3, "undecodable_text", "*"], [4, "malformed_row", "*"],
        [5, "malformed_row", "*"], [6, "malformed_row", "*"]]
    assert len(log) == 1 and _check(log)
    path.write_text(good + "\n" + json.dumps({"user_id": "u", "timestamp": "2024-01-02", "event": "b",
                                               "ctx": {"a.b": 1}}) + "\n" + json.dumps({"ctx.a": {"b": 2}}) + "\n")
    with pytest.raises(jl.ColumnError, match=r"column 'ctx.a.b' comes from nested keys 'ctx' → 'a.b' \(line 2\) "
                                             r"and from nested keys 'ctx.a' → 'b' \(line 3\); rename one"):
        jl.read_jsonl(path)
    path.write_text("\n".join(json.dumps({"user_id": "u", "timestamp": "2024-01-01", "event": "e", f"k{k}": 1})
                              for k in range(30)))
    with pytest.raises(jl.ColumnError, match="more than max_columns=20 distinct keys"):
        jl.read_jsonl(path, max_columns=20)


def test_jsonl_flattens_objects_and_numbers_lines(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text('{"user_id": "u", "timestamp": "2024-01-01", "event": "a", "ctx": {"channel": "web"}}\n\n'
                    "[1]\n"
                    '{"user_id": "u", "timestamp": "2024-01-02", "event": "b", "ctx": {"channel": "app"}}\n')
    log = jl.read_jsonl(path, channel="ctx.channel")
    s = _check(log)
    assert s["rows_accepted"] == 2 and log.quarantine["source_row"].tolist() == [2]
    assert log.to_pandas()["channel"].astype(str).tolist() == ["web", "app"]
