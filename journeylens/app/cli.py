"""The ``journeylens`` command for scheduled jobs.

Exit codes: 0 success; 1 bad input or request (one-line reason on stderr);
2 command-line usage error (one line too); 3 unexpected internal error (set
``JOURNEYLENS_DEBUG=1`` for the traceback); 4 ``compare --fail-below`` not met;
5 out of memory (one line naming ``JOURNEYLENS_MEMORY_LIMIT``); 130 interrupted.

Errors name the flags (``--gap``) where the library names its keywords
(``gap=``): a :class:`~journeylens.errors.ParameterError` carries the keyword
and is translated here, for every flag alike. Every setting is checked before
any work, whether it came from a flag or from the ``--config`` file.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import typer
from tqdm import tqdm

from ..core import params
from ..core.safe_yaml import load_yaml
from ..errors import InputError, JourneyLensError, ParameterError, bounded_repr, first_line
from .pipeline import FORMATS

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Journey mining from multichannel event logs.",
)


def _show_version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"journeylens {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    """Journey mining from multichannel event logs."""


class _Steps:
    """Named steps with timings, shown as a progress bar when stderr is a terminal and not quiet."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.bar = tqdm(total=total, disable=quiet or not sys.stderr.isatty(), file=sys.stderr, unit="step",
                        leave=False)
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
    "user": None, "time": None, "event": None, "channel": None, "session": None, "device": None, "value": None,
    "tz": None, "sep": None, "encoding": None, "lifecycle": None, "strict": False, "engine": "memory",
    "map": None, "goal": None, "lost": None, "funnel": None, "gap": None, "inactivity": "7d", "per": "user",
    "personas": "auto", "attribution": True, "predict": False, "seed": 0, "out": "out", "format": "csv",
    "report": True, "images": None, "quiet": False,
}
#: library keywords that the command line spells differently (the flag is ``--`` + the setting)
_SETTING_OF = {"journey_map": "map", "random_state": "seed", "k": "personas", "steps": "funnel"}
_TEXT = ("user", "time", "event", "channel", "session", "device", "value", "tz", "sep", "encoding", "map", "out",
         "events")
_SWITCHES = ("strict", "report", "quiet", "attribution", "predict")
#: settings with a fixed set of values
_CHOICES = {"engine": ("memory", "duckdb", "spark"), "per": ("user", "session"),
            "lifecycle": ("complete", "all", "name+lifecycle"), "images": ("png", "svg", "pdf")}
_DURATIONS = ("gap", "inactivity")
_OFF = ("0", "none", "off")
#: a config file is a handful of options; anything larger is not one
CONFIG_MAX_BYTES = 1 << 20


def _checked(key: str, value: Any) -> Any:
    """One setting in the form the analysis takes; a ParameterError naming it otherwise.

    Only the kind of a wrong value is shown when it is not a scalar: a config
    file may hold a structure too large to print.
    """
    if key in _TEXT:
        if not isinstance(value, str) or not value.strip():
            raise ParameterError(f"{key} must be non-empty text, not {_kind(value)}", key)
        return value
    if key in _SWITCHES:
        if not isinstance(value, bool):
            raise ParameterError(f"{key} must be true or false, not {_kind(value)}", key)
        return value
    if key in _DURATIONS:
        params.duration(value, key)  # refuses unitless numbers; the analysis takes the text as given
        return value
    if key == "seed":
        return params.positive_int(value, key, minimum=0)
    if key == "format":
        return params.choice(value, key, FORMATS)
    if key == "personas":
        if value is False or (isinstance(value, str) and value.strip().lower() in _OFF) or value == 0:
            return None
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
            return value
        raise ParameterError(f"personas must be 'auto', a number of personas or 0 (off), not {_kind(value)}", key)
    if key in _CHOICES:
        return params.choice(value, key, _CHOICES[key])
    if key in ("goal", "lost"):
        if isinstance(value, str) and key == "lost":
            value = [v.strip() for v in value.split(",") if v.strip()]  # --lost a,b
        if isinstance(value, str) or (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
            return value
        raise ParameterError(f"{key} must be an event name or a list of them, not {_kind(value)}", key)
    if key == "funnel":
        steps = _parse_funnel(value) if isinstance(value, str) else value
        if isinstance(steps, list) and steps and all(
                isinstance(step, str) or (isinstance(step, list) and step and all(isinstance(e, str) for e in step))
                for step in steps):
            return steps
        raise ParameterError(f"funnel must be steps 'a,b|c,d' or a list of event names (or lists of them), "
                             f"not {_kind(value)}", key)
    raise ParameterError(f"unknown option {key!r}", key)


def _kind(value: Any) -> str:
    return bounded_repr(value, 64) if isinstance(value, (str, int, float, bool, type(None))) else type(value).__name__


def _settings(config: Optional[Path], given: dict[str, Any]) -> dict[str, Any]:
    """Defaults, then the config file, then the flags actually given; every value checked."""
    settings = dict(DEFAULTS)
    if config is not None:
        for key, value in _read_config(config).items():
            if value is None:  # "gap:" left empty: the default
                continue
            try:
                settings[key] = _checked(key, value)
            except ParameterError as exc:
                raise InputError(f"{config}: {_renamed(exc, lambda name: f'{name}:')}") from None
    settings.update({k: _checked(k, v) for k, v in given.items() if v is not None})
    return settings


def _read_config(path: Path) -> dict[str, Any]:
    """The config file's options: a small UTF-8 YAML mapping of option names to values."""
    try:
        if not path.is_file():  # a folder, a FIFO, a device: nothing to read, or nothing that ends
            what = "a folder, not a" if path.is_dir() else "not a regular file, not a" if path.exists() else "no such"
            raise InputError(f"{path}: {what} config file")
        with open(path, "rb") as handle:
            raw = handle.read(CONFIG_MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    if len(raw) > CONFIG_MAX_BYTES:
        raise InputError(f"{path}: a config file is at most {CONFIG_MAX_BYTES // 1024} KiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: the config file is not UTF-8 text (byte {exc.start})") from None
    loaded = load_yaml(text, str(path), InputError)  # no aliases, bounded size and depth, no duplicate keys
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise InputError(f"{path}: a config file is a mapping of option: value, not {_kind(loaded)}")
    known = set(DEFAULTS) | {"events"}
    for key in loaded:
        if key not in known:
            raise InputError(f"{path}: unknown option {_kind(key)} (known: {', '.join(sorted(known))})")
    return loaded


def _parse_funnel(text: str) -> list:
    """``"a,b|c,d"`` → steps; ``|`` joins alternatives within a step."""
    steps = [[p.strip() for p in part.split("|") if p.strip()] for part in text.split(",")]
    return [s[0] if len(s) == 1 else s for s in steps if s]


def _output_folder(out: Path) -> Path:
    """``out`` created and writable, before any work is done."""
    if out.exists() and not out.is_dir():
        raise ParameterError(f"out={str(out)!r} is a file, not a folder", "out")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise ParameterError(f"out={str(out)!r} cannot be written to ({exc.strerror or exc})", "out") from None
    return out


def _load(events: Path, s: dict[str, Any]):
    from ..io.dispatch import read

    if not events.exists() and not any(ch in str(events) for ch in "*?["):  # a glob of Parquet files is fine
        raise InputError(f"{events}: no such file or folder")
    options = {k: s[k] for k in ("user", "time", "event", "channel", "session", "device", "value", "tz", "sep",
                                 "encoding", "lifecycle") if s.get(k) is not None}
    if s.get("strict"):
        options["strict"] = True
    log = read(events, engine=s.get("engine", "memory"), **options)
    if len(log) == 0:
        raise InputError(f"{events}: no events accepted ({log.rows_quarantined} rows quarantined)")
    return log


_MAPPING_HELP = {
    "user": "Column with the customer/user id (auto-detected if omitted).",
    "time": "Column with the timestamp.",
    "event": "Column with the event/touchpoint name.",
    "channel": "Column with the channel.",
}


@app.command()
def analyze(
    ctx: typer.Context,
    events: Optional[Path] = typer.Argument(None, help="Event file: CSV(.gz), Parquet (file, folder or glob), JSON lines, XES(.gz)."),
    config: Optional[Path] = typer.Option(None, help="YAML file with any of these options (flags override it)."),
    user: Optional[str] = typer.Option(None, help=_MAPPING_HELP["user"]),
    time_col: Optional[str] = typer.Option(None, "--time", help=_MAPPING_HELP["time"]),
    event: Optional[str] = typer.Option(None, help=_MAPPING_HELP["event"]),
    channel: Optional[str] = typer.Option(None, help=_MAPPING_HELP["channel"]),
    session: Optional[str] = typer.Option(None, help="Column with a source session id (kept unless --gap is given)."),
    device: Optional[str] = typer.Option(None, help="Column with the device."),
    value: Optional[str] = typer.Option(None, help="Column with a conversion value (revenue)."),
    engine: Optional[str] = typer.Option(None, help="Where the log is held: memory, duckdb (on disk) or spark (default memory)."),
    journey_map: Optional[Path] = typer.Option(None, "--map", help="Designed journey map (YAML/JSON)."),
    goal: Optional[str] = typer.Option(None, help="Conversion event (default: the map's conversion)."),
    lost: Optional[str] = typer.Option(None, help="Events that end a journey in failure, 'a,b' (default: the map's lost)."),
    funnel: Optional[str] = typer.Option(None, help="Funnel steps 'a,b|c,d' (| = any of; default: from the map)."),
    gap: Optional[str] = typer.Option(None, help="Inactivity that ends a session, with a unit (default: the source's sessions, else 30min)."),
    inactivity: Optional[str] = typer.Option(None, help="Inactivity after which a non-converter has dropped off, with a unit (default 7d)."),
    per: Optional[str] = typer.Option(None, help="Journey unit of the analyses: user or session (default user)."),
    personas: Optional[str] = typer.Option(None, help="'auto', a number of personas, or 0 to skip (default auto)."),
    attribution: Optional[bool] = typer.Option(None, "--attribution/--no-attribution", help="Channel attribution with a goal (default yes)."),
    predict: Optional[bool] = typer.Option(None, "--predict/--no-predict", help="Next steps and conversion chances of active customers (next_steps.csv; default no)."),
    seed: Optional[int] = typer.Option(None, help="Random state for personas and prediction (default 0)."),
    tz: Optional[str] = typer.Option(None, help="Time zone of naive timestamps (default UTC)."),
    sep: Optional[str] = typer.Option(None, help="CSV delimiter (sniffed if omitted)."),
    encoding: Optional[str] = typer.Option(None, help="Text encoding (decided per file from its bytes if omitted)."),
    lifecycle: Optional[str] = typer.Option(None, help="XES lifecycle transitions: complete, all or name+lifecycle (default complete)."),
    strict: Optional[bool] = typer.Option(None, "--strict/--no-strict", help="Fail instead of quarantining bad rows."),
    out: Optional[Path] = typer.Option(None, help="Output folder (created) (default out)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="Table format: csv or parquet (default csv)."),
    report: Optional[bool] = typer.Option(None, "--report/--no-report", help="Write report.html (default yes)."),
    images: Optional[str] = typer.Option(None, help="Also write every figure as png, svg or pdf (needs kaleido)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output and no library warnings."),
) -> None:
    """Load EVENTS, validate and quarantine, and write every analysis table, summary.json and report.html."""
    given = dict(user=user, time=time_col, event=event, channel=channel, session=session, device=device, value=value,
                 engine=engine, map=journey_map and str(journey_map), goal=goal, lost=lost, funnel=funnel, gap=gap,
                 inactivity=inactivity, per=per, personas=personas, attribution=attribution, predict=predict,
                 seed=seed, tz=tz, sep=sep, encoding=encoding, lifecycle=lifecycle, strict=strict,
                 out=out and str(out), format=fmt, report=report, images=images, quiet=quiet or None)
    with _errors_as_exit_codes(ctx):
        from ..core.journey_map import as_journey_map

        s = _settings(config, given)
        source = events or (Path(s["events"]) if s.get("events") else None)
        if source is None:
            raise InputError("no event file: give EVENTS or 'events:' in the config file")
        jmap = as_journey_map(s["map"]) if s["map"] else None
        out_dir = _output_folder(Path(s["out"]))
        _analyze(Path(source), s, jmap, out_dir)


def _analyze(source: Path, s: dict[str, Any], jmap: Any, out_dir: Path) -> None:
    """The analysis itself, once every setting has been checked."""
    from .pipeline import run_analysis
    from .report import render

    with _library_warnings(s["quiet"]):
        steps = _Steps(total=10, quiet=s["quiet"])
        with steps.step("load"):
            loaded = [_load(Path(source), s)]
        # handed over, not kept: a held log's tables go as soon as the analysis has derived its own
        analysis = run_analysis(
            loaded.pop(), goal=s["goal"], lost=s["lost"], journey_map=jmap, funnel=s["funnel"], personas=s["personas"],
            gap=s["gap"], inactivity=s["inactivity"], per=s["per"], attribution=s["attribution"],
            predict=s["predict"], random_state=s["seed"], progress=lambda name: steps.advance(name),
        )
        with steps.step("write"):
            files = analysis.write(out_dir, format=s["format"])
            if s["report"]:
                (out_dir / "report.html").write_text(render(analysis, title=f"Journey report: {Path(source).name}"),
                                                     encoding="utf-8")
                files.append("report.html")
            if s["images"]:
                files += [f"figures/{name}" for name in analysis.write_images(out_dir / "figures", format=s["images"])]
        steps.close()
        summary = analysis.summary()
        summary.update({"versions": _versions(), "outputs": ["summary.json", *files], "seconds": steps.seconds})
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
        if not s["quiet"]:
            typer.echo(
                f"{summary['rows_read']:,} rows read, {summary['rows_accepted']:,} accepted, "
                f"{summary['rows_quarantined']:,} quarantined; {summary['users']:,} users, "
                f"{summary['sessions'] or 0:,} sessions → {out_dir}/",
                err=True,
            )


@app.command("compare")
def compare_command(
    ctx: typer.Context,
    events: Path = typer.Argument(..., help="Event file."),
    journey_map: Path = typer.Option(..., "--map", help="Designed journey map (YAML/JSON)."),
    user: Optional[str] = typer.Option(None, help=_MAPPING_HELP["user"]),
    time_col: Optional[str] = typer.Option(None, "--time", help=_MAPPING_HELP["time"]),
    event: Optional[str] = typer.Option(None, help=_MAPPING_HELP["event"]),
    channel: Optional[str] = typer.Option(None, help=_MAPPING_HELP["channel"]),
    by: Optional[str] = typer.Option(None, help="Segment column to compare per segment."),
    per: str = typer.Option("user", help="Journey judged: user (whole history) or session."),
    session: Optional[str] = typer.Option(None, help="Column with a source session id (for --per session)."),
    gap: Optional[str] = typer.Option(None, help="Cut sessions at this inactivity instead (for --per session)."),
    lost: Optional[str] = typer.Option(None, help="Events that end a journey in failure, 'a,b' (default: the map's lost)."),
    out: Path = typer.Option(Path("out"), help="Output folder."),
    fail_below: Optional[float] = typer.Option(None, help="Exit 4 when mean fitness is below this."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output and no library warnings."),
) -> None:
    """Designed vs observed: conformance.csv, unexpected.csv, missing.csv and more, without the full analysis."""
    with _errors_as_exit_codes(ctx), _library_warnings(quiet):
        from ..compare.conformance import compare
        from ..io.writers import write_table
        from ..prepare.sessions import sessionize

        s = _settings(None, dict(user=user, time=time_col, event=event, channel=channel, session=session, gap=gap,
                                 lost=lost, per=per))
        out = _output_folder(out)
        log = _load(events, s)
        if s["gap"] is not None:
            log = sessionize(log, gap=s["gap"])
        result = compare(log, str(journey_map), by=by, per=s["per"], lost=s["lost"])
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
    ctx: typer.Context,
    before: Path = typer.Argument(..., help="Event file of the first period (or the whole log with --split-at)."),
    after: Optional[Path] = typer.Argument(None, help="Event file of the second period."),
    split_at: Optional[str] = typer.Option(None, help="Cut one log at this time: customers by their first event "
                                                       "(--mode cohort) or events by their time (--mode calendar)."),
    mode: str = typer.Option("cohort", help="cohort (customers by first event) or calendar (events by time)."),
    window: Optional[str] = typer.Option(None, help="Equal exposure: follow each customer for this long, e.g. 14d."),
    user: Optional[str] = typer.Option(None, help=_MAPPING_HELP["user"]),
    time_col: Optional[str] = typer.Option(None, "--time", help=_MAPPING_HELP["time"]),
    event: Optional[str] = typer.Option(None, help=_MAPPING_HELP["event"]),
    goal: Optional[str] = typer.Option(None, help="Conversion event, for conversion and drop-off changes."),
    lost: Optional[str] = typer.Option(None, help="Events that end a journey in failure, 'a,b'."),
    by: Optional[str] = typer.Option(None, help="Segment column: outcomes per segment."),
    out: Path = typer.Option(Path("out"), help="Output folder."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output and no library warnings."),
) -> None:
    """What changed between two periods: drift_edges.csv, drift_variants.csv, drift_outcomes.csv, drift_exposure.csv."""
    with _errors_as_exit_codes(ctx), _library_warnings(quiet):
        from ..compare.drift import drift
        from ..io.writers import write_table

        s = _settings(None, dict(user=user, time=time_col, event=event, lost=lost))
        out = _output_folder(out)
        first = _load(before, s)
        second = _load(after, s) if after is not None else None
        result = drift(first, second, split_at=split_at, mode=mode, window=window, goal=goal, lost=s["lost"], by=by)
        for name in ("edges", "variants", "outcomes", "exposure"):
            write_table(getattr(result, name), out / f"drift_{name}.csv")
        if not quiet:
            changed = int((result.edges["status"] != "stable").sum())
            typer.echo(f"{changed} of {len(result.edges)} transitions changed → {out}/", err=True)


def _renamed(exc: ParameterError, spelling: Callable[[str], Optional[str]]) -> str:
    """The message with its leading ``name=`` (or ``name``) in the caller's spelling of the parameter."""
    text, name = str(exc), exc.parameter
    shown = spelling(name) if name else None
    if shown is not None:
        for sep in ("=", " "):
            if text.startswith(name + sep):
                return f"{shown} {text[len(name) + 1:].lstrip()}"
    return text


def _flag(command: Any, name: str) -> Optional[str]:
    """The command's flag for a library keyword (``gap`` → ``--gap``), or None when it has none."""
    wanted = "--" + _SETTING_OF.get(name, name).replace("_", "-")
    flags = {opt for param in getattr(command, "params", ()) for opt in getattr(param, "opts", ())}
    return wanted if wanted in flags else None


def _out_of_memory(exc: BaseException) -> bool:
    import duckdb

    return isinstance(exc, (MemoryError, duckdb.OutOfMemoryException))


@contextmanager
def _errors_as_exit_codes(ctx: typer.Context) -> Iterator[None]:
    """User mistakes → one line and exit 1, naming the command's flags; bugs → one line and exit 3."""
    try:
        yield
    except ParameterError as exc:
        typer.echo(f"journeylens: error: {_renamed(exc, lambda name: _flag(ctx.command, name))}", err=True)
        raise typer.Exit(1) from None
    except JourneyLensError as exc:
        typer.echo(f"journeylens: error: {exc}", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:  # the file system said no: a path or a disk of the user's, not a bug
        where = f"{bounded_repr(str(exc.filename), 64)}: " if exc.filename else ""
        typer.echo(f"journeylens: error: {where}{exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:  # a bug, not bad input: one line unless debugging
        if os.environ.get("JOURNEYLENS_DEBUG"):
            raise
        first = first_line(exc)
        if _out_of_memory(exc):  # the machine's limit, not a bug: say which knob there is
            typer.echo(f"journeylens: error: out of memory ({first[:160] or type(exc).__name__}); logs held by "
                       "DuckDB use at most JOURNEYLENS_MEMORY_LIMIT (e.g. 8GB) and spill the rest to disk", err=True)
            raise typer.Exit(5) from None
        typer.echo(
            f"journeylens: internal error: {type(exc).__name__}: {first} (set JOURNEYLENS_DEBUG=1 for details)",
            err=True,
        )
        raise typer.Exit(3) from None


@contextmanager
def _library_warnings(quiet: bool) -> Iterator[None]:
    """Warnings of the libraries underneath, each once and on one line of stderr; none at all when quiet."""
    seen: set[str] = set()

    def one_line(message, category, filename, lineno, file=None, line=None) -> None:
        text = f"journeylens: warning: {category.__name__}: {first_line(message)}"
        if text not in seen:  # libraries reset the warnings registry, so "once" is kept here
            seen.add(text)
            typer.echo(text, err=True)

    disabled = logging.root.manager.disable
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore")
            logging.disable(logging.WARNING)
        else:
            warnings.showwarning = one_line
        try:
            yield
        finally:
            logging.disable(disabled)


def _reuse_freed_memory() -> None:
    """Have this batch process reuse the memory it frees rather than give it back at once.

    An analysis allocates and frees arrays of hundreds of MB. glibc maps each one afresh and unmaps it
    when freed; on a virtual machine whose host takes freed pages back, touching fresh pages costs
    seconds per GB (5–10% of an analysis of 10M events). Kept in the heap, freed memory is reused, for
    a slightly higher peak (the heap keeps gaps). Elsewhere than glibc this does nothing.
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # no C library by that name (Windows), or no mallopt
        return
    m_trim_threshold, m_mmap_max = -1, -4  # glibc's <malloc.h>
    mallopt(m_mmap_max, 0)
    mallopt(m_trim_threshold, 2**31 - 1)


def main() -> None:
    """Console-script entry point: usage errors are one line too (help is shown as it is)."""
    _reuse_freed_memory()
    command = typer.main.get_command(app)
    try:
        code = command.main(prog_name="journeylens", standalone_mode=False)
    except typer.Abort:  # Ctrl-C
        typer.echo("journeylens: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # click's usage errors; the commands turn everything else into exit codes
        message = getattr(exc, "format_message", None)
        if message is None:
            raise
        text = message().strip()
        if "\n" in text:  # "no arguments": click's error is the help page
            exc.show()
        elif text:  # (an empty one: typer has shown the help page already)
            name = getattr(getattr(exc, "ctx", None), "command_path", "journeylens")
            typer.echo(f"journeylens: error: {text} (see '{name} --help')", err=True)
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(code or 0)


if __name__ == "__main__":
    main()
