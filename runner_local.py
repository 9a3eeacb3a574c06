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

import os
import sys

import core  # noqa: F401  (Keras 2 before TensorFlow is imported)
from core.common import project as project_lib
from core.settings import schema_files
from core.common.errors import UserError
from pipeline import config as config_lib, local_run, stages
from tfxgate.command.args import OneLineParser, add_store_arguments, positive_int, store_settings


def parse_args(argv):
    parser = OneLineParser(
        prog="runner_local.py", description="Run the tfxgate pipeline locally.",
        epilog="exit status: 0 done, 1 a component failed, 2 bad arguments, settings or input data, "
               "3 the data gate stopped the run, 4 another run holds the lock (--no-wait), "
               "5 the model gate refused the model (not pushed), 130 interrupted (Ctrl-C)",
    )
    parser.add_argument("--project", help="the project folder (default: the folder you stand in when it holds "
                        "tfxgate.yaml, else the shipped example)")
    parser.add_argument("--data-root", help="a folder with train/span-N/ and serving/ data files (default: the project's)")
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
    parser.add_argument("--missing", action="append", help="a cell text meaning a missing value, e.g. NA; repeatable")
    parser.add_argument("--format-in", choices=["csv", "jsonl", "parquet", "tfrecord"], help="the data's format (default: from content)")
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
        **config_lib.input_settings(args.data_root, args.delimiter, args.missing, args.format_in),  # else the yaml's
    )
    local_run.check_before_running(config, inputs=not args.skip_input_check)  # the job service, every input file
    return config


def main(argv=None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # before or after the pipeline itself (which says what it stopped)
        print("\ntfxgate: interrupted; run the same command again (finished components come from the cache).",
              file=sys.stderr)
        return local_run.EXIT_INTERRUPTED


def _main(argv=None) -> int:
    args = parse_args(argv)
    try:
        config = _config(args)  # fills in the project's defaults of args
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return local_run.EXIT_USAGE
    if args.stage == stages.CHECK:
        print(f"tfxgate: settings and input files of '{config.pipeline_name}' checked "
              f"(schema {config.schema_version}, span {'latest' if args.span is None else args.span})")
        return 0
    run_id, log_path = local_run.new_run(args.outputs, args.run_id)
    from tfxgate.command import console  # the run's progress on the terminal, its log file
    status = local_run.run_locked(config, run_id, args.outputs, log_path, args.verbose, args.project, args.policy,
                                  args.stage, wait=not args.no_wait, console=console)
    if local_run.run_ended(args.stage, status):
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


if __name__ == "__main__":
    sys.exit(main())
