"""CSV, Parquet and JSON-lines readers on small hand-built files."""

from __future__ import annotations

import gzip

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


def test_quoted_null_marker_is_text_but_bare_one_is_missing(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text('user_id,timestamp,event\nNA,2024-01-01,a\n"NA",2024-01-01,b\n')
    s = _check(jl.read_csv(path))
    assert (s["rows_accepted"], s["quarantine_reasons"]) == (1, {"missing_user": 1})


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


def test_jsonl_flattens_objects_and_numbers_lines(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text('{"user_id": "u", "timestamp": "2024-01-01", "event": "a", "ctx": {"channel": "web"}}\n\n'
                    "[1]\n"
                    '{"user_id": "u", "timestamp": "2024-01-02", "event": "b", "ctx": {"channel": "app"}}\n')
    log = jl.read_jsonl(path, channel="ctx.channel")
    s = _check(log)
    assert s["rows_accepted"] == 2 and log.quarantine["source_row"].tolist() == [2]
    assert log.to_pandas()["channel"].astype(str).tolist() == ["web", "app"]
