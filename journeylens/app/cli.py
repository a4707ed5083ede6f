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

from ..errors import InputError, JourneyLensError

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
        self._current: tuple[str, float] | None = None

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        self.advance(name)
        yield

    def advance(self, name: str) -> None:
        """Start the next named step of a pipeline that reports progress by name."""
        now = time.perf_counter()
        if self._current is not None:
            self.seconds[self._current[0]] = round(now - self._current[1], 3)
            self.bar.update(1)
        self._current = (name, now)
        self.bar.set_description(name)

    def close(self) -> None:
        self.advance("done")
        self.bar.close()


def _versions() -> dict[str, str]:
    import duckdb
    import numpy
    import pandas

    from .. import __version__

    return {
        "journeylens": __version__,
        "python": platform.python_version(),
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
        "duckdb": duckdb.__version__,
    }


#: defaults of the analysis options; a --config YAML file may set any of them, flags override it
DEFAULTS: dict[str, Any] = {
    "user": None, "time": None, "event": None, "channel": None, "session": None, "device": None,
    "tz": None, "sep": None, "encoding": None, "strict": False, "map": None, "goal": None, "funnel": None,
    "gap": "30min", "inactivity": "7d", "personas": "auto", "seed": 0, "out": "out", "format": "csv",
    "report": True, "quiet": False,
}


def _settings(config: Optional[Path], given: dict[str, Any]) -> dict[str, Any]:
    """Defaults, then the config file, then the flags actually given."""
    settings = dict(DEFAULTS)
    if config is not None:
        import yaml

        if not config.exists():
            raise InputError(f"{config}: no such config file")
        try:
            loaded = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise InputError(f"{config}: not valid YAML{where}") from None
        if not isinstance(loaded, dict):
            raise InputError(f"{config}: a config file is a mapping of option: value")
        unknown = sorted(set(loaded) - set(DEFAULTS) - {"events"})
        if unknown:
            raise InputError(f"{config}: unknown option {unknown[0]!r} (known: {', '.join(sorted(DEFAULTS))})")
        settings.update(loaded)
    settings.update({k: v for k, v in given.items() if v is not None})
    return settings


def _parse_funnel(text: Any) -> Optional[list]:
    """``"a,b|c,d"`` (or a YAML list) → steps; ``|`` joins alternatives within a step."""
    if text is None or isinstance(text, list):
        return text
    steps = [[p.strip() for p in part.split("|") if p.strip()] for part in str(text).split(",")]
    return [s[0] if len(s) == 1 else s for s in steps if s]


def _load(events: Path, s: dict[str, Any]):
    from ..io.dispatch import read

    if not events.exists():
        raise InputError(f"{events}: no such file or folder")
    options = {k: s[k] for k in ("user", "time", "event", "channel", "session", "device", "tz", "sep", "encoding")
               if s.get(k) is not None}
    if s.get("strict"):
        options["strict"] = True
    log = read(events, **options)
    if len(log) == 0:
        raise InputError(f"{events}: no events accepted ({log.rows_quarantined} rows quarantined)")
    return log


def _personas(value: Any) -> Any:
    if value in (None, False, 0, "0", "none", "off"):
        return None
    if str(value).isdigit():
        return int(value)
    if value != "auto":
        raise InputError(f"--personas must be 'auto', a number or 0 (off), not {value!r}")
    return "auto"


_MAPPING_HELP = {
    "user": "Column with the customer/user id (auto-detected if omitted).",
    "time": "Column with the timestamp.",
    "event": "Column with the event/touchpoint name.",
    "channel": "Column with the channel.",
}


@app.command()
def analyze(
    events: Optional[Path] = typer.Argument(None, help="Event file: CSV(.gz), Parquet (file or folder), JSON lines, XES(.gz)."),
    config: Optional[Path] = typer.Option(None, help="YAML file with any of these options (flags override it)."),
    user: Optional[str] = typer.Option(None, help=_MAPPING_HELP["user"]),
    time_col: Optional[str] = typer.Option(None, "--time", help=_MAPPING_HELP["time"]),
    event: Optional[str] = typer.Option(None, help=_MAPPING_HELP["event"]),
    channel: Optional[str] = typer.Option(None, help=_MAPPING_HELP["channel"]),
    session: Optional[str] = typer.Option(None, help="Column with a source session id."),
    device: Optional[str] = typer.Option(None, help="Column with the device."),
    journey_map: Optional[Path] = typer.Option(None, "--map", help="Designed journey map (YAML/JSON)."),
    goal: Optional[str] = typer.Option(None, help="Conversion event (default: the map's conversion)."),
    funnel: Optional[str] = typer.Option(None, help="Funnel steps 'a,b|c,d' (| = any of; default: from the map)."),
    gap: Optional[str] = typer.Option(None, help="Inactivity that ends a session (default 30min)."),
    inactivity: Optional[str] = typer.Option(None, help="Inactivity after which a non-converter has dropped off (default 7d)."),
    personas: Optional[str] = typer.Option(None, help="'auto', a number of personas, or 0 to skip (default auto)."),
    seed: Optional[int] = typer.Option(None, help="Random state for personas (default 0)."),
    tz: Optional[str] = typer.Option(None, help="Time zone of naive timestamps (default UTC)."),
    sep: Optional[str] = typer.Option(None, help="CSV delimiter (sniffed if omitted)."),
    encoding: Optional[str] = typer.Option(None, help="Text encoding (UTF-8, with a latin-1 fallback)."),
    strict: Optional[bool] = typer.Option(None, "--strict/--no-strict", help="Fail instead of quarantining bad rows."),
    out: Optional[Path] = typer.Option(None, help="Output folder (created) (default out)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="Table format: csv or parquet (default csv)."),
    report: Optional[bool] = typer.Option(None, "--report/--no-report", help="Write report.html (default yes)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
) -> None:
    """Load EVENTS, validate and quarantine, and write every analysis table, summary.json and report.html."""
    with _errors_as_exit_codes():
        from .pipeline import run_analysis
        from .report import render

        given = dict(user=user, time=time_col, event=event, channel=channel, session=session, device=device,
                     map=journey_map, goal=goal, funnel=funnel, gap=gap, inactivity=inactivity, personas=personas,
                     seed=seed, tz=tz, sep=sep, encoding=encoding, strict=strict, out=out, format=fmt,
                     report=report, quiet=quiet or None)
        s = _settings(config, given)
        source = events or (Path(s["events"]) if s.get("events") else None)
        if source is None:
            raise InputError("no event file: give EVENTS or 'events:' in the config file")
        out_dir = Path(s["out"])
        steps = _Steps(total=8, quiet=bool(s["quiet"]))
        with steps.step("load"):
            log = _load(Path(source), s)
        analysis = run_analysis(
            log, goal=s["goal"], journey_map=s["map"], funnel=_parse_funnel(s["funnel"]),
            personas=_personas(s["personas"]), gap=s["gap"], inactivity=s["inactivity"],
            random_state=int(s["seed"]), progress=lambda name: steps.advance(name),
        )
        with steps.step("write"):
            files = analysis.write(out_dir, format=s["format"])
            if s["report"]:
                (out_dir / "report.html").write_text(render(analysis, title=f"Journey report: {Path(source).name}"),
                                                     encoding="utf-8")
                files.append("report.html")
        steps.close()
        summary = analysis.summary()
        summary.update({"versions": _versions(), "outputs": ["summary.json", *files], "seconds": steps.seconds})
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
        if not s["quiet"]:
            typer.echo(
                f"{summary['rows_read']:,} rows read, {summary['rows_accepted']:,} accepted, "
                f"{summary['rows_quarantined']:,} quarantined; {summary['users']:,} users, "
                f"{summary['sessions']:,} sessions → {out_dir}/",
                err=True,
            )


@app.command("compare")
def compare_command(
    events: Path = typer.Argument(..., help="Event file."),
    journey_map: Path = typer.Option(..., "--map", help="Designed journey map (YAML/JSON)."),
    user: Optional[str] = typer.Option(None, help=_MAPPING_HELP["user"]),
    time_col: Optional[str] = typer.Option(None, "--time", help=_MAPPING_HELP["time"]),
    event: Optional[str] = typer.Option(None, help=_MAPPING_HELP["event"]),
    channel: Optional[str] = typer.Option(None, help=_MAPPING_HELP["channel"]),
    by: Optional[str] = typer.Option(None, help="Segment column to compare per segment."),
    out: Path = typer.Option(Path("out"), help="Output folder."),
    fail_below: Optional[float] = typer.Option(None, help="Exit 4 when mean fitness is below this."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Designed vs observed: conformance.csv, unexpected.csv, missing.csv and more, without the full analysis."""
    with _errors_as_exit_codes():
        from ..compare.conformance import compare
        from ..io.writers import write_table

        s = _settings(None, dict(user=user, time=time_col, event=event, channel=channel))
        result = compare(_load(events, s), str(journey_map), by=by)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("conformance", "overall", "unexpected", "missing", "skipped_stages", "stage_order_violations",
                     "targets", "unmapped"):
            table = result.conformance if name == "conformance" else getattr(result, name)
            write_table(table, out / f"{'conformance_overall' if name == 'overall' else name}.csv")
        fitness = float(result.conformance["fitness"].mean())
        if not quiet:
            typer.echo(f"mean fitness {fitness:.3f}; {len(result.unexpected)} unexpected and "
                       f"{len(result.missing)} missing transitions → {out}/", err=True)
        if fail_below is not None and fitness < fail_below:
            typer.echo(f"journeylens: mean fitness {fitness:.3f} is below {fail_below}", err=True)
            raise typer.Exit(4)


@app.command("drift")
def drift_command(
    before: Path = typer.Argument(..., help="Event file of the first period (or the whole log with --split-at)."),
    after: Optional[Path] = typer.Argument(None, help="Event file of the second period."),
    split_at: Optional[str] = typer.Option(None, help="Cut one log at this time (users by first event)."),
    user: Optional[str] = typer.Option(None, help=_MAPPING_HELP["user"]),
    time_col: Optional[str] = typer.Option(None, "--time", help=_MAPPING_HELP["time"]),
    event: Optional[str] = typer.Option(None, help=_MAPPING_HELP["event"]),
    goal: Optional[str] = typer.Option(None, help="Conversion event, for conversion and drop-off changes."),
    out: Path = typer.Option(Path("out"), help="Output folder."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """What changed between two periods: drift_edges.csv, drift_variants.csv, drift_outcomes.csv."""
    with _errors_as_exit_codes():
        from ..compare.drift import drift
        from ..io.writers import write_table

        s = _settings(None, dict(user=user, time=time_col, event=event))
        first = _load(before, s)
        second = _load(after, s) if after is not None else None
        result = drift(first, second, split_at=split_at, goal=goal)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("edges", "variants", "outcomes"):
            write_table(getattr(result, name), out / f"drift_{name}.csv")
        if not quiet:
            changed = int((result.edges["status"] != "stable").sum())
            typer.echo(f"{changed} of {len(result.edges)} transitions changed → {out}/", err=True)


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
