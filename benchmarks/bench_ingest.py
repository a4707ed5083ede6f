"""Ingest benchmark: load + validate + sessionize a generated Parquet log.

Runs journeylens (``jl.read_parquet`` → ``jl.sessionize``) and a plain pandas
version of the same work (read, parse, sort by user/time, 30-minute sessions)
side by side, each in a fresh process, and prints seconds and peak memory.

    python benchmarks/bench_ingest.py                 # 10M events
    python benchmarks/bench_ingest.py --events 1e6    # quicker

The log (30 event types, 6 channels, ~10 events per user, string user ids) is
written once to ``benchmarks/data/`` and reused.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"


def make_log(n_events: int, path: Path, seed: int = 0) -> None:
    """A seeded synthetic log: ~10 events per user over 90 days, written as Parquet."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    n_users = max(1, n_events // 10)
    users = rng.integers(0, n_users, n_events)
    # Visits cluster in bursts so that sessions are non-trivial.
    visit_start = rng.integers(0, 90 * 86_400, n_users)[users] + rng.integers(0, 5, n_events) * 86_400 * 3
    seconds = visit_start + rng.exponential(300, n_events).astype("int64")
    ts = (np.datetime64("2025-01-01T00:00:00", "s") + seconds.astype("timedelta64[s]")).astype("datetime64[ms]")
    events = np.array([f"event_{i:02d}" for i in range(30)])[rng.integers(0, 30, n_events)]
    channels = np.array(["web", "app", "email", "sms", "ads", "store"])[rng.integers(0, 6, n_events)]
    user_ids = np.char.add("user_", np.char.zfill(users.astype(str), 8))
    table = pa.table({"user_id": user_ids, "timestamp": ts, "event": events, "channel": channels})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=1_000_000)


def run_journeylens(path: str) -> dict:
    import journeylens as jl

    t0 = time.perf_counter()
    log = jl.read_parquet(path)
    t1 = time.perf_counter()
    log = jl.sessionize(log, gap="30min")
    t2 = time.perf_counter()
    return {"load_s": t1 - t0, "sessionize_s": t2 - t1, "sessions": int(log.summary()["sessions"]), "events": len(log)}


def run_pandas(path: str) -> dict:
    import pandas as pd

    t0 = time.perf_counter()
    df = pd.read_parquet(path)
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    df = df.dropna(subset=["user_id", "timestamp", "event"]).sort_values(["user_id", "timestamp"], kind="stable")
    t1 = time.perf_counter()
    new_user = df["user_id"].ne(df["user_id"].shift())
    pause = df["timestamp"].diff() > pd.Timedelta("30min")
    df["session_id"] = (new_user | pause).cumsum() - 1
    t2 = time.perf_counter()
    return {"load_s": t1 - t0, "sessionize_s": t2 - t1, "sessions": int(df["session_id"].nunique()), "events": len(df)}


def _child(kind: str, path: str) -> None:
    result = (run_journeylens if kind == "journeylens" else run_pandas)(path)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=float, default=10e6)
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    n = int(args.events)
    path = DATA / f"ingest_{n}.parquet"
    if not path.exists():
        print(f"generating {n:,} events → {path}", file=sys.stderr)
        make_log(n, path)
    rows = {}
    for kind in ("journeylens", "pandas"):
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, __file__, "--child", kind, str(path)], check=True, capture_output=True, text=True
        )
        rows[kind] = json.loads(out.stdout.strip().splitlines()[-1])
        rows[kind]["process_s"] = time.perf_counter() - t0
    print(f"\ningest benchmark: {n:,} events, Parquet, 30-minute sessions")
    print(f"{'':12} {'load s':>8} {'sessionize s':>13} {'total s':>8} {'process s':>10} {'peak MB':>8} {'sessions':>10}")
    for kind, r in rows.items():
        total = r["load_s"] + r["sessionize_s"]
        print(
            f"{kind:12} {r['load_s']:8.2f} {r['sessionize_s']:13.2f} {total:8.2f} {r['process_s']:10.2f} "
            f"{r['peak_rss_mb']:8.0f} {r['sessions']:10,}"
        )
    jl_, pd_ = rows["journeylens"], rows["pandas"]
    if jl_["sessions"] != pd_["sessions"]:
        print("WARNING: session counts differ", file=sys.stderr)
    ratio = (pd_["load_s"] + pd_["sessionize_s"]) / (jl_["load_s"] + jl_["sessionize_s"])
    print(f"\npandas time / journeylens time: {ratio:.2f}×; "
          f"journeylens peak memory / pandas: {jl_['peak_rss_mb'] / pd_['peak_rss_mb']:.2f}×")
    print("(journeylens also validates, quarantines duplicates, normalises channels and encodes users/events.)")


if __name__ == "__main__":
    main()
