"""Side-by-side benchmark: journeylens vs pm4py vs retentioneering vs the Arrow floor.

Same seeded Parquet log (``common.dataset``: ~10 events per user, 30 events,
6 channels), each pipeline in fresh processes (``--repeat`` runs, 3 by default, Spark one;
the run of median total is reported; the log's files are read just before each run, so
that every run finds them in the page cache), seconds and peak RSS:

- journeylens: ``jl.read_parquet`` → ``jl.sessionize`` → ``jl.dfg`` →
  ``jl.variants`` → ``jl.user_features`` (reading includes validation,
  duplicate quarantine and id encoding).
- journeylens-duckdb / journeylens-spark: the same steps on a log that stays in
  DuckDB on disk (``engine="duckdb"``, for logs larger than memory) or in Spark
  local mode; the per-user table stays in the engine (``as_table=True``).
- pm4py: ``pandas.read_parquet`` → ``format_dataframe`` → ``discover_dfg`` →
  ``discover_performance_dfg`` → ``get_variants``.
- retentioneering: ``pandas.read_parquet`` → ``Eventstream`` →
  ``split_sessions(timeout="30m")`` → transition counts. It lives in its own
  environment (``bash benchmarks/peers_env.sh`` creates ``benchmarks/.peers-venv``).
- floor: ``pyarrow.parquet.read_table`` + one group-by (events per user), the
  least any engine pays for this input.

    python benchmarks/run.py                        # 1M, 10M, 100M events, writes benchmarks/results.md
    python benchmarks/run.py --events 1e6           # one size

Beyond 20M events only the pipelines that need not hold the log in memory run
(journeylens-duckdb, with ``JOURNEYLENS_MEMORY_LIMIT`` at 6GB so DuckDB spills and
the whole process, chunks of rows in numpy included, stays within 8 GB; and the
floor); Spark runs up to 10M events.
    python benchmarks/run.py --only journeylens --only floor --no-write

Then, in fresh processes too, the other figures of the speed targets: ``journeylens
analyze`` on the 10M log with and without personas (the whole process's wall time)
and ``import journeylens`` beside ``import pandas`` (``--no-targets`` skips them);
results.md ends with every target beside what the run measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from common import HERE, dataset, measure, print_table, run_child, warm_memory

PEERS_PYTHON = HERE / ".peers-venv" / "bin" / "python"
RESULTS = HERE / "results.md"
SESSION_GAP = "30min"
STAGES = ["load_s", "sessionize_s", "dfg_s", "variants_s", "features_s"]


def _versions(*modules: str) -> dict[str, str]:
    from importlib.metadata import version

    return {m: version(m) for m in modules}


def run_journeylens(path: str) -> dict:
    t = time.perf_counter()
    import journeylens as jl

    t0 = time.perf_counter()
    log = jl.read_parquet(path)
    t1 = time.perf_counter()
    log = jl.sessionize(log, gap=SESSION_GAP)
    t2 = time.perf_counter()
    graph = jl.dfg(log)
    t3 = time.perf_counter()
    found = jl.variants(log)
    t4 = time.perf_counter()
    features = jl.user_features(log)
    t5 = time.perf_counter()
    return {"import_s": t0 - t, "load_s": t1 - t0, "sessionize_s": t2 - t1, "dfg_s": t3 - t2,
            "variants_s": t4 - t3, "features_s": t5 - t4, "work_s": t5 - t1, "total_s": t5 - t0,
            "events": len(log), "sessions": int(log.summary()["sessions"]), "edges": len(graph.to_frame()),
            "variants": len(found.to_frame()), "users": len(features),
            "versions": _versions("journeylens", "pandas", "pyarrow", "duckdb", "numpy")}


def run_held(path: str, engine: str) -> dict:
    """The same pipeline on a log held by ``engine`` (DuckDB on disk, or Spark local mode): only small
    results and the per-user table's row count, column sums and user-id lengths come back."""
    t = time.perf_counter()
    import journeylens as jl
    from journeylens.engine.sql import dialect_of, quote, run

    if engine == "spark":
        jl.spark_session()
    t0 = time.perf_counter()
    log = jl.read_parquet(path, engine=engine)
    t1 = time.perf_counter()
    log = jl.sessionize(log, gap=SESSION_GAP)
    t2 = time.perf_counter()
    graph = jl.dfg(log)
    t3 = time.perf_counter()
    found = jl.variants(log, top=20)
    t4 = time.perf_counter()
    features = jl.user_features(log, as_table=True)
    # a sum of every column, the user ids' lengths too: what comes back needs every feature and every
    # name, whatever an optimiser may prune for a count
    sums = ", ".join(f"sum({quote(c, dialect_of(features))})" for c in features.columns if c != "user_id")
    users = int(run(f"SELECT count(*) AS n, sum(length(user_id)) AS chars, {sums} FROM f", {"f": features})["n"][0])
    t5 = time.perf_counter()
    return {"import_s": t0 - t, "load_s": t1 - t0, "sessionize_s": t2 - t1, "dfg_s": t3 - t2,
            "variants_s": t4 - t3, "features_s": t5 - t4, "work_s": t5 - t1, "total_s": t5 - t0,
            "events": len(log), "sessions": int(log.summary()["sessions"]), "edges": len(graph.to_frame()),
            "variants": found.n_variants, "users": users,
            "versions": _versions("journeylens", "duckdb", *(["pyspark"] if engine == "spark" else []))}


def run_duckdb(path: str) -> dict:
    return run_held(path, "duckdb")


def run_spark(path: str) -> dict:
    return run_held(path, "spark")


def run_pm4py(path: str) -> dict:
    os.environ["PM4PY_SHOW_PROGRESS_BAR"] = "False"
    t = time.perf_counter()
    import pandas as pd
    import pm4py

    t0 = time.perf_counter()
    df = pd.read_parquet(path)
    t1 = time.perf_counter()
    df = pm4py.format_dataframe(df, case_id="user_id", activity_key="event", timestamp_key="timestamp")
    t2 = time.perf_counter()
    graph, _, _ = pm4py.discover_dfg(df)
    t3 = time.perf_counter()
    pm4py.discover_performance_dfg(df)
    t4 = time.perf_counter()
    found = pm4py.get_variants(df)
    t5 = time.perf_counter()
    return {"import_s": t0 - t, "load_s": t1 - t0, "format_s": t2 - t1, "dfg_s": t3 - t2,
            "performance_dfg_s": t4 - t3, "variants_s": t5 - t4, "work_s": t5 - t1, "total_s": t5 - t0,
            "events": len(df), "edges": len(graph), "variants": len(found),
            "versions": _versions("pm4py", "pandas")}


def run_retentioneering(path: str) -> dict:
    os.environ["RETENTIONEERING_NO_TRACK"] = "1"  # no usage reports to a remote service
    t = time.perf_counter()
    import pandas as pd
    from retentioneering import Eventstream

    t0 = time.perf_counter()
    df = pd.read_parquet(path)
    t1 = time.perf_counter()
    stream = Eventstream(df, schema={"path_cols": ["user_id"], "event_col": "event", "timestamp_col": "timestamp"})
    t2 = time.perf_counter()
    stream = stream.split_sessions(timeout="30m")
    t3 = time.perf_counter()
    counts = stream.transition_graph_data(edge_weight="count")
    t4 = time.perf_counter()
    # The matrix has path_start/path_end pseudo-events; count only event → event steps.
    real = [c for c in counts.columns if not str(c).startswith("path_")]
    steps = counts.loc[[r for r in counts.index if not str(r).startswith("path_")], real]
    return {"import_s": t0 - t, "load_s": t1 - t0, "eventstream_s": t2 - t1, "sessionize_s": t3 - t2,
            "transitions_s": t4 - t3, "work_s": t4 - t1, "total_s": t4 - t0, "events": len(df),
            "sessions": int(stream.df["session_id"].nunique()), "edges": int((steps.to_numpy() > 0).sum()),
            "versions": _versions("retentioneering", "pandas", "duckdb")}


def run_floor(path: str) -> dict:
    t = time.perf_counter()
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    table = pq.read_table(path)
    t1 = time.perf_counter()
    per_user = table.group_by("user_id").aggregate([("event", "count")])
    t2 = time.perf_counter()
    return {"import_s": t0 - t, "load_s": t1 - t0, "work_s": t2 - t1, "total_s": t2 - t0,
            "events": table.num_rows, "users": per_user.num_rows, "versions": _versions("pyarrow")}


def run_analyze(path: str, personas: bool) -> dict:
    """The batch command on the log, as a user runs it; the process's wall time is the figure."""
    import json
    import shutil
    import tempfile

    from journeylens.app import cli

    out = tempfile.mkdtemp(prefix="bench-analyze-")
    sys.argv = ["journeylens", "analyze", path, "--goal", ANALYZE_GOAL, "-q", "--out", out,
                *([] if personas else ["--personas", "0"])]
    try:
        cli.main()
    except SystemExit as stop:
        if stop.code:
            raise RuntimeError(f"journeylens analyze exited with {stop.code}") from None
    summary = json.loads((Path(out) / "summary.json").read_text())
    shutil.rmtree(out, ignore_errors=True)
    return {"steps": summary["seconds"], "events": summary["events"], "versions": _versions("journeylens")}


def run_import(module: str) -> dict:
    t = time.perf_counter()
    __import__(module)
    return {"import_s": time.perf_counter() - t}


RUNNERS = {"journeylens": run_journeylens, "journeylens-duckdb": run_duckdb, "journeylens-spark": run_spark,
           "pm4py": run_pm4py, "retentioneering": run_retentioneering, "floor": run_floor}
#: the other figures the speed targets name, each in a fresh process too
TARGET_RUNNERS = {"analyze": lambda path: run_analyze(path, personas=False),
                  "analyze-personas": lambda path: run_analyze(path, personas=True),
                  "import-pandas": lambda path: run_import("pandas"),
                  "import-journeylens": lambda path: run_import("journeylens")}
ANALYZE_GOAL = "event_29"
#: the log size the analyze targets are set at
ANALYZE_EVENTS = 10_000_000
COLUMNS = ["import_s", "load_s", "work_s", "total_s", "process_s", "peak_rss_mb", "events", "sessions", "edges",
           "variants"]


#: above this many events, pipelines that hold the whole log in pandas are not run
LARGE = 20_000_000
SPARK_MAX = 10_000_000
#: DuckDB's share of an 8 GB run: its limit covers its own buffers, not the chunks the held
#: passes hold in numpy nor the dictionaries (at 100M events 8GB gave a 9.6 GB peak, 6GB 7.8 GB)
HELD_MEMORY_LIMIT = "6GB"
#: pipelines run once whatever ``--repeat`` says (Spark's runs take minutes, and no target names them)
ONCE = ("journeylens-spark",)


def kinds_for(n: int, kinds: list[str]) -> list[str]:
    """The pipelines run at ``n`` events (see the module docstring)."""
    if n > LARGE:
        kinds = [k for k in kinds if k in ("journeylens-duckdb", "floor")]
    return [k for k in kinds if k != "journeylens-spark" or n <= SPARK_MAX]


def ratios(rows: dict[str, dict]) -> dict[str, dict[str, float]]:
    """Each pipeline's total seconds and peak RSS divided by the reference journeylens pipeline's
    (>1: journeylens is faster/smaller)."""
    ours = reference(rows)
    if ours is None:
        return {}
    return {kind: {"time": r["total_s"] / rows[ours]["total_s"], "rss": r["peak_rss_mb"] / rows[ours]["peak_rss_mb"]}
            for kind, r in rows.items() if kind != ours}


def reference(rows: dict[str, dict]) -> str | None:
    """The journeylens pipeline others are compared with: in memory, else the first held one."""
    return next((k for k in ("journeylens", "journeylens-duckdb", "journeylens-spark") if k in rows), None)


def disagreements(rows: dict[str, dict]) -> list[str]:
    """Counts that pipelines reporting them do not agree on (events differ by the duplicates journeylens quarantines)."""
    found = []
    for key in ("sessions", "edges", "variants"):
        values = {kind: r[key] for kind, r in rows.items() if key in r}
        if len(set(values.values())) > 1:
            found.append(f"{key} differ: " + ", ".join(f"{kind} {v:,}" for kind, v in values.items()))
    return found


def machine() -> dict[str, str]:
    """The facts a reader needs to compare these numbers with their own."""
    meminfo = Path("/proc/meminfo").read_text().split("\n") if Path("/proc/meminfo").exists() else []
    mem_kb = next((int(line.split()[1]) for line in meminfo if line.startswith("MemTotal")), 0)
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
                 platform.processor() or "unknown")
    return {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "cores": str(len(os.sched_getaffinity(0))), "memory": f"{mem_kb / 2**20:.1f} GiB", "cpu": model,
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version()}


#: a fresh process writes 1 GiB it has just allocated, then writes it again
MEMORY_PROBE = ("import time, numpy as np\n"
                "t = time.perf_counter(); a = np.ones(1 << 27); t1 = time.perf_counter(); a[:] = 2\n"
                "print(t1 - t, time.perf_counter() - t1)")


def memory_speed() -> tuple[float, float]:
    """Seconds to write 1 GiB of fresh memory, then to write it again. On a virtual machine whose host
    hands pages over when first touched, the first figure differs from one host to the next (1.4 s per
    GiB on an AMD EPYC, 2.8 s on an Intel Xeon, both 2 cores) and takes much of a memory-heavy
    pipeline's time with it: runs on different machines compare only beside it."""
    first, again = subprocess.run([sys.executable, "-c", MEMORY_PROBE], capture_output=True, text=True,
                                  check=True).stdout.split()
    return float(first), float(again)


def report(sizes: dict[int, dict[str, dict]], facts: dict[str, str], command: str,
           extra: dict[str, dict] | None = None) -> str:
    """results.md: machine facts, versions, one table per size, ratios, journeylens's time per stage, and
    the speed targets against this run's figures (``extra``: the target runs)."""
    versions: dict[str, str] = {}
    for rows in sizes.values():
        for r in rows.values():
            versions.update(r.get("versions", {}))
    out = ["# Benchmark: journeylens vs pm4py vs retentioneering", "",
           f"`{command}` — {facts['date']}, load average at start {facts['load']}.", "",
           f"Machine: {facts['cores']} cores ({facts['cpu']}), {facts['memory']} RAM, {facts['os']}, "
           f"Python {facts['python']}; at the start, {facts['memory speed']}.", "",
           "Versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) + ".", "",
           "Each pipeline runs in fresh processes on the same seeded Parquet log (~10 events per user, "
           "30 event names, 6 channels), its files read once just before each run, so that every run finds "
           "them in the page cache, and the machine's available memory is written once before the first run "
           "(a virtual machine's host may back a page only when it is first touched, which then costs ten "
           f"times a later touch: the first runs would pay it, the later ones not). {_rounds(sizes)} "
           "*total* = load + work, imports excluded; *process* is the whole "
           "process's wall time (interpreter start and imports included); peak RSS is the process's maximum "
           "resident memory plus that of its live child processes (Spark's JVM). The pipelines do not do identical work:", "",
           "- **journeylens**: `read_parquet` (validation, duplicate quarantine, id encoding) → `sessionize` "
           "(30 min) → `dfg` (counts, users, mean/median/p90 gaps) → `variants` → `user_features`.",
           "- **journeylens-duckdb**, **journeylens-spark**: the same steps on a log held by DuckDB on disk "
           "(`read_parquet(engine='duckdb')`, for logs larger than memory) or by Spark local mode; the "
           "per-user table stays in the engine (`user_features(as_table=True)`) and only its row count, "
           "column sums and the total length of its user ids come back (so that no engine can skip computing "
           "a feature or a name). "
           f"Beyond {LARGE:,} events only these run (DuckDB memory limit {HELD_MEMORY_LIMIT}, so it spills to disk "
           "and the process stays within 8 GB).",
           "- **pm4py**: `pandas.read_parquet` → `format_dataframe` → `discover_dfg` → "
           "`discover_performance_dfg` → `get_variants` (no sessions, no per-user features).",
           "- **retentioneering**: `pandas.read_parquet` → `Eventstream` → `split_sessions(timeout='30m')` → "
           "`transition_graph_data(edge_weight='count')` (no gap statistics, variants or features); "
           "separate environment from `benchmarks/peers_env.sh`.",
           "- **floor**: `pyarrow.parquet.read_table` + one group-by (events per user): the least any engine pays.",
           ""]
    for n, rows in sizes.items():
        rel = ratios(rows)
        out += [f"## {n:,} events", "",
                f"| pipeline | import s | load s | work s | total s | process s | peak RSS MB | time ÷ {reference(rows)} "
                f"| RSS ÷ {reference(rows)} | events | sessions | edges | variants |",
                "|---|" + "---:|" * 12]
        for kind, r in rows.items():
            time_ratio, rss_ratio = (rel[kind]["time"], rel[kind]["rss"]) if kind in rel else (1.0, 1.0)
            cells = [_cell(r, "import_s"), _cell(r, "load_s"), _cell(r, "work_s"), _cell(r, "total_s"),
                     _cell(r, "process_s"), _cell(r, "peak_rss_mb", "{:,.0f}"), f"{time_ratio:.2f}",
                     f"{rss_ratio:.2f}"] + [_cell(r, key, "{:,}") for key in ("events", "sessions", "edges", "variants")]
            out.append(f"| {kind} | " + " | ".join(cells) + " |")
        agreement = disagreements(rows) or ["sessions, edges and variants agree wherever reported"]
        out += ["", _summary(rows), "", "Agreement: " + "; ".join(agreement) + ".", "", _runs(rows), ""]
        ours = [k for k in rows if k.startswith("journeylens")]
        if ours:
            out += ["journeylens per stage (seconds):", "",
                    "| pipeline | " + " | ".join(s.removesuffix("_s") for s in STAGES) + " |",
                    "|---|" + "---:|" * len(STAGES)]
            out += ["| " + " | ".join([k] + [f"{rows[k][s]:.2f}" for s in STAGES]) + " |" for k in ours] + [""]
    out += targets(sizes, extra or {})
    return "\n".join(out)


def _rounds(sizes: dict[int, dict[str, dict]]) -> str:
    """How many runs each pipeline had, in a sentence."""
    most = max((len(r.get("runs", [])) for rows in sizes.values() for r in rows.values()), default=1)
    if most <= 1:
        return "Each runs once."
    return (f"Each runs {most} times ({', '.join(ONCE)} once), round after round; a row is the pipeline's "
            "run of median total, and the totals of all runs follow each table.")


def _runs(rows: dict[str, dict]) -> str:
    """The totals of every run of each pipeline (seconds), in run order."""
    totals = {kind: r.get("runs", [r.get("total_s", 0.0)]) for kind, r in rows.items()}
    return "Totals of the runs (s): " + "; ".join(
        f"{kind} " + " / ".join(f"{t:.2f}" for t in runs) for kind, runs in totals.items()) + "."


def targets(sizes: dict[int, dict[str, dict]], extra: dict[str, dict]) -> list[str]:
    """The speed targets beside what this run measured (rows for the sizes and runs that were made)."""
    rows = []

    def add(name: str, value: float, goal: str, met: bool, fmt: str) -> None:
        rows.append(f"| {name} | {fmt.format(value)} | {goal} | {'yes' if met else 'no'} |")

    ten = sizes.get(ANALYZE_EVENTS, {})
    if "journeylens" in ten:
        rel = ratios(ten)  # each peer's figure ÷ journeylens's
        for peer, goal in (("pm4py", 10), ("retentioneering", 5)):
            if peer in rel:
                ratio = rel[peer]["time"]
                add(f"10M: {peer}'s time ÷ journeylens's", ratio, f"≥ {goal}×", ratio >= goal, "{:.2f}×")
        if "floor" in rel:
            ratio = 1 / rel["floor"]["time"]
            add("10M: journeylens's time ÷ the floor's", ratio, "≤ 3×", ratio <= 3, "{:.1f}×")
        if "pm4py" in rel:
            ratio = 1 / rel["pm4py"]["rss"]
            add("10M: journeylens's peak memory ÷ pm4py's", ratio, "≤ 0.5", ratio <= 0.5, "{:.2f}")
    held = sizes.get(100_000_000, {}).get("journeylens-duckdb")
    if held:
        add("100M held by DuckDB: total s", held["total_s"], "≤ 120 s", held["total_s"] <= 120, "{:,.0f} s")
        gb = held["peak_rss_mb"] / 1024
        add("100M held by DuckDB: peak memory", gb, "≤ 8 GB", gb <= 8, "{:.1f} GB")
    for kind, goal, label in (("analyze", 30, "without personas"), ("analyze-personas", 60, "with personas")):
        if kind in extra:
            seconds = extra[kind]["process_s"]
            add(f"`journeylens analyze` at 10M, {label}", seconds, f"≤ {goal} s", seconds <= goal, "{:.1f} s")
    if "import-pandas" in extra and "import-journeylens" in extra:
        above = extra["import-journeylens"]["import_s"] - extra["import-pandas"]["import_s"]
        add("`import journeylens` above `import pandas`", above, "≤ 0.5 s", above <= 0.5, "{:.2f} s")
    if not rows:
        return []
    out = ["## Speed targets", "", "| target | measured | goal | met |", "|---|---:|---|---|", *rows, ""]
    steps = {kind: extra[kind]["steps"] for kind in ("analyze", "analyze-personas") if kind in extra}
    if steps:
        names = list(dict.fromkeys(name for s in steps.values() for name in s))
        out += [f"`journeylens analyze` at {ANALYZE_EVENTS:,} events (`--goal {ANALYZE_GOAL}`) per step, seconds "
                "(the steps of its summary.json; the process also starts Python and imports):", "",
                "| run | " + " | ".join(names) + " | process |", "|---|" + "---:|" * (len(names) + 1)]
        out += [f"| {kind} | " + " | ".join(f"{s[n]:.2f}" if n in s else "–" for n in names)
                + f" | {extra[kind]['process_s']:.2f} |" for kind, s in steps.items()] + [""]
    return out


def _cell(row: dict, key: str, fmt: str = "{:,.2f}") -> str:
    return fmt.format(row[key]) if key in row else "–"


def _summary(rows: dict[str, dict]) -> str:
    """One sentence of ratios: how many times faster than each peer, how many floors we pay."""
    rel, ours = ratios(rows), reference(rows)
    parts = [f"{kind} takes {r['time']:.2f}× {ours}'s time and {r['rss']:.2f}× its peak memory"
             for kind, r in rel.items() if kind != "floor"]
    if "floor" in rel:
        parts.append(f"{ours} takes {1 / rel['floor']['time']:.1f}× the floor's time "
                     f"and {1 / rel['floor']['rss']:.1f}× its memory")
    return ("; ".join(parts) + ".") if parts else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=float, action="append", help="log size; repeat for several (default 1e6, 1e7, 1e8)")
    parser.add_argument("--only", choices=sorted(RUNNERS), action="append", help="run only these pipelines")
    parser.add_argument("--peers-python", default=str(PEERS_PYTHON), help="interpreter that has retentioneering")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before a pipeline is stopped")
    parser.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.name}")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--no-targets", action="store_true", help="skip the analyze and import runs")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each pipeline (Spark: one); the run of median total is reported")
    args = parser.parse_args()
    if args.child:
        run_child({**RUNNERS, **TARGET_RUNNERS}, *args.child)
        return

    kinds = args.only or list(RUNNERS)
    if "retentioneering" in kinds and not Path(args.peers_python).exists():
        print(f"skipping retentioneering: {args.peers_python} missing; run `bash benchmarks/peers_env.sh`",
              file=sys.stderr)
        kinds.remove("retentioneering")
    facts = machine()
    facts["load"] = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    (cold, cold_again), (gib, took) = memory_speed(), warm_memory()
    warmed, warmed_again = memory_speed()
    facts["memory speed"] = (f"1 GiB of fresh memory written in {cold:.2f} s, then again in {cold_again:.2f} s; "
                             f"after {gib:.0f} GiB were written once in {took:.0f} s (see common.warm_memory), "
                             f"1 GiB written in {warmed:.2f} s, then again in {warmed_again:.2f} s")
    sizes = {}
    for n in (int(e) for e in (args.events or [1e6, 1e7, 1e8])):
        if n > LARGE:
            os.environ.setdefault("JOURNEYLENS_MEMORY_LIMIT", HELD_MEMORY_LIMIT)  # read by the child processes
        rows = measure(__file__, kinds_for(n, kinds), dataset(n), python={"retentioneering": args.peers_python},
                       timeout=args.timeout, repeat=args.repeat, once=ONCE)
        sizes[n] = rows
        print_table(f"journeylens vs peers: {n:,} events (seconds, MB)", rows, COLUMNS)
        for kind, r in ratios(rows).items():
            print(f"{kind:>18} / {reference(rows)}: time {r['time']:.2f}×, peak RSS {r['rss']:.2f}×")
        for warning in disagreements(rows):
            print(f"WARNING: {warning}", file=sys.stderr)
        for kind in (k for k in rows if k.startswith("journeylens")):
            print(f"{kind} per stage: " + ", ".join(f"{s} {rows[kind][s]:.2f}" for s in STAGES))
    extra = {}
    if not args.no_targets:
        extra = measure(__file__, list(TARGET_RUNNERS), dataset(ANALYZE_EVENTS), timeout=args.timeout,
                        repeat=args.repeat)
        print("\n" + "\n".join(targets(sizes, extra)))
    if not args.no_write:
        command = "python benchmarks/run.py " + " ".join(sys.argv[1:])
        RESULTS.write_text(report(sizes, facts, command.strip(), extra) + "\n")
        print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
