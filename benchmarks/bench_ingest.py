"""Ingest benchmark: load + validate + sessionize a generated Parquet log.

Runs journeylens (``jl.read_parquet`` → ``jl.sessionize``) and a plain pandas
version of the same work (read, sort by user/time, 30-minute sessions) side by
side, each in a fresh process, and prints seconds and peak memory.

    python benchmarks/bench_ingest.py                 # 10M events
    python benchmarks/bench_ingest.py --events 1e6    # quicker
"""

from __future__ import annotations

import sys
import time

from common import run_benchmark


def run_journeylens(path: str) -> dict:
    import journeylens as jl

    t0 = time.perf_counter()
    log = jl.read_parquet(path)
    t1 = time.perf_counter()
    log = jl.sessionize(log, gap="30min")
    t2 = time.perf_counter()
    return {"load_s": t1 - t0, "sessionize_s": t2 - t1, "total_s": t2 - t0,
            "sessions": int(log.summary()["sessions"]), "events": len(log)}


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
    return {"load_s": t1 - t0, "sessionize_s": t2 - t1, "total_s": t2 - t0,
            "sessions": int(df["session_id"].nunique()), "events": len(df)}


RUNNERS = {"journeylens": run_journeylens, "pandas": run_pandas}


def main() -> None:
    rows = run_benchmark(__file__, __doc__, RUNNERS, "ingest benchmark: {n:,} events, Parquet, 30-minute sessions",
                         ["load_s", "sessionize_s", "total_s", "process_s", "peak_rss_mb", "sessions"])
    if rows is None:
        return
    if len(rows) == 2:
        ours, ref = rows["journeylens"], rows["pandas"]
        if ours["sessions"] != ref["sessions"]:
            print("WARNING: session counts differ", file=sys.stderr)
        print(f"\npandas time / journeylens time: {ref['total_s'] / ours['total_s']:.2f}×; "
              f"journeylens peak memory / pandas: {ours['peak_rss_mb'] / ref['peak_rss_mb']:.2f}×")
        print("(journeylens also validates, quarantines duplicates, normalises channels and encodes users/events.)")


if __name__ == "__main__":
    main()
