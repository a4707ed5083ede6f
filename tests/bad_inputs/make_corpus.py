"""Writes the bad-input corpus in this folder (run once; the files are committed).

    python tests/bad_inputs/make_corpus.py
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEAD = "user_id,timestamp,event,channel\n"
GOOD = [
    "u1,2024-03-01T10:00:00Z,home,web\n",
    "u1,2024-03-01T10:05:00Z,product_page,web\n",
    "u2,2024-03-02T08:00:00Z,home,app\n",
]


def text(name: str, content: str, encoding: str = "utf-8") -> None:
    (HERE / name).write_bytes(content.encode(encoding))


def raw(name: str, content: bytes) -> None:
    (HERE / name).write_bytes(content)


def xes(events: str, preamble: str = "") -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n{preamble}'
        '<log xes.version="1.0" xmlns="http://www.xes-standard.org/">\n'
        '<trace><string key="concept:name" value="c1"/>\n'
        f"{events}</trace>\n</log>\n"
    )


def main() -> None:
    good = HEAD + "".join(GOOD)
    raw("empty.csv", b"")
    text("header_only.csv", HEAD)
    raw("bom_utf8.csv", b"\xef\xbb\xbf" + good.encode())
    text("latin1.csv", HEAD + "u1,2024-03-01,caf\u00e9_visit,web\nu2,2024-03-01,r\u00e9sum\u00e9,email\n", "latin-1")
    text("utf16_bom.csv", good, "utf-16")
    text("semicolon.csv", good.replace(",", ";"))
    text("missing_time_column.csv", "user_id,event\nu1,home\n")
    text("unparsable_dates.csv", HEAD + GOOD[0] + "u1,31/31/2024 25:61,home,web\nu2,soon,cart,web\n")
    text("mixed_offsets.csv", HEAD + "u1,2024-03-01T10:00:00+02:00,a,web\nu1,2024-03-01T09:30:00+00:00,b,web\nu1,2024-03-01T04:45:00-05:00,c,web\n")
    text("null_ids.csv", HEAD + GOOD[0] + ",2024-03-01T11:00:00Z,home,web\n   ,2024-03-01T11:00:00Z,cart,web\nNA,2024-03-01T12:00:00Z,cart,web\n")
    text("missing_events.csv", HEAD + GOOD[0] + "u1,2024-03-01T11:00:00Z,,web\n")
    text("duplicates.csv", HEAD + GOOD[0] + GOOD[0] + GOOD[0] + GOOD[1])
    text("ragged_rows.csv", HEAD + GOOD[0] + "u1,2024-03-01T10:01:00Z,home,web,EXTRA,FIELDS\nu2,2024-03-01\n" + GOOD[2])
    with gzip.open(HERE / "huge_field.csv.gz", "wt") as f:
        f.write("user_id,timestamp,event,note\n")
        f.write("u1,2024-03-01T10:00:00Z,home," + "x" * 5_000_000 + "\n")
        f.write("u1,2024-03-01T10:01:00Z,cart,short\n")
    full = gzip.compress(good.encode() * 200)
    raw("truncated.csv.gz", full[: len(full) // 2])
    raw("gzip_without_extension.csv", gzip.compress(good.encode()))
    raw("binary_garbage.csv", bytes(range(256)) * 8)
    raw("nul_bytes.csv", (HEAD + "u1,2024-03-01T10:00:00Z,ho\x00me,web\n").encode())
    text("crlf_quoted_newlines.csv", HEAD.replace("\n", "\r\n") + 'u1,2024-03-01T10:00:00Z,"multi\r\nline",web\r\nu1,2024-03-01T10:01:00Z,cart,web\r\n')
    text("all_rows_bad.csv", HEAD + ",,,\n,2024-03-01,,\nu1,never,x,web\n")
    text("epoch_ms.csv", "customer_id,ts,action\nc1,1709287200000,open\nc1,1709290800000,click\n")
    text("formula_injection.csv", HEAD + "u1,2024-03-01T10:00:00Z,=HYPERLINK(\"http://x\"),web\nu1,not-a-date,@SUM(A1),web\n")
    text("script_event.jsonl", json.dumps({"user_id": "u1", "timestamp": "2024-03-01T10:00:00Z", "event": "<script>alert(1)</script>"}) + "\n")
    text("bad_lines.jsonl", json.dumps({"user_id": "u1", "timestamp": "2024-03-01T10:00:00Z", "event": "home"}) + "\n{not json\n[1, 2]\n\n" + json.dumps({"user_id": "u1", "timestamp": "2024-03-01T10:01:00Z", "event": "cart"}) + "\n")
    raw("empty.jsonl", b"")
    text("not_parquet.parquet", good)
    text("duplicate_header.csv", "user_id,timestamp,event,event\nu1,2024-03-01T10:00:00Z,home,cart\n")
    text("out_of_range.csv", HEAD + GOOD[0] + "u1,1900-01-01T00:00:00Z,home,web\nu1,2199-01-01T00:00:00Z,home,web\n")
    lol = "".join(f'<!ENTITY lol{i} "{"&lol%d;" % (i - 1) * 10}">\n' for i in range(1, 10))
    text("billion_laughs.xes", xes('<event><string key="concept:name" value="&lol9;"/></event>\n',
                                   f'<!DOCTYPE log [\n<!ENTITY lol0 "lol">\n{lol}]>\n'))
    text("xxe_local_file.xes", xes('<event><string key="concept:name" value="&xxe;"/><date key="time:timestamp" value="2024-03-01T10:00:00Z"/></event>\n',
                                   '<!DOCTYPE log [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'))
    text("xxe_external_dtd.xes", xes('<event><string key="concept:name" value="a"/></event>\n',
                                     '<!DOCTYPE log SYSTEM "http://127.0.0.1:9/evil.dtd">\n'))
    text("malformed.xes", xes('<event><string key="concept:name" value="a"/><date key="time:timestamp" value="2024-03-01T10:00:00Z">\n'))
    text("not_xes.xes", "<?xml version='1.0'?><html><body>hello</body></html>\n")
    full = gzip.compress(xes('<event><string key="concept:name" value="a"/><date key="time:timestamp" value="2024-03-01T10:00:00Z"/></event>\n' * 300).encode())
    raw("truncated.xes.gz", full[: len(full) // 2])
    text("xes_missing_values.xes", xes(
        '<event><string key="concept:name" value="a"/><date key="time:timestamp" value="2024-03-01T10:00:00+01:00"/></event>\n'
        '<event><string key="concept:name" value="b"/></event>\n'
        '<event><date key="time:timestamp" value="2024-03-01T11:00:00+01:00"/></event>\n'
        '<event><string key="concept:name" value="c"/><date key="time:timestamp" value="garbage"/></event>\n'))


if __name__ == "__main__":
    main()
