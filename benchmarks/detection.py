"""Detection: for each class of defect, the smallest magnitude the gate blocks, at two batch sizes;
and the false-alarm margin of clean batches.

    python -m benchmarks.detection [--quick] [--json PATH]

Every batch is real rows of span 3 (data/train/span-3/data.csv) resampled with replacement (a
fixed seed) to the batch size, with one defect injected; it is read and judged in process as
`tfxgate validate` judges a file (core/batch/batch_stats.py with the rules across columns, the slices
and the profile, core/checks/validation.py against span 3's statistics and profile, the shipped policy):
a serving batch (no label column) for skew against span 3, a training span for drift against it.
A defect counts as blocked only when a finding of the expected check (and rule, slice) on the
expected feature blocks; whatever else blocks is recorded beside it.

The search: the largest magnitude first (not blocked there: "not blocked up to" it), then the
smallest, then a bisection between the largest magnitude that passed and the smallest that
blocked (in log space while the bracket spans more than a factor of two). The rows a share changes are nested (a fixed random order, the first k),
so a larger share changes the same rows and more. The smallest blocked magnitude is exact to the
row where the bisection reaches one row, else within the ratio of the last bracket (recorded).

Resampled rows repeat: a 100,000-row batch holds about 4,600 distinct rows (span 3's), and the
profile checks weigh a batch by its distinct rows (core/profile_checks.effective), so at 100,000
rows they judge about the evidence of 4,600 rows; TFDV's comparators count every row.
"""

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence, Tuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.detection_defects import SERVING, TRAINING, Defect, defects  # noqa: E402  (the classes of defect)
from pipeline.config import PROJECT_ROOT  # noqa: E402

SPAN = PROJECT_ROOT / "data" / "train" / "span-3"
SIZES, QUICK_SIZES = (1000, 100_000), (1000, 10_000)
STEPS, QUICK_STEPS = 6, 4  # bisection steps after the largest and the smallest magnitude
SEED = 20261202
CLEAN_SEEDS = {"small": (1, 2, 3, 4, 5), "large": (1,)}  # clean batches at the smallest size, and the others
QUICK_CLEAN_SEEDS = {"small": (1, 2), "large": (1,)}
MIN_SHARE = 1e-4  # the smallest share tried (at least one row)


# ---- the gate, as `tfxgate validate` runs it -----------------------------------------------------

class Gate:
    """Span 3 read once (statistics and profile); batches judged against it."""

    def __init__(self, work: str):
        from core.batch import batch_stats
        from core.settings import check_settings
        from core import rules as rules_lib
        from core.common import names
        from core.judging import policy as policy_lib
        from core.checks import profile_checks
        from core.reading import report as reading
        from core.settings import schema_files
        from pipeline import config as config_lib

        path = config_lib.default_schema_path()
        self.schema = schema_files.load(path)
        self.kinds = reading.schema_kinds(self.schema)
        self.rules = rules_lib.load(check_settings.path_beside(path, names.CONSTRAINTS_FILE), list(self.kinds))
        self.settings = check_settings.load(path, list(self.kinds))
        self.base = batch_stats.read(str(SPAN), self.kinds, rules=self.rules, slice_keys=self.settings.slices)
        self.policy = policy_lib.load(str(config_lib.POLICY_PATH))
        self.labels = profile_checks.labels(self.schema)
        self.work = work
        self.rows = pd.read_csv(SPAN / "data.csv", dtype=str, keep_default_na=False)

    def sample(self, rows: int, seed: int) -> pd.DataFrame:
        """`rows` rows of span 3 drawn with replacement."""
        rng = np.random.default_rng(seed)
        return self.rows.iloc[rng.integers(0, len(self.rows), rows)].reset_index(drop=True)

    def judge(self, frame: pd.DataFrame, environment: str):
        """(verdicts, report) of a batch: skew against span 3 when serving, drift when training."""
        from core.batch import batch_stats
        from core.judging import policy as policy_lib
        from core.checks import validation
        from core.common.findings import DRIFT, SKEW

        if environment == SERVING:
            frame = frame.drop(columns=[c for c in self.labels if c in frame])
        path = os.path.join(self.work, "batch.csv")
        frame.to_csv(path, index=False)
        batch = batch_stats.read(path, self.kinds, rules=self.rules, slice_keys=self.settings.slices)
        base = self.base
        if environment == SERVING:
            against = dict(training_statistics=base.statistics, baseline_profiles={SKEW: base.profile})
        else:
            against = dict(previous_statistics=base.statistics, baseline_profiles={DRIFT: base.profile})
        report = validation.validate(batch.statistics, self.schema, environment, reading=batch.report,
                                     profile=batch.profile, settings=self.settings, **against)
        return policy_lib.judge_all(environment.lower(), report.findings, self.policy), report


def _finding(verdict) -> dict:
    f = verdict.finding
    out = {"feature": f.feature, "check": f.check, "rule": f.rule, "slice": f.slice, "types": list(f.types),
           "severity": verdict.severity}
    for key in ("value", "threshold", "noise", "fraction"):
        if getattr(f, key) is not None:
            out[key] = float(getattr(f, key))
    return out


def label(f: dict) -> str:
    """'fare degenerate/top_share', 'payment_type skew/L_INFTY [company=X]'."""
    kind = f.get("rule") or _short_type(f["types"])
    text = f"{f['feature']} {f['check']}/{kind}" if kind else f"{f['feature']} {f['check']}"
    return text + (f" [{f['slice']}]" if f.get("slice") else "")


def _short_type(types: Sequence[str]) -> str:
    for t in types:
        if t.startswith("COMPARATOR_") and t.endswith("_HIGH"):
            return t[len("COMPARATOR_"):-len("_HIGH")]
    return ""


# ---- the search ----------------------------------------------------------------------------------

class Trial:
    """One defect at one batch size: the batch, the order rows are changed in, and evaluations."""

    def __init__(self, gate: Gate, defect: Defect, rows: int):
        self.gate, self.defect, self.rows = gate, defect, rows
        self.batch = gate.sample(rows, SEED)
        rng = np.random.default_rng(SEED + 1)
        self.order = (defect.order or (lambda frame, r: r.permutation(len(frame))))(self.batch, rng)
        self.evaluations: List[dict] = []

    def evaluate(self, x) -> dict:
        """x: rows changed (share defects) or the magnitude (factor defects)."""
        started = time.perf_counter()
        frame = self.batch.copy()
        if self.defect.unit == "share":
            self.defect.change(frame, self.order[:x])
            magnitude = x / len(self.order)
        else:
            frame = self.defect.scale(frame, x)
            magnitude = x
        verdicts, _ = self.gate.judge(frame, self.defect.environment)
        found = [_finding(v) for v in verdicts]
        expected = [f for f in found if self.defect.matches(f)]
        result = {"magnitude": magnitude, "blocked": bool(expected), "expected": expected,
                  "blocking": sorted({label(f) for f in found if f["severity"] == "block"}),
                  "seconds": round(time.perf_counter() - started, 3)}
        if self.defect.unit == "share":
            result["rows_changed"] = int(x)
        self.evaluations.append(result)
        return result


def _midpoint(a: float, b: float) -> float:
    """Geometric while the bracket spans more than a factor of two (small shares are resolved in
    proportion), arithmetic within it (a bracket near 100 % closes as fast as one near 1 %)."""
    return math.sqrt(a * b) if b > 2 * a else (a + b) / 2


def _between_rows(a: int, b: int) -> Optional[int]:
    if b - a <= 1:
        return None
    return min(max(int(round(_midpoint(a, b))), a + 1), b - 1)


def _between_factor(a: float, b: float) -> Optional[float]:
    if b / a < 1.01:
        return None
    return float(f"{_midpoint(a, b):.4g}")


def smallest(trial: Trial, steps: int) -> dict:
    """The smallest magnitude that blocks with the expected finding (see the module's docstring)."""
    d = trial.defect
    if d.unit == "share":
        pool = len(trial.order)
        high = max(1, int(round(d.high * pool)))
        low = max(1, int(round((d.low or MIN_SHARE) * pool)))
        between = _between_rows
    else:
        pool, high, low, between = None, d.high, d.low, _between_factor
    top = trial.evaluate(high)
    out = {"rows": trial.rows, "pool": pool, "max": top["magnitude"], "at_max": top["blocking"],
           "expected_at_max": [label(f) for f in top["expected"]]}
    if not top["blocked"]:
        out.update(blocked_at=None, passes_at=top["magnitude"], evaluations=trial.evaluations)
        return out
    bottom = trial.evaluate(low) if low < high else top
    hi, lo = top, None
    if bottom["blocked"]:
        hi = bottom
    else:
        lo = bottom
        x_lo, x_hi = low, high
        for _ in range(steps):
            x = between(x_lo, x_hi)
            if x is None:
                break
            result = trial.evaluate(x)
            if result["blocked"]:
                hi, x_hi = result, x
            else:
                lo, x_lo = result, x
    out.update(blocked_at=hi["magnitude"], rows_changed=hi.get("rows_changed"),
               passes_at=lo["magnitude"] if lo else None, passes_rows=lo.get("rows_changed") if lo else None,
               exact=lo is not None and d.unit == "share" and hi["rows_changed"] - lo["rows_changed"] <= 1,
               finding=[label(f) for f in hi["expected"]],
               finding_detail=hi["expected"],
               also_blocking=[b for b in hi["blocking"] if b not in {label(f) for f in hi["expected"]}],
               evaluations=trial.evaluations)
    return out


# ---- clean batches -------------------------------------------------------------------------------

_NOT_A_DISTANCE = {"CONSTANT"}  # its value is 1 and its threshold a probability: no ratio to speak of


def clean_margins(gate: Gate, sizes: Sequence[int], seeds: Dict[str, Tuple[int, ...]]) -> dict:
    """Clean resampled batches (serving for skew, training for drift): the largest value ÷ threshold
    per (check, measurement, size) over the measurements not withdrawn as within noise, and every
    finding that blocked or warned."""
    batches, margins = [], {}
    for rows in sizes:
        for seed in seeds["small" if rows == min(sizes) else "large"]:
            frame = gate.sample(rows, seed)
            for environment in (SERVING, TRAINING):
                verdicts, report = gate.judge(frame, environment)
                found = [_finding(v) for v in verdicts]
                blocked = [label(f) for f in found if f["severity"] == "block"]
                warned = [label(f) for f in found if f["severity"] == "warn"]
                batches.append({"rows": rows, "seed": seed, "environment": environment,
                                "blocked": blocked, "warned": warned})
                if blocked:
                    print(f"!!! CLEAN BATCH BLOCKED: {environment} {rows} rows seed {seed}: {'; '.join(blocked)}",
                          flush=True)
                for m in report.distances:
                    if m.get("within_noise") or not m.get("threshold") or m["type"] in _NOT_A_DISTANCE:
                        continue
                    ratio = m["value"] / m["threshold"]
                    key = f"{m['check']}|{m['type']}|{rows}"
                    if key not in margins or ratio > margins[key]["ratio"]:
                        margins[key] = {"check": m["check"], "type": m["type"], "rows": rows, "ratio": ratio,
                                        "value": m["value"], "threshold": m["threshold"], "feature": m["feature"],
                                        "slice": m.get("slice"), "seed": seed, "noise": m.get("noise")}
    table = sorted(margins.values(), key=lambda m: (m["check"], m["type"], m["rows"]))
    return {"sizes": list(sizes), "seeds": {k: list(v) for k, v in seeds.items()}, "batches": batches,
            "margins": table, "any_blocked": any(b["blocked"] for b in batches)}


# ---- run -----------------------------------------------------------------------------------------

def run(quick: bool) -> dict:
    sizes = QUICK_SIZES if quick else SIZES
    steps = QUICK_STEPS if quick else STEPS
    work = tempfile.mkdtemp(prefix="tfxgate-detection-")
    started = time.perf_counter()
    try:
        gate = Gate(work)
        classes = []
        for defect in defects(gate.rows):
            entry = {"name": defect.name, "what": defect.what, "environment": defect.environment,
                     "magnitude": defect.magnitude, "unit": defect.unit, "expect": defect.expect, "sizes": {}}
            for rows in sizes:
                result = smallest(Trial(gate, defect, rows), steps)
                entry["sizes"][str(rows)] = result
                print(f"detection: {defect.name:<26} {rows:>7,} rows: {_magnitude_text(entry, result)}"
                      f"  [{', '.join(result.get('finding') or result['at_max']) or 'nothing blocks'}]"
                      f"  ({len(result['evaluations'])} evaluations)", flush=True)
            classes.append(entry)
        clean = clean_margins(gate, sizes, QUICK_CLEAN_SEEDS if quick else CLEAN_SEEDS)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"sizes": list(sizes), "steps": steps, "seed": SEED, "classes": classes, "clean": clean,
            "seconds": round(time.perf_counter() - started, 1)}


def _magnitude_text(entry: dict, result: dict) -> str:
    from benchmarks import report_detection as report

    return report.detection_cell(entry, result)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 rows for the larger size, fewer steps")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    result = run(args.quick)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1, sort_keys=True)
    from benchmarks import report_detection as report

    print(report.detection_section(result))
    if result["clean"]["any_blocked"]:
        print("!!! A CLEAN BATCH BLOCKED: see the batches above")
    return 0


if __name__ == "__main__":
    sys.exit(main())
