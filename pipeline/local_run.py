"""The steps of a local run around the pipeline itself (runner_local.py calls them): the input
files checked before anything runs, the run lock and the recovery of what a killed run left
RUNNING, the run's temporary folder, the pipeline run on LocalDagRunner, and what it printed at
the end (the gates' decisions, the pushed model, the next steps of a blocked run) with its exit
status.

The run console (progress on the terminal, the log file) is `tfxgate/command/console.py`, a layer above
this one: the runner passes it in (`console`), so nothing here imports `tfxgate`."""

import contextlib
import datetime
import os
import sys
import time
from typing import Optional, Tuple

from core.common import names
from core.common.errors import UserError
from core.reading import report as reading
from core.reading import source as source_lib
from core.reading.sources import csv_structure, missing
from core.settings import schema_files
from mlmd import runlock, store as store_lib
from pipeline import config as config_lib, job_service, stages

EXIT_FAILED, EXIT_USAGE, EXIT_BLOCKED, EXIT_BUSY, EXIT_NOT_BLESSED, EXIT_INTERRUPTED = 1, 2, 3, 4, 5, 130


def check_before_running(config: config_lib.PipelineConfig, inputs: bool = True) -> None:
    """What can be checked before anything runs: the Beam job service the run names answers, and
    (unless `inputs` is false) every input file (check_inputs)."""
    job_service.check(config.beam_pipeline_args)
    if inputs:
        check_inputs(config)


def check_inputs(config: config_lib.PipelineConfig) -> None:
    """Every input file the run will read (any format read), before anything runs: each record read once, the
    columns against the curated schema, and no file writing missing values as a marker not
    declared (core/reading/sources/missing.py); a UserError names the file and line."""
    features = reading.schema_kinds(schema_files.load(config.schema_path))
    for folder in config_lib.input_folders(config):
        with source_lib.open_batch(folder, config.delimiter, missing=config.missing, format=config.input_format) as source:
            source.check()  # read once, every record
            csv_structure.check_columns(folder, source.columns, list(features))
            missing.refuse_undeclared(source, features)


def new_run(outputs: str, run_id: Optional[str] = None) -> Tuple[str, str]:
    """This run's id (the pipeline_run context's name: its own records in MLMD; default: its start
    time) and its log file under <outputs>/logs/."""
    stamp = datetime.datetime.now()
    log_path = os.path.join(outputs, "logs", f"run-{stamp:%Y%m%d-%H%M%S-%f}-{os.getpid()}.log")
    return run_id or stamp.isoformat(), log_path


def run_locked(config, run_id: str, outputs: str, log_path: str, verbose: bool, project, policy: str, stage,
               wait: bool, console) -> int:
    """The run under the lock on its pipeline root and SQLite store, after marking what a killed run
    left RUNNING; its exit status (4: another run holds the lock and `wait` is false)."""
    say = lambda line: print(line, flush=True)  # noqa: E731
    try:
        with runlock.hold(runlock.lock_paths(config.pipeline_root, config.store.sqlite_path), wait=wait, say=say):
            say(f"tfxgate: running pipeline '{config.pipeline_name}' (schema {config.schema_version}) "
                f"with MLMD at {config.store.describe()}")
            reconcile(config, say)
            with run_tmp(outputs):
                return run(config, run_id, log_path, verbose, project, policy, stage, console)
    except runlock.Busy as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BUSY
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE


def run_ended(stage, status: int) -> bool:
    """Whether the run ended here, done, blocked, or its model not pushed (then it is tracked)."""
    ended = stage in (None, stages.LAST) or status == EXIT_BLOCKED
    return ended and status not in (EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED)


@contextlib.contextmanager
def run_tmp(outputs: str):
    """Temporary files of the run under <outputs>/tmp/run-*, removed when it ends."""
    import shutil
    import tempfile

    root = os.path.join(outputs, "tmp")
    os.makedirs(root, exist_ok=True)
    folder = tempfile.mkdtemp(prefix="run-", dir=root)
    saved = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir, os.environ["TMPDIR"] = folder, folder
    try:
        yield folder
    finally:
        tempfile.tempdir = saved[0]
        if saved[1] is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved[1]
        shutil.rmtree(folder, ignore_errors=True)


def reconcile(config, say) -> None:
    """Executions a killed run left RUNNING: marked FAILED, partial outputs removed."""
    store = config.store.open(must_exist=False)
    for note in runlock.reconcile(store, config.pipeline_name, config.pipeline_root, whole_store=not config.store.is_mysql):
        say(f"tfxgate: {note}")


def run(config, run_id: str, log_path: str, verbose: bool, project, policy: str, stage, console) -> int:
    """The pipeline (or one stage of it) on LocalDagRunner, its progress on `console`
    (`pipeline_console(log_path, verbose)` and `one_line(error)`, tfxgate/command/console.py); what
    happened, printed, and the exit status."""
    started = time.monotonic()
    # What this run already finished (a retried stage): not run again, and not shown.
    finished = stages.finished_nodes(config.store.open(must_exist=False), run_id) if stage else set()
    with console.pipeline_console(log_path, verbose) as progress:
        store_lib.install_log_redaction()  # TFX logs its connection config, password and all
        try:
            from pipeline.pipeline import create_pipeline  # heavy imports after argument checks
            from pipeline.run import NamedRunLocalDagRunner

            NamedRunLocalDagRunner(run_id, stage, finished).run(create_pipeline(config))
            failed_node, error = None, None
        except KeyboardInterrupt:  # said below, once the console gives the terminal back
            failed_node, error = progress.current or "the pipeline", KeyboardInterrupt
        except Exception as e:  # a failed component: one line here, the traceback in the log
            import traceback

            traceback.print_exc()
            failed_node, error = progress.current or "pipeline", console.one_line(e)
    if error is KeyboardInterrupt:
        print(f"\ntfxgate: interrupted during {failed_node}; nothing after it ran. Run the same command "
              "again: finished components come from the cache.", file=sys.stderr)
        return EXIT_INTERRUPTED
    if failed_node == names.GATE:
        print("tfxgate: the data gate stopped the run; nothing was trained or pushed.", file=sys.stderr)
        print(f"error: {error}", file=sys.stderr)
        print(f"  MLMD store: {config.store.describe()}  log: {log_path}", file=sys.stderr)
        next_steps(config, run_id, policy, project)
        return EXIT_BLOCKED
    if failed_node:
        print(f"error: {failed_node} failed: {error} (full log: {log_path})", file=sys.stderr)
        return EXIT_FAILED
    print(f"tfxgate: finished {f'stage {stage} ' if stage else ''}in {time.monotonic() - started:.1f} s")
    if stage not in (None, stages.LAST):
        return 0
    return summary(config, run_id, log_path, verbose, project)


def store_flags(config, project) -> str:
    """The flags that make a `tfxgate` command read this run's store and project."""
    store = f"--metadata {config.store.sqlite_path}" if not config.store.is_mysql else "(the same --mysql-* flags)"
    return store if project.is_shipped else f"--project {project.root} {store}"


def next_steps(config, run_id: str, policy: str, project) -> None:
    """What a person can do about a blocked run, one line each."""
    store = store_flags(config, project)
    print("next steps:", file=sys.stderr)
    print(f"  see why, with the evidence:  tfxgate report {store} --run {run_id} --out report.html", file=sys.stderr)
    print("  the data is wrong:           fix it at its source and run again", file=sys.stderr)
    print(f"  the change is legitimate:    tfxgate schema propose {store}  (it drafts the next version for review)",
          file=sys.stderr)
    print(f"  the finding should only warn: edit {policy} (a reviewed change)", file=sys.stderr)


def summary(config, run_id: str, log_path: str, verbose: bool, project) -> int:
    """This run's own gate decisions and pushed model, read by its run context (a shared store
    holds other pipelines' runs too); the exit status: 5 where the model gate refused the model."""
    from core.common import evaluation as evaluation_lib
    from mlmd import runs

    run = runs.find_run_by_id(config.store.open(), run_id)
    gate = run.gate if run is not None else {}
    if gate.get("decision") in (names.PASS, names.WARN):
        line = gate["decision"] if gate["decision"] == names.PASS else f"{gate['decision']}: {gate.get('summary')}"
        print(f"  data gate:    {line}")
    judged = run.evaluation if run is not None else None
    if judged is not None:
        print(f"  model gate:   {evaluation_lib.headline(judged)}")
    print(f"  MLMD store:   {config.store.describe()}")
    pushed = (run.pushed_model or {}) if run is not None else {}
    print(f"  pushed model: {pushed.get('destination') if pushed.get('pushed') else None}")
    if not verbose:
        print(f"  log:          {log_path}")
    if judged is not None and not judged["blessed"]:
        print(f"tfxgate: model not pushed: {'; '.join(judged['reasons']) or 'not blessed'}", file=sys.stderr)
        models = [a["id"] for a in run.artifacts.get(names.TRAINER, []) if a["type"] == names.MODEL_TYPE]
        store = store_flags(config, project)
        print("  the serving model is unchanged. See why: "
              f"tfxgate lineage {store} --model {models[0] if models else 'latest'}, "
              f"or tfxgate report {store} --run {run_id} --out report.html", file=sys.stderr)
        return EXIT_NOT_BLESSED
    return 0
