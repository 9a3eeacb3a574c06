"""Runs the tfxgate pipeline locally: LocalDagRunner, SQLite MLMD, Beam's DirectRunner.

    python runner_local.py [--data-root data] [--outputs outputs] [--span N] [--verbose] ...

Exit status: 0 done, 1 a component failed, 2 bad arguments or data folder, 3 the data gate
stopped the run (blocking anomalies; nothing was trained or pushed).
"""

import argparse
import datetime
import os
import sys
import time

import tfxgate  # noqa: F401  (sets Keras 2 before TensorFlow is imported)
from pipeline import config as config_lib

EXIT_FAILED, EXIT_USAGE, EXIT_BLOCKED = 1, 2, 3


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Run the tfxgate pipeline locally.")
    parser.add_argument("--data-root", default=str(config_lib.PROJECT_ROOT / "data"))
    parser.add_argument("--outputs", default=str(config_lib.DEFAULT_OUTPUTS), help="default home of every output")
    parser.add_argument("--pipeline-root")
    parser.add_argument("--metadata-path")
    parser.add_argument("--schema", help="curated schema file (default: the newest schema/v<N>)")
    parser.add_argument("--policy", help="gate policy file (default: schema/policy.yaml)")
    parser.add_argument("--span", type=int, help="training span to ingest (default: the latest)")
    parser.add_argument("--train-steps", type=int, default=1000)
    parser.add_argument("--beam-arg", action="append", default=[], help="repeatable, e.g. --beam-arg=--direct_num_workers=2")
    parser.add_argument("--no-cache", action="store_true", help="run every component again")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow, Beam and TFX logs")
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
        )
    except config_lib.ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    log_path = os.path.join(args.outputs, "logs", f"run-{stamp}.log")
    print(f"tfxgate: running pipeline '{config.pipeline_name}' (schema {config.schema_version})")
    return _run(config, log_path, args.verbose)


def _run(config, log_path: str, verbose: bool) -> int:
    from tfxgate import console, metadata  # heavy imports after argument checks

    started = time.monotonic()
    with console.pipeline_console(log_path, verbose) as progress:
        try:
            from tfx import v1 as tfx
            from pipeline.pipeline import create_pipeline

            tfx.orchestration.LocalDagRunner().run(create_pipeline(config))
            failed_node, error = None, None
        except Exception as e:  # a failed component: one line here, the traceback in the log
            import traceback

            traceback.print_exc()
            failed_node, error = progress.current or "pipeline", console.one_line(e)
    store = metadata.sqlite_store(config.metadata_path)
    if failed_node == "DataGate":
        print(f"tfxgate: the data gate stopped the run; nothing was trained or pushed.", file=sys.stderr)
        print(f"error: {error}", file=sys.stderr)
        print(f"  MLMD store: {config.metadata_path}  log: {log_path}", file=sys.stderr)
        return EXIT_BLOCKED
    if failed_node:
        print(f"error: {failed_node} failed: {error} (full log: {log_path})", file=sys.stderr)
        return EXIT_FAILED
    print(f"tfxgate: finished in {time.monotonic() - started:.1f} s")
    decision = metadata.latest_gate_decision(store)
    if decision:
        print(f"  data gate:    {decision}")
    print(f"  MLMD store:   {config.metadata_path}")
    print(f"  pushed model: {metadata.latest_pushed_destination(store)}")
    if not verbose:
        print(f"  log:          {log_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
