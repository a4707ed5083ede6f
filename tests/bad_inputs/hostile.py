"""Hostile inputs, generated at test time (big and bomb files are never committed), one case each.

Every case names the category of issue 15 §2 it probes (1 bounded memory, 2 never
hang, 3 no raw exception, 4 no silently wrong result, 5 in-memory and held agree,
6 output safety, 7 design weaknesses), writes its input into a folder (``make``,
run by the test), and calls journeylens on it (``call``, run by the watchdog in a
child process under a time and a memory limit). The expectation is a one-line
:class:`~journeylens.JourneyLensError` of a given class whose message matches a
pattern, or a result that reconciles (rows read = accepted + quarantined) and
passes the case's own checks.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import journeylens as jl

HEAD = "user_id,timestamp,event,channel\n"
ROWS = ["u1,2024-03-01T10:00:00Z,home,web\n", "u1,2024-03-01T10:05:00Z,cart,web\n", "u2,2024-03-02T08:00:00Z,home,app\n"]


@dataclass(frozen=True)
class Case:
    category: int
    make: Callable[[Path], dict[str, Any]]
    call: Callable[[dict[str, Any]], Any]
    error: str | None = None  # class name of the expected JourneyLensError; None: the call succeeds
    match: str = ""
    check: Callable[[Any, dict[str, Any]], None] | None = None
    seconds: float = 60.0
    memory_mb: float = 800.0
    cli: bool = False  # also run ``journeylens analyze`` on args["path"]


CASES: dict[str, Case] = {}


def case(name: str, category: int, **kwargs: Any) -> Callable[[Callable[[Path], dict]], Callable]:
    def register(make: Callable[[Path], dict]) -> Callable:
        CASES[name] = Case(category=category, make=make, **kwargs)
        return make
    return register


def read(args: dict[str, Any]) -> Any:
    return jl.read(args["path"], **args.get("options", {}))


def read_held(args: dict[str, Any]) -> Any:
    return jl.read_parquet(args["path"], engine="duckdb", **args.get("options", {}))


def write(folder: Path, name: str, data: bytes | str, **options: Any) -> dict[str, Any]:
    path = folder / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return {"path": str(path), "options": options}


def gzip_members(block: bytes, times: int) -> bytes:
    """``block`` repeated ``times`` times as concatenated gzip members: GiBs of output from a small file."""
    return gzip.compress(block, compresslevel=9) * times


def parquet(folder: Path, name: str, columns: dict[str, Any], **options: Any) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / name
    pq.write_table(pa.table(columns), path)
    return {"path": str(path), "options": options}


def fifo(folder: Path, name: str, **options: Any) -> dict[str, Any]:
    path = folder / name
    os.mkfifo(path)
    return {"path": str(path), "options": options}


def ensure(condition: bool, detail: Any) -> None:
    if not condition:
        raise AssertionError(detail)


def reasons(expected: dict[str, int], accepted: int | None = None) -> Callable[[Any, dict], None]:
    def check(log: Any, args: dict) -> None:
        got = log.summary()["quarantine_reasons"]
        assert got == expected, got
        if accepted is not None:
            assert len(log) == accepted, len(log)
    return check


# -- 1. memory bounded by the work, not by the input's shape -------------------------------------------


@case("gzip_nul_bomb.csv.gz", 1, call=read, error="InputError", match="binary", cli=True)
def _(folder: Path) -> dict:
    return write(folder, "gzip_nul_bomb.csv.gz", gzip_members(b"\0" * (1 << 20), 4096))  # 4 GiB of NUL


@case("gzip_rows_bomb.csv.gz", 1, call=read, error="InputError", match="decompresses to more than.*max_bytes",
      cli=True)
def _(folder: Path) -> dict:
    block = (ROWS[0] * ((1 << 20) // len(ROWS[0]))).encode()
    return write(folder, "gzip_rows_bomb.csv.gz", gzip.compress(HEAD.encode()) + gzip_members(block, 1024))  # 1 GiB


@case("gzip_rows_max_bytes.csv.gz", 1, call=read, error="InputError", match=r"max_bytes")
def _(folder: Path) -> dict:
    return write(folder, "gzip_rows_max_bytes.csv.gz", gzip.compress((HEAD + ROWS[0] * 100_000).encode()),
                 max_bytes=1 << 20)


@case("gzip_newlines_bomb.jsonl.gz", 1, call=read, error="InputError", match="decompresses to more than")
def _(folder: Path) -> dict:
    return write(folder, "gzip_newlines_bomb.jsonl.gz", gzip_members(b"\n" * (1 << 20), 2048))


@case("xes_attribute_bomb.xes.gz", 1, call=read, error="InputError", match="more than 100,000 elements", cli=True)
def _(folder: Path) -> dict:
    attrs = b'<string key="k" value="v"/>' * 40_000  # ~1 MiB
    head = b'<log><trace><string key="concept:name" value="c"/><event><string key="concept:name" value="a"/>'
    body = gzip.compress(head) + gzip_members(attrs, 2000) + gzip.compress(b"</event></trace></log>")
    return write(folder, "xes_attribute_bomb.xes.gz", body)


@case("xes_log_level_flood.xes.gz", 1, call=read, check=reasons({}, accepted=1))
def _(folder: Path) -> dict:
    attrs = b'<string key="k" value="v"/>' * 40_000  # ~1 MiB of log-level attributes, read and dropped
    tail = (b'<trace><string key="concept:name" value="c"/><event><string key="concept:name" value="a"/>'
            b'<date key="time:timestamp" value="2024-01-01T00:00:00Z"/></event></trace></log>')
    body = gzip.compress(b'<log xes.version="1.0">') + gzip_members(attrs, 60) + gzip.compress(tail)
    return write(folder, "xes_log_level_flood.xes.gz", body, max_bytes=1 << 30)  # past the bomb bound, on purpose


@case("xes_wide_event.xes", 1, call=read, error="InputError", match="more than max_columns=1,000 attributes")
def _(folder: Path) -> dict:
    attrs = "".join(f'<string key="k{k}" value="v"/>' for k in range(1_500))
    return write(folder, "xes_wide_event.xes", f'<log><trace><string key="concept:name" value="c"/><event>'
                 f'<string key="concept:name" value="a"/>{attrs}</event></trace></log>')


@case("xes_key_per_event.xes.gz", 1, call=read, error="ColumnError", match="distinct attribute keys")
def _(folder: Path) -> dict:
    events = "".join(f'<event><string key="concept:name" value="a"/><string key="k{k}" value="v"/>'
                     f'<date key="time:timestamp" value="2024-01-01T00:00:00Z"/></event>' for k in range(200_000))
    return write(folder, "xes_key_per_event.xes.gz",
                 gzip.compress(f'<log><trace><string key="concept:name" value="c"/>{events}</trace></log>'.encode()))


@case("jsonl_50k_keys.jsonl", 1, call=read, error="ColumnError", match="max_columns")
def _(folder: Path) -> dict:
    lines = [json.dumps({"user_id": "u", "timestamp": "2024-01-01", "event": "e", f"k{k}": 1}) for k in range(50_000)]
    return write(folder, "jsonl_50k_keys.jsonl", "\n".join(lines))


@case("jsonl_one_wide_object.jsonl", 1, call=read, error="ColumnError", match="max_columns")
def _(folder: Path) -> dict:
    record = {"user_id": "u", "timestamp": "2024-01-01", "event": "e", **{f"k{k}": k for k in range(50_000)}}
    return write(folder, "jsonl_one_wide_object.jsonl", json.dumps(record))


@case("csv_100k_columns.csv", 1, call=read, error="ColumnError", match="max_columns")
def _(folder: Path) -> dict:
    names = ["user_id", "timestamp", "event"] + [f"c{k}" for k in range(100_000)]
    return write(folder, "csv_100k_columns.csv", ",".join(names) + "\n" + "u,2024-01-01,e\n")


@case("dev_zero", 1, call=read, error="InputError", match="not a regular file")
def _(folder: Path) -> dict:
    return {"path": "/dev/zero", "options": {}}


@case("dev_zero.csv", 1, call=lambda a: jl.read_csv(a["path"]), error="InputError", match="character device")
def _(folder: Path) -> dict:
    link = folder / "dev_zero.csv"
    link.symlink_to("/dev/zero")
    return {"path": str(link)}


@case("parquet_row_bomb.parquet", 1, call=read, error="InputError", match="decodes to about")
def _(folder: Path) -> dict:
    import pyarrow as pa

    return parquet(folder, "parquet_row_bomb.parquet", {"user_id": pa.nulls(200_000_000, pa.string())})


@case("parquet_row_bomb_held.parquet", 1, call=read_held, error="InputError", match="decodes to about")
def _(folder: Path) -> dict:
    import pyarrow as pa

    return parquet(folder, "parquet_row_bomb_held.parquet", {"user_id": pa.nulls(200_000_000, pa.string())})


def _map_20k(args: dict) -> Any:
    return jl.JourneyMap.from_file(args["path"])


@case("map_20000_stages.yaml", 1, call=_map_20k, seconds=30,
      check=lambda m, a: ensure(len(m.stages) == 20_000 and len(m.transitions) == 20_000, len(m.stages)))
def _(folder: Path) -> dict:
    import yaml

    stages = [{"name": f"s{k}", "touchpoints": [f"t{k}a", f"t{k}b"]} for k in range(20_000)]
    transitions = [[f"t{k}a", f"t{k}b"] for k in range(20_000)]
    path = folder / "map_20000_stages.yaml"
    path.write_text(yaml.safe_dump({"stages": stages, "transitions": transitions}))
    return {"path": str(path)}


# -- 2. never hang --------------------------------------------------------------------------------------


@case("fifo.csv", 2, call=read, error="InputError", match="FIFO", seconds=20)
def _(folder: Path) -> dict:
    return fifo(folder, "fifo.csv")


@case("fifo.xes", 2, call=read, error="InputError", match="FIFO", seconds=20)
def _(folder: Path) -> dict:
    return fifo(folder, "fifo.xes")


@case("fifo.jsonl", 2, call=read, error="InputError", match="FIFO", seconds=20)
def _(folder: Path) -> dict:
    return fifo(folder, "fifo.jsonl")


@case("fifo.parquet", 2, call=read_held, error="InputError", match="FIFO", seconds=20)
def _(folder: Path) -> dict:
    return fifo(folder, "fifo.parquet")


@case("fifo_in_folder", 2, call=read, error="InputError", match="FIFO", seconds=20)
def _(folder: Path) -> dict:
    parts = folder / "parts"
    parts.mkdir()
    parquet(parts, "a.parquet", {"user_id": ["u"], "timestamp": ["2024-01-01"], "event": ["e"]})
    os.mkfifo(parts / "b.parquet")
    return {"path": str(parts), "options": {}}


def _map(args: dict) -> Any:
    return jl.JourneyMap.from_file(args["path"])


@case("yaml_alias_bomb.yaml", 2, call=_map, error="JourneyMapError", match="aliases", seconds=10)
def _(folder: Path) -> dict:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    lines.append("stages: *i")
    return write(folder, "yaml_alias_bomb.yaml", "\n".join(lines) + "\n")


@case("json_map_deep.json", 2, call=_map, error="JourneyMapError", match="deeper than", seconds=10)
def _(folder: Path) -> dict:
    return write(folder, "json_map_deep.json", '{"stages": ' + "[" * 100_000 + "]" * 100_000 + "}")


@case("map_huge_value.yaml", 2, call=_map, error="JourneyMapError", match=r"^.{0,400}$", seconds=10)
def _(folder: Path) -> dict:
    return write(folder, "map_huge_value.yaml", "stages: " + json.dumps(["x" * 1000] * 5000) + "\n")


@case("xes_deep_nesting.xes", 2, call=read, error="InputError", match="malformed XML|line", seconds=20)
def _(folder: Path) -> dict:
    inner = '<list key="x">' * 100_000 + "</list>" * 100_000
    return write(folder, "xes_deep_nesting.xes", f'<log><trace><string key="concept:name" value="c"/><event>{inner}'
                 "</event></trace></log>")


@case("folder_as_csv", 2, call=lambda a: jl.read_csv(a["path"]), error="InputError", match="directory")
def _(folder: Path) -> dict:
    return {"path": str(folder)}


# -- 3. no raw exception for bad data -------------------------------------------------------------------


@case("our_column_names.csv", 3, call=read, cli=True, check=reasons({"missing_user": 1}, accepted=1))
def _(folder: Path) -> dict:
    return write(folder, "our_column_names.csv", "user_id,timestamp,event,reason,column,source_row,raw_text\n"
                 "u1,2024-03-01,home,r,c,7,t\n,2024-03-01,cart,r,c,8,t\n")


def _held_clash_check(log: Any, args: dict) -> None:
    q = log.quarantine_frame()
    ensure(q["reason"].tolist() == ["missing_user"] and q["source_row"].tolist() == [2], q)
    ensure({"column_source", "reason_source", "source_row_source", "filename", "file_row_number", "_r", "c0",
            "_user"} <= set(q.columns), list(q.columns))
    ensure(q["reason_source"].tolist() == ["r"] and len(log) == 2, q)


@case("held_our_column_names.parquet", 3, call=read_held, check=_held_clash_check)
def _(folder: Path) -> dict:
    return parquet(folder, "held_our_column_names.parquet",
                   {"user_id": ["u1", None, "u2"], "timestamp": ["2024-03-01"] * 3, "event": ["a", "b", "c"],
                    "reason": ["r"] * 3, "column": ["c"] * 3, "source_row": [9, 9, 9], "filename": ["f"] * 3,
                    "file_row_number": [1, 2, 3], "_r": [5, 5, 5], "c0": ["x"] * 3, "_user": ["y"] * 3})


@case("cr_only.csv", 3, call=read, cli=True, check=reasons({}, accepted=3))
def _(folder: Path) -> dict:
    return write(folder, "cr_only.csv", (HEAD + "".join(ROWS)).replace("\n", "\r"))


@case("header_200kb.csv", 3, call=read, check=reasons({}, accepted=3))
def _(folder: Path) -> dict:
    return write(folder, "header_200kb.csv", HEAD.rstrip("\n") + ",note_" + "x" * 200_000 + "\n"
                 + "".join(r.rstrip("\n") + ",n\n" for r in ROWS))


@case("header_no_line_end.csv", 3, call=read, error="InputError", match="header line is longer")
def _(folder: Path) -> dict:
    return write(folder, "header_no_line_end.csv", "user_id," + "x" * (2 << 20))


@case("json_deep_100k.jsonl", 3, call=read, check=reasons({"malformed_row": 1}, accepted=1))
def _(folder: Path) -> dict:
    deep = '{"user_id": "u", "timestamp": "2024-01-01", "event": "e", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    good = json.dumps({"user_id": "u", "timestamp": "2024-01-02", "event": "f"})
    return write(folder, "json_deep_100k.jsonl", deep + "\n" + good + "\n")


@case("json_objects_65_deep.jsonl", 3, call=read, check=reasons({"malformed_row": 1}, accepted=1))
def _(folder: Path) -> dict:
    deep = '{"user_id": "u", "timestamp": "2024-01-01", "event": "e", "x": ' + '{"a": ' * 70 + "1" + "}" * 71
    good = json.dumps({"user_id": "u", "timestamp": "2024-01-02", "event": "f"})
    return write(folder, "json_objects_65_deep.jsonl", deep + "\n" + good + "\n")


@case("lone_surrogate.jsonl", 3, call=read, cli=True, check=reasons({"undecodable_text": 2}, accepted=1))
def _(folder: Path) -> dict:
    return write(folder, "lone_surrogate.jsonl",
                 '{"user_id": "u", "timestamp": "2024-01-01", "event": "\\ud800"}\n'
                 '{"user_id": "u", "timestamp": "2024-01-02", "event": "ok", "note": "\\udfff"}\n'
                 '{"user_id": "u", "timestamp": "2024-01-03", "event": "fine"}\n')


@case("lone_surrogate_frame", 3, call=lambda a: jl.from_pandas(__import__("pandas").DataFrame(a["frame"], dtype=object)),
      check=reasons({"undecodable_text": 2}, accepted=1))
def _(folder: Path) -> dict:
    return {"frame": {"user": ["u", "u", "\ud83d"], "time": ["2024-01-01", "2024-01-02", "2024-01-03"],
                      "event": ["a", "b", "c"], "note": ["ok", "\ud800", "ok"]}}


def _latin_check(log: Any, args: dict) -> None:
    reasons({"undecodable_text": 1}, accepted=3)(log, args)
    assert sorted(set(log.to_pandas()["event"].astype(str))) == ["café", "crème"], log.to_pandas()
    assert log.quarantine["column"].tolist() == ["event"]
    assert log.parameters["csv"]["encoding"] == "utf-8"


@case("utf8_with_one_latin1_byte.csv", 7, call=read, cli=True, check=_latin_check)
def _(folder: Path) -> dict:
    text = (HEAD + "u1,2024-03-01,café,web\nu1,2024-03-02,crème,web\nu2,2024-03-01,café,web\n").encode()
    return write(folder, "utf8_with_one_latin1_byte.csv", text + "u3,2024-03-01,caf\xe9,web\n".encode("latin-1"))


def _binary_events(folder: Path, name: str) -> dict:
    import pyarrow as pa

    return parquet(folder, name, {"user_id": ["u1", "u1", "u2", "u2"],
                                  "timestamp": ["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-02"],
                                  "event": pa.array([b"caf\xc3\xa9", b"\xe9t\xe9", b" home ", None], pa.binary())})


@case("binary_events.parquet", 3, call=read,
      check=reasons({"undecodable_text": 1, "missing_event": 1}, accepted=2))
def _(folder: Path) -> dict:
    return _binary_events(folder, "binary_events.parquet")


@case("binary_events_held.parquet", 5, call=read_held,
      check=reasons({"undecodable_text": 1, "missing_event": 1}, accepted=2))
def _(folder: Path) -> dict:
    return _binary_events(folder, "binary_events_held.parquet")


@case("xes_trace_in_event.xes", 3, call=read, error="InputError", match="line 1: a trace nested in an event", cli=True)
def _(folder: Path) -> dict:
    return write(folder, "xes_trace_in_event.xes", '<log><trace><string key="concept:name" value="c"/><event>'
                 '<string key="concept:name" value="a"/><trace><event/></trace></event></trace></log>')


@case("xes_event_in_event.xes", 3, call=read, error="InputError", match="an event nested in an event")
def _(folder: Path) -> dict:
    return write(folder, "xes_event_in_event.xes", '<log><trace><string key="concept:name" value="c"/>\n<event>'
                 '<event><string key="concept:name" value="a"/></event></event></trace></log>')


def _float_ids(folder: Path, name: str) -> dict:
    return parquet(folder, name, {"user_id": [1e20, 1.0, 1.5, float("nan"), 7.0],
                                  "timestamp": ["2024-01-01"] * 5, "event": ["a", "b", "c", "d", "e"]})


def _float_ids_check(log: Any, args: dict) -> None:
    reasons({"invalid_user": 2, "missing_user": 1}, accepted=2)(log, args)
    assert [str(u) for u in log.users] == ["1", "7"]


@case("float_ids.parquet", 3, call=read, check=_float_ids_check)
def _(folder: Path) -> dict:
    return _float_ids(folder, "float_ids.parquet")


@case("float_ids_held.parquet", 5, call=read_held, check=_float_ids_check)
def _(folder: Path) -> dict:
    return _float_ids(folder, "float_ids_held.parquet")


def _hugeint(args: dict) -> Any:
    import duckdb

    con = duckdb.connect()
    return jl.read_sql(con, "SELECT 100000000000000000000::HUGEINT AS user_id, 170141183460469231731687303715884105727"
                            "::HUGEINT AS event, TIMESTAMP '2024-01-01' AS ts")


@case("hugeint_read_sql", 3, call=_hugeint,
      check=lambda log, a: ensure([str(u) for u in log.users] == ["100000000000000000000"] and [
          str(e) for e in log.event_names] == ["170141183460469231731687303715884105727"],
          (list(log.users), list(log.event_names))))
def _(folder: Path) -> dict:
    return {}


@case("nan_epoch_held.parquet", 3, call=read_held, check=reasons({"missing_time": 1, "out_of_range_time": 1},
                                                                  accepted=2))
def _(folder: Path) -> dict:
    return parquet(folder, "nan_epoch_held.parquet", {"user_id": ["a", "a", "b", "c"], "event": ["x", "y", "x", "z"],
                                                      "timestamp": [1.7e9, float("nan"), 1.7e9 + 60, float("inf")]})


@case("zero_columns.parquet", 3, call=read, error="ColumnError", match="cannot tell which column")
def _(folder: Path) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / "zero_columns.parquet"
    pq.write_table(pa.table({"x": [1, 2]}).drop(["x"]), path)
    return {"path": str(path), "options": {}}


@case("zero_columns_held.parquet", 3, call=read_held, error="ColumnError", match="cannot tell which column")
def _(folder: Path) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / "zero_columns_held.parquet"
    pq.write_table(pa.table({"x": [1, 2]}).drop(["x"]), path)
    return {"path": str(path), "options": {}}


@case("blank_header.csv", 3, call=read, error="InputError", match="empty file", cli=True)
def _(folder: Path) -> dict:
    return write(folder, "blank_header.csv", "\n\n\n")


@case("empty_objects.jsonl", 3, call=read, error="ColumnError", match="cannot tell which column")
def _(folder: Path) -> dict:
    return write(folder, "empty_objects.jsonl", "{}\n{}\n")


def _failing_sql(args: dict) -> Any:
    con = sqlite3.connect(":memory:")
    return jl.read_sql(con, "SELECT * FROM no_such_table")


@case("failing_sqlite_query", 3, call=_failing_sql, error="InputError", match="SQL query failed.*no_such_table")
def _(folder: Path) -> dict:
    return {}


def _failing_duckdb(args: dict) -> Any:
    import duckdb

    return jl.read_sql(duckdb.connect(), "SELEC 1")


@case("failing_duckdb_query", 3, call=_failing_duckdb, error="InputError", match="SQL query failed")
def _(folder: Path) -> dict:
    return {}


@case("channel_aliases_list", 3, call=read, error="ParameterError", match="channel_aliases must be a mapping")
def _(folder: Path) -> dict:
    return write(folder, "channel_aliases_list.csv", HEAD + "".join(ROWS), channel_aliases=["web", "app"])


@case("channel_aliases_numbers", 3, call=read, error="ParameterError", match="channel_aliases")
def _(folder: Path) -> dict:
    return write(folder, "channel_aliases_numbers.csv", HEAD + "".join(ROWS), channel_aliases={"web": 1})


# -- 4. no silently wrong result ------------------------------------------------------------------------


@case("min_time_now", 4, call=read, error="ParameterError", match="min_time='now' depends on when the job runs")
def _(folder: Path) -> dict:
    return write(folder, "min_time_now.csv", HEAD + "".join(ROWS), min_time="now")


@case("max_time_today", 4, call=read, error="ParameterError", match="max_time='today'")
def _(folder: Path) -> dict:
    return write(folder, "max_time_today.csv", HEAD + "".join(ROWS), max_time="today")


@case("now_in_the_data.csv", 4, call=read, check=reasons({"unparsable_time": 3}, accepted=1))
def _(folder: Path) -> dict:
    return write(folder, "now_in_the_data.csv", HEAD + ROWS[0] + "u1,now,x,web\nu1,today,y,web\nu1,epoch,z,web\n")


@case("unbalanced_quote_1000_rows.csv", 4, call=read, error="InputError", match="line 3: a quoted field runs over",
      cli=True)
def _(folder: Path) -> dict:
    rows = [f"u{k},2024-03-01T10:{k % 60:02d}:00Z,e{k},web\n" for k in range(1_000)]
    rows[1] = 'u1,2024-03-01T10:01:00Z,"broken,web\n'
    return write(folder, "unbalanced_quote_1000_rows.csv", HEAD + "".join(rows))


@case("unbalanced_quote_to_eof.csv", 4, call=read, error="InputError", match="line 4: a quoted field runs over")
def _(folder: Path) -> dict:
    return write(folder, "unbalanced_quote_to_eof.csv", HEAD + ROWS[0] + ROWS[1] + 'u2,2024-03-02,"open,web\n'
                 + "".join(ROWS) * 5)


def _separators_check(log: Any, args: dict) -> None:
    reasons({}, accepted=3)(log, args)
    ensure(log.to_pandas()["event"].astype(str).tolist() == ["a\u2028b", "a\u2029b", "a\u0085b"],
           log.to_pandas()["event"].tolist())


@case("unicode_line_separators.jsonl", 4, call=read, cli=True, check=_separators_check)
def _(folder: Path) -> dict:
    lines = [json.dumps({"user_id": "u", "timestamp": f"2024-01-0{k + 1}", "event": f"a{sep}b"}, ensure_ascii=False)
             for k, sep in enumerate(["\u2028", "\u2029", "\u0085"])]
    return write(folder, "unicode_line_separators.jsonl", "\r\n".join(lines) + "\n")


@case("epoch_overflow.csv", 4, call=read, check=reasons({"out_of_range_time": 2}, accepted=1))
def _(folder: Path) -> dict:
    return write(folder, "epoch_overflow.csv", "user_id,ts,event\nu,1709287200,a\nu,1e30,b\nu,9223372036854775807,c\n",
                 time_unit="s")


@case("epoch_overflow_held.parquet", 4, call=read_held, check=reasons({"out_of_range_time": 2}, accepted=1))
def _(folder: Path) -> dict:
    return parquet(folder, "epoch_overflow_held.parquet", {"user_id": ["u", "u", "u"], "event": ["a", "b", "c"],
                                                           "ts": [1709287200, 9223372036854775807, -9223372036854775807]},
                   time_unit="s")


def _int96(folder: Path, name: str) -> dict:
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / name
    times = pa.array([dt.datetime(3000, 1, 1), dt.datetime(1500, 6, 1, 12)], pa.timestamp("us"))
    pq.write_table(pa.table({"user_id": ["a", "b"], "timestamp": times, "event": ["x", "y"]}), path,
                   use_deprecated_int96_timestamps=True)
    return {"path": str(path), "options": {}}


def _int96_check(log: Any, args: dict) -> None:
    reasons({}, accepted=2)(log, args)
    import datetime as dt

    us = log.time_us.tolist() if isinstance(log, jl.EventLog) else log.codes()["t"].tolist()
    expected = [(t - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)
                for t in (dt.datetime(3000, 1, 1), dt.datetime(1500, 6, 1, 12))]
    ensure(us == expected, us)


@case("int96_far_dates.parquet", 4, call=read, check=_int96_check)
def _(folder: Path) -> dict:
    return _int96(folder, "int96_far_dates.parquet")


@case("int96_far_dates_held.parquet", 4, call=read_held, check=_int96_check)
def _(folder: Path) -> dict:
    return _int96(folder, "int96_far_dates_held.parquet")


@case("brackets[1].csv", 4, call=read, check=reasons({}, accepted=3), cli=True)
def _(folder: Path) -> dict:
    return write(folder, "brackets[1].csv", HEAD + "".join(ROWS))


@case("brackets[1].parquet", 4, call=read, check=reasons({}, accepted=1))
def _(folder: Path) -> dict:
    return parquet(folder, "brackets[1].parquet", {"user_id": ["u"], "timestamp": ["2024-01-01"], "event": ["e"]})


@case("timestamp_syntax.csv", 4, call=read, check=reasons({"unparsable_time": 5, "out_of_range_time": 2}, accepted=2))
def _(folder: Path) -> dict:
    times = ["2024-03-01T10:00:00+01:00", "2024-03-01 24:00", "2024-03-01T10:00+25:00", "epoch", "10000-01-01",
             "0000-01-01", "9999-12-31T23:30:00-01:00", "2024-02-30", "2024-03-01T10:00:00.1234567Z"]
    return write(folder, "timestamp_syntax.csv", HEAD + "".join(f"u{k},{t},e,web\n" for k, t in enumerate(times)))


# -- 6. output safety -----------------------------------------------------------------------------------


def _csv_out(args: dict) -> Any:
    import pandas as pd

    from journeylens.io.writers import write_table

    out = Path(args["path"])
    write_table(pd.DataFrame({"source": ["\r=1+1", "home", "a\n@SUM(1)"], "target": ["x\r-2", "\n=3", "ok"],
                              "count": [1, 2, 3]}), out)
    return out.read_bytes()


def _csv_out_check(data: bytes, args: dict) -> None:
    import csv
    import io

    # every CR or LF outside a quoted cell ends a record; none may be followed by a formula
    quoted = False
    for k, byte in enumerate(data):
        if byte == ord('"'):
            quoted = not quoted
        elif byte in b"\r\n" and not quoted:
            ensure(data[k + 1: k + 2] not in (b"=", b"+", b"-", b"@"), data)
    records = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    ensure(records == [["source", "target", "count"], ["'\r=1+1", "x\r-2", "1"], ["home", "\n=3", "2"],
                       ["a\n@SUM(1)", "ok", "3"]], records)


@case("csv_output_line_breaks", 6, call=_csv_out, check=_csv_out_check)
def _(folder: Path) -> dict:
    return {"path": str(folder / "dfg.csv")}


# -- 7. design weaknesses -------------------------------------------------------------------------------


def _namibia_check(log: Any, args: dict) -> None:
    reasons({}, accepted=2)(log, args)
    users = list(log.users)
    assert [str(u) for u in users] == ["NA", "ZA"], users


@case("namibia.csv", 7, call=read, check=_namibia_check, cli=True)
def _(folder: Path) -> dict:
    return write(folder, "namibia.csv", "user_id,timestamp,event\nNA,2024-01-01,visit\nZA,2024-01-01,visit\n")


@case("namibia.parquet", 7, call=read, check=_namibia_check)
def _(folder: Path) -> dict:
    return parquet(folder, "namibia.parquet", {"user_id": ["NA", "ZA"], "timestamp": ["2024-01-01"] * 2,
                                               "event": ["visit"] * 2})


@case("na_values_given.csv", 7, call=read, check=reasons({"missing_user": 2}, accepted=1))
def _(folder: Path) -> dict:
    return write(folder, "na_values_given.csv", "user_id,timestamp,event\nNA,2024-01-01,a\n n/a ,2024-01-01,b\n"
                 "ZA,2024-01-01,c\n", na_values=["NA", "n/a"])


@case("json_ids_1_1_1.jsonl", 7, call=read,
      check=lambda log, a: reasons({}, accepted=3)(log, a) or ensure([str(u) for u in log.users] == ["1"],
                                                                       list(log.users)))
def _(folder: Path) -> dict:
    return write(folder, "json_ids_1_1_1.jsonl", '{"user_id": 1, "timestamp": "2024-01-01", "event": "a"}\n'
                 '{"user_id": "1", "timestamp": "2024-01-02", "event": "b"}\n'
                 '{"user_id": 1.0, "timestamp": "2024-01-03", "event": "c"}\n')


@case("epoch_one_outlier.csv", 7, call=read, error="InputError", match="several units.*time_unit")
def _(folder: Path) -> dict:
    rows = "".join(f"u,{1709287200000 + k * 1000},e{k}\n" for k in range(50))
    return write(folder, "epoch_one_outlier.csv", "user_id,ts,event\n" + rows + "u,1709287200,late\n")


@case("duplicate_key_map.yaml", 7, call=_map, error="JourneyMapError", match="duplicate key 'name'")
def _(folder: Path) -> dict:
    return write(folder, "duplicate_key_map.yaml", "stages:\n  - name: a\n    name: b\n    touchpoints: [x]\n")


@case("duplicate_key_map.json", 7, call=_map, error="JourneyMapError", match="duplicate key 'stages'")
def _(folder: Path) -> dict:
    return write(folder, "duplicate_key_map.json", '{"stages": [{"name": "a", "touchpoints": ["x"]}], "stages": []}')


@case("one_column_two_roles", 7, call=read, error="ParameterError", match="given for both user= and session=")
def _(folder: Path) -> dict:
    return write(folder, "one_column_two_roles.csv", HEAD + "".join(ROWS), user="user_id", session="user_id")


@case("json_dotted_key_collision.jsonl", 7, call=read, error="ColumnError", match="'a.b'.*rename one")
def _(folder: Path) -> dict:
    return write(folder, "json_dotted_key_collision.jsonl",
                 '{"user_id": "u", "timestamp": "2024-01-01", "event": "e", "a.b": 1}\n'
                 '{"user_id": "u", "timestamp": "2024-01-02", "event": "f", "a": {"b": 2}}\n')


@case("json_duplicate_key.jsonl", 7, call=read, check=reasons({"malformed_row": 1}, accepted=1))
def _(folder: Path) -> dict:
    return write(folder, "json_duplicate_key.jsonl",
                 '{"user_id": "u", "timestamp": "2024-01-01", "event": "e", "event": "f"}\n'
                 '{"user_id": "u", "timestamp": "2024-01-02", "event": "g"}\n')


@case("trimmed_ids_held.parquet", 5, call=read_held,
      check=lambda log, a: ensure(len(log) == 3 and [str(u) for u in log.users] == ["u1"]
                                  and list(map(str, log.event_names)) == ["home"], (list(log.users), len(log))))
def _(folder: Path) -> dict:
    return parquet(folder, "trimmed_ids_held.parquet", {"user_id": [" u1", "u1\t", "\nu1 "],
                                                        "timestamp": ["2024-01-01", "2024-01-02", " 2024-01-03 "],
                                                        "event": ["home ", " home", "home"]})


# -- the child's side -----------------------------------------------------------------------------------


def run(name: str, args: dict[str, Any], via: str) -> dict[str, Any]:
    """Run one case (in the watchdog's child) and say how it ended."""
    case = CASES[name]
    if via == "cli":
        return _run_cli(args)
    try:
        result = case.call(args)
    except jl.JourneyLensError as exc:
        message = str(exc)
        if case.error is None:
            return {"outcome": "failed", "reason": f"unexpected {type(exc).__name__}: {message[:500]}"}
        if type(exc).__name__ != case.error and case.error not in [c.__name__ for c in type(exc).__mro__]:
            return {"outcome": "failed", "reason": f"{type(exc).__name__}, expected {case.error}: {message[:500]}"}
        if "\n" in message or not re.search(case.match, message):
            return {"outcome": "failed", "reason": f"message does not match {case.match!r}: {message[:500]}"}
        return {"outcome": "passed", "message": message[:500]}
    if case.error is not None:
        return {"outcome": "failed", "reason": f"no error (expected {case.error})"}
    if hasattr(result, "rows_read"):
        s = result.summary()
        if s["rows_read"] != s["rows_accepted"] + s["rows_quarantined"]:
            return {"outcome": "failed", "reason": f"does not reconcile: {s}"}
        if hasattr(result, "quarantine") and isinstance(result, jl.EventLog) and \
                result.rows_quarantined != len(result.quarantine):
            return {"outcome": "failed", "reason": "quarantine count"}
    if case.check is not None:
        case.check(result, args)
    return {"outcome": "passed"}


def _run_cli(args: dict[str, Any]) -> dict[str, Any]:
    """``journeylens analyze`` on the case's file: exit 0 or 1, and an error is one line without a traceback."""
    from typer.testing import CliRunner

    from journeylens.app.cli import app

    out = Path(args["path"]).parent / "cli_out"
    result = CliRunner().invoke(app, ["analyze", args["path"], "--out", str(out), "--quiet"])
    stderr = result.stderr
    if "Traceback" in stderr or result.exit_code not in (0, 1):
        return {"outcome": "failed", "reason": f"exit {result.exit_code}: {stderr[-1500:]}"}
    if result.exit_code == 1 and (len(stderr.strip().splitlines()) != 1 or "internal error" in stderr):
        return {"outcome": "failed", "reason": f"not a one-line error: {stderr[-1500:]}"}
    return {"outcome": "passed", "exit": result.exit_code, "message": stderr.strip()[:300]}
