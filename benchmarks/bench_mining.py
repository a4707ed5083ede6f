"""Mining benchmark: directly-follows graph + variants (+ inductive discovery) vs pm4py.

journeylens: ``jl.read_parquet`` → ``jl.dfg`` (with performance columns) →
``jl.variants`` → ``jl.discover`` (inductive miner fed our DFG).
pm4py: ``pandas.read_parquet`` → ``format_dataframe`` → ``discover_dfg`` →
``get_variants``. Same seeded file, fresh process each, seconds and peak memory.

    python benchmarks/bench_mining.py                 # 10M events
    python benchmarks/bench_mining.py --events 1e6
"""

from __future__ import annotations

import os
import time

from common import run_benchmark


def run_journeylens(path: str) -> dict:
    import journeylens as jl

    t0 = time.perf_counter()
    log = jl.read_parquet(path, duplicates="keep")  # pm4py keeps duplicates too
    t1 = time.perf_counter()
    graph = jl.dfg(log)
    t2 = time.perf_counter()
    found = jl.variants(log)
    t3 = time.perf_counter()
    model = jl.discover(log, algorithm="inductive", noise=0.2)
    t4 = time.perf_counter()
    return {"load_s": t1 - t0, "mine_s": t3 - t1, "dfg_s": t2 - t1, "variants_s": t3 - t2,
            "discover_s": t4 - t3, "total_s": t3 - t0, "edges": len(graph.to_frame()),
            "variants": len(found.to_frame()), "places": len(model.net.places)}


def run_pm4py(path: str) -> dict:
    os.environ["PM4PY_SHOW_PROGRESS_BAR"] = "False"
    import pandas as pd
    import pm4py

    t0 = time.perf_counter()
    df = pd.read_parquet(path)
    t1 = time.perf_counter()
    df = pm4py.format_dataframe(df, case_id="user_id", activity_key="event", timestamp_key="timestamp")
    graph, _, _ = pm4py.discover_dfg(df)
    t2 = time.perf_counter()
    found = pm4py.get_variants(df)
    t3 = time.perf_counter()
    return {"load_s": t1 - t0, "mine_s": t3 - t1, "dfg_s": t2 - t1, "variants_s": t3 - t2,
            "total_s": t3 - t0, "edges": len(graph), "variants": len(found)}


RUNNERS = {"journeylens": run_journeylens, "pm4py": run_pm4py}


def main() -> None:
    rows = run_benchmark(__file__, __doc__, RUNNERS, "mining benchmark: {n:,} events (load, DFG, variants; discovery apart)",
                         ["load_s", "dfg_s", "variants_s", "mine_s", "total_s", "discover_s", "peak_rss_mb", "edges", "variants"])
    if rows is None:
        return
    if len(rows) == 2:
        ours, ref = rows["journeylens"], rows["pm4py"]
        if (ours["edges"], ours["variants"]) != (ref["edges"], ref["variants"]):
            print("WARNING: edge or variant counts differ")
        print(f"\npm4py DFG+variants time / journeylens: {ref['mine_s'] / ours['mine_s']:.1f}×; "
              f"end to end (with load): {ref['total_s'] / ours['total_s']:.1f}×; "
              f"peak memory journeylens / pm4py: {ours['peak_rss_mb'] / ref['peak_rss_mb']:.2f}×")


if __name__ == "__main__":
    main()
