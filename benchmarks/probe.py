"""One measurement in a fresh process, so that its peak memory is its own.

    python -m benchmarks.probe KIND CSV

Prints one JSON line: {"seconds": the first call's time (imports excluded), "warm_seconds": the
median of --warm further calls in the same process, "rows": ...}. A long-lived process (a
notebook, a service) pays the warm figure; a one-off process the first.
KIND: ours (tfxgate's streamed in-memory statistics + validation, cells typed by the curated
schema), inferred (the same statistics with every column's type inferred from the batch, as
before schema-typed reading: what typed reading costs is ours over inferred), beam (TFDV's
generate_statistics_from_csv + validate_statistics; --mode in_memory|multi_processing),
pyarrow (pyarrow.csv.read_csv of the file: the floor no statistics over that file can beat).
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["ours", "inferred", "beam", "pyarrow"])
    parser.add_argument("csv")
    parser.add_argument("--mode", default="in_memory")
    parser.add_argument("--environment", default="TRAINING")
    parser.add_argument("--warm", type=int, default=0, help="further calls to time in the same process")
    args = parser.parse_args()

    work = _work(args)
    started = time.perf_counter()
    rows = work()
    first = time.perf_counter() - started
    warm = []
    for _ in range(args.warm):
        started = time.perf_counter()
        work()
        warm.append(time.perf_counter() - started)
    print(json.dumps({"seconds": first, "warm_seconds": statistics.median(warm) if warm else None, "rows": rows}))


def _work(args):
    """A callable doing the measured work once and returning the row count."""
    if args.kind == "pyarrow":
        from pyarrow import csv as pa_csv

        return lambda: pa_csv.read_csv(args.csv).num_rows

    import core  # noqa: F401
    import tensorflow_data_validation as tfdv
    from pipeline import config

    schema_path = config.default_schema_path()
    if args.kind == "inferred":  # the same work as `ours`, every column's type inferred from the batch
        from core import batch_stats, policy as policy_lib, schema_files, validation

        schema, policy = schema_files.load(schema_path), policy_lib.load(str(config.POLICY_PATH))

        def inferred():
            batch = batch_stats.read(args.csv, None)
            report = validation.validate(batch.statistics, schema, args.environment)
            policy_lib.judge_all(args.environment.lower(), report.findings, policy)
            return batch.rows

        return inferred
    if args.kind == "ours":
        from tfxgate import validate

        return lambda: validate.run(
            args.csv, args.environment, schema_path, str(config.POLICY_PATH), "none", "/nonexistent"
        ).rows

    from apache_beam.options.pipeline_options import PipelineOptions

    options = PipelineOptions([f"--direct_running_mode={args.mode}", "--direct_num_workers=2"
                               if args.mode == "multi_processing" else "--direct_num_workers=1"])
    schema = tfdv.load_schema_text(schema_path)

    def beam():
        stats = tfdv.generate_statistics_from_csv(args.csv, pipeline_options=options)
        tfdv.validate_statistics(stats, schema, environment=args.environment)
        return int(stats.datasets[0].num_examples)

    return beam


if __name__ == "__main__":
    sys.exit(main())
