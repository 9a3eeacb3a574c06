"""The tables of a run's anomaly report, from MLMD and statistics (never raw rows): shared by
the HTML report and the notebook."""

import os
from typing import Dict, List

from core.settings import layout
from core.common import names
from core.settings import schema_files
from core.common.findings import SKEW
from mlmd import runs
from tfxgate.reports import schema_diff

MAX_MOVED = 4


def schema_rows(schema) -> List[dict]:
    """One row per feature: type, unit (where the schema gives one), domain, presence,
    environments, comparators."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    from core.settings import schema_files

    domains = {d.name: list(d.value) for d in schema.string_domain}
    units = schema_files.units(schema)
    rows = []
    for f in schema.feature:
        kind = f.WhichOneof("domain_info")
        if kind == "int_domain":
            domain = f"{f.int_domain.min} to {f.int_domain.max}" + (" (categorical)" if f.int_domain.is_categorical else "")
        elif kind == "float_domain":
            lo = f"{f.float_domain.min:.6g}" if f.float_domain.HasField("min") else "-inf"
            hi = f"{f.float_domain.max:.6g}" if f.float_domain.HasField("max") else "inf"
            domain = f"{lo} to {hi}"
        elif kind in ("domain", "string_domain"):
            values = domains.get(f.domain, []) if kind == "domain" else list(f.string_domain.value)
            domain = f"{len(values)} values: " + ", ".join(values[:6]) + (" ..." if len(values) > 6 else "")
        else:
            domain = ""
        comparators = []
        for label, comparator in (("skew", f.skew_comparator), ("drift", f.drift_comparator)):
            if comparator.HasField("infinity_norm"):
                comparators.append(f"{label}: L-inf {comparator.infinity_norm.threshold:g}")
            if comparator.HasField("jensen_shannon_divergence"):
                comparators.append(f"{label}: JSD {comparator.jensen_shannon_divergence.threshold:g}")
        envs = list(f.in_environment) or list(schema.default_environment)
        envs = [e for e in envs if e not in f.not_in_environment]
        rows.append({
            "feature": f.name,
            "type": schema_pb2.FeatureType.Name(f.type),
            "unit": units.get(f.name, ""),
            "domain": domain,
            "min fill": f.presence.min_fraction if f.HasField("presence") else "",
            "environments": ", ".join(envs),
            "comparators": "; ".join(comparators),
            "lifecycle": "deprecated" if f.lifecycle_stage == schema_pb2.DEPRECATED else "",
        })
    return rows


def anomaly_rows(run: runs.Run) -> List[dict]:
    rows = []
    for validation in run.validations:
        for v in validation.verdicts:
            f = v.finding
            rows.append({"dataset": v.dataset, "feature": f.feature, "slice": f.slice or "(all rows)",
                         "types": ", ".join(f.types), "check": f.rule or f.check, "severity": v.severity,
                         "description": f.description})
    return rows


def skipped_slice_rows(run: runs.Run) -> List[dict]:
    """The slices a validator did not judge (too few rows, or beyond the largest), once each."""
    rows, seen = [], set()
    for validation in run.validations:
        for doc in validation.splits.values():
            for s in doc.get("skipped_slices", []):
                key = (validation.environment, s["slice"])
                if key not in seen:
                    seen.add(key)
                    rows.append({"environment": validation.environment, "slice": s["slice"], "rows": s["rows"],
                                 "why": s["why"]})
    return rows


def quarantine_rows(run: runs.Run) -> List[dict]:
    """Per span, feature and reason: the rows ExampleGen left out (a value its type cannot hold),
    with the first examples by file and line."""
    rows = []
    for examples in run.examples:
        for rule, entry in sorted(((examples.get("typed_reading") or {}).get("constraints") or {}).items()):
            if entry["rows"]:
                rows.append({
                    "span": examples.get("span"), "feature": entry["feature"], "reason": f"rule {rule}: {entry['text']}",
                    "rows": entry["rows"],
                    "examples": "; ".join(f"{e['value']} at {os.path.basename(e['file'])} line {e['line']}"
                                          for e in entry["examples"]),
                })
        problems = (examples.get("typed_reading") or {}).get("problems", {})
        for feature, reasons in sorted(problems.items()):
            for reason, entry in sorted(reasons.items()):
                rows.append({
                    "span": examples.get("span"), "feature": feature, "reason": reason, "rows": entry["rows"],
                    "examples": "; ".join(f"{e['value']!r} at {os.path.basename(e['file'])} line {e['line']}"
                                          for e in entry["examples"]),
                })
    return rows


def distance_rows(run: runs.Run) -> List[dict]:
    rows = []
    for validation in run.validations:
        for d in validation.distances:
            if d["split"] not in (names.BASELINE_SPLIT, names.SERVING_SPLIT):
                continue  # one split per dataset keeps the table readable; eval is in MLMD
            if d.get("slice") and not d["value"] > d["threshold"]:
                continue  # per slice, only what crossed its threshold (all of it is in MLMD)
            rows.append({"environment": validation.environment, "slice": "(all rows)", **d,
                         "ratio": d["value"] / d["threshold"] if d["threshold"] else 0.0})
    return sorted(rows, key=lambda r: -r["ratio"])


def moved_most(run: runs.Run, n: int = MAX_MOVED) -> List[str]:
    seen, result = set(), []
    for row in distance_rows(run):
        if row["check"] == SKEW and row["feature"] not in seen:
            seen.add(row["feature"])
            result.append(row["feature"])
    return result[:n]


def schema_differences(run: runs.Run) -> List[str]:
    """What the curated schema says that the schema inferred from this span does not."""
    if not run.schema_file or not run.inferred_schema_uri:
        return []
    if not os.path.isfile(run.schema_file):
        return [f"(curated schema file {run.schema_file} is not on this machine)"]
    inferred = layout.schema_path(run.inferred_schema_uri)
    return schema_diff.diff(schema_files.load(run.schema_file, "curated schema"),
                                schema_files.load(inferred, "inferred schema"),
                                f"curated {run.schema_version}", "inferred")[1:]


def schema_difference_rows(run: runs.Run) -> List[dict]:
    """The same comparison as a table: {feature, aspect, curated, inferred} (`tfxgate schema
    diff`'s rows, the curated schema as old and the inferred one as new)."""
    if not run.schema_file or not run.inferred_schema_uri or not os.path.isfile(run.schema_file):
        return []
    rows = schema_diff.diff_rows(schema_files.load(run.schema_file, "curated schema"),
                                     schema_files.load(layout.schema_path(run.inferred_schema_uri), "inferred schema"))
    return [{"feature": r["feature"], "aspect": r["aspect"], f"curated {run.schema_version}": r["old"],
             "inferred from this span": r["new"]} for r in rows]


def run_statistics(run: runs.Run) -> Dict[str, object]:
    """{'TRAINING': stats of the train split, 'SERVING': stats of the serving batch}."""
    result = {}
    for validation in run.validations:
        split = names.SERVING_SPLIT if validation.environment == names.SERVING else names.BASELINE_SPLIT
        path = layout.statistics_path(validation.statistics_uri or "", split)
        if validation.statistics_uri and layout.exists(path):
            result[validation.environment] = layout.read_statistics(validation.statistics_uri, split)
    return result


def feature_statistics(stats, name: str):
    """One feature's statistics in a statistics list, or None."""
    for f in stats.datasets[0].features:
        if (f.path.step and f.path.step[-1] == name) or f.name == name:
            return f
    return None



def model_gate_rows(run) -> List[dict]:
    """The model gate's metrics on the whole eval split: the candidate, the baseline model, the
    thresholds of schema/evaluation.yaml and whether each held ([] where no Evaluator ran)."""
    from core.common import evaluation

    judged = run.evaluation or {}
    failed = " ".join(judged.get("reasons", []))
    rows = []
    for name, (_, label) in evaluation.METRICS.items():
        value = judged.get("metrics", {}).get(name)
        if value is None:
            continue
        bounds = judged.get("thresholds", {}).get(name, {})
        rule = ", ".join(f"{word} {evaluation.number(bounds[key])}" for key, word in
                         (("floor", "at least"), ("ceiling", "at most"), ("drop", "drop at most"),
                                          ("rise", "rise at most")) if bounds.get(key) is not None)
        held = "" if not rule else ("failed" if failed and (label + " ") in failed else "held")
        rows.append({"metric": label, "this model": evaluation.number(value.get("candidate")),
                     "baseline model": evaluation.number(value.get("baseline")) if value.get("baseline") is not None else "-",
                     "threshold": rule or "(shown only)", "result": held})
    return rows


def model_slice_rows(run, limit: int = 60) -> List[dict]:
    """The candidate's metrics per slice, largest first (shown, not gated)."""
    from core.common import evaluation

    rows = []
    for row in ((run.evaluation or {}).get("slices") or [])[:limit]:
        rows.append({"slice": row.get("slice"),
                     **{label: evaluation.number(row.get(name)) if row.get(name) is not None else "-"
                        for name, (_, label) in evaluation.METRICS.items() if name in row}})
    return rows
