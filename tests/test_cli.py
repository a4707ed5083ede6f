"""The ``journeylens`` command: outputs, reconciliation, exit codes, flags in errors, config files, quiet mode.

Most cases call the console script's entry point (``main``) in this process;
the others run it as a real subprocess.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import time

import pandas as pd
import pytest

import journeylens as jl
from journeylens.app import cli

CSV = """Cust,At,What,Via
u1,2024-03-01T10:00:00+01:00,landing_page,Web
u1,2024-03-01T10:05:00+01:00,product_page,web
u1,2024-03-01T12:00:00+01:00,order_placed,App
u2,2024-03-02 09:00:00,newsletter_open,E-mail
u2,not a time,landing_page,web
,2024-03-02 09:10:00,landing_page,web
u2,2024-03-02 09:00:00,newsletter_open,E-mail
"""

MAP = """name: tiny
stages:
  - name: awareness
    touchpoints: [newsletter_open, landing_page]
  - name: decision
    touchpoints: [product_page, order_placed]
transitions:
  - [newsletter_open, landing_page]
  - [landing_page, product_page]
  - [product_page, order_placed]
start: [newsletter_open, landing_page]
conversion: order_placed
"""

ROLES = ["--user", "Cust", "--time", "At", "--event", "What", "--channel", "Via"]


def _run(*args: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "journeylens.app.cli", *args], capture_output=True, text=True,
                          timeout=300, **options)


@pytest.fixture
def run(monkeypatch, capsys):
    """``run(*args)`` → (exit code, stdout, stderr) of the console script's entry point, in this process."""
    def invoke(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["journeylens", *map(str, args)])
        with pytest.raises(SystemExit) as done:
            cli.main()
        captured = capsys.readouterr()
        return done.value.code, captured.out, captured.err

    return invoke


def refused(result: tuple[int, str, str], expected_code: int = 1) -> str:
    """The one error line of ``run(...)``'s refused request."""
    code, _, err = result
    return one_line_error(code, err, expected_code)


def one_line_error(code: int, err: str, expected_code: int = 1) -> str:
    """The single stderr line of a refused request (asserting there is exactly one and no traceback)."""
    assert code == expected_code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("journeylens: error: "), err
    return lines[0]


@pytest.fixture
def events(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(CSV)
    (tmp_path / "map.yaml").write_text(MAP)
    return path


def test_analyze_writes_reconciled_summary_and_quarantine(events, tmp_path):
    out = tmp_path / "out"
    done = _run("analyze", str(events), *ROLES, "--map", str(tmp_path / "map.yaml"), "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # quiet means quiet
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["rows_read"], summary["rows_accepted"], summary["rows_quarantined"]) == (7, 4, 3)
    assert summary["reconciled"] is True
    assert summary["quarantine_reasons"] == {"duplicate": 1, "missing_user": 1, "unparsable_time": 1}
    assert summary["users"] == 2 and summary["sessions"] == 3  # u1: 10:00-10:05, 12:00; u2: one
    assert summary["channels"] == {"app": 1, "email": 1, "web": 2}
    assert summary["goal"] == ["order_placed"]
    quarantine = pd.read_csv(out / "quarantine.csv")
    assert sorted(quarantine["source_row"]) == [5, 6, 7]
    assert dict(zip(quarantine["source_row"], quarantine["reason"])) == {
        5: "unparsable_time", 6: "missing_user", 7: "duplicate"}


def test_progress_and_result_line_go_to_stderr(events, tmp_path):
    done = _run("analyze", str(events), *ROLES, "--out", str(tmp_path / "o"))
    assert done.returncode == 0
    # not a terminal: no progress bar, only the result line
    assert done.stderr == f"7 rows read, 4 accepted, 3 quarantined; 2 users, 3 sessions → {tmp_path / 'o'}/\n"
    assert done.stdout == ""


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["--user", "Nope"], 1, ["Nope", "Cust"]),  # unknown column: names the available ones
        (["--gap", "soon"], 1, ["--gap 'soon'"]),
        (["--map", "missing.yaml"], 1, ["missing.yaml"]),
        (["--no-such-option"], 2, ["no-such-option", "journeylens analyze --help"]),  # click's usage error, one line
        (["--seed", "many"], 2, ["--seed"]),
    ],
)
def test_bad_requests_exit_non_zero_with_one_line(run, events, tmp_path, args, code, words):
    line = refused(run("analyze", events, *ROLES, *args, "--out", tmp_path / "o", "--quiet"), code)
    for word in words:
        assert word in line


def test_usage_errors_are_one_line_in_a_real_process(events):
    done = _run("analyze", str(events), "--no-such-option")
    line = one_line_error(done.returncode, done.stderr, 2)
    assert "--no-such-option" in line and done.stdout == ""


def test_missing_file_and_empty_result(run, tmp_path):
    assert "nothing.csv" in refused(run("analyze", tmp_path / "nothing.csv", "--quiet"))
    bad = tmp_path / "allbad.csv"
    bad.write_text("user_id,timestamp,event\n,2024-01-01,a\nu,never,b\n")
    assert "no events accepted" in refused(run("analyze", bad, "--quiet", "--out", tmp_path / "o"))


# -- flags in errors; everything checked before any work -------------------------------------------


def test_version(run):
    code, out, err = run("--version")
    assert (code, out, err) == (0, f"journeylens {jl.__version__}\n", "")


@pytest.mark.parametrize("flag, value, said", [
    ("--gap", "30", "--gap '30' is not a duration: give a unit"),  # a bare number: its unit would be a guess
    ("--gap", "0min", "--gap '0min' must be a positive duration"),
    ("--inactivity", "bogus", "--inactivity 'bogus' is not a duration"),
    ("--inactivity", "7", "--inactivity '7' is not a duration: give a unit"),
    ("--format", "xlsx", "--format must be one of 'csv', 'parquet', not 'xlsx'"),
    ("--personas", "lots", "--personas must be 'auto', a number of personas or 0 (off), not 'lots'"),
    ("--seed", "-1", "--seed must be an integer of at least 0, not -1"),
])
def test_bad_values_name_the_flag_before_anything_is_read(run, tmp_path, flag, value, said):
    # the event file does not exist: the value is refused before the file is even looked at
    line = refused(run("analyze", tmp_path / "absent.csv", flag, value, "--out", tmp_path / "o"))
    assert line.startswith(f"journeylens: error: {said}")
    assert not (tmp_path / "o").exists()


def test_the_same_mistake_names_the_keyword_from_python(events):
    log = jl.read(events, user="Cust", time="At", event="What")
    with pytest.raises(jl.ParameterError) as python_side:
        jl.sessionize(log, gap="30")
    assert python_side.value.parameter == "gap"
    assert str(python_side.value).startswith("gap='30' is not a duration")


def test_keywords_become_flags_generally():
    """Any ParameterError is shown with the flag of the running command; keywords without a flag stay."""
    analyze = cli.typer.main.get_command(cli.app).commands["analyze"]
    shown = {name: cli._renamed(jl.ParameterError(message, name), lambda n: cli._flag(analyze, n))
             for name, message in [("random_state", "random_state must be an integer"),
                                   ("journey_map", "journey_map='x.yaml' has no stages"),
                                   ("encoding", "encoding='utf-9' is not a codec"),
                                   ("within", "within='1d' is not allowed here"),
                                   ("user", "users are counted")]}  # "user" is not followed by = or a space
    assert shown == {"random_state": "--seed must be an integer", "journey_map": "--map 'x.yaml' has no stages",
                     "encoding": "--encoding 'utf-9' is not a codec", "within": "within='1d' is not allowed here",
                     "user": "users are counted"}


def test_unknown_column_names_the_flag(run, events, tmp_path):
    line = refused(run("analyze", events, *ROLES[2:], "--user", "Nope", "--out", tmp_path / "o"))
    assert line.startswith("journeylens: error: --user 'Nope'")


def test_output_folder_must_be_a_writable_folder(run, events, tmp_path):
    line = refused(run("analyze", tmp_path / "absent.csv", "--out", events))
    assert line == f"journeylens: error: --out '{events}' is a file, not a folder"
    under_a_file = events / "out"  # no one can create a folder inside a file, not even root
    line = refused(run("analyze", tmp_path / "absent.csv", "--out", under_a_file))
    assert line == f"journeylens: error: --out '{under_a_file}' cannot be written to (Not a directory)"


# -- unreadable inputs ------------------------------------------------------------------------------


def test_unreadable_inputs_are_one_line(run, tmp_path):
    folder = tmp_path / "not_parquet"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello")
    for source, said in [(folder, "not_parquet"), ("/proc/self/mem", "/proc/self/mem"), ("x" * 5000, "File name too long")]:
        line = refused(run("analyze", source, "--out", tmp_path / "o", "--quiet"))
        assert said in line and len(line) < 400


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files without read permission")
def test_a_file_without_read_permission(run, events, tmp_path):
    events.chmod(0)
    line = refused(run("analyze", events, *ROLES, "--out", tmp_path / "o"))
    assert "Permission denied" in line or "cannot read" in line


# -- the config file ---------------------------------------------------------------------------------


@pytest.mark.parametrize("content, said", [
    (b"gap: 30\n", "gap: 30 is not a duration: give a unit"),
    (b"inactivity: 7\n", "inactivity: 7 is not a duration: give a unit"),
    (b"seed: abc\n", "seed: must be an integer of at least 0, not 'abc'"),
    (b"quiet: 'yes'\n", "quiet: must be true or false, not 'yes'"),
    (b"user: [Cust]\n", "user: must be non-empty text, not list"),
    (b"funnel: {a: 1}\n", "funnel: must be steps"),
    (b"format: xlsx\n", "format: must be one of 'csv', 'parquet', not 'xlsx'"),
    (b"gaps: 30min\n", "unknown option 'gaps' (known: attribution, channel, device"),
    (b"1: x\n", "unknown option 1"),
    (b"- gap\n- 30min\n", "a config file is a mapping of option: value, not list"),
    (b"gap: [30min\n", "invalid YAML at line 2"),
    (b"gap: \xff30min\n", "the config file is not UTF-8 text (byte 5)"),
])
def test_bad_config_files_are_one_line(run, events, tmp_path, content, said):
    config = tmp_path / "job.yaml"
    config.write_bytes(content)
    line = refused(run("analyze", events, "--config", config, "--out", tmp_path / "o"))
    assert line.startswith(f"journeylens: error: {config}: {said}")
    assert not (tmp_path / "o").exists()


def test_config_that_is_a_folder_missing_a_fifo_or_too_large(run, events, tmp_path):
    line = refused(run("analyze", events, "--config", tmp_path))
    assert line == f"journeylens: error: {tmp_path}: a folder, not a config file"
    line = refused(run("analyze", events, "--config", tmp_path / "none.yaml"))
    assert line == f"journeylens: error: {tmp_path / 'none.yaml'}: no such config file"
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # reading it would wait for a writer forever
    line = refused(run("analyze", events, "--config", fifo))
    assert line == f"journeylens: error: {fifo}: not a regular file, not a config file"
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * cli.CONFIG_MAX_BYTES + "\n")
    line = refused(run("analyze", events, "--config", big))
    assert line == f"journeylens: error: {big}: a config file is at most 1024 KiB"


def test_config_alias_bomb_is_refused_quickly(events, tmp_path):
    # 9 levels of 9 aliases: 9**9 (387 million) strings once expanded, in a file of about 800 bytes
    steps = ["  - &a0 [x, x, x, x, x, x, x, x, x]"]
    steps += [f"  - &a{k} [{', '.join([f'*a{k - 1}'] * 9)}]" for k in range(1, 9)]
    config = tmp_path / "bomb.yaml"
    config.write_text("funnel:\n" + "\n".join(steps) + "\n")
    assert config.stat().st_size < 1000
    started = time.monotonic()
    done = _run("analyze", str(events), "--config", str(config), "--out", str(tmp_path / "o"))
    assert time.monotonic() - started < 60
    line = one_line_error(done.returncode, done.stderr)
    assert line == f"journeylens: error: {config}: refused: anchors and aliases are not allowed (&a0) at line 2, column 5"


def test_config_values_are_checked_like_flags_and_flags_win(run, events, tmp_path):
    config = tmp_path / "job.yaml"
    config.write_text(f"events: {events}\nuser: Cust\ntime: At\nevent: What\nchannel: Via\n"
                      f"gap: 2h\nformat: csv\nreport: false\nquiet: true\nout: {tmp_path / 'from_config'}\n")
    code, out, err = run("analyze", "--config", config, "--gap", "30min", "--out", tmp_path / "o")
    assert (code, out, err) == (0, "", "")
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["parameters"]["gap"] == "30min" and summary["sessions"] == 3  # the flag won over the file's 2h
    assert "report.html" not in summary["outputs"] and not (tmp_path / "from_config").exists()
    code, _, _ = run("analyze", "--config", config, "--out", tmp_path / "o2")
    assert code == 0 and json.loads((tmp_path / "o2" / "summary.json").read_text())["sessions"] == 2  # 2h gap


# -- progress and warnings ---------------------------------------------------------------------------


def _stderr_on_a_terminal(*args: str) -> tuple[int, str]:
    """Run the command with stderr on a pseudo-terminal of 100 columns; its exit code and what it wrote there."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        done = subprocess.run([sys.executable, "-m", "journeylens.app.cli", *args], stdout=subprocess.PIPE,
                              stderr=follower, timeout=300)
    finally:
        os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal is closed once everything is read
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return done.returncode, b"".join(chunks).decode()


def test_progress_bar_only_on_a_terminal(events, tmp_path):
    code, shown = _stderr_on_a_terminal("analyze", str(events), *ROLES, "--out", str(tmp_path / "tty"))
    assert code == 0 and "|" in shown and "step" in shown and "\r" in shown
    code, shown = _stderr_on_a_terminal("analyze", str(events), *ROLES, "--out", str(tmp_path / "q"), "--quiet")
    assert (code, shown) == (0, "")


@pytest.fixture
def twins(tmp_path):
    """40 customers with only two distinct journeys: asking for 5 personas makes KMeans warn."""
    rows = ["user,time,event"]
    for user in range(40):
        for k, event in enumerate(["home", "cart", "buy"] if user % 2 else ["home", "home"]):
            rows.append(f"u{user},2024-01-01 {10 + k}:00:00,{event}")
    path = tmp_path / "twins.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_library_warnings_one_line_each_and_none_when_quiet(run, twins, tmp_path):
    code, _, err = run("analyze", twins, "--personas", "5", "--goal", "buy", "--out", tmp_path / "o")
    assert code == 0
    warned = [line for line in err.splitlines() if line.startswith("journeylens: warning: ConvergenceWarning: ")]
    assert warned and len(warned) == len(set(warned))
    assert len(err.splitlines()) == len(warned) + 1  # and the result line
    code, out, err = run("analyze", twins, "--personas", "5", "--goal", "buy", "--out", tmp_path / "q", "--quiet")
    assert (code, out, err) == (0, "", "")


# -- the analysis options: engine, given sessions, lost, prediction --------------------------------

def _ecom_parquet(tmp_path):
    from tests.conftest import shared_file

    path = tmp_path / "ecom.parquet"
    pd.read_csv(shared_file("clickstream", "ecom.csv.gz")).to_parquet(path)
    return path


def test_every_engine_writes_the_same_tables(run, tmp_path):
    source = _ecom_parquet(tmp_path)
    outputs = {}
    for engine in ("memory", "duckdb"):
        out = tmp_path / engine
        code, _, err = run("analyze", source, "--session", "session_id", "--goal", "purchase", "--engine", engine,
                           "--personas", "0", "--out", out, "--quiet")
        assert (code, err) == (0, "")
        outputs[engine] = {p.name: p.read_bytes() for p in out.glob("*.csv")}
    assert len(outputs["memory"]) >= 10 and outputs["memory"] == outputs["duckdb"]


def test_a_given_session_column_is_kept_not_cut_again(run, tmp_path):
    source = _ecom_parquet(tmp_path)
    want = pd.read_parquet(source).groupby("user_id")["session_id"].nunique().sum()  # sessions are per user
    code, _, _ = run("analyze", source, "--session", "session_id", "--goal", "purchase", "--personas", "0",
                     "--out", tmp_path / "kept", "--quiet")
    summary = json.loads((tmp_path / "kept" / "summary.json").read_text())
    assert code == 0 and summary["roles"]["session"] == "session_id" and summary["sessions"] == want
    assert summary["parameters"]["gap"] == "source sessions"
    run("analyze", source, "--session", "session_id", "--gap", "1min", "--goal", "purchase", "--personas", "0",
        "--out", tmp_path / "cut", "--quiet")
    recut = json.loads((tmp_path / "cut" / "summary.json").read_text())
    assert "session" not in recut["roles"] and recut["sessions"] > want  # --gap asks for new sessions


def test_lost_events_are_neither_conversions_nor_drop_offs(run, tmp_path):
    rows = ["user,time,event", "z,2024-01-05 10:00,home"]  # z sets the end of observation, days later
    rows += [f"u{k},2024-01-01 10:00,home" for k in range(12)]
    rows += [f"u{k},2024-01-01 11:00,{('buy', 'cancel', 'cart')[k % 3]}" for k in range(12)]
    source = tmp_path / "shop.csv"
    source.write_text("\n".join(rows) + "\n")
    code, _, err = run("analyze", source, "--goal", "buy", "--lost", "cancel", "--inactivity", "1h", "--personas", "0",
                       "--out", tmp_path / "o", "--quiet")
    assert (code, err) == (0, "")
    summary = pd.read_csv(tmp_path / "o" / "dropoff_summary.csv").iloc[0]
    counts = tuple(int(summary[c]) for c in ("converted", "lost", "dropped_off", "censored"))
    assert counts == (4, 4, 4, 1)  # by hand: k % 3 picks the outcome; z is still active
    assert set(pd.read_csv(tmp_path / "o" / "dropoffs.csv")["event"]) == {"cart"}
    line = refused(run("analyze", source, "--goal", "buy", "--lost", "nope", "--out", tmp_path / "p"))
    assert line.startswith("journeylens: error: --lost 'nope' is not an event of the log")


def test_predict_writes_the_next_steps_of_active_customers(run, tmp_path):
    source = _ecom_parquet(tmp_path)
    code, _, err = run("analyze", source, "--goal", "purchase", "--personas", "0", "--predict", "--out",
                       tmp_path / "o", "--quiet")
    assert (code, err) == (0, "")
    steps = pd.read_csv(tmp_path / "o" / "next_steps.csv")
    assert list(steps.columns[:4]) == ["user_id", "rank", "next_event", "probability"]
    assert steps["conversion_probability"].between(0, 1).all()
    assert (steps.groupby("user_id")["rank"].max() <= 3).all()
    quality = pd.read_csv(tmp_path / "o" / "prediction_quality.csv").set_index("metric")["score"]
    assert 0 < quality["accuracy"] <= 1 and 0.5 < quality["AUC"] <= 1


def test_running_out_of_memory_is_one_line_and_exit_5(tmp_path):
    source = tmp_path / "events.parquet"
    jl.datasets.make_journeys(300, seed=2).to_parquet(source)
    env = {**os.environ, "JOURNEYLENS_MEMORY_LIMIT": "2MB"}  # far below what DuckDB needs for the scan
    done = _run("analyze", str(source), "--engine", "duckdb", "--personas", "0", "--out", str(tmp_path / "o"),
                "--quiet", env=env)
    line = one_line_error(done.returncode, done.stderr, 5)
    assert line.startswith("journeylens: error: out of memory (") and "JOURNEYLENS_MEMORY_LIMIT" in line
