"""ExampleGen's speed: the pipeline's ExampleGen executor (components/span_example_gen.py: typed
reading, rules across columns, profile and quarantine) beside TFX's own CsvExampleGen executor
on the same CSV span, each run the only work of a fresh process under GNU time, on the local
runner's Beam arguments (DirectRunner in memory, one worker). Rows per second of the executor's
Do and the process's peak resident memory; the runs alternate (ours, TFX's, ours, ...) so that
the shared machine's noise falls on both alike.

    python -m benchmarks.example_gen_speed [--rows 150000] [--big] [--repeats 2] [--skip-tfx] [--baseline DIR]
    python -m benchmarks.example_gen_speed profile [--rows 150000] [--top 30]

--baseline DIR runs the executor of another checkout (through its benchmarks/formats.py) in the
same rounds: old and new side by side. --big adds a span of 1.5 M rows (memory must stay flat: the peak does not grow with the file).
`profile` runs our executor once under cProfile in this process and prints the top entries by
own time and by cumulative time. The spans are benchmarks/data.py's resampled real rows, made
once under outputs/bench/ and kept.
"""

import argparse
import json
import os
import pathlib
import shutil
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from benchmarks import formats as bench_formats  # noqa: E402

ROWS, BIG_ROWS = bench_formats.EXAMPLE_GEN_ROWS, bench_formats.ROWS


def span_root(work: pathlib.Path, rows: int) -> pathlib.Path:
    """A folder holding span-1/data.csv: `rows` resampled rows (made once, linked)."""
    from benchmarks import data as bench_data

    csv = bench_data.make_csv(work / "data" / f"train-{rows}.csv", rows)  # the file formats.make_files makes
    root = work / "example-gen-speed" / str(rows)
    span = root / "span-1"
    span.mkdir(parents=True, exist_ok=True)
    link = span / "data.csv"
    if not link.exists():
        link.symlink_to(csv)
    return root


def _tfx_example_gen(input_base: str, uri: str) -> dict:
    """TFX's CsvExampleGen executor on span-1 of `input_base`, the same splits as ours."""
    from tfx.components.example_gen.csv_example_gen import executor as csv_executor
    from tfx.proto import example_gen_pb2
    from tfx.utils import proto_utils

    from core.common import names

    split = example_gen_pb2.SplitConfig.Split
    properties = {
        "input_base": input_base,
        "input_config": proto_utils.proto_to_json(example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name="single_split", pattern="span-1/*")])),
        "output_config": proto_utils.proto_to_json(example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(
            splits=[split(name=names.TRAIN_SPLIT, hash_buckets=4), split(name=names.EVAL_SPLIT, hash_buckets=1)]))),
        "output_data_format": example_gen_pb2.FORMAT_TF_EXAMPLE,
        "output_file_format": example_gen_pb2.FORMAT_TFRECORDS_GZIP,
    }
    return bench_formats.run_executor(csv_executor.Executor, properties, uri)[0]


def _timed(command, cwd) -> dict:
    """A command under GNU time in `cwd`: exit code, stdout, stderr's tail, peak RSS (MiB)."""
    import subprocess

    proc = subprocess.run(["/usr/bin/time", "-f", "__time__ %e %M", *command], capture_output=True, text=True,
                          cwd=cwd, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    marker = [line for line in proc.stderr.splitlines() if line.startswith("__time__")][-1].split()
    return {"code": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr[-2000:],
            "peak_mib": int(marker[2]) / 1024}


def _command(kind: str, root, uri, baseline):
    """(command, cwd) measuring `kind`: ours, tfx, or base (the executor of the checkout
    `baseline`, through benchmarks/formats.py's examplegen there)."""
    if kind == "base":
        return [sys.executable, "-m", "benchmarks.formats", "examplegen", str(root), str(uri)], baseline
    here = pathlib.Path(__file__).resolve().parent.parent
    return [sys.executable, "-m", "benchmarks.example_gen_speed", "one", kind, str(root), str(uri)], here


def _measure(kinds, roots, repeats: int, work: pathlib.Path, baseline=None) -> dict:
    """Fresh processes, alternating kinds within each round: {(kind, rows): [figures]}."""
    runs = {}
    for i in range(repeats):
        for rows, root in roots.items():
            for kind in kinds:
                uri = work / "example-gen-speed-out" / f"{kind}-{rows}-{i}"
                shutil.rmtree(uri, ignore_errors=True)
                result = _timed(*_command(kind, root, uri, baseline))
                shutil.rmtree(uri, ignore_errors=True)
                if result["code"] != 0:
                    raise RuntimeError(f"example_gen_speed {kind} at {rows} rows failed: {result['stderr']}")
                measured = json.loads(result["stdout"].strip().splitlines()[-1])
                figures = dict(measured, process_peak_mib=result["peak_mib"], rows_per_second=rows / measured["seconds"])
                runs.setdefault((kind, rows), []).append(figures)
                print(f"  {kind:4} {rows:>9,} rows: {figures['rows_per_second']:>9,.0f} rows/s, "
                      f"{measured['seconds']:.1f} s, peak {result['peak_mib']:.0f} MiB "
                      f"(after imports {measured['peak_before_mib']:.0f} MiB)", flush=True)
    return runs


def bench(work: pathlib.Path, rows_list, repeats: int, with_tfx: bool, baseline=None) -> dict:
    """The section's figures: median rows/s and peak per (executor, rows)."""
    roots = {rows: span_root(work, rows) for rows in rows_list}
    kinds = (["base"] if baseline else []) + ["ours"] + (["tfx"] if with_tfx else [])
    runs = _measure(kinds, roots, repeats, work, baseline)
    result = {}
    for (kind, rows), figures in runs.items():
        result[f"{kind}-{rows}"] = {
            "rows_per_second": statistics.median(f["rows_per_second"] for f in figures),
            "seconds": statistics.median(f["seconds"] for f in figures),
            "peak_mib": max(f["process_peak_mib"] for f in figures),
            "peak_before_mib": max(f["peak_before_mib"] for f in figures), "n": len(figures)}
    for key, entry in result.items():
        print(f"bench: ExampleGen speed: {key}: {entry['rows_per_second']:,.0f} rows/s (median of {entry['n']}), "
              f"peak {entry['peak_mib']:.0f} MiB", flush=True)
    return result


def profile(work: pathlib.Path, rows: int, top: int) -> None:
    """Our executor once under cProfile, in this process: the top entries by own and cumulative time."""
    from components import span_example_gen  # noqa: F401  (imports are not what is measured)
    from pipeline import config  # noqa: F401

    root = span_root(work, rows)
    uri = work / "example-gen-speed-out" / "profile"
    shutil.rmtree(uri, ignore_errors=True)
    bench_formats.print_profile(lambda: bench_formats._example_gen(str(root), str(uri)),  # pylint: disable=protected-access
                                f"{rows:,} rows", top)
    shutil.rmtree(uri, ignore_errors=True)


def main(argv=None) -> int:
    from pipeline.config import PROJECT_ROOT

    work = PROJECT_ROOT / "outputs" / "bench"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="bench", choices=["bench", "profile", "one"])
    parser.add_argument("args", nargs="*", help="one: KIND INPUT_BASE URI (a measuring process)")
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--big", action="store_true", help=f"also {BIG_ROWS:,} rows")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-tfx", action="store_true")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--baseline", help="a checkout (e.g. a worktree of main) whose executor runs beside ours")
    args = parser.parse_args(argv)
    if args.mode == "one":
        kind, input_base, uri = args.args
        run = bench_formats._example_gen if kind == "ours" else _tfx_example_gen  # pylint: disable=protected-access
        print(json.dumps(run(input_base, uri)))
    elif args.mode == "profile":
        profile(work, args.rows, args.top)
    else:
        bench(work, [args.rows] + ([BIG_ROWS] if args.big else []), args.repeats, not args.skip_tfx, args.baseline)
    return 0


if __name__ == "__main__":
    sys.exit(main())
