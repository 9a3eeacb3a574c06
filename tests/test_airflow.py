"""Airflow runs a project's pipeline (issue 34): `runner_airflow.py` writes the DAG, and Airflow 3,
in its own environment (`make airflow`: .venv-airflow), runs it with `airflow dags test` in a
temporary Airflow home, each stage in this project's .venv. On a small real project (penguins,
tests/datasets.py): a clean run, a re-run of the same span (its data from the cache) with a stage
killed mid-run and retried, a blocked span, bad parameters; and the DAG file imports without TensorFlow.

Self-contained (its own project, store, Airflow home): run beside the rest by `make test`."""

import json
import os
import pathlib
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import psutil
import pytest
from ml_metadata.proto import metadata_store_pb2

from core.common import names
from core.common import project as project_lib
from mlmd import query, runlock, runs as runs_lib, store as store_lib
from tests import datasets
from tests.paths import PROJECT_ROOT

pytestmark = pytest.mark.services

AIRFLOW_PYTHON = PROJECT_ROOT / ".venv-airflow" / "bin" / "python"
TRAIN_STEPS = 150  # small data learns in few steps (tests/test_own_data_pipeline.py)
STAGES = ["check", "validate", "train", "push"]
DAG_RUN_TIMEOUT_S = 1800  # a bound on a hung run, not a speed assertion
HEAVY = ("tensorflow", "tfx", "apache_beam", "ml_metadata", "tensorflow_data_validation",
         "core", "pipeline", "mlmd", "components", "tfxgate", "models")


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    """Airflow's own environment (made here on a clean machine) and a fresh Airflow home."""
    if not AIRFLOW_PYTHON.exists():
        made = subprocess.run(["make", "airflow"], cwd=PROJECT_ROOT, capture_output=True, text=True)
        assert made.returncode == 0, made.stdout + made.stderr
    home = tmp_path_factory.mktemp("airflow-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
               AIRFLOW__CORE__LOAD_EXAMPLES="False")
    migrated = subprocess.run([str(AIRFLOW_PYTHON.parent / "airflow"), "db", "migrate"], env=env,
                              capture_output=True, text=True)
    assert migrated.returncode == 0, migrated.stdout[-2000:] + migrated.stderr[-2000:]
    return {"home": home, "env": env}


@pytest.fixture(scope="module")
def project(airflow, tmp_path_factory):
    """`tfxgate init` on penguins, and its DAG written into Airflow's DAGs folder."""
    base = tmp_path_factory.mktemp("airflow-project")
    root = datasets.PENGUINS.build(base)
    folder = base / "project"
    made = subprocess.run([sys.executable, "-m", "tfxgate.command.cli", "init", str(folder), "--data", str(root),
                           "--label", datasets.PENGUINS.label], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert made.returncode == 0, made.stderr
    wrote = subprocess.run([sys.executable, "runner_airflow.py", "--project", str(folder), "--dags-folder",
                            str(airflow["home"] / "dags"), "--train-steps", str(TRAIN_STEPS), "--retry-delay", "1"],
                           capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert wrote.returncode == 0, wrote.stderr
    dag_id = "tfxgate_" + project_lib.load(folder).name
    dag_file = airflow["home"] / "dags" / f"{dag_id}.py"
    assert dag_file.is_file() and f"DAG {dag_id}" in wrote.stdout
    return {"folder": folder, "root": root, "dag_id": dag_id, "dag_file": dag_file}


def _store(project):
    return store_lib.StoreSettings(sqlite_path=str(project_lib.load(project["folder"]).metadata_path)).open()


def _dag_runs(airflow, dag_id):
    with sqlite3.connect(airflow["home"] / "airflow.db") as db:
        return db.execute("SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id", (dag_id,)).fetchall()


def _tasks(airflow, run_id):
    with sqlite3.connect(airflow["home"] / "airflow.db") as db:
        rows = db.execute("SELECT task_id, state, try_number FROM task_instance WHERE run_id = ?", (run_id,))
        return {task: {"state": state, "tries": tries} for task, state, tries in rows}


def _start(airflow, project, conf: dict, log: pathlib.Path):
    command = [str(AIRFLOW_PYTHON.parent / "airflow"), "dags", "test", project["dag_id"], "--conf", json.dumps(conf)]
    with open(log, "w") as out:
        return subprocess.Popen(command, env=airflow["env"], stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT)


def _finish(airflow, project, proc, log, before: int, started: float) -> dict:
    proc.wait(timeout=DAG_RUN_TIMEOUT_S)
    runs = _dag_runs(airflow, project["dag_id"])
    result = {"returncode": proc.returncode, "output": log.read_text(), "seconds": time.monotonic() - started}
    if len(runs) > before:
        run_id, state = runs[-1]
        result.update(run_id=run_id, state=state, tasks=_tasks(airflow, run_id),
                      mlmd_run_id="airflow-" + run_id)
    return result


def dags_test(airflow, project, conf: dict, log: pathlib.Path) -> dict:
    """One DAG run to its end: Airflow's exit status and output, the DAG run's and tasks' states."""
    before, started = len(_dag_runs(airflow, project["dag_id"])), time.monotonic()
    return _finish(airflow, project, _start(airflow, project, conf, log), log, before, started)


def _mlmd_run(project, result):
    return runs_lib.find_run_by_id(_store(project), result["mlmd_run_id"])


def _executions(project, result) -> dict:
    store = _store(project)
    context = store.get_context_by_type_and_name(names.RUN_CONTEXT, result["mlmd_run_id"])
    return query.executions_per_node(store, context.id)


def _report(project, result, tmp_path) -> subprocess.CompletedProcess:
    out = tmp_path / "report.html"
    proc = subprocess.run([sys.executable, "-m", "tfxgate.command.cli", "report", "--project", str(project["folder"]),
                           "--run", result["mlmd_run_id"], "--out", str(out)],
                          capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert proc.returncode == 0, proc.stderr
    return out.read_text()


@pytest.fixture(scope="module")
def clean(airflow, project, tmp_path_factory):
    result = dags_test(airflow, project, {"span": 1}, tmp_path_factory.mktemp("clean") / "airflow.log")
    print(f"\nclean DAG run under Airflow: {result['seconds']:.0f} s")
    return result


def test_the_dag_file_imports_without_tensorflow_or_our_packages(project):
    """Airflow's own Python imports the DAG file: Airflow and the standard library only."""
    code = f"""
import importlib.util, json, sys, time
import airflow.sdk  # what the DAG processor has loaded before it reads a DAG file
start = time.perf_counter()
spec = importlib.util.spec_from_file_location("tfxgate_dag", {str(project["dag_file"])!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
seconds = time.perf_counter() - start
dag = module.dag
print(json.dumps({{"seconds": seconds, "loaded": sorted(m for m in {HEAVY!r} if m in sys.modules),
                  "tasks": [t.task_id for t in dag.tasks], "max_active_runs": dag.max_active_runs,
                  "params": sorted(dag.params), "downstream": {{t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks}}}}))
"""
    proc = subprocess.run([str(AIRFLOW_PYTHON), "-c", code], capture_output=True, text=True, cwd="/")
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"\nthe DAG file imports in {found['seconds']:.3f} s (airflow.sdk already loaded)")
    assert found["loaded"] == []
    assert found["tasks"] == STAGES and found["max_active_runs"] == 1
    assert found["params"] == ["schema_version", "span", "train_steps"]
    assert found["downstream"] == {"check": ["validate"], "validate": ["train"], "train": ["push"], "push": []}


def test_a_clean_run_pushes_a_model_and_the_report_reads_it(clean, project, tmp_path):
    assert clean["returncode"] == 0, clean["output"][-4000:]
    assert clean["state"] == "success"
    assert {t: v["state"] for t, v in clean["tasks"].items()} == {s: "success" for s in STAGES}
    run = _mlmd_run(project, clean)
    assert run is not None and run.pipeline == project_lib.load(project["folder"]).name
    assert run.gate["decision"] in (names.PASS, names.WARN), run.gate
    assert run.evaluation["blessed"] is True and run.pushed_model["pushed"], (run.evaluation, run.pushed_model)
    # Every node ran once, in this one run, as the local runner records a whole run.
    executions = _executions(project, clean)
    assert {n: [e.last_known_state for e in es] for n, es in executions.items()} == {
        n: [metadata_store_pb2.Execution.COMPLETE] for n in executions}
    assert {names.EXAMPLE_GEN, names.GATE, names.TRANSFORM, names.TRAINER, names.EVALUATOR, names.PUSHER} <= set(executions)
    assert pathlib.Path(run.pushed_model["destination"]).is_dir()
    assert clean["mlmd_run_id"] in _report(project, clean, tmp_path)


def _process_of_stage(parent: psutil.Process, stage: str):
    for child in parent.children(recursive=True):
        try:
            command = child.cmdline()
        except psutil.Error:
            continue
        if "runner_local.py" in " ".join(command) and "--stage" in command \
                and command[command.index("--stage") + 1:][:1] == [stage]:
            return child
    return None


def test_a_stage_killed_mid_run_is_retried_and_registers_nothing_twice(clean, airflow, project, tmp_path):
    """The clean run's span again, with more training steps: every node up to Transform comes from
    the cache (a second DAG run of unchanged data registers nothing new), the Trainer runs and is
    killed (SIGKILL, as a lost worker); Airflow retries the stage, which finishes the same MLMD run."""
    log = tmp_path / "airflow.log"
    models = project_lib.load(project["folder"]).outputs / "pipeline" / names.TRAINER / "model"
    models_before = set(models.iterdir())
    before, started = len(_dag_runs(airflow, project["dag_id"])), time.monotonic()
    proc = _start(airflow, project, {"span": 1, "train_steps": TRAIN_STEPS + 50}, log)
    killed = None
    while killed is None and proc.poll() is None and time.monotonic() - started < DAG_RUN_TIMEOUT_S:
        lines = log.read_text().splitlines()
        # Killed once TFX has registered the Trainer's execution and made its model folder: a kill
        # between "started" and that moment leaves nothing for the retry to recover.
        if any(names.TRAINER in line and line.rstrip().endswith("started") for line in lines) \
                and set(models.iterdir()) - models_before:
            victim = _process_of_stage(psutil.Process(proc.pid), "train")
            if victim is not None:
                victim.send_signal(signal.SIGKILL)
                killed = victim.pid
        time.sleep(0.5)
    result = _finish(airflow, project, proc, log, before, started)
    assert killed is not None, result["output"][-4000:]
    assert result["returncode"] == 0 and result["state"] == "success", result["output"][-4000:]
    assert result["tasks"]["train"] == {"state": "success", "tries": 2}
    assert [result["tasks"][s]["tries"] for s in ("check", "validate", "push")] == [1, 1, 1]
    executions = _executions(project, result)
    # TFX keeps one execution per node and run: the retry's recovery marked the killed Trainer's
    # FAILED (its partial outputs removed), and TFX ran that same execution again to the end.
    [trainer] = executions[names.TRAINER]
    assert trainer.last_known_state == metadata_store_pb2.Execution.COMPLETE
    assert runlock.INTERRUPTED_KEY in trainer.custom_properties
    assert {n: len(es) for n, es in executions.items()} == {n: 1 for n in executions}  # nothing twice
    upstream = set(_executions(project, clean)) - {
        names.PREVIOUS_DECISIONS, names.LATEST_BLESSED_MODEL,  # resolvers run every time (tests/test_pipeline_e2e.py)
        names.TRAINER, names.EVALUATOR, names.PUSHER}
    assert {names.EXAMPLE_GEN, names.GATE, names.TRANSFORM} <= upstream
    assert {n: [e.last_known_state for e in executions[n]] for n in upstream} == {
        n: [metadata_store_pb2.Execution.CACHED] for n in upstream}
    store = _store(project)
    assert [query.type_name(store, a) for a in query.outputs(store, trainer.id)].count(names.MODEL_TYPE) == 1
    run = _mlmd_run(project, result)
    pushed = result["tasks"]["push"]["state"]
    # The model gate judges the new model against the clean run's: pushed, or skipped ("not pushed").
    assert pushed == ("success" if run.evaluation["blessed"] else "skipped")
    assert bool((run.pushed_model or {}).get("pushed")) == run.evaluation["blessed"]


def test_a_blocked_span_fails_the_validate_stage_with_the_gates_reason(clean, airflow, project, tmp_path):
    """A new span whose label is constant (a real defect of tests/datasets.py)."""
    [defect] = [d for d in datasets.DEFECTS["penguins"] if d.environment == names.TRAINING]
    train = project["root"] / "train"
    folder = train / "span-3"
    datasets.write_rows(folder / "data.csv", defect.damage(datasets.read_rows(train / "span-2" / "data.csv")))
    try:
        result = dags_test(airflow, project, {"span": 3}, tmp_path / "airflow.log")
    finally:
        shutil.rmtree(folder)
    assert result["returncode"] != 0 and result["state"] == "failed"
    assert {t: (v["state"], v["tries"]) for t, v in result["tasks"].items()} == {
        "check": ("success", 1), "validate": ("failed", 1),  # not retried: the data will not change
        "train": ("upstream_failed", 0), "push": ("upstream_failed", 0)}
    reasons = [line for line in result["output"].splitlines() if line.startswith("error: ")]
    assert len(reasons) == 1 and defect.feature in reasons[0], reasons
    assert f"AirflowFailException: {reasons[0]}" in result["output"]  # the task's failure says why
    run = _mlmd_run(project, result)
    assert run.gate["decision"] == names.BLOCK
    assert {v.finding.feature for val in run.validations for v in val.verdicts if v.severity == names.BLOCK} == {
        defect.feature}
    executions = _executions(project, result)
    assert names.TRANSFORM not in executions and names.PUSHER not in executions and not run.pushed_model
    assert result["mlmd_run_id"] in _report(project, result, tmp_path)


def test_bad_parameters_stop_the_run_before_any_stage(clean, airflow, project, tmp_path):
    """A type Airflow's params refuse (no DAG run at all), and a span that does not exist: the
    `check` task fails in one line, before any node has run (MLMD has no such run)."""
    refused = dags_test(airflow, project, {"train_steps": 0}, tmp_path / "refused.log")
    assert refused["returncode"] != 0 and "run_id" not in refused
    assert "minimum" in refused["output"]
    missing = dags_test(airflow, project, {"span": 99}, tmp_path / "missing.log")
    assert missing["state"] == "failed"
    assert {t: v["state"] for t, v in missing["tasks"].items()} == {
        "check": "failed", "validate": "upstream_failed", "train": "upstream_failed", "push": "upstream_failed"}
    assert missing["tasks"]["check"]["tries"] == 1
    assert "error: --span 99: no folder" in missing["output"]
    assert _store(project).get_context_by_type_and_name(names.RUN_CONTEXT, missing["mlmd_run_id"]) is None
