"""Shared benchmark plumbing: the seeded log, fresh-process runs, peak memory, tables.

Each measured pipeline runs in its own Python process (``--child KIND PATH``) so
imports, caches and peak RSS of one tool never colour another's numbers.
"""

from __future__ import annotations

import argparse
import functools
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

Runner = Callable[[str], dict]


#: logs larger than this are written as a folder of Parquet files of this many events each
CHUNK = 10_000_000


def make_log(n_events: int, path: Path, seed: int = 0, n_users: int | None = None) -> None:
    """A seeded synthetic log: ~10 events per user over 90 days, 30 events, 6 channels, as Parquet.

    Each user's visits start at a day drawn from ``n_users`` alone, so the files of a
    large log (other seeds, same ``n_users``) describe the same users' visits.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    n_users = n_users or max(1, n_events // 10)
    users = rng.integers(0, n_users, n_events)
    first_visit = np.random.default_rng(n_users).integers(0, 90 * 86_400, n_users)
    # Visits cluster in bursts so that sessions are non-trivial.
    visit_start = first_visit[users] + rng.integers(0, 5, n_events) * 86_400 * 3
    seconds = visit_start + rng.exponential(300, n_events).astype("int64")
    ts = (np.datetime64("2025-01-01T00:00:00", "s") + seconds.astype("timedelta64[s]")).astype("datetime64[ms]")
    events = np.array([f"event_{i:02d}" for i in range(30)])[rng.integers(0, 30, n_events)]
    channels = np.array(["web", "app", "email", "sms", "ads", "store"])[rng.integers(0, 6, n_events)]
    user_ids = np.char.add("user_", np.char.zfill(users.astype(str), 8))
    table = pa.table({"user_id": user_ids, "timestamp": ts, "event": events, "channel": channels})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=1_000_000)


def dataset(n_events: int) -> Path:
    """The seeded log of ``n_events`` events, generated once into ``benchmarks/data/``: one file, or
    beyond :data:`CHUNK` events a folder of files (users spread over all of them)."""
    if n_events <= CHUNK:
        path = DATA / f"ingest_{n_events}.parquet"
        if not path.exists():
            print(f"generating {n_events:,} events → {path}", file=sys.stderr)
            make_log(n_events, path)
        return path
    folder = DATA / f"ingest_{n_events}"
    done = folder / "_complete"
    if not done.exists():
        print(f"generating {n_events:,} events → {folder}/", file=sys.stderr)
        for k, start in enumerate(range(0, n_events, CHUNK)):
            make_log(min(CHUNK, n_events - start), folder / f"part-{k:04d}.parquet", seed=k,
                     n_users=max(1, n_events // 10))
        done.touch()
    return folder


def parse_args(doc: str, runners: dict[str, Runner], default_events: float = 10e6) -> argparse.Namespace | None:
    """Command line of a benchmark script; in a child process, run one pipeline, print JSON and return None."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--events", type=float, default=default_events)
    parser.add_argument("--only", choices=sorted(runners), action="append", help="run only these pipelines")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(runners, *args.child)
        return None
    return args


def _children_peak_kb() -> int:
    """Peak resident memory (kB) of this process's live descendants, e.g. Spark's JVM."""
    import psutil

    total = 0
    for child in psutil.Process().children(recursive=True):
        try:
            status = Path(f"/proc/{child.pid}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
    return total


def run_child(runners: dict[str, Runner], kind: str, path: str) -> None:
    """Inside a fresh process: run one pipeline and print its result, with peak RSS, as one JSON line."""
    result = runners[kind](path)
    result["peak_rss_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + _children_peak_kb()) / 1024
    print(json.dumps(result))


def warm(path: Path) -> None:
    """Read the log's files once, so that every pipeline finds them in the page cache: the first one to
    run would otherwise pay the disk alone (1.7 s more to load 10M events from a cold 150 MB file)."""
    for f in sorted(path.rglob("*.parquet")) if path.is_dir() else [path]:
        with open(f, "rb") as handle:
            while handle.read(1 << 24):
                pass


#: what warming leaves the machine for its own caches and the page cache of the log (GiB)
SPARE_GIB = 2


@functools.cache
def warm_memory() -> tuple[float, float]:
    """Write the machine's available memory once, a GiB at a time, in a process that then exits.

    On a virtual machine whose host backs a page only when the guest first touches it (a
    Firecracker VM, for one), that first touch costs about ten times what it costs on any later
    process: 2 GiB took 5.7 s, then 0.47 s in the next process. Without this, the first pipelines
    to run pay what the later ones do not, and a memory-heavy run on a freshly booted machine is
    slower than the same run an hour later. Once per benchmark process; returns the GiB written
    and the seconds it took."""
    meminfo = Path("/proc/meminfo")
    lines = meminfo.read_text().splitlines() if meminfo.exists() else []
    available = next((int(line.split()[1]) for line in lines if line.startswith("MemAvailable")), 0) / 2**20
    gib = max(0, int(available - SPARE_GIB))
    code = f"import numpy as np\nkeep = [np.ones(1 << 27) for _ in range({gib})]"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return float(gib), time.perf_counter() - t0


def measure(script: str, kinds: list[str], path: Path, python: Mapping[str, str] | None = None,
            timeout: float | None = None, repeat: int = 1, once: Sequence[str] = ()) -> dict[str, dict]:
    """Run each pipeline in a fresh process; its JSON result plus wall time of the whole process.

    ``python`` names another interpreter for some kinds (a peer tool living in its
    own environment); the others run under this one. A pipeline that fails or
    outlives ``timeout`` seconds is reported on stderr and left out. With ``repeat``,
    the pipelines run that many rounds (those in ``once`` only in the first), one
    after another in each round so that a drift of the machine meets them all alike;
    each pipeline's row is its run of median total (``runs``: the totals of all its runs).
    """
    warm_memory()
    done: dict[str, list[dict]] = {kind: [] for kind in kinds}
    for round_ in range(repeat):
        for kind in kinds:
            if round_ and (kind in once or not done[kind]):  # once, or it failed: not again
                continue
            result = _run(script, kind, path, (python or {}).get(kind, sys.executable), timeout)
            if result is not None:
                done[kind].append(result)
    rows = {}
    for kind, results in done.items():
        if results:
            totals = sorted(results, key=_total)
            rows[kind] = {**totals[(len(totals) - 1) // 2], "runs": [_total(r) for r in results]}
    return rows


def _total(result: dict) -> float:
    return result.get("total_s", result["process_s"])


def _run(script: str, kind: str, path: Path, python: str, timeout: float | None) -> dict | None:
    """One run of one pipeline in a fresh process (None when it fails or outlives ``timeout``)."""
    warm(path)
    command = [python, script, "--child", kind, str(path)]
    t0 = time.perf_counter()
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"{kind} stopped after {timeout:.0f} s", file=sys.stderr)
        return None
    if out.returncode != 0:
        print(f"{kind} failed:\n{out.stderr[-2000:]}", file=sys.stderr)
        return None
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - t0
    return result


def print_table(title: str, rows: dict[str, dict], columns: list[str]) -> None:
    """A fixed-width table: one line per pipeline, numbers with two decimals."""
    print(f"\n{title}")
    print(f"{'':14}" + "".join(f"{c:>14}" for c in columns))
    for kind, r in rows.items():
        cells = (r.get(c, float("nan")) for c in columns)
        print(f"{kind:14}" + "".join(f"{v:14,.2f}" if isinstance(v, float) else f"{v:>14,}" for v in cells))


def run_benchmark(script: str, doc: str, runners: dict[str, Runner], title: str, columns: list[str]) -> dict | None:
    """The whole command: parse arguments, run each pipeline in a fresh process, print the table.

    Returns the rows (None in a child process, which only ran its pipeline).
    """
    args = parse_args(doc, runners)
    if args is None:
        return None
    n = int(args.events)
    rows = measure(script, args.only or list(runners), dataset(n))
    print_table(title.format(n=n), rows, columns)
    return rows
