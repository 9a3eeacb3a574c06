"""StatisticsGen's speed on one Examples artifact (by default the newest ServingExampleGen output
of the `serving` section: the 1 GB batch when that section ran with --serving-mib 1000).

- **tfx**: TFX's own `tfx.components.statistics_gen.executor.Executor`. The pipeline has no
  StatisticsGen executor of its own: its StatisticsGen and ServingStatisticsGen are
  `tfx.components.StatisticsGen` (pipeline/pipeline.py) with no stats options and no schema, so
  this is what the runner runs, on its Beam arguments (DirectRunner in memory, one worker).
- **ours**: the same statistics the way `tfxgate validate` computes them (core/batch/batch_stats.py):
  TFDV's in-memory generators fed one record batch at a time, with core/statistics/histograms.py
  installed, no Beam; the Examples decoded by tfx_bsl's decoder (the one TFX's TFXIO uses without
  a schema), the statistics written as TFX writes them. What an executor of ours would cost.

Each run is the only work of a fresh process under GNU time; the kinds alternate (ours, TFX's,
ours, ...) so that the shared machine's noise falls on both alike. Seconds of the work (imports
excluded), rows per second, peak resident memory of the process.

    python -m benchmarks.statistics_gen_speed [--examples URI] [--repeats 1]
    python -m benchmarks.statistics_gen_speed profile KIND [--examples URI] [--rows N] [--top 30]
"""

import argparse
import json
import os
import pathlib
import resource
import shutil
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

KINDS = ("ours", "tfx")
_BATCH = 4096  # records decoded at a time (ours)


def examples_uri(work: pathlib.Path) -> pathlib.Path:
    """The newest ServingExampleGen output of the serving section; else Examples made once by our
    ExampleGen executor from a span of resampled rows (benchmarks/example_gen_speed.py's)."""
    made = sorted((work / "serving-outputs" / "pipeline" / "ServingExampleGen" / "examples").glob("*"),
                  key=lambda p: int(p.name) if p.name.isdigit() else -1)
    if made:
        return made[-1]
    from benchmarks import example_gen_speed, formats

    uri = work / "statistics-gen-speed" / "examples"
    if not (uri / "done").exists():
        shutil.rmtree(uri, ignore_errors=True)
        formats._example_gen(str(example_gen_speed.span_root(work, formats.EXAMPLE_GEN_ROWS)), str(uri))  # pylint: disable=protected-access
        (uri / "done").write_text("")
    return uri


def _splits(uri: str):
    return sorted(d.name[len("Split-"):] for d in pathlib.Path(uri).iterdir() if d.name.startswith("Split-"))


def _artifacts(examples_dir: str, out: str):
    from tfx.types import artifact_utils, standard_artifacts

    examples = standard_artifacts.Examples()
    examples.uri = examples_dir
    examples.split_names = artifact_utils.encode_split_names(_splits(examples_dir))
    statistics_artifact = standard_artifacts.ExampleStatistics()
    statistics_artifact.uri = out
    return examples, statistics_artifact


def _tfx(examples_dir: str, out: str) -> None:
    from tfx.components.statistics_gen import executor
    from tfx.dsl.components.base import base_beam_executor

    from pipeline import config

    examples, statistics_artifact = _artifacts(examples_dir, out)
    context = base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=list(config.beam_args_for(())))
    executor.Executor(context).Do({"examples": [examples]}, {"statistics": [statistics_artifact]}, {})


def _ours(examples_dir: str, out: str, limit: int = 0) -> int:
    """TFDV's in-memory generators over every split's record batches (with `limit`: only the
    first `limit` rows of each split); returns the rows read."""
    import tensorflow as tf
    from tensorflow_data_validation.statistics import stats_impl, stats_options
    from tfx_bsl.coders import example_coder

    from core.statistics import histograms

    histograms.install()
    decoder, rows = example_coder.ExamplesToRecordBatchDecoder(), 0
    for split in _splits(examples_dir):
        generators = stats_impl.get_generators(stats_options.StatsOptions(), in_memory=True)
        accumulators = [g.create_accumulator() for g in generators]
        paths = sorted(str(p) for p in (pathlib.Path(examples_dir) / f"Split-{split}").iterdir())
        records = tf.data.TFRecordDataset(paths, compression_type="GZIP" if paths[0].endswith(".gz") else "")
        if limit:
            records = records.take(limit)
        for batch in records.batch(_BATCH).as_numpy_iterator():
            record_batch = decoder.DecodeBatch(list(batch))
            rows += record_batch.num_rows
            accumulators = [g.add_input(a, record_batch) for g, a in zip(generators, accumulators)]
        result = stats_impl.extract_statistics_output(accumulators, generators)
        target = pathlib.Path(out) / f"Split-{split}"
        target.mkdir(parents=True, exist_ok=True)
        (target / "FeatureStats.pb").write_bytes(result.SerializeToString())  # a list, as TFX writes it
    return rows


def _rows(out: str) -> int:
    """The examples TFX's statistics (or ours) count, over every split."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    total = 0
    for stats in pathlib.Path(out).glob("Split-*/FeatureStats.pb"):
        datasets = statistics_pb2.DatasetFeatureStatisticsList()
        datasets.ParseFromString(stats.read_bytes())
        total += sum(d.num_examples for d in datasets.datasets)
    return total


def one(kind: str, examples_dir: str, out: str) -> dict:
    """A measuring process's work: {seconds, rows, peak_before_mib, peak_mib}."""
    import tensorflow_data_validation  # noqa: F401  (imports are not what is measured)
    import tfx.components  # noqa: F401

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    (_ours if kind == "ours" else _tfx)(examples_dir, out)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": _rows(out), "peak_before_mib": before,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def bench(work: pathlib.Path, repeats: int, examples=None) -> dict:
    """The section's figures: median seconds and rows/s, the largest peak, per kind."""
    examples = pathlib.Path(examples) if examples else examples_uri(work)
    here = pathlib.Path(__file__).resolve().parent.parent
    runs = {kind: [] for kind in KINDS}
    for i in range(repeats):
        for kind in KINDS:
            out = work / "statistics-gen-speed-out" / f"{kind}-{i}"
            shutil.rmtree(out, ignore_errors=True)
            proc = subprocess.run(["/usr/bin/time", "-f", "__time__ %e %M", sys.executable, "-m",
                                   "benchmarks.statistics_gen_speed", "one", kind, str(examples), str(out)],
                                  capture_output=True, text=True, cwd=here,
                                  env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_USE_LEGACY_KERAS="1"))
            shutil.rmtree(out, ignore_errors=True)
            if proc.returncode != 0:
                raise RuntimeError(f"statistics_gen_speed {kind} failed: {proc.stderr[-2000:]}")
            marker = [line for line in proc.stderr.splitlines() if line.startswith("__time__")][-1].split()
            measured = dict(json.loads(proc.stdout.strip().splitlines()[-1]), process_peak_mib=int(marker[2]) / 1024,
                            wall=float(marker[1]))
            runs[kind].append(measured)
            print(f"  {kind:4} {measured['rows']:>10,} rows: {measured['rows'] / measured['seconds']:>9,.0f} rows/s, "
                  f"{measured['seconds']:.1f} s, peak {measured['process_peak_mib']:.0f} MiB", flush=True)
    size = sum(f.stat().st_size for f in examples.rglob("*") if f.is_file())
    result = {"examples": str(examples), "examples_mib": size / 2**20}
    for kind, measured in runs.items():
        seconds = statistics.median(m["seconds"] for m in measured)
        result[kind] = {"rows": measured[-1]["rows"], "seconds": seconds, "rows_per_second": measured[-1]["rows"] / seconds,
                        "peak_mib": max(m["process_peak_mib"] for m in measured),
                        "peak_before_mib": max(m["peak_before_mib"] for m in measured), "n": len(measured)}
    result["ours_over_tfx"] = result["ours"]["seconds"] / result["tfx"]["seconds"]
    print(f"bench: StatisticsGen speed: ours {result['ours']['seconds']:.1f} s, TFX's {result['tfx']['seconds']:.1f} s "
          f"({result['ours_over_tfx']:.2f}x) on {result['tfx']['rows']:,} rows", flush=True)
    return result


def profile(kind: str, examples: pathlib.Path, limit: int, top: int) -> None:
    """One kind under cProfile in this process (ours: only the first `limit` rows of each split)."""
    import tensorflow_data_validation  # noqa: F401
    import tfx.components  # noqa: F401

    from benchmarks import formats as bench_formats

    out = examples.parent.parent / "statistics-gen-profile"
    shutil.rmtree(out, ignore_errors=True)
    call = (lambda: _ours(str(examples), str(out), limit)) if kind == "ours" else (lambda: _tfx(str(examples), str(out)))
    bench_formats.print_profile(call, lambda: f"{_rows(str(out)):,} rows", top)
    shutil.rmtree(out, ignore_errors=True)


def main(argv=None) -> int:
    from pipeline.config import PROJECT_ROOT

    work = PROJECT_ROOT / "outputs" / "bench"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="bench", choices=["bench", "profile", "one"])
    parser.add_argument("args", nargs="*", help="one: KIND EXAMPLES_URI OUT_URI; profile: KIND")
    parser.add_argument("--examples", help="an Examples artifact's folder (default: see the module's docstring)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--rows", type=int, default=0, help="profile ours: the first N rows of each split")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    if args.mode == "one":
        kind, examples, out = args.args
        print(json.dumps(one(kind, examples, out)))
    elif args.mode == "profile":
        profile(args.args[0], pathlib.Path(args.examples) if args.examples else examples_uri(work), args.rows, args.top)
    else:
        bench(work, args.repeats, args.examples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
