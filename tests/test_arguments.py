"""Arguments are checked before anything heavy starts: exit 2 and one line, without importing
TensorFlow (issue: hardening, item 6)."""

import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.unit


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)


@pytest.mark.parametrize("steps", ["0", "-5", "many"])
def test_train_steps_must_be_a_positive_whole_number(steps):
    proc = _python(f"import runner_local, sys; sys.exit(runner_local.main(['--train-steps', '{steps}']))")
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert "--train-steps" in line and ("at least 1" in line or "not a whole number" in line)


@pytest.mark.parametrize("host", ["ftp://kfp.example", "localhost:8888", "http://"])
def test_kubeflow_host_must_be_an_http_url_and_is_checked_without_tensorflow(host):
    proc = _python("import runner_kubeflow, sys\n"
                   f"code = runner_kubeflow.main(['--submit', '--host', {host!r}])\n"
                   "print(code, 'tensorflow' in sys.modules)")
    assert proc.stdout.split() == ["2", "False"]
    [line] = proc.stderr.strip().splitlines()
    assert "not an http(s) URL" in line


def test_kubeflow_help_answers_without_tensorflow_and_lists_exit_codes():
    proc = _python("import runner_kubeflow, sys\n"
                   "try:\n    runner_kubeflow.main(['--help'])\nexcept SystemExit as e:\n    code = e.code\n"
                   "print('CODE', code, 'tensorflow' in sys.modules)")
    assert proc.stdout.strip().splitlines()[-1] == "CODE 0 False"
    assert "exit status:" in proc.stdout and "--host" in proc.stdout


def test_runner_help_lists_every_exit_code():
    proc = _python("import runner_local\nrunner_local.main(['--help'])")
    text = " ".join(proc.stdout.split())
    for code in ("0 done", "1 a component failed", "2 bad arguments", "3 the data gate", "4 another run", "130 interrupted"):
        assert code in text


def test_a_schema_file_that_is_not_a_schema_is_refused_before_the_run(tmp_path):
    folder = tmp_path / "v1"
    folder.mkdir()
    (folder / "schema.pbtxt").write_text("this is not a schema {")
    proc = _python(f"import runner_local, sys; sys.exit(runner_local.main(['--schema', {str(folder / 'schema.pbtxt')!r}, "
                   f"'--outputs', {str(tmp_path / 'out')!r}]))")
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert "not a schema in text format" in line and "tfxgate: running" not in proc.stdout


def _actions(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from ((f"{name} {n}".strip(), a, p) for n, a, p in _actions(sub))
        else:
            yield "", action, parser


def test_every_option_of_every_command_has_help_and_every_command_lists_its_exit_codes():
    import argparse

    from tfxgate.command.parser import build_parser

    missing, parsers = [], set()
    for command, action, parser in _actions(build_parser()):
        parsers.add(parser)
        if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
            continue
        if not action.help:
            missing.append(f"{command or 'tfxgate'}: {action.option_strings or action.dest}")
    assert missing == []
    assert all(p.epilog and "exit status:" in p.epilog for p in parsers)


def test_a_long_component_says_it_is_still_running_once_per_heartbeat():
    """Issue: hardening, item 9: a long component is not minutes of silence."""
    import io
    import logging

    from tfxgate.command import console

    out = io.StringIO()
    progress = console.ComponentProgress(out, heartbeat=30)
    progress.emit(logging.LogRecord("absl", logging.INFO, "", 0, console._RUNNING, ("TrainStatisticsGen",), None))
    started = progress.started["TrainStatisticsGen"]
    assert progress.beat(started + 10) is None  # not yet
    line = progress.beat(started + 95)
    assert line and "TrainStatisticsGen" in line and "still running: 1 min 35 s" in line and "MiB" in line
    assert progress.beat(started + 100) is None  # once per heartbeat
    assert progress.beat(started + 126)
    progress.emit(logging.LogRecord("absl", logging.INFO, "", 0, console._FINISHED, ("TrainStatisticsGen",), None))
    assert progress.beat(started + 500) is None  # nothing runs
    assert out.getvalue().count("still running") == 2


def test_the_heartbeat_counts_the_rows_example_gen_has_read():
    """Issue: hardening, item 9: where a component counts rows, the heartbeat shows them."""
    import glob
    import io
    import logging

    from components import example_gen_inputs
    from tests.paths import PROJECT_ROOT
    from tfxgate.command import console

    span = sorted(glob.glob(str(PROJECT_ROOT / "data" / "train" / "span-3" / "*.csv")))[0]
    with open(span) as f:
        data_rows = sum(1 for _ in f) - 1
    out = io.StringIO()
    progress = console.ComponentProgress(out, heartbeat=30)
    progress.emit(logging.LogRecord("absl", logging.INFO, "", 0, console._RUNNING, ("ServingExampleGen",), None))
    started = progress.started["ServingExampleGen"]
    reader = example_gen_inputs.ReadRows(",", {})
    reader.setup()
    assert sum(1 for _ in reader.process(span)) == data_rows
    line = progress.beat(started + 31)
    assert f"still running: 31 s, {data_rows:,} rows read, peak memory" in line
