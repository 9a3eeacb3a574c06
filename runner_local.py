"""Runs the tfxgate pipeline locally: LocalDagRunner, SQLite MLMD, Beam's DirectRunner.

    python runner_local.py [--data-root data] [--outputs outputs] [--span N] [--verbose] ...

MLMD is a SQLite file unless MySQL settings are given (flags or TFXGATE_MYSQL_*; see
tfxgate/store.py). Before anything runs, every input CSV file is checked (one line naming the
file and line if it is broken), and the run takes a lock on its pipeline root and SQLite store:
a second run waits for the first (or, with --no-wait, stops). Executions that a killed run left
RUNNING are marked FAILED and their partial outputs removed.

Exit status: 0 done, 1 a component failed, 2 bad arguments, settings or input data, 3 the data
gate stopped the run (blocking anomalies; nothing was trained or pushed), 4 another run holds
the lock and --no-wait was given.
"""

import dataclasses
import datetime
import os
import sys
import time

import tfxgate  # noqa: F401  (sets Keras 2 before TensorFlow is imported)
from components import csv_input
from pipeline import config as config_lib
from tfxgate import runlock, store as store_lib
from tfxgate.cli import OneLineParser

EXIT_FAILED, EXIT_USAGE, EXIT_BLOCKED, EXIT_BUSY = 1, 2, 3, 4


def parse_args(argv):
    parser = OneLineParser(prog="runner_local.py", description="Run the tfxgate pipeline locally.")
    parser.add_argument("--data-root", default=str(config_lib.PROJECT_ROOT / "data"))
    parser.add_argument("--outputs", default=str(config_lib.DEFAULT_OUTPUTS), help="default home of every output")
    parser.add_argument("--pipeline-root")
    parser.add_argument("--metadata-path", help="SQLite MLMD file (default: <outputs>/metadata.sqlite)")
    parser.add_argument("--pipeline-name", default=config_lib.PIPELINE_NAME)
    parser.add_argument("--schema", help="curated schema file (default: the newest schema/v<N>)")
    parser.add_argument("--policy", help="gate policy file (default: schema/policy.yaml)")
    parser.add_argument("--span", type=int, help="training span to ingest (default: the latest)")
    parser.add_argument("--train-steps", type=int, default=1000)
    parser.add_argument("--beam-arg", action="append", default=[], help="repeatable, e.g. --beam-arg=--direct_num_workers=2")
    parser.add_argument("--no-cache", action="store_true", help="run every component again")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow, Beam and TFX logs")
    parser.add_argument("--no-wait", action="store_true", help="stop (exit 4) if another run holds the lock")
    parser.add_argument("--skip-input-check", action="store_true",
                        help="do not pre-check the CSV files here (ExampleGen still checks them)")
    store_lib.add_mysql_arguments(parser)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        config = config_lib.local_config(
            data_root=args.data_root,
            outputs=args.outputs,
            pipeline_root=args.pipeline_root,
            metadata_path=args.metadata_path,
            schema_path=args.schema,
            policy_path=args.policy,
            beam_args=tuple(args.beam_arg),
            span=args.span,
            train_steps=args.train_steps,
            enable_cache=not args.no_cache,
            pipeline_name=args.pipeline_name,
        )
        settings = store_lib.from_arguments(args)
        if settings.is_mysql:
            config = dataclasses.replace(config, mysql=settings.mysql)
        if not args.skip_input_check:  # every CSV file the run will read, before anything runs
            for folder in config_lib.input_folders(config):
                csv_input.check_folder(folder)
    except (config_lib.ConfigError, store_lib.StoreError, csv_input.CsvInputError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    log_path = os.path.join(args.outputs, "logs", f"run-{stamp}-{os.getpid()}.log")
    say = lambda line: print(line, flush=True)  # noqa: E731
    try:
        with runlock.hold(runlock.lock_paths(config.pipeline_root, config.store_settings.sqlite_path),
                          wait=not args.no_wait, say=say):
            say(f"tfxgate: running pipeline '{config.pipeline_name}' (schema {config.schema_version}) "
                f"with MLMD at {config.store_settings.describe()}")
            _reconcile(config, say)
            return _run(config, log_path, args.verbose)
    except runlock.Busy as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BUSY
    except store_lib.StoreError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE


def _reconcile(config, say) -> None:
    """Executions a killed run left RUNNING: marked FAILED, partial outputs removed."""
    store = config.store_settings.open(must_exist=False)
    for note in runlock.reconcile(store, config.pipeline_name, config.pipeline_root, whole_store=not config.mysql):
        say(f"tfxgate: {note}")


def _run(config, log_path: str, verbose: bool) -> int:
    from tfxgate import console, metadata  # heavy imports after argument checks

    started = time.monotonic()
    with console.pipeline_console(log_path, verbose) as progress:
        store_lib.install_log_redaction()  # TFX logs its connection config, password and all
        try:
            from tfx import v1 as tfx
            from pipeline.pipeline import create_pipeline

            tfx.orchestration.LocalDagRunner().run(create_pipeline(config))
            failed_node, error = None, None
        except Exception as e:  # a failed component: one line here, the traceback in the log
            import traceback

            traceback.print_exc()
            failed_node, error = progress.current or "pipeline", console.one_line(e)
    store = config.store_settings.open()
    if failed_node == "DataGate":
        print(f"tfxgate: the data gate stopped the run; nothing was trained or pushed.", file=sys.stderr)
        print(f"error: {error}", file=sys.stderr)
        print(f"  MLMD store: {config.store_settings.describe()}  log: {log_path}", file=sys.stderr)
        return EXIT_BLOCKED
    if failed_node:
        print(f"error: {failed_node} failed: {error} (full log: {log_path})", file=sys.stderr)
        return EXIT_FAILED
    print(f"tfxgate: finished in {time.monotonic() - started:.1f} s")
    decision = metadata.latest_gate_decision(store)
    if decision:
        print(f"  data gate:    {decision}")
    print(f"  MLMD store:   {config.store_settings.describe()}")
    print(f"  pushed model: {metadata.latest_pushed_destination(store)}")
    if not verbose:
        print(f"  log:          {log_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
