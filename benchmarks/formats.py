"""The `formats` section of `make bench`: the same rows as CSV, gzipped CSV and Parquet.

- **validate, warm**: the 1.5 M resampled rows of section 3 (benchmarks/data.py) as CSV, as that
  CSV gzipped, and as Parquet written by pyarrow from the CSV read by pyarrow (its default row
  groups and compression, as a user's export would be). In one process, `tfxgate validate`'s code
  path (`tfxgate.validation.validate.run`, no baseline) is called once per file to warm up, then
  timed over --repeats rounds, the formats alternating within each round, so that the shared
  machine's noise falls on every format alike. Target: Parquet at most 0.5× the CSV time.
- **reading alone**: the text cells every source hands out (`source.blocks` of
  `core.reading.source.open_batch`, each file iterated to its end) against the floor a Parquet
  reader cannot beat, `pyarrow.parquet.read_table` of the same file (and `pyarrow.csv.read_csv`
  of the CSV, for scale), interleaved the same way. Target: within 2× of read_table.
- **ExampleGen**: the pipeline's ExampleGen executor (components/span_example_gen.py, the
  driverless one: the span resolved in its executor) on a span of 150,000 of those rows as CSV
  and as Parquet, each run the only work of a fresh process under GNU time (peak memory is that
  process's; the peak after the imports is read before the run), on the local runner's Beam
  arguments (DirectRunner in memory, one worker). Rows per second of the executor's Do.

    python -m benchmarks.formats warm FORMAT=FILE ... [--repeats 3]
    python -m benchmarks.formats examplegen INPUT_BASE EXAMPLES_URI
are the measuring processes; `bench_formats` (run.py's `formats` section) starts them.
"""

import argparse
import gzip
import json
import os
import pathlib
import resource
import shutil
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROWS, QUICK_ROWS = 1_500_000, 15_000
EXAMPLE_GEN_ROWS, QUICK_EXAMPLE_GEN_ROWS = 150_000, 15_000
FORMATS = ("csv", "csv.gz", "parquet")


def make_files(work: pathlib.Path, rows: int) -> Dict[str, pathlib.Path]:
    """{format: file} of the same `rows` rows (each made once and kept beside the CSV)."""
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    from benchmarks import data as bench_data

    csv = bench_data.make_csv(work / "data" / f"train-{rows}.csv", rows)
    gz, parquet = csv.with_name(csv.name + ".gz"), csv.with_suffix(".parquet")
    if not gz.exists():
        tmp = gz.with_suffix(".tmp")
        with open(csv, "rb") as raw, gzip.open(tmp, "wb") as packed:
            shutil.copyfileobj(raw, packed, 1 << 20)
        os.replace(tmp, gz)
    if not parquet.exists():
        tmp = parquet.with_suffix(".tmp")
        pq.write_table(pa_csv.read_csv(csv), tmp)
        os.replace(tmp, parquet)
    return {"csv": csv, "csv.gz": gz, "parquet": parquet}


def _rounds(calls: Dict[str, Callable[[], object]], repeats: int) -> Dict[str, List[float]]:
    """Each call once to warm up, then `repeats` rounds of every call in turn: {name: seconds}."""
    for call in calls.values():
        call()
    seconds = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            seconds[name].append(time.perf_counter() - started)
    return seconds


def _warm(files: Dict[str, str], repeats: int) -> dict:
    """The warm figures of one process (see the module's docstring)."""
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    from core.reading import source as source_lib
    from pipeline import config
    from tfxgate.validation import validate

    schema, policy = config.default_schema_path(), str(config.POLICY_PATH)
    outcomes = {fmt: validate.run(path, "TRAINING", schema, policy, "none", "/nonexistent") for fmt, path in files.items()}

    def blocks(path: str) -> int:
        with source_lib.open_batch(path) as source:
            return sum(block.num_rows for f in source.files for block in source.blocks(f))

    validating = {fmt: (lambda p=path: validate.run(p, "TRAINING", schema, policy, "none", "/nonexistent"))
                  for fmt, path in files.items()}
    reading = {fmt: (lambda p=path: blocks(p)) for fmt, path in files.items()}
    reading["pyarrow.parquet.read_table"] = lambda: pq.read_table(files["parquet"])
    reading["pyarrow.csv.read_csv"] = lambda: pa_csv.read_csv(files["csv"])
    return {"rows": {fmt: o.rows for fmt, o in outcomes.items()},
            "decision": {fmt: o.result for fmt, o in outcomes.items()},
            "findings": {fmt: len(o.verdicts) for fmt, o in outcomes.items()},
            "block_rows": {fmt: blocks(path) for fmt, path in files.items()},
            "validate_seconds": _rounds(validating, repeats), "read_seconds": _rounds(reading, repeats)}


def _example_gen(input_base: str, uri: str) -> dict:
    """The executor's Do on span 1 under `input_base`, into `uri`: seconds and peaks (MiB)."""
    from tfx.proto import example_gen_pb2
    from tfx.utils import proto_utils

    from components import span_example_gen
    from components.csv_example_gen import custom_config
    from core.common import names
    from core.settings import schema_files
    from pipeline import config

    texts = schema_files.read_version(config.default_schema_path())
    split = example_gen_pb2.SplitConfig.Split
    properties = {
        "input_base": input_base, "range_config": None,
        "input_config": proto_utils.proto_to_json(example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name="single_split", pattern=names.SPAN_PATTERN)])),
        "output_config": proto_utils.proto_to_json(example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(
            splits=[split(name=names.TRAIN_SPLIT, hash_buckets=4), split(name=names.EVAL_SPLIT, hash_buckets=1)]))),
        "custom_config": proto_utils.proto_to_json(custom_config(
            texts["schema_text"], ",", texts["constraints_text"], texts["checks_text"])),
        "output_data_format": example_gen_pb2.FORMAT_TF_EXAMPLE,
        "output_file_format": example_gen_pb2.FORMAT_TFRECORDS_GZIP,
        span_example_gen.REQUESTED_SPAN: 1, span_example_gen.SCHEMA_DIR: "", span_example_gen.SCHEMA_VERSION: "",
    }
    timed, examples = run_executor(span_example_gen.Executor, properties, uri)
    return dict(timed, quarantined=examples.get_int_custom_property(names.QUARANTINED_ROWS))


def run_executor(executor_class, properties: dict, uri: str):
    """({seconds, peak_before_mib, peak_mib}, the Examples artifact) of one ExampleGen executor's
    Do into `uri`, on the local runner's Beam arguments."""
    from tfx.dsl.components.base import base_beam_executor
    from tfx.types import standard_artifacts

    from pipeline import config

    examples = standard_artifacts.Examples()
    examples.uri = uri
    context = base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=list(config.beam_args_for(())))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    executor_class(context).Do({}, {"examples": [examples]}, properties)
    return {"seconds": time.perf_counter() - started, "peak_before_mib": before,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}, examples


def print_profile(call: Callable[[], object], what, top: int) -> None:
    """Runs `call` once under cProfile in this process and prints how long it took (`what`: the
    work, e.g. "150,000 rows", or a function that says it once the call is done), then the top
    entries by own time and by cumulative time."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.runcall(call)
    seconds = time.perf_counter() - started
    print(f"{what() if callable(what) else what} in {seconds:.1f} s (under the profiler)")
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


def bench_formats(py: str, work: pathlib.Path, cwd, timed, summary, quick: bool, repeats: int) -> dict:
    """The section's figures: run.py's `formats` step."""
    rows = QUICK_ROWS if quick else ROWS
    files = make_files(work, rows)
    command = [py, "-m", "benchmarks.formats", "warm", *(f"{fmt}={path}" for fmt, path in files.items()),
               "--repeats", str(max(repeats, 3))]
    proc = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    if proc.returncode != 0:
        raise RuntimeError(f"benchmarks.formats warm failed: {proc.stderr[-2000:]}")
    warm = json.loads(proc.stdout.strip().splitlines()[-1])
    result = {"rows": rows, "file_mib": {fmt: path.stat().st_size / 2**20 for fmt, path in files.items()},
              "rows_read": warm["rows"], "decision": warm["decision"], "findings": warm["findings"],
              "block_rows": warm["block_rows"],
              "validate_seconds": {k: summary(v) for k, v in warm["validate_seconds"].items()},
              "read_seconds": {k: summary(v) for k, v in warm["read_seconds"].items()}}
    median = lambda group, key: result[group][key]["median"]  # noqa: E731
    result["parquet_over_csv"] = median("validate_seconds", "parquet") / median("validate_seconds", "csv")
    result["gz_over_csv"] = median("validate_seconds", "csv.gz") / median("validate_seconds", "csv")
    result["parquet_read_over_read_table"] = (median("read_seconds", "parquet")
                                              / median("read_seconds", "pyarrow.parquet.read_table"))
    figures = ", ".join(f"{k} {median('validate_seconds', k):.2f} s" for k in files)
    print(f"bench: formats: validate {figures}; "
          f"Parquet over CSV {result['parquet_over_csv']:.2f}× (target ≤ 0.5×); Parquet reading over read_table "
          f"{result['parquet_read_over_read_table']:.2f}× (target ≤ 2×)", flush=True)
    result["example_gen"] = _bench_example_gen(py, work, timed, summary, quick, repeats)
    return result


def _bench_example_gen(py: str, work: pathlib.Path, timed, summary, quick: bool, repeats: int) -> dict:
    """ExampleGen on one span as CSV and as Parquet, fresh processes interleaved."""
    rows = QUICK_EXAMPLE_GEN_ROWS if quick else EXAMPLE_GEN_ROWS
    files = make_files(work, rows)
    roots = {}
    for fmt in ("csv", "parquet"):
        span = work / "formats-spans" / fmt / "span-1"
        shutil.rmtree(span.parent, ignore_errors=True)
        span.mkdir(parents=True)
        (span / f"data.{fmt}").symlink_to(files[fmt])
        roots[fmt] = span.parent
    runs = {fmt: [] for fmt in roots}
    for i in range(repeats):
        for fmt, root in roots.items():
            uri = work / "formats-examples" / f"{fmt}-{i}"
            shutil.rmtree(uri, ignore_errors=True)
            result = timed([py, "-m", "benchmarks.formats", "examplegen", str(root), str(uri)])
            if result["code"] != 0:
                raise RuntimeError(f"benchmarks.formats examplegen ({fmt}) failed: {result['stderr']}")
            measured = json.loads(result["stdout"].strip().splitlines()[-1])
            runs[fmt].append(dict(measured, process_peak_mib=result["peak_mib"], wall=result["wall"]))
            shutil.rmtree(uri, ignore_errors=True)
    entry = {"rows": rows, "file_mib": {fmt: files[fmt].stat().st_size / 2**20 for fmt in roots}}
    for fmt, measured in runs.items():
        seconds = [m["seconds"] for m in measured]
        entry[fmt] = {"seconds": summary(seconds), "rows_per_second": rows / statistics.median(seconds),
                      "peak_mib": summary([m["process_peak_mib"] for m in measured]),
                      "peak_before_mib": summary([m["peak_before_mib"] for m in measured]),
                      "quarantined": measured[-1]["quarantined"]}
    entry["parquet_over_csv"] = entry["parquet"]["seconds"]["median"] / entry["csv"]["seconds"]["median"]
    print(f"bench: formats: ExampleGen at {rows:,} rows: CSV {entry['csv']['rows_per_second']:,.0f} rows/s, "
          f"Parquet {entry['parquet']['rows_per_second']:,.0f} rows/s", flush=True)
    return entry


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="kind", required=True)
    warm = sub.add_parser("warm")
    warm.add_argument("files", nargs="+", help="FORMAT=FILE")
    warm.add_argument("--repeats", type=int, default=3)
    example_gen = sub.add_parser("examplegen")
    example_gen.add_argument("input_base")
    example_gen.add_argument("uri")
    args = parser.parse_args(argv)
    if args.kind == "warm":
        measured = _warm(dict(f.split("=", 1) for f in args.files), args.repeats)
    else:
        measured = _example_gen(args.input_base, args.uri)
    print(json.dumps(measured))
    return 0


if __name__ == "__main__":
    sys.exit(main())
