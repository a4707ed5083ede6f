"""A watchdog that runs each hostile case in its own process, under a time limit and a memory limit.

The test starts one server process (``python -m tests.bad_inputs.watchdog``), which
imports journeylens once and then, for every request on its stdin, forks a child
that runs one case. The child gets an address-space limit (``RLIMIT_AS``: its size
at the fork plus a margin) so that a runaway allocation fails instead of taking the
machine down; the server kills it when the time limit passes, and reads its peak
resident memory from ``wait4``. The answer says how the case ended:

* ``passed`` / ``failed`` (the case's own checks, with the reason),
* ``crashed`` (exit without an answer; the child's stderr, e.g. a traceback),
* ``timeout`` or ``memory`` (a limit was hit),

with ``seconds`` and ``peak_mb`` (the child's peak RSS above its RSS when it started).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
#: address space a child may add to what it inherits, as a backstop (the asserted limit is on peak RSS)
ADDRESS_MARGIN = 6 << 30


def _status(field: str) -> int:
    """A size from /proc/self/status, in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _child(request: dict[str, Any], answer_fd: int) -> None:
    """Run one case (in the forked child) and write its answer as JSON to ``answer_fd``."""
    start_mb = _status("VmRSS") / (1 << 20)
    limit = _status("VmSize") + ADDRESS_MARGIN
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.alarm(int(request["seconds"]) + 5)  # a second line of defence behind the server's timer
    from tests.bad_inputs import hostile

    try:
        outcome = hostile.run(request["case"], request["args"], request.get("via", "api"))
    except MemoryError:
        outcome = {"outcome": "memory", "reason": "MemoryError under the address-space limit"}
    except BaseException as exc:  # the case's checks failed, or a raw exception escaped
        outcome = {"outcome": "failed", "reason": f"{type(exc).__name__}: {exc}",
                   "traceback": traceback.format_exc()[-4000:]}
    outcome["start_mb"] = start_mb
    with os.fdopen(answer_fd, "w") as out:
        json.dump(outcome, out)


def _serve_one(request: dict[str, Any]) -> dict[str, Any]:
    read_fd, write_fd = os.pipe()
    err_path = Path(request["args"].get("_stderr", "/dev/null"))
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_fd)
        code = 0
        try:
            fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd, 2)
            _child(request, write_fd)
        except BaseException:
            code = 3
        finally:
            import atexit

            atexit._run_exitfuncs()  # the held DuckDB database's folder is removed at exit
            os._exit(code)
    os.close(write_fd)
    deadline = start + float(request["seconds"])
    status, usage, timed_out = 0, None, False
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            _, status, usage = os.wait4(pid, 0)
            timed_out = True
            break
        time.sleep(0.02)
    with os.fdopen(read_fd) as answer:
        text = answer.read()
    seconds = time.monotonic() - start
    if timed_out:
        result = {"outcome": "timeout", "reason": f"still running after {request['seconds']} s"}
    elif text:
        result = json.loads(text)
    else:
        stderr = err_path.read_text(errors="replace")[-4000:] if err_path.exists() else ""
        result = {"outcome": "crashed", "reason": f"exit status {status}", "traceback": stderr}
    # peak resident memory of the child above what it had when it started (its share of the server)
    start = result.pop("start_mb", None)
    peak = usage.ru_maxrss / 1024 - (start if start is not None else 0) if usage is not None else None
    result.update(seconds=round(seconds, 2), peak_mb=round(peak, 1) if peak is not None else None)
    return result


def serve() -> None:
    """Answer one JSON request per line of stdin with one JSON line on stdout."""
    import journeylens  # noqa: F401  (imported once, before any fork)
    import tests.bad_inputs.hostile  # noqa: F401

    for line in sys.stdin:
        result = _serve_one(json.loads(line))
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


class Watchdog:
    """The test's handle on a server process."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PM4PY_SHOW_PROGRESS_BAR": "False"}
        self.process = subprocess.Popen([sys.executable, "-m", "tests.bad_inputs.watchdog"], cwd=ROOT, env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run(self, case: str, args: dict[str, Any], seconds: float, via: str = "api") -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"case": case, "args": args, "seconds": seconds, "via": via}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the watchdog server died")
        return json.loads(line)

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=30)


if __name__ == "__main__":
    serve()
