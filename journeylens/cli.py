"""The ``journeylens`` command for scheduled jobs.

Exit codes: 0 success; 1 bad input or request (one-line reason on stderr);
2 command-line usage error; 3 unexpected internal error (set
``JOURNEYLENS_DEBUG=1`` for the traceback).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import typer
from tqdm import tqdm

from .errors import InputError, JourneyLensError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Journey mining from multichannel event logs.",
)


@app.callback()
def _root() -> None:
    """Journey mining from multichannel event logs."""


class _Steps:
    """Named steps with timings, shown as a progress bar on stderr unless quiet."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.bar = tqdm(total=total, disable=quiet, file=sys.stderr, unit="step", leave=False)
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        self.bar.set_description(name)
        t0 = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - t0, 3)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _versions() -> dict[str, str]:
    import duckdb
    import numpy
    import pandas

    from . import __version__

    return {
        "journeylens": __version__,
        "python": platform.python_version(),
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
        "duckdb": duckdb.__version__,
    }


@app.command()
def analyze(
    events: Path = typer.Argument(..., help="Event file: CSV(.gz), Parquet (file or folder), JSON lines, XES(.gz)."),
    user: Optional[str] = typer.Option(None, help="Column with the customer/user id (auto-detected if omitted)."),
    time_col: Optional[str] = typer.Option(None, "--time", help="Column with the timestamp."),
    event: Optional[str] = typer.Option(None, help="Column with the event/touchpoint name."),
    channel: Optional[str] = typer.Option(None, help="Column with the channel."),
    session: Optional[str] = typer.Option(None, help="Column with a source session id."),
    device: Optional[str] = typer.Option(None, help="Column with the device."),
    journey_map: Optional[Path] = typer.Option(None, "--map", help="Designed journey map (YAML/JSON)."),
    goal: Optional[str] = typer.Option(None, help="Conversion event (default: the map's conversion)."),
    gap: str = typer.Option("30min", help="Inactivity that ends a session."),
    tz: Optional[str] = typer.Option(None, help="Time zone of naive timestamps (default UTC)."),
    sep: Optional[str] = typer.Option(None, help="CSV delimiter (sniffed if omitted)."),
    encoding: Optional[str] = typer.Option(None, help="Text encoding (UTF-8, with a latin-1 fallback)."),
    strict: bool = typer.Option(False, help="Fail instead of quarantining bad rows."),
    out: Path = typer.Option(Path("out"), help="Output folder (created)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
) -> None:
    """Load EVENTS, validate and quarantine, sessionize, and write the results to --out."""
    with _errors_as_exit_codes():
        from . import prepare
        from .compare import JourneyMap
        from .io.dispatch import read
        from .io.writers import write_table

        if not events.exists():
            raise InputError(f"{events}: no such file or folder")
        steps = _Steps(total=4, quiet=quiet)
        options: dict[str, Any] = {
            k: v
            for k, v in dict(user=user, time=time_col, event=event, channel=channel, session=session,
                             device=device, tz=tz, strict=strict).items()
            if v is not None and v is not False
        }
        options.update({k: v for k, v in (("sep", sep), ("encoding", encoding)) if v is not None})
        with steps.step("load"):
            log = read(events, **options)
        if len(log) == 0:
            raise InputError(f"{events}: no events accepted ({log.rows_quarantined} rows quarantined)")
        jmap = None
        with steps.step("stages"):
            if journey_map is not None:
                jmap = JourneyMap.from_file(journey_map)
                log = prepare.assign_stages(log, jmap)
        with steps.step("sessions"):
            log = prepare.sessionize(log, gap=gap)
        with steps.step("write"):
            out.mkdir(parents=True, exist_ok=True)
            write_table(log.quarantine, out / "quarantine.csv")
            summary = log.summary()
            summary.update(
                {
                    "reconciled": summary["rows_read"] == summary["rows_accepted"] + summary["rows_quarantined"],
                    "goal": goal or (list(jmap.conversion) if jmap else None),
                    "journey_map": str(journey_map) if journey_map else None,
                    "parameters": {"gap": gap, "tz": tz, "strict": strict, **_jsonable(log.parameters)},
                    "versions": _versions(),
                    "outputs": ["summary.json", "quarantine.csv"],
                }
            )
        steps.close()
        summary["seconds"] = steps.seconds
        (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
        if not quiet:
            typer.echo(
                f"{summary['rows_read']:,} rows read, {summary['rows_accepted']:,} accepted, "
                f"{summary['rows_quarantined']:,} quarantined; {summary['users']:,} users, "
                f"{summary['sessions']:,} sessions → {out}/",
                err=True,
            )


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


@contextmanager
def _errors_as_exit_codes() -> Iterator[None]:
    try:
        yield
    except JourneyLensError as exc:
        typer.echo(f"journeylens: error: {exc}", err=True)
        raise typer.Exit(1) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:  # a bug, not bad input: one line unless debugging
        if os.environ.get("JOURNEYLENS_DEBUG"):
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        typer.echo(
            f"journeylens: internal error: {type(exc).__name__}: {first} (set JOURNEYLENS_DEBUG=1 for details)",
            err=True,
        )
        raise typer.Exit(3) from None


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
