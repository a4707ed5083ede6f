"""XES reader: hand-built documents, refusal of unsafe XML, and the real logs."""

from __future__ import annotations

import gzip
import os

import pandas as pd
import pytest

import journeylens as jl
from journeylens.io.channels import normalise_channels
from tests.conftest import shared_file

HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'


def _trace(case: str, *events: str, attrs: str = "") -> str:
    return f'<trace><string key="concept:name" value="{case}"/>{attrs}{"".join(events)}</trace>'


def _event(name: str | None, time: str | None, extra: str = "") -> str:
    parts = []
    if name is not None:
        parts.append(f'<string key="concept:name" value="{name}"/>')
    if time is not None:
        parts.append(f'<date key="time:timestamp" value="{time}"/>')
    return f"<event>{''.join(parts)}{extra}</event>"


def _write(tmp_path, body: str, name: str = "log.xes", gz: bool = False):
    path = tmp_path / name
    data = (HEAD + body).encode("utf-8")
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def test_trace_attributes_become_case_columns_and_types_are_kept(tmp_path):
    body = (
        '<log xes.version="1.0" xmlns="http://www.xes-standard.org/">'
        + _trace(
            "c1",
            _event("visit", "2024-01-01T10:00:00+01:00", '<int key="qty" value="3"/><float key="price" value="2.5"/>'),
            _event("buy", "2024-01-01T10:05:00Z", '<int key="qty" value="1"/><boolean key="ok" value="true"/>'),
            attrs='<string key="segment" value="gold"/><date key="opened" value="2023-12-31T00:00:00Z"/>',
        )
        + _trace("c2", _event("visit", "2024-01-02T09:00:00-05:00"), attrs='<string key="segment" value="new"/>')
        + "</log>"
    )
    log = jl.read_xes(_write(tmp_path, body))
    df = log.to_pandas()
    assert list(df["user_id"].astype(str)) == ["c1", "c1", "c2"]
    assert list(df["event"].astype(str)) == ["visit", "buy", "visit"]
    # mixed offsets all land in UTC
    assert list(df["timestamp"].astype(str)) == [
        "2024-01-01 09:00:00+00:00",
        "2024-01-01 10:05:00+00:00",
        "2024-01-02 14:00:00+00:00",
    ]
    assert list(df["case:segment"].astype(str)) == ["gold", "gold", "new"]
    assert str(df["case:opened"].dtype).startswith("datetime64")
    assert df["qty"].dtype == "Int64" and df["qty"].tolist()[:2] == [3, 1]
    assert df["price"].dtype == "float64"
    assert log.roles["user"] == "case:concept:name" and log.roles["event"] == "concept:name"


def test_gzip_by_magic_bytes_and_name(tmp_path):
    body = "<log>" + _trace("c1", _event("a", "2024-01-01T00:00:00Z"), _event("b", "2024-01-01T00:01:00Z")) + "</log>"
    for name in ("log.xes.gz", "log.xes"):
        log = jl.read_xes(_write(tmp_path, body, name=name, gz=True))
        assert len(log) == 2


def test_missing_values_are_quarantined_with_reasons_and_reconcile(tmp_path):
    body = (
        "<log>"
        + _trace("c1", _event("a", "2024-01-01T00:00:00Z"), _event(None, "2024-01-01T00:01:00Z"), _event("c", None))
        + "<trace>" + _event("orphan", "2024-01-01T00:00:00Z") + "</trace>"  # a trace without a name
        + _trace("c2", _event("a", "not a date"))
        + "</log>"
    )
    log = jl.read_xes(_write(tmp_path, body))
    s = log.summary()
    assert (s["rows_read"], s["rows_accepted"], s["rows_quarantined"]) == (5, 1, 4)
    reasons = log.quarantine.set_index("source_row")["reason"].to_dict()
    assert reasons == {2: "missing_event", 3: "missing_time", 4: "missing_user", 5: "unparsable_time"}


def test_trace_key_colliding_with_event_key_gets_another_prefix(tmp_path):
    body = (
        "<log>"
        + _trace(
            "c1",
            _event("a", "2024-01-01T00:00:00Z", '<string key="case:x" value="from-event"/>'),
            attrs='<string key="x" value="from-trace"/>',
        )
        + "</log>"
    )
    df = jl.read_xes(_write(tmp_path, body)).to_pandas()
    assert df["case:x"].iloc[0] == "from-event"
    assert df["case:case:x"].iloc[0] == "from-trace"


@pytest.mark.parametrize(
    "doctype, message",
    [
        ('<!DOCTYPE log [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>', "declares entities"),
        ('<!DOCTYPE log [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', "declares entities"),
        ('<!DOCTYPE log SYSTEM "http://example.invalid/x.dtd">', "external DTD"),
    ],
)
def test_unsafe_doctypes_are_refused_before_parsing(tmp_path, doctype, message):
    body = doctype + "<log>" + _trace("c1", _event("&b;", "2024-01-01T00:00:00Z")) + "</log>"
    with pytest.raises(jl.InputError, match=message) as info:
        jl.read_xes(_write(tmp_path, body))
    assert "\n" not in str(info.value)


def test_encoding_cannot_hide_a_doctype(tmp_path):
    # the same entity declaration, encoded as UTF-16: the prolog check decodes it first
    text = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE log [<!ENTITY a "x">]><log></log>'
    path = tmp_path / "u16.xes"
    path.write_bytes(text.encode("utf-16"))
    with pytest.raises(jl.InputError, match="entities"):
        jl.read_xes(path)


def test_bare_doctype_is_allowed(tmp_path):
    log = jl.read_xes(_write(tmp_path, "<!DOCTYPE log><log>" + _trace("c", _event("a", "2024-01-01T00:00:00Z")) + "</log>"))
    assert len(log) == 1


@pytest.mark.parametrize(
    "body, message",
    [
        ("<html><body/></html>", "root element"),
        ("<log><trace><event>", "line"),
        ("", "empty"),
    ],
)
def test_broken_documents_give_one_line_errors(tmp_path, body, message):
    path = tmp_path / "bad.xes"
    path.write_text(body if body else "")
    with pytest.raises(jl.InputError, match=message) as info:
        jl.read_xes(path)
    assert "\n" not in str(info.value) and "bad.xes" in str(info.value)


def test_source_order_breaks_timestamp_ties(tmp_path):
    same = "2024-01-01T00:00:00Z"
    body = "<log>" + _trace("c1", *(_event(n, same) for n in ["z", "a", "m"])) + "</log>"
    df = jl.read_xes(_write(tmp_path, body)).to_pandas()
    assert list(df["event"].astype(str)) == ["z", "a", "m"]


# -- the real logs: counts from the data README, columns against pm4py's reader ---------

README_COUNTS = {  # events, cases, activities
    "running-example.xes": (42, 6, 8),
    "roadtraffic100traces.xes": (390, 100, 10),
    "08_receipt.xes.gz": (8_577, 1_434, 27),
    "helpdesk.xes.gz": (21_348, 4_580, 14),
    "07_bpic2013_incidents.xes.gz": (65_533, 7_554, 4),
    "bpic2012.xes.gz": (262_200, 13_087, 24),
    "16_bpic2019_1t_per_variant.xes.gz": (338_247, 11_973, 42),
}
SLOW = {"bpic2012.xes.gz", "16_bpic2019_1t_per_variant.xes.gz", "07_bpic2013_incidents.xes.gz"}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=[pytest.mark.slow] if n in SLOW else []) for n in README_COUNTS]
)
def test_real_xes_counts_match_the_readme(name):
    log = jl.read_xes(shared_file("process", name), duplicates="keep", lifecycle="all")  # the README counts <event>s
    s = log.summary()
    assert s["rows_read"] == s["rows_accepted"] + s["rows_quarantined"]
    assert (s["rows_accepted"], s["users"], s["event_types"]) == README_COUNTS[name]


@pytest.mark.pm4py
@pytest.mark.parametrize("name", ["running-example.xes", "roadtraffic100traces.xes", "08_receipt.xes.gz"])
def test_real_xes_columns_equal_pm4py_reader(name):
    pm4py = pytest.importorskip("pm4py")
    os.environ.setdefault("PM4PY_SHOW_PROGRESS_BAR", "False")
    path = shared_file("process", name)
    ref = pm4py.read_xes(str(path))
    ours = jl.read_xes(path, duplicates="keep", lifecycle="all").to_pandas()
    # same events per case in the same order (pm4py keeps file order within a case)
    ref = ref.sort_values(["case:concept:name", "time:timestamp"], kind="stable")
    key = ["case:concept:name", "concept:name"]
    assert ours["user_id"].astype(str).tolist() == sorted(ours["user_id"].astype(str))  # sorted by user
    ref_seq = ref.groupby("case:concept:name", sort=True)["concept:name"].agg(tuple)
    our_seq = ours.groupby(ours["user_id"].astype(str), sort=True, observed=True)["event"].agg(lambda s: tuple(s.astype(str)))
    assert our_seq.to_dict() == ref_seq.to_dict()
    # every other attribute pm4py reads is a column of ours with the same values
    ours_by_row = ours.assign(_case=ours["user_id"].astype(str), _ts=ours["timestamp"]).sort_values(
        ["_case", "_ts", "event"], kind="stable"
    )
    ref_by_row = ref.sort_values(["case:concept:name", "time:timestamp", "concept:name"], kind="stable")
    for column in ref.columns:
        if column in key or column == "time:timestamp":
            continue
        mapped = "channel" if column == "case:channel" and "channel" in ours else column
        assert mapped in ours.columns, column
        left, right = _comparable(ours_by_row[mapped]), _comparable(ref_by_row[column])
        if column == "case:channel":  # our channels are normalised (Internet → web, e-mail → email)
            right = normalise_channels(ref_by_row[column]).str.lower().tolist()
        assert left == right, column


def _comparable(values: pd.Series) -> list:
    """Values as plain Python: numbers as floats (pm4py turns int columns with gaps into float), NA as None."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().sum() == values.notna().sum():
        return [None if pd.isna(v) else float(v) for v in numeric]
    return [None if pd.isna(v) else str(v).lower() for v in values]



# -- lifecycle ----------------------------------------------------------------------------------------


def _lifecycle_log(tmp_path):
    def ev(name, time, transition=None):
        extra = f'<string key="lifecycle:transition" value="{transition}"/>' if transition else ""
        return _event(name, time, extra)

    body = "<log>" + _trace(
        "c1",
        ev("a", "2024-01-01T00:00:00Z", "schedule"), ev("a", "2024-01-01T00:01:00Z", "START"),
        ev("a", "2024-01-01T00:02:00Z", "complete"), ev("b", "2024-01-01T00:03:00Z"),
        ev("c", "2024-01-01T00:04:00Z", "In Progress"), ev("d", "2024-01-01T00:05:00Z", "withdraw"),
    ) + "</log>"
    return _write(tmp_path, body)


def test_lifecycle_choices(tmp_path):
    path = _lifecycle_log(tmp_path)
    complete = jl.read_xes(path)
    assert complete.to_pandas()["event"].astype(str).tolist() == ["a", "b", "c"]
    assert complete.to_pandas(source_row=True)["source_row"].tolist() == [3, 4, 5]  # positions in the file
    assert complete.parameters["xes"] == {"lifecycle": "complete", "events_in_file": 6, "set_aside": 3,
                                          "transitions": {"In Progress": 1, "START": 1, "complete": 1,
                                                          "schedule": 1, "withdraw": 1, "<NA>": 1}}
    s = complete.summary()
    assert s["rows_read"] == s["rows_accepted"] == 3
    every = jl.read_xes(path, lifecycle="all")
    assert every.to_pandas()["event"].astype(str).tolist() == ["a", "a", "a", "b", "c", "d"]
    named = jl.read_xes(path, lifecycle="name+lifecycle")
    assert named.to_pandas()["event"].astype(str).tolist() == ["a+schedule", "a+START", "a+complete", "b",
                                                               "c+In Progress", "d+withdraw"]
    with pytest.raises(jl.ParameterError, match="lifecycle must be one of 'complete', 'all', 'name\\+lifecycle'"):
        jl.read_xes(path, lifecycle="first")
    plain = "<log>" + _trace("c", _event("a", "2024-01-01T00:00:00Z"), _event("b", "2024-01-01T00:01:00Z")) + "</log>"
    logs = [jl.read_xes(_write(tmp_path, plain), lifecycle=c).to_pandas() for c in ("complete", "all", "name+lifecycle")]
    assert all(x.equals(logs[0]) for x in logs)  # logs without transitions are the same under every choice


def _plain_xes_events(path):
    """(case, name, lifecycle, time) of every event, read with lxml alone."""
    from lxml import etree

    rows = []
    with gzip.open(path, "rb") as stream:
        for _, trace in etree.iterparse(stream, tag="{*}trace"):
            case = next(c.get("value") for c in trace if c.get("key") == "concept:name")
            for event in trace.iterfind("{*}event"):
                attrs = {c.get("key"): c.get("value") for c in event}
                rows.append((case, attrs.get("concept:name"), attrs.get("lifecycle:transition"),
                             attrs.get("time:timestamp")))
            trace.clear()
    frame = pd.DataFrame(rows, columns=["case", "name", "lifecycle", "time"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True, format="ISO8601")
    return frame


def _self_loops(frame, name):
    ordered = frame.sort_values(["case", "time"], kind="stable")
    same_case = ordered["case"].to_numpy()[1:] == ordered["case"].to_numpy()[:-1]
    names = ordered["name"].to_numpy()
    return int((same_case & (names[1:] == name) & (names[:-1] == name)).sum())


@pytest.mark.slow
def test_bpic2012_lifecycle_loops_and_pm4py():
    path = shared_file("process", "bpic2012.xes.gz")
    plain = _plain_xes_events(path)
    completed = plain[plain["lifecycle"].str.lower() == "complete"]
    loop = "W_Completeren aanvraag"
    assert (_self_loops(completed, loop), _self_loops(plain, loop)) == (12_619, 38_004)  # issue 13's figures
    for choice, reference in (("complete", completed), ("all", plain)):
        edges = jl.dfg(jl.read_xes(path, duplicates="keep", lifecycle=choice)).to_frame()
        assert int(edges.loc[(edges["source"] == loop) & (edges["target"] == loop), "count"].iloc[0]) == \
            _self_loops(reference, loop)

    pm4py = pytest.importorskip("pm4py")
    os.environ.setdefault("PM4PY_SHOW_PROGRESS_BAR", "False")
    ref_all = pm4py.format_dataframe(pm4py.read_xes(str(path)))
    ref_all = ref_all.sort_values(["case:concept:name", "time:timestamp"], kind="stable")
    named = ref_all.assign(**{"concept:name": ref_all["concept:name"] + "+" + ref_all["lifecycle:transition"]})
    complete = ref_all[ref_all["lifecycle:transition"].str.lower() == "complete"]
    for choice, ref in (("complete", complete), ("all", ref_all), ("name+lifecycle", named)):
        log = jl.read_xes(path, duplicates="keep", lifecycle=choice)
        graph, starts, ends = pm4py.discover_dfg(ref.copy())
        edges = jl.dfg(log).to_frame()
        assert dict(zip(zip(edges["source"], edges["target"]), edges["count"])) == dict(graph), choice
        variants = pm4py.get_variants(ref.copy())
        assert jl.variants(log).to_dict() == {tuple(k): (v if isinstance(v, int) else len(v))
                                              for k, v in variants.items()}, choice


# -- hostile documents --------------------------------------------------------------------------------


@pytest.mark.parametrize("body, message", [
    ("<log><trace><event><trace/></event></trace></log>", "line 2: a trace nested in an event"),
    ("<log><trace>\n<event><event/></event></trace></log>", "line 3: an event nested in an event"),
    ("<log><trace><trace/></trace></log>", "a trace nested in a trace"),
    ("<log><trace><string key='x' value='y'>" + "<list>" * 300 + "</list>" * 300 + "</string></trace></log>",
     "malformed XML"),
])
def test_structure_that_xes_does_not_have_is_refused(tmp_path, body, message):
    with pytest.raises(jl.InputError, match=message) as info:
        jl.read_xes(_write(tmp_path, body))
    assert "\n" not in str(info.value)


def test_attribute_and_key_caps(tmp_path):
    attrs = "".join(f'<string key="k{k}" value="v"/>' for k in range(30))
    wide = "<log>" + _trace("c", f'<event><string key="concept:name" value="a"/>{attrs}</event>') + "</log>"
    with pytest.raises(jl.InputError, match="an event with more than max_columns=20 attributes"):
        jl.read_xes(_write(tmp_path, wide), max_columns=20)
    assert len(jl.read_xes(_write(tmp_path, wide)).to_pandas().columns) > 30 - 1
    keys = "".join(f'<event><string key="concept:name" value="a"/><string key="x{k}" value="v"/></event>'
                   for k in range(30))
    with pytest.raises(jl.ColumnError, match="more than max_columns=20 distinct attribute keys"):
        jl.read_xes(_write(tmp_path, "<log>" + _trace("c", keys) + "</log>"), max_columns=20)
    bomb = "<log>" + _trace("c", '<event><string key="concept:name" value="a"/>'
                            + '<string key="k" value="v"/>' * 400_000 + "</event>") + "</log>"
    with pytest.raises(jl.InputError, match="line 2: an element holding more than 100,000 elements"):
        jl.read_xes(_write(tmp_path, bomb, gz=True, name="bomb.xes.gz"))


def test_a_key_given_twice_is_an_error_not_a_silent_last_win(tmp_path):
    twice = _event("a", "2024-01-01T00:00:00Z", '<string key="org:resource" value="x"/><string key="org:resource" value="y"/>')
    body = "<log>" + _trace("c", _event("a", "2024-01-01T00:00:00Z"), twice) + "</log>"
    with pytest.raises(jl.InputError, match="event 2 carries the key 'org:resource' twice"):
        jl.read_xes(_write(tmp_path, body))
    body = "<log>" + _trace("c", _event("a", "2024-01-01T00:00:00Z"), attrs='<string key="s" value="1"/><int key="s" value="2"/>') + "</log>"
    with pytest.raises(jl.InputError, match="trace 1 carries the key 's' twice"):
        jl.read_xes(_write(tmp_path, body))
