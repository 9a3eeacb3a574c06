"""Two runs at once on one SQLite store, a run killed mid-Trainer and run again, a killed validate.

The module's runs share one store and one data root: span 3 as a Windows export (UTF-8 BOM,
CRLF line ends) with a 1 MB company name in one row, and the shipped serving batch.
  A and B start together: one takes the lock, the other waits for it, then takes everything
  from the cache. While A runs, a third run with --no-wait stops at once (exit 4).
  C asks for other train steps (so Trainer cannot come from the cache) and is killed with
  SIGKILL, process group and all, in the middle of Trainer.
  D is C run again.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from ml_metadata.proto import metadata_store_pb2

from tests.conftest import DATA_ROOT, PROJECT_ROOT
from tests.test_bad_input import windows_export
from mlmd import query, runlock

pytestmark = pytest.mark.pipeline

Execution = metadata_store_pb2.Execution


def _command(outputs, data_root, *args):
    return [sys.executable, str(PROJECT_ROOT / "runner_local.py"), "--outputs", str(outputs),
            "--data-root", str(data_root), *args]


def _start(outputs, data_root, log, *args):
    out = open(log, "w")
    return subprocess.Popen(_command(outputs, data_root, *args), stdout=out, stderr=subprocess.STDOUT,
                            cwd=PROJECT_ROOT, start_new_session=True, text=True)


def _wait_for(path, text, proc, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path) as f:
            if text in f.read():
                return
        assert proc.poll() is None, f"run ended before '{text}':\n" + open(path).read()
        time.sleep(0.2)
    raise AssertionError(f"no '{text}' within {timeout} s")


def _wait_for_either(runs, text, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in path.read_text() for path, _ in runs):
            return
        time.sleep(0.2)
    raise AssertionError(f"no run said '{text}' within {timeout} s")


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    root = tmp_path_factory.mktemp("windows-data")
    import shutil

    shutil.copytree(DATA_ROOT / "serving", root / "serving")
    windows_export(root / "train" / "span-3", rows=3000, big_field=True)
    outputs = tmp_path_factory.mktemp("outputs")
    logs = tmp_path_factory.mktemp("logs")
    result = {"outputs": outputs, "root": root, "logs": logs}

    a = _start(outputs, root, logs / "a.out", "--train-steps", "100")
    b = _start(outputs, root, logs / "b.out", "--train-steps", "100")
    _wait_for_either([(logs / "a.out", a), (logs / "b.out", b)], "tfxgate: running pipeline")
    busy = subprocess.run(_command(outputs, root, "--train-steps", "100", "--no-wait"),
                          capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    result["busy"] = busy
    result["a"], result["b"] = a.wait(timeout=900), b.wait(timeout=900)
    result["a_out"], result["b_out"] = (logs / "a.out").read_text(), (logs / "b.out").read_text()

    c = _start(outputs, root, logs / "c.out", "--train-steps", "110")
    _wait_for(logs / "c.out", "Trainer                  started", c)
    time.sleep(6)  # well inside Trainer: its model folders exist, nothing is published
    store = query.sqlite_store(str(outputs / "metadata.sqlite"))
    trainer_dirs = sorted((outputs / "pipeline" / "Trainer").glob("*/*"))
    os.killpg(c.pid, signal.SIGKILL)
    c.wait()
    result["killed_states"] = {query.node_id_of(store, e.id): e.last_known_state for e in store.get_executions()}
    result["killed_trainer_dirs"] = trainer_dirs
    result["c_out"] = (logs / "c.out").read_text()

    d = subprocess.run(_command(outputs, root, "--train-steps", "110"), capture_output=True, text=True,
                       cwd=PROJECT_ROOT, timeout=900)
    result["d"] = d
    result["store"] = query.sqlite_store(str(outputs / "metadata.sqlite"))
    return result


def test_two_runs_at_once_both_complete_one_after_the_other(chain):
    assert (chain["a"], chain["b"]) == (0, 0), chain["a_out"] + chain["b_out"]
    outs = [chain["a_out"], chain["b_out"]]
    waited = [o for o in outs if "tfxgate: waiting for the run of pid" in o]
    assert len(waited) == 1, outs
    second = waited[0]
    # the second took every component but the resolver from the first's results
    for node in ("TrainExampleGen", "TrainStatisticsGen", "DataGate", "Transform", "Trainer"):
        assert f"  {node:<24} cached" in second, second


def test_the_shared_sqlite_store_is_intact(chain):
    path = chain["outputs"] / "metadata.sqlite"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store = chain["store"]
    assert len(store.get_contexts_by_type("pipeline_run")) == 4  # A, B, C, D
    assert {e.last_known_state for e in store.get_executions()} <= {Execution.COMPLETE, Execution.CACHED, Execution.FAILED}


def test_a_run_that_will_not_wait_stops_with_a_clear_message(chain):
    busy = chain["busy"]
    assert busy.returncode == 4, busy.stdout + busy.stderr
    [line] = [l for l in busy.stderr.splitlines() if l.strip()]
    assert line.startswith("error: ") and "held by run of pid" in line and "--no-wait" in line
    assert "Traceback" not in busy.stderr


def test_windows_export_with_a_one_mb_field_trains_and_pushes(chain):
    """BOM and CRLF read like plain CSV (no BOM in the first column's name), the 1 MB company
    name is a warn-level unexpected value, and the model is pushed."""
    assert "data gate:    warn" in chain["a_out"] + chain["b_out"]
    store = chain["store"]
    anomalies = [a for a in store.get_artifacts_by_type("ExampleAnomalies") if query.custom_value(a, "environment") == "TRAINING"]
    findings = []
    for split in ("train", "eval"):
        with open(os.path.join(anomalies[0].uri, f"Split-{split}", "findings.json")) as f:
            findings += json.load(f)["findings"]
    kinds = {(x["feature"], t) for x in findings for t in x["types"]}
    assert ("company", "ENUM_TYPE_UNEXPECTED_STRING_VALUES") in kinds
    assert not any(feature.startswith("\ufeff") for feature, _ in kinds)
    assert {f for f, t in kinds if t == "SCHEMA_MISSING_COLUMN"} == set(), kinds
    assert query.latest_pushed_destination(store)


def test_the_killed_run_was_inside_trainer(chain):
    assert "Trainer                  started" in chain["c_out"]
    assert "Trainer                  done" not in chain["c_out"]
    assert chain["killed_states"]["Trainer"] == Execution.RUNNING  # as the dead process left it
    assert chain["killed_trainer_dirs"], "Trainer had written nothing yet: the kill came too early"


def test_the_rerun_completes_and_takes_finished_work_from_the_cache(chain):
    d = chain["d"]
    assert d.returncode == 0, d.stdout + d.stderr
    for node in ("TrainExampleGen", "DataGate", "Transform"):
        assert f"  {node:<24} cached" in d.stdout, d.stdout
    assert "  Trainer                  done" in d.stdout


def test_mlmd_tells_the_truth_about_the_killed_execution(chain):
    store, d = chain["store"], chain["d"]
    trainers = [e for e in store.get_executions() if query.node_id_of(store, e.id) == "Trainer"]
    killed = [e for e in trainers if e.last_known_state == Execution.FAILED]
    assert len(killed) == 1
    [killed] = killed
    assert "ended while this execution was running" in query.custom_value(killed, runlock.INTERRUPTED_KEY)
    assert f"execution {killed.id} of Trainer was left running by a killed run: marked FAILED" in d.stdout
    # no artifact came out of it, and its half-written folders are gone
    events = store.get_events_by_execution_ids([killed.id])
    assert not [e for e in events if e.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.PENDING_OUTPUT)]
    assert not list((chain["outputs"] / "pipeline" / "Trainer").glob(f"*/{killed.id}"))
    assert not list((chain["outputs"] / "pipeline" / "Trainer").glob(f".system/*/{killed.id}"))
    # the model now pushed was written by the rerun's Trainer, not the killed one
    newest_model = max(store.get_artifacts_by_type("Model"), key=lambda a: a.id)
    producer = query.producer_execution(store, newest_model.id)
    assert producer != killed.id and producer in {e.id for e in trainers if e.last_known_state == Execution.COMPLETE}
    assert newest_model.state == metadata_store_pb2.Artifact.LIVE


# --- tfxgate validate ----------------------------------------------------------------------


def _validate_command(data, out):
    return [sys.executable, "-m", "tfxgate.command.cli", "validate", "--data", str(data), "--baseline", "none",
            "--environment", "TRAINING", "--format", "json", "--out", str(out)]


def test_a_killed_validate_leaves_the_old_result_or_none_never_a_torn_file(tmp_path):
    from tests import defects

    rows = defects.base_rows(n=5000) * 40  # 185,440 rows of span 3
    data = defects.write_rows(tmp_path / "big" / "data.csv", rows)
    out = tmp_path / "result.json"
    started = time.monotonic()
    first = subprocess.run(_validate_command(data, out), capture_output=True, text=True, cwd=PROJECT_ROOT)
    took = time.monotonic() - started
    assert first.returncode == 0, first.stderr
    complete = out.read_text()
    assert json.loads(complete)["rows"] == len(rows)

    fresh = tmp_path / "fresh.json"
    # killed while importing, while computing statistics, and near the end
    for share, target in ((0.5, out), (0.85, out), (0.95, fresh)):
        proc = subprocess.Popen(_validate_command(data, target), cwd=PROJECT_ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(took * share)
        proc.kill()
        proc.wait()
        if target == out:
            assert json.loads(out.read_text())["rows"] == len(rows)  # the old result, whole
        elif fresh.exists():
            assert json.loads(fresh.read_text())["rows"] == len(rows)  # complete, or absent


def _as_a_terminal_starts_it():
    """SIGINT's default action, as a terminal's foreground job has it: a shell's background job
    (as `make test` runs this module) starts with SIGINT ignored, which Python then keeps."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_says_what_it_interrupted_in_one_line_and_exits_130(tmp_path):
    """SIGINT to the run's process group, as Ctrl-C in a terminal sends it, in the middle of the
    run: one line saying what was interrupted and that a re-run resumes; no traceback; exit 130;
    and the run's temporary files are gone ($TMPDIR untouched)."""
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    log = tmp_path / "run.out"
    with open(log, "w") as out:
        proc = subprocess.Popen(_command(tmp_path / "outputs", DATA_ROOT, "--train-steps", "100"), stdout=out,
                                stderr=subprocess.STDOUT, cwd=PROJECT_ROOT, start_new_session=True, text=True,
                                env=dict(os.environ, TMPDIR=str(tmpdir)), preexec_fn=_as_a_terminal_starts_it)
    _wait_for(log, "TrainStatisticsGen", proc)
    os.killpg(proc.pid, signal.SIGINT)
    code = proc.wait(timeout=300)
    text = log.read_text()
    assert code == 130, text
    assert "Traceback" not in text
    [line] = [l for l in text.splitlines() if "interrupted" in l]
    assert "run the same command again" in line.lower() or "Run the same command again" in line
    assert list(tmpdir.iterdir()) == []
    assert not list((tmp_path / "outputs" / "tmp").glob("run-*"))
