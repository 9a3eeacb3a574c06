"""`make bench`: what the pipeline and validation cost, beside their baselines, as data grows.

    python -m benchmarks.run [--repeats 3] [--quick]
        [--skip pipeline,before_model_gate,reference,latency,throughput,cost,serving,detection,online,formats,
                example_gen_speed,statistics_gen_speed]
                              [--only online]

Writes benchmarks/results/<date>.json and docs/BENCHMARKS.md. Every figure is the median of
`--repeats` runs with its spread (min to max); ratios compare figures measured in the same run,
because these machines are shared and noisy. Peak memory is the maximum resident set size of the
measured process (GNU time's %M). A section skipped with --skip is carried over from the latest
earlier results file that has it, and the page names the run it comes from.
"""

import argparse
import datetime
import json
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
from typing import Dict, List

from benchmarks import data as bench_data
from benchmarks import example_gen_speed as bench_example_gen_speed
from benchmarks import formats as bench_formats
from benchmarks import online as bench_online_lib
from benchmarks import provenance
from benchmarks import report as bench_report
from benchmarks import statistics_gen_speed as bench_statistics_gen_speed
from pipeline.config import PROJECT_ROOT

WORK = PROJECT_ROOT / "outputs" / "bench"
PY = sys.executable
TFXGATE = str(pathlib.Path(sys.executable).parent / "tfxgate")
_COMPONENT_LINE = re.compile(r"^\s+(\S+)\s+(done|cached) in ([\d.]+) s$")


def timed(command: List[str], env: Dict[str, str] = None) -> dict:
    """Runs a command under GNU time: wall seconds, peak RSS (MiB), exit code, stdout."""
    full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    proc = subprocess.run(["/usr/bin/time", "-f", "__time__ %e %M", *command], capture_output=True, text=True,
                          env=full_env, cwd=PROJECT_ROOT)
    marker = [line for line in proc.stderr.splitlines() if line.startswith("__time__")][-1].split()
    return {"wall": float(marker[1]), "peak_mib": int(marker[2]) / 1024, "code": proc.returncode,
            "stdout": proc.stdout, "stderr": proc.stderr[-2000:]}


def summary(values: List[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def probe(kind: str, csv: pathlib.Path, repeats: int, *extra: str, warm: int = 0) -> dict:
    """`repeats` fresh processes; in each, the first call and (with `warm`) warm calls."""
    seconds, warm_seconds, peaks, detail = [], [], [], None
    for _ in range(repeats):
        result = timed([PY, "-m", "benchmarks.probe", kind, str(csv), "--warm", str(warm), *extra])
        if result["code"] != 0:
            return {"error": result["stderr"].strip().splitlines()[-1] if result["stderr"].strip() else "failed"}
        measured = json.loads(result["stdout"].strip().splitlines()[-1])
        detail = measured.get("detail")
        seconds.append(measured["seconds"])
        if measured.get("warm_seconds") is not None:
            warm_seconds.append(measured["warm_seconds"])
        peaks.append(result["peak_mib"])
    entry = {"seconds": summary(seconds), "peak_mib": summary(peaks)}
    if warm_seconds:
        entry["warm_seconds"] = summary(warm_seconds)
    if detail is not None:
        entry["detail"] = detail  # the last process's
    return entry


def bench_pipeline(repeats: int) -> dict:
    cold, cached, components, peaks = [], [], {}, []
    for i in range(repeats):
        outputs = WORK / f"pipeline-{i}"
        shutil.rmtree(outputs, ignore_errors=True)
        for phase, into in (("cold", cold), ("cached", cached)):
            result = timed([PY, "runner_local.py", "--outputs", str(outputs)])
            if result["code"] != 0:
                raise RuntimeError(f"pipeline {phase} run failed: {result['stderr']}")
            into.append(result["wall"])
            if phase == "cold":
                peaks.append(result["peak_mib"])
            for line in result["stdout"].splitlines():
                match = _COMPONENT_LINE.match(line)
                if match:
                    components.setdefault(f"{phase}:{match.group(1)}", []).append(float(match.group(3)))
    return {
        "cold_seconds": summary(cold),
        "cached_seconds": summary(cached),
        "cached_over_cold": statistics.median(cached) / statistics.median(cold),
        "peak_mib": summary(peaks),
        "components": {k: summary(v) for k, v in sorted(components.items())},
    }


# The pipeline as it was before the model gate (no Evaluator, Pusher unconditional): the cold run
# with the Evaluator is measured beside it and beside TFX's reference, in one bench run.
BEFORE_MODEL_GATE = "10737ec"


def bench_before_model_gate(repeats: int) -> dict:
    """Cold runs of the pipeline at BEFORE_MODEL_GATE, from a detached git worktree with this venv
    (its runner_local.py imports its own modules first)."""
    tree = WORK / "before-model-gate"
    shutil.rmtree(tree, ignore_errors=True)
    subprocess.run(["git", "worktree", "prune"], cwd=PROJECT_ROOT, capture_output=True)
    added = subprocess.run(["git", "worktree", "add", "--detach", str(tree), BEFORE_MODEL_GATE], cwd=PROJECT_ROOT,
                           capture_output=True, text=True)
    if added.returncode != 0:
        return {"error": f"git worktree add {BEFORE_MODEL_GATE}: {added.stderr.strip()[-200:]}"}
    cold, evaluator = [], []
    try:
        for i in range(repeats):
            outputs = WORK / f"before-model-gate-{i}"
            shutil.rmtree(outputs, ignore_errors=True)
            result = timed([PY, str(tree / "runner_local.py"), "--outputs", str(outputs), "--data-root",
                            str(PROJECT_ROOT / "data")])
            if result["code"] != 0:
                return {"error": result["stderr"].strip().splitlines()[-1] if result["stderr"].strip() else "failed"}
            cold.append(result["wall"])
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=PROJECT_ROOT, capture_output=True)
    return {"commit": BEFORE_MODEL_GATE, "cold_seconds": summary(cold)}


def bench_reference(repeats: int) -> dict:
    cold, cached = [], []
    for i in range(repeats):
        work = WORK / f"reference-{i}"
        shutil.rmtree(work, ignore_errors=True)
        for into in (cold, cached):
            result = timed([PY, "-m", "benchmarks.tfx_reference", str(work)], env={"TF_USE_LEGACY_KERAS": "1"})
            if result["code"] != 0:
                return {"error": result["stderr"].strip().splitlines()[-1] if result["stderr"].strip() else "failed"}
            into.append(result["wall"])
    return {"cold_seconds": summary(cold), "cached_seconds": summary(cached)}


def bench_latency(sizes: List[int], repeats: int) -> dict:
    floor = [timed([PY, "-c", "import tensorflow_data_validation"])["wall"] for _ in range(repeats)]
    result = {"import_tfdv_seconds": summary(floor), "sizes": {}}
    for rows in sizes:
        csv = bench_data.make_csv(WORK / "data" / f"serving-{rows}.csv", rows, label=False)
        whole = []
        for _ in range(repeats):
            run = timed([TFXGATE, "validate", "--data", str(csv), "--baseline", "none", "--format", "json"])
            if run["code"] not in (0, 1):
                raise RuntimeError(f"tfxgate validate failed: {run['stderr']}")
            whole.append(run["wall"])
        ours = probe("ours", csv, repeats, "--environment", "SERVING", warm=5)
        beam = probe("beam", csv, repeats, "--environment", "SERVING", warm=3)
        result["sizes"][str(rows)] = {
            "whole_process_seconds": summary(whole),
            "whole_over_import": statistics.median(whole) / statistics.median(floor),
            "in_process": ours,
            "tfdv_beam": beam,
            "first_call_over_beam": (ours["seconds"]["median"] / beam["seconds"]["median"]
                                     if "seconds" in ours and "seconds" in beam else None),
            "in_process_over_beam": (ours["warm_seconds"]["median"] / beam["warm_seconds"]["median"]
                                     if "warm_seconds" in ours and "warm_seconds" in beam else None),
        }
    return result


def bench_throughput(sizes: List[int], repeats: int) -> dict:
    result = {}
    for rows in sizes:
        csv = bench_data.make_csv(WORK / "data" / f"train-{rows}.csv", rows)
        entry = {"file_mib": csv.stat().st_size / 2**20}
        entry["ours"] = probe("ours", csv, repeats)
        entry["ours_inferred_types"] = probe("inferred", csv, repeats)
        entry["pyarrow_floor"] = probe("pyarrow", csv, repeats)
        for mode in ("in_memory", "multi_processing"):
            entry[f"tfdv_beam_{mode}"] = probe("beam", csv, 1 if rows > 200_000 else repeats, "--mode", mode)
        if "seconds" in entry["ours"]:
            entry["ours_rows_per_second"] = rows / entry["ours"]["seconds"]["median"]
            entry["ours_over_floor"] = entry["ours"]["seconds"]["median"] / entry["pyarrow_floor"]["seconds"]["median"]
        if "seconds" in entry["ours"] and "seconds" in entry["ours_inferred_types"]:
            entry["typed_over_inferred"] = (entry["ours"]["seconds"]["median"]
                                            / entry["ours_inferred_types"]["seconds"]["median"])
        result[str(rows)] = entry
    return result


def bench_cost(sizes: List[int], repeats: int) -> dict:
    """`today` against `checked` (benchmarks/probe.py), interleaved process by process."""
    result = {"sizes": {}}
    for rows in sizes:
        csv = bench_data.make_csv(WORK / "data" / f"train-{rows}.csv", rows)
        runs = {"today": [], "checked": []}
        for _ in range(repeats):
            for kind in runs:
                runs[kind].append(probe(kind, csv, 1))
        entry = {"file_mib": csv.stat().st_size / 2**20}
        for kind, measured in runs.items():
            failed = [m for m in measured if "error" in m]
            if failed:
                entry[kind] = failed[0]
                continue
            entry[kind] = {field: summary([m[field]["median"] for m in measured]) for field in ("seconds", "peak_mib")}
            entry[kind]["detail"] = measured[-1].get("detail")
        if "seconds" in entry["today"] and "seconds" in entry["checked"]:
            entry["checked_over_today"] = entry["checked"]["seconds"]["median"] / entry["today"]["seconds"]["median"]
        left_out = (entry["checked"].get("detail") or {}).get("left_out")
        if left_out:
            print(f"bench: cost: {left_out} of {rows:,} rows break a rule across columns: the data should not", flush=True)
        result["sizes"][str(rows)] = entry
    return result


def bench_serving(sizes_mib: List[int]) -> dict:
    """The whole runner with a serving batch of each size, training side cached (one warm-up run
    with the shipped serving batch first): wall time, peak memory and the serving components.

    Every run reads one data root (WORK/serving-root: train/ links to the shipped spans, serving/
    holds the batch of the run): TrainExampleGen's input_base is part of its cache key, so a root
    per size would run the whole training side again (Transform and Trainer included)."""
    outputs = WORK / "serving-outputs"
    shutil.rmtree(outputs, ignore_errors=True)
    sample = PROJECT_ROOT / "data" / "serving"
    row_bytes = sum(f.stat().st_size for f in sample.glob("*.csv")) / max(
        1, sum(sum(1 for _ in f.open()) - 1 for f in sample.glob("*.csv")))
    root = WORK / "serving-root"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    (root / "train").symlink_to(PROJECT_ROOT / "data" / "train")

    def serve(files: List[pathlib.Path]) -> None:
        shutil.rmtree(root / "serving", ignore_errors=True)
        (root / "serving").mkdir()
        for f in files:
            (root / "serving" / f.name).symlink_to(f)

    def run() -> dict:
        result = timed([PY, "runner_local.py", "--outputs", str(outputs), "--data-root", str(root)])
        if result["code"] not in (0, 3):  # 3: the gate blocked (resampled serving rows may drift)
            raise RuntimeError(f"serving run failed: {result['stderr'][-2000:]}")
        components, cached = {}, []
        for line in result["stdout"].splitlines():
            match = _COMPONENT_LINE.match(line)
            if match and match.group(1).startswith("Serving"):
                components[match.group(1)] = float(match.group(3))
            if match and match.group(2) == "cached":
                cached.append(match.group(1))
        return {"seconds": result["wall"], "peak_mib": result["peak_mib"], "exit": result["code"],
                "components": components, "cached": sorted(cached)}

    serve(sorted(sample.glob("*.csv")))
    warm = run()
    result = {"warm_up": warm, "sizes": {}}
    for mib in sizes_mib:
        rows = int(mib * 2**20 / row_bytes)
        csv = bench_data.make_csv(WORK / "data" / f"serving-{rows}.csv", rows, label=False)
        serve([csv])
        entry = run()
        entry.update(rows=rows, file_mib=csv.stat().st_size / 2**20)
        entry["peak_over_warm_up_mib"] = entry["peak_mib"] - warm["peak_mib"]
        result["sizes"][str(mib)] = entry
        print(f"bench: serving {mib} MiB: {entry['seconds']:.0f} s, peak {entry['peak_mib']:,.0f} MiB; cached: "
              f"{', '.join(entry['cached']) or 'nothing'}", flush=True)
    return result


def bench_detection(quick: bool) -> dict:
    """benchmarks/detection.py in its own process (it loads TFDV), its progress shown as it goes."""
    out = WORK / "detection.json"
    WORK.mkdir(parents=True, exist_ok=True)
    command = [PY, "-m", "benchmarks.detection", "--json", str(out)] + (["--quick"] if quick else [])
    proc = subprocess.run(command, cwd=PROJECT_ROOT, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    if proc.returncode != 0:
        raise RuntimeError("benchmarks.detection failed")
    return json.loads(out.read_text())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one repeat: a smoke run")
    parser.add_argument("--skip", default="",
                        help="comma-separated: pipeline, before_model_gate, reference, latency, throughput, cost, "
                             "serving, detection, online, formats, example_gen_speed, statistics_gen_speed")
    parser.add_argument("--only", default="", help="comma-separated: run these sections alone (the others are "
                        "carried over from earlier results), e.g. --only online")
    parser.add_argument("--serving-mib", default="20,200",
                        help="serving batch sizes in MiB for the serving section (1000 needs about "
                             "the memory the page reports for 200, times five)")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    repeats = 1 if args.quick else args.repeats
    latency_sizes = [1000, 10_000] if args.quick else [1000, 10_000, 100_000]
    throughput_sizes = [15_000, 150_000] if args.quick else [15_000, 150_000, 1_500_000]
    cost_sizes = [15_000, 150_000] if args.quick else [150_000, 1_500_000]
    serving_sizes = [2, 20] if args.quick else [int(m) for m in args.serving_mib.split(",")]

    results = {"date": datetime.date.today().isoformat(), "machine": provenance.machine(), "code": provenance.code_version(), "repeats": repeats,
               "command": "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:])}
    steps = [("pipeline", lambda: bench_pipeline(repeats)),
             ("before_model_gate", lambda: bench_before_model_gate(1)),
             ("reference", lambda: bench_reference(1)),
             ("latency", lambda: bench_latency(latency_sizes, repeats)),
             ("throughput", lambda: bench_throughput(throughput_sizes, repeats)),
             ("cost", lambda: bench_cost(cost_sizes, repeats)),
             ("serving", lambda: bench_serving(serving_sizes)),
             ("detection", lambda: bench_detection(args.quick)),
             ("online", lambda: bench_online_lib.bench_online(TFXGATE, PY, WORK, PROJECT_ROOT, probe, timed, summary,
                                                              args.quick, repeats)),
             ("formats", lambda: bench_formats.bench_formats(PY, WORK, PROJECT_ROOT, timed, summary, args.quick, repeats)),
             ("example_gen_speed", lambda: bench_example_gen_speed.bench(
                 WORK, [bench_formats.QUICK_EXAMPLE_GEN_ROWS if args.quick else bench_formats.EXAMPLE_GEN_ROWS],
                 repeats, True)),
             # after `serving`: it reads the newest ServingExampleGen output (the largest batch)
             ("statistics_gen_speed", lambda: bench_statistics_gen_speed.bench(WORK, 1 if args.quick else repeats))]
    if args.only:
        wanted = set(filter(None, args.only.split(",")))
        unknown = wanted - {name for name, _ in steps}
        if unknown:
            parser.error(f"--only: no section named {', '.join(sorted(unknown))}")
        skip |= {name for name, _ in steps if name not in wanted}
    for name, step in steps:
        if name in skip:
            continue
        print(f"bench: {name} ...", flush=True)
        results[name] = step()
    out_dir = PROJECT_ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{results['date']}.json"
    for name, (section, origin) in provenance.carried_over(out_dir, [n for n, _ in steps if n in skip]).items():
        results[name] = section
        results.setdefault("carried", {})[name] = origin
    out.write_text(json.dumps(results, indent=1, sort_keys=True))
    markdown = bench_report.markdown(results)
    (PROJECT_ROOT / "docs" / "BENCHMARKS.md").write_text(markdown)
    print(markdown)
    print(f"bench: wrote {out} and docs/BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
