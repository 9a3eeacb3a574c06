"""Runs the tfxgate pipeline locally: LocalDagRunner, SQLite MLMD, Beam's DirectRunner.

    python runner_local.py [--data-root data] [--outputs outputs] [--span N] [--verbose] ...

MLMD is a SQLite file unless MySQL settings are given (flags or TFXGATE_MYSQL_*; see
mlmd/store.py). Before anything runs, every input CSV file is checked (one line naming the
file and line if it is broken), and the run takes a lock on its pipeline root and SQLite store:
a second run waits for the first (or, with --no-wait, stops). Executions that a killed run left
RUNNING are marked FAILED and their partial outputs removed.

Exit status: 0 done, 1 a component failed, 2 bad arguments, settings or input data, 3 the data
gate stopped the run (blocking anomalies; nothing was trained or pushed), 4 another run holds
the lock and --no-wait was given, 5 the model gate refused the model (trained and evaluated, not
blessed, not pushed; the serving model is unchanged), 130 interrupted (Ctrl-C; a re-run resumes
from the cache).

Temporary files (TFX builds the module code into a wheel for each uncached run) go under
<outputs>/tmp/ and are removed when the run ends, so runs leave nothing in $TMPDIR.
"""

import contextlib
import datetime
import os
import sys
import time

import core  # noqa: F401  (Keras 2 before TensorFlow is imported)
from core.reading import source as source_lib
from core.reading.sources import csv_structure
from core.common import names
from core.common import project as project_lib
from core.reading import report as reading
from core.settings import schema_files
from core.common.errors import UserError
from mlmd import runlock, store as store_lib
from pipeline import config as config_lib, stages
from tfxgate.command.args import OneLineParser, add_store_arguments, positive_int, store_settings

EXIT_FAILED, EXIT_USAGE, EXIT_BLOCKED, EXIT_BUSY, EXIT_NOT_BLESSED, EXIT_INTERRUPTED = 1, 2, 3, 4, 5, 130


def parse_args(argv):
    parser = OneLineParser(
        prog="runner_local.py", description="Run the tfxgate pipeline locally.",
        epilog="exit status: 0 done, 1 a component failed, 2 bad arguments, settings or input data, "
               "3 the data gate stopped the run, 4 another run holds the lock (--no-wait), "
               "5 the model gate refused the model (not pushed), 130 interrupted (Ctrl-C)",
    )
    parser.add_argument("--project", help="the project folder (default: the folder you stand in when it holds "
                        "tfxgate.yaml, else the shipped example)")
    parser.add_argument("--data-root", help="a folder with train/span-N/*.csv and serving/*.csv (default: the "
                        "project's data root)")
    parser.add_argument("--outputs", help="default home of every output (default: the project's outputs/)")
    parser.add_argument("--pipeline-root", help="where artifacts are written (default: <outputs>/pipeline)")
    parser.add_argument("--pipeline-name", help="the pipeline's name in MLMD (default: the project's name)")
    parser.add_argument("--schema", help="curated schema file (default: the project's newest schema/v<N>)")
    parser.add_argument("--schema-version", help="the project's schema version v<N> to run with (default: the "
                        "newest; instead of --schema)")
    parser.add_argument("--policy", help="gate policy file (default: the project's schema/policy.yaml)")
    parser.add_argument("--evaluation", help="model gate settings: metrics and thresholds (default: the project's "
                        "schema/evaluation.yaml)")
    parser.add_argument("--span", type=int, help="training span to ingest (default: the latest)")
    parser.add_argument("--delimiter", help="the input files' field delimiter (default: the data root's "
                        "tfxgate-input.yaml `delimiter`, else ',')")
    parser.add_argument("--train-steps", type=positive_int, default=1000, help="training budget in steps (at least 1)")
    parser.add_argument("--beam-arg", action="append", default=[], help="repeatable, e.g. --beam-arg=--direct_num_workers=2")
    parser.add_argument("--no-cache", action="store_true", help="run every component again")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow, Beam and TFX logs")
    parser.add_argument("--no-wait", action="store_true", help="stop (exit 4) if another run holds the lock")
    parser.add_argument("--skip-input-check", action="store_true",
                        help="do not pre-check the CSV files here (ExampleGen still checks them)")
    parser.add_argument("--mlflow-tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI") or None,
                        help="log the run to this MLflow tracking server (default: $MLFLOW_TRACKING_URI; none: no MLflow)")
    parser.add_argument("--run-id", help="this run's id in MLMD (default: its start time); the stages of one "
                        "orchestrated run share it (runner_airflow.py)")
    parser.add_argument("--stage", choices=stages.STAGES, help="run one stage of the run --run-id names "
                        "(pipeline/stages.py); `check` only checks the settings and input files")
    add_store_arguments(parser)  # --metadata FILE (default <outputs>/metadata.sqlite) or MySQL
    return parser.parse_args(argv)


def _config(args) -> config_lib.PipelineConfig:
    project = project_lib.resolve(args.project)
    args.project = project
    args.data_root = args.data_root or str(project.data_root)
    args.outputs = args.outputs or str(project.outputs)
    args.policy = args.policy or str(project.policy_path)
    stages.check_stage(args.stage, args.run_id)
    if args.schema_version:
        if args.schema:
            raise config_lib.ConfigError("give --schema or --schema-version, not both")
        args.schema = schema_files.version_path(str(project.schema_dir), args.schema_version)
    config = config_lib.local_config(
        project=project,
        data_root=args.data_root,
        outputs=args.outputs,
        pipeline_root=args.pipeline_root,
        store=store_settings(args),
        schema_path=args.schema,
        policy_path=args.policy,
        evaluation_path=args.evaluation,
        beam_args=tuple(args.beam_arg),
        span=args.span,
        train_steps=args.train_steps,
        enable_cache=not args.no_cache,
        **({"pipeline_name": args.pipeline_name} if args.pipeline_name else {}),
        delimiter=config_lib.check_delimiter(args.delimiter or csv_structure.folder_delimiter(args.data_root) or ","),
    )
    if not args.skip_input_check:  # every CSV file the run will read, before anything runs
        features = reading.schema_kinds(schema_files.load(config.schema_path))
        for folder in config_lib.input_folders(config):
            with source_lib.open_batch(folder, config.delimiter) as source:  # read once, every record
                source.check()
            csv_structure.check_columns(folder, source.columns, list(features))
    return config


def main(argv=None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # before or after the pipeline itself (which says what it stopped)
        print("\ntfxgate: interrupted; run the same command again (finished components come from the cache).",
              file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv=None) -> int:
    args = parse_args(argv)
    try:
        config = _config(args)  # fills in the project's defaults of args
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    if args.stage == stages.CHECK:
        print(f"tfxgate: settings and input files of '{config.pipeline_name}' checked "
              f"(schema {config.schema_version}, span {'latest' if args.span is None else args.span})")
        return 0
    stamp = datetime.datetime.now()
    log_path = os.path.join(args.outputs, "logs", f"run-{stamp:%Y%m%d-%H%M%S-%f}-{os.getpid()}.log")
    run_id = args.run_id or stamp.isoformat()  # the pipeline_run context's name: this run's own records in MLMD
    say = lambda line: print(line, flush=True)  # noqa: E731
    try:
        with runlock.hold(runlock.lock_paths(config.pipeline_root, config.store.sqlite_path),
                          wait=not args.no_wait, say=say):
            say(f"tfxgate: running pipeline '{config.pipeline_name}' (schema {config.schema_version}) "
                f"with MLMD at {config.store.describe()}")
            _reconcile(config, say)
            with _run_tmp(args.outputs):
                status = _run(config, run_id, log_path, args.verbose, args.project, args.policy, args.stage)
    except runlock.Busy as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BUSY
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    ended = args.stage in (None, stages.LAST) or status == EXIT_BLOCKED  # the run ends here
    if ended and status not in (EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED):  # done, blocked, or the model not pushed
        _track(config, run_id, args.mlflow_tracking_uri, log_path)
    return status


def _track(config, run_id: str, tracking_uri, log_path=None) -> None:
    """Logs the run to MLflow when a tracking URI is given; a failure is one line on stderr, the
    libraries' warnings go to the run's log, and the run's exit status stays as it was."""
    if not tracking_uri:
        return
    from tfxgate.common import quiet

    from tfxgate.experiments import tracking
    try:
        with quiet.library_noise_to(log_path):
            tracking.log_run(config.store.open(), run_id, config.store.describe(), tracking_uri, config.pipeline_name)
    except Exception as e:  # noqa: BLE001  (logging a run must not fail it)
        print(f"tfxgate: {tracking.failure(e, tracking_uri)}", file=sys.stderr)


@contextlib.contextmanager
def _run_tmp(outputs: str):
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


def _reconcile(config, say) -> None:
    """Executions a killed run left RUNNING: marked FAILED, partial outputs removed."""
    store = config.store.open(must_exist=False)
    for note in runlock.reconcile(store, config.pipeline_name, config.pipeline_root, whole_store=not config.store.is_mysql):
        say(f"tfxgate: {note}")


def _run(config, run_id: str, log_path: str, verbose: bool, project, policy: str, stage=None) -> int:
    from tfxgate.command import console  # heavy imports after argument checks

    started = time.monotonic()
    # What this run already finished (a retried stage): not run again, and not shown.
    finished = stages.finished_nodes(config.store.open(must_exist=False), run_id) if stage else set()
    with console.pipeline_console(log_path, verbose) as progress:
        store_lib.install_log_redaction()  # TFX logs its connection config, password and all
        try:
            from pipeline.pipeline import create_pipeline
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
        _next_steps(config, run_id, policy, project)
        return EXIT_BLOCKED
    if failed_node:
        print(f"error: {failed_node} failed: {error} (full log: {log_path})", file=sys.stderr)
        return EXIT_FAILED
    print(f"tfxgate: finished {f'stage {stage} ' if stage else ''}in {time.monotonic() - started:.1f} s")
    if stage not in (None, stages.LAST):
        return 0
    return _summary(config, run_id, log_path, verbose, project)


def _store_flags(config, project) -> str:
    """The flags that make a `tfxgate` command read this run's store and project."""
    store = f"--metadata {config.store.sqlite_path}" if not config.store.is_mysql else "(the same --mysql-* flags)"
    return store if project.is_shipped else f"--project {project.root} {store}"


def _next_steps(config, run_id: str, policy: str, project) -> None:
    """What a person can do about a blocked run, one line each."""
    store = _store_flags(config, project)
    print("next steps:", file=sys.stderr)
    print(f"  see why, with the evidence:  tfxgate report {store} --run {run_id} --out report.html", file=sys.stderr)
    print("  the data is wrong:           fix it at its source and run again", file=sys.stderr)
    print(f"  the change is legitimate:    tfxgate schema propose {store}  (it drafts the next version for review)",
          file=sys.stderr)
    print(f"  the finding should only warn: edit {policy} (a reviewed change)", file=sys.stderr)


def _summary(config, run_id: str, log_path: str, verbose: bool, project) -> int:
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
        store = _store_flags(config, project)
        print("  the serving model is unchanged. See why: "
              f"tfxgate lineage {store} --model {models[0] if models else 'latest'}, "
              f"or tfxgate report {store} --run {run_id} --out report.html", file=sys.stderr)
        return EXIT_NOT_BLESSED
    return 0


if __name__ == "__main__":
    sys.exit(main())
