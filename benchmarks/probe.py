"""One measurement in a fresh process, so that its peak memory is its own.

    python -m benchmarks.probe KIND CSV

Prints one JSON line: {"seconds": the first call's time (imports excluded), "warm_seconds": the
median of --warm further calls in the same process, "rows": ...}. A long-lived process (a
notebook, a service) pays the warm figure; a one-off process the first.
KIND: ours (tfxgate's streamed in-memory statistics + validation, cells typed by the curated
schema), inferred (the same statistics with every column's type inferred from the batch, as
before schema-typed reading: what typed reading costs is ours over inferred), beam (TFDV's
generate_statistics_from_csv + validate_statistics; --mode in_memory|multi_processing),
pyarrow (pyarrow.csv.read_csv of the file: the floor no statistics over that file can beat),
today (the batch read typed by the schema without rules or profile, validated as a training span
for drift against span 3's statistics: TFDV's comparators and the older custom checks), checked
(read with the rules across columns, the slices and the profile, validated against span 3's
statistics and profile: the checks beyond TFDV's too). For today and checked, span 3 is read
before the timed call, and the output adds "detail": rows left out and the gate's decision.
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
    parser.add_argument("kind", choices=["ours", "inferred", "beam", "pyarrow", "today", "checked"])
    parser.add_argument("csv")
    parser.add_argument("--mode", default="in_memory")
    parser.add_argument("--environment", default="TRAINING")
    parser.add_argument("--warm", type=int, default=0, help="further calls to time in the same process")
    args = parser.parse_args()

    work = _work(args)
    started = time.perf_counter()
    rows = work()
    first = time.perf_counter() - started
    rows, detail = rows if isinstance(rows, tuple) else (rows, None)
    warm = []
    for _ in range(args.warm):
        started = time.perf_counter()
        work()
        warm.append(time.perf_counter() - started)
    measured = {"seconds": first, "warm_seconds": statistics.median(warm) if warm else None, "rows": rows}
    if detail is not None:
        measured["detail"] = detail
    print(json.dumps(measured))


def _work(args):
    """A callable doing the measured work once and returning the row count."""
    if args.kind == "pyarrow":
        from pyarrow import csv as pa_csv

        return lambda: pa_csv.read_csv(args.csv).num_rows

    import core  # noqa: F401
    import tensorflow_data_validation as tfdv
    from pipeline import config

    schema_path = config.default_schema_path()
    if args.kind in ("today", "checked"):
        return _gate_work(args, schema_path)
    if args.kind == "inferred":  # the same work as `ours`, every column's type inferred from the batch
        from core.batch import batch_stats
        from core.judging import policy as policy_lib
        from core.settings import schema_files
        from core.checks import validation

        schema, policy = schema_files.load(schema_path), policy_lib.load(str(config.POLICY_PATH))

        def inferred():
            batch = batch_stats.read(args.csv, None)
            report = validation.validate(batch.statistics, schema, args.environment)
            policy_lib.judge_all(args.environment.lower(), report.findings, policy)
            return batch.rows

        return inferred
    if args.kind == "ours":
        from tfxgate.validation import validate

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


def _gate_work(args, schema_path: str):
    """today or checked: span 3 read now, untimed; the callable reads and judges the batch only."""
    from core.batch import batch_stats
    from core.settings import check_settings
    from core import rules as rules_lib
    from core.common import names
    from core.judging import policy as policy_lib
    from core.reading import report as reading
    from core.settings import schema_files
    from core.checks import validation
    from core.common.findings import DRIFT
    from pipeline import config

    schema = schema_files.load(schema_path)
    kinds = reading.schema_kinds(schema)
    policy = policy_lib.load(str(config.POLICY_PATH))
    span = str(config.PROJECT_ROOT / "data" / "train" / "span-3")
    if args.kind == "today":
        read = dict(profiled=False)
        base = batch_stats.read(span, kinds, **read)
        against = dict(previous_statistics=base.statistics)
    else:
        rules = rules_lib.load(check_settings.path_beside(schema_path, names.CONSTRAINTS_FILE), list(kinds))
        settings = check_settings.load(schema_path, list(kinds))
        read = dict(rules=rules, slice_keys=settings.slices)
        base = batch_stats.read(span, kinds, **read)
        base.profile.settle()
        against = dict(previous_statistics=base.statistics, baseline_profiles={DRIFT: base.profile}, settings=settings)

    def gate():
        batch = batch_stats.read(args.csv, kinds, **read)
        report = validation.validate(batch.statistics, schema, args.environment, reading=batch.report,
                                     profile=batch.profile, **against)
        verdicts = policy_lib.judge_all(args.environment.lower(), report.findings, policy)
        return batch.rows, {"left_out": batch.report.dropped, "decision": policy_lib.decision(verdicts),
                            "blocking": sorted({f"{v.finding.feature} {v.finding.check}/{v.finding.rule or ''}"
                                                for v in verdicts if v.severity == policy_lib.BLOCK})}

    return gate


if __name__ == "__main__":
    sys.exit(main())
