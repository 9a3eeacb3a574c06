"""The evidence beside each reason of a verdict: what a person needs to see to believe it and to
find it in the data, from statistics and the reading report (never raw rows beyond the examples
ExampleGen kept), shared by the HTML report and the notebook.

- a distance (skew, drift): the baseline's and the batch's distributions overlaid, the categories
  or bins that moved most with their shares, and the noise level for this batch's size;
- a value outside the schema's domain, or a number beyond its range: the values, their row counts
  and shares, and the lines of the first rows holding each (ExampleGen's reading report);
- a value its type cannot hold, or a row breaking a rule across columns: how many rows, and
  examples with their file and line; for a rule judged against a baseline, each column it reads
  against its baseline side by side, the changed one first (core/checks/rule_cause.py);
- a missing column or a low fill rate: the share of rows with a value, in the batch and the
  baseline, against the schema's minimum;
- a finding in one slice: that slice beside the same measure in the other slices.
"""

import dataclasses
import functools
import os
from typing import Callable, Dict, List, Optional

from core.settings import layout
from core.common import names
from core.judging import policy as policy_lib
from core.common.findings import DRIFT, SKEW
from mlmd import runs
from tfxgate.reports import bins, figures, tables

TOP = 5  # contributors shown per distance


@dataclasses.dataclass
class Evidence:
    verdict: policy_lib.Verdict
    summary: str  # one line: what the numbers say
    rows: List[dict]
    figure: Optional[Callable[[], object]] = None  # builds a matplotlib Figure when drawn


def _validation_of(run: runs.Run, verdict: policy_lib.Verdict) -> Optional[runs.Validation]:
    for validation in run.validations:
        if any(v is verdict or v == verdict for v in validation.verdicts):
            return validation
    return None


def _statistics(uri: Optional[str], split: str):
    if not uri or not layout.exists(layout.statistics_path(uri, split)):
        return None
    return layout.read_statistics(uri, split)


@functools.lru_cache(maxsize=8)
def _units_in(schema_file: str) -> Dict[str, str]:
    from core.settings import schema_files

    return schema_files.units(schema_files.load(schema_file, "curated schema"))


def units_of(run: runs.Run) -> Dict[str, str]:
    """{feature: unit} of the run's curated schema, where it gives units (core.settings.schema_files.units)."""
    return dict(_units_in(run.schema_file)) if run.schema_file and os.path.isfile(run.schema_file) else {}


def _examples_of(run: runs.Run, validation: runs.Validation) -> List[dict]:
    """The Examples a validation judged: the training span's, or the serving batch's."""
    return run.serving_examples if validation.environment == names.SERVING else run.examples


def _lines(entry: dict) -> str:
    """'data.csv: 11, 91, 171' from a reading report's examples."""
    by_file: dict = {}
    for example in entry.get("examples", []):
        by_file.setdefault(str(example.get("file") or "").rsplit("/", 1)[-1], []).append(str(example.get("line")))
    return "; ".join(f"{name}: {', '.join(lines)}" if name else ", ".join(lines) for name, lines in by_file.items())


def _outside_entries(run: runs.Run, validation: runs.Validation, feature: str) -> dict:
    """{value: {"rows", "examples"}} of the rows whose `feature` lies outside its domain, merged
    over the Examples the validation judged (core.reading.report.ReadingReport.outside)."""
    from core.reading import report as reading

    merged: dict = {}
    for examples in _examples_of(run, validation):
        report = reading.ReadingReport.from_json(examples.get("typed_reading") or {})
        for value, seen in report.outside.get(feature, {}).get("values", {}).items():
            target = merged.setdefault(value, {"rows": 0, "examples": []})
            target["rows"] += seen["rows"]
            target["examples"] = (target["examples"] + seen["examples"])[:reading.EXAMPLES_KEPT]
    return merged


def _batch_split(validation: runs.Validation) -> str:
    return names.SERVING_SPLIT if validation.environment == names.SERVING else names.BASELINE_SPLIT


def contributions(baseline, batch, name: str, unit: Optional[str] = None) -> List[dict]:
    """The categories or bins (the baseline's quantile bins for a number, and the batch's rows
    beyond them) whose share moved most, with both shares: what drove a distance."""
    base_f, batch_f = tables.feature_statistics(baseline, name), tables.feature_statistics(batch, name)
    if base_f is None or batch_f is None:
        return []
    labels, base_share, batch_share = bins.aligned(base_f, batch_f)
    column = f"value or bin ({unit})" if unit else "value or bin"
    rows = [{column: label, "baseline share": f"{b:.1%}", "batch share": f"{m:.1%}",
             "change": f"{(m - b) * 100:+.1f} points", "_moved": abs(m - b)}
            for label, b, m in zip(labels, base_share, batch_share)]
    rows.sort(key=lambda r: -r["_moved"])
    return [{k: v for k, v in r.items() if k != "_moved"} for r in rows[:TOP]]


def _distance(run, verdict, validation) -> Optional[Evidence]:
    finding = verdict.finding
    batch = _statistics(validation.statistics_uri, _batch_split(validation))
    if finding.check == SKEW:
        training = next((v for v in run.validations if v.environment == names.TRAINING), None)
        baseline = _statistics(training.statistics_uri, names.BASELINE_SPLIT) if training else None
        against = "training"
    else:
        baseline = _statistics(validation.drift_baseline_uri, names.BASELINE_SPLIT)
        against = f"span {validation.drift_baseline_span}" if validation.drift_baseline_span is not None else "the baseline"
    if baseline is None or batch is None:
        return None
    summary = f"{finding.check} against {against}"
    if finding.value is not None and finding.threshold is not None:
        summary += f": distance {finding.value:.3g}, threshold {finding.threshold:.3g}"
        if finding.noise is not None:
            summary += f", sampling noise for a batch this size {finding.noise:.2g}"
    summary += "; the values or bins that moved most:"
    units = units_of(run)
    return Evidence(verdict, summary, contributions(baseline, batch, finding.feature, units.get(finding.feature)),
                    lambda: figures.distribution_figure(baseline, batch, finding.feature, ("baseline", "batch"), units))


def _outside_domain(run, verdict, validation) -> Optional[Evidence]:
    from core.settings import schema_files

    finding = verdict.finding
    batch = _statistics(validation.statistics_uri, _batch_split(validation))
    feature = tables.feature_statistics(batch, finding.feature) if batch is not None else None
    if feature is None or not feature.HasField("string_stats") or not run.schema_file \
            or not os.path.isfile(run.schema_file):  # a store read elsewhere than where it ran
        return None
    schema = schema_files.load(run.schema_file, "curated schema")
    known = set()
    for f in schema.feature:
        if f.name == finding.feature:
            known = set(f.string_domain.value) or {v for d in schema.string_domain if d.name == f.domain for v in d.value}
    total = feature.string_stats.common_stats.num_non_missing or 1
    values = [(v.value, v.frequency) for v in feature.string_stats.top_values]
    outside = [(value, count) for value, count in values if value not in known]
    if not outside:
        return None
    located = _outside_entries(run, validation, finding.feature)
    rows = [{"value": value, "rows": f"{int(count):,}", "share": f"{count / total:.1%}",
             "example lines": _lines(located.get(value, {}))} for value, count in outside[:TOP]]
    summary = f"{len(outside)} value(s) outside the schema's domain of {len(known)} in {int(total):,} rows with a value:"
    return Evidence(verdict, summary, rows, lambda: figures.categories_figure(values, known, finding.feature))


_RANGE_TYPES = {"INT_TYPE_BIG_INT", "INT_TYPE_SMALL_INT", "FLOAT_TYPE_BIG_FLOAT", "FLOAT_TYPE_SMALL_FLOAT"}


def _outside_range(run, verdict, validation) -> Optional[Evidence]:
    """A number beyond the schema's range: the values, their rows and lines, and their share."""
    finding = verdict.finding
    located = _outside_entries(run, validation, finding.feature)
    if not located:
        return None
    batch = _statistics(validation.statistics_uri, _batch_split(validation))
    feature = tables.feature_statistics(batch, finding.feature) if batch is not None else None
    total = feature.num_stats.common_stats.num_non_missing if feature is not None and feature.HasField("num_stats") else 0
    ranked = sorted(located.items(), key=lambda item: -item[1]["rows"])
    rows = [{"value": value, "rows": f"{seen['rows']:,}", "share": f"{seen['rows'] / total:.1%}" if total else "",
             "example lines": _lines(seen)} for value, seen in ranked[:TOP]]
    outside = sum(seen["rows"] for seen in located.values())
    summary = f"{len(located)} value(s) beyond the schema's range, in {outside:,} rows" + (
        f" of {int(total):,} with a value:" if total else ":")
    figure = None
    if total:
        bars = [("within the range", 1 - outside / total), ("beyond it", outside / total)]
        figure = lambda: figures.shares_figure(bars, f"{finding.feature}: rows with a value", bad=frozenset({"beyond it"}))  # noqa: E731
    return Evidence(verdict, summary, rows, figure)


def _unreadable(run, verdict, validation) -> Optional[Evidence]:
    """Values a type cannot hold, or rows breaking a rule: counts and examples with file and line."""
    from core.reading import report as reading

    finding = verdict.finding
    rows, count = [], 0
    judged = _examples_of(run, validation)
    for examples in judged:
        report = reading.ReadingReport.from_json(examples.get("typed_reading") or {})
        if finding.rule == "typed_reading":
            entries = list(report.problems.get(finding.feature, {}).items())
        else:
            entries = [(finding.rule, report.constraints[finding.rule])] if finding.rule in report.constraints else []
        for reason, entry in entries:
            count += int(entry.get("rows", 0))
            for example in entry.get("examples", [])[:max(TOP - len(rows), 0)]:
                rows.append({"reason": reason, "file": example.get("file"), "line": example.get("line"),
                             "value": example.get("value")})
    if not rows:
        return None
    total = sum(int((e.get("typed_reading") or {}).get("rows") or 0) for e in judged)
    figure = None
    if total:
        left_out = {}
        for examples in judged:
            report = reading.ReadingReport.from_json(examples.get("typed_reading") or {})
            entries = (report.problems.get(finding.feature, {}).items() if finding.rule == "typed_reading"
                       else [(finding.rule, report.constraints.get(finding.rule, {"rows": 0}))])
            for reason, entry in entries:
                left_out[f"left out: {reason}"] = left_out.get(f"left out: {reason}", 0) + int(entry.get("rows", 0))
        bars = [("read", 1 - sum(left_out.values()) / total)] + [(k, v / total) for k, v in left_out.items()]
        what = f"rows of {finding.feature}" if finding.rule == "typed_reading" else f"rows checked by rule {finding.rule}"
        figure = lambda: figures.shares_figure(bars, f"{what}: {total:,} read", bad=frozenset(left_out))  # noqa: E731
    return Evidence(verdict, f"{count:,} row(s) left out (quarantined), for example:", rows, figure)


def rule_columns(verdict: policy_lib.Verdict) -> Optional[Evidence]:
    """A broken rule judged against a baseline: each column it reads beside its baseline, the
    changed first (the finding's `columns`, core/checks/rule_cause.py), and what measured it."""
    finding = verdict.finding
    if not finding.columns:
        return None
    rows = [{"column": c["feature"], "judged": "changed" if c.get("changed") else "unchanged",
             "part of the rule": c.get("part", ""), "measure": c.get("measure", ""),
             "value": bins.number(c["value"]) if c.get("value") is not None else "",
             "threshold": bins.number(c["threshold"]) if c.get("threshold") is not None else "",
             "noise": bins.number(c["noise"]) if c.get("noise") is not None else ""} for c in finding.columns]
    changed = [c["feature"] for c in finding.columns if c.get("changed")]
    summary = (f"rule {finding.rule}: " + (f"{', '.join(changed)} changed against the baseline; " if changed
                                            else "no column changed alone; ")
               + "each column the rule reads beside its baseline, the changed first:")
    columns = list(finding.columns)
    return Evidence(verdict, summary, rows, lambda: figures.rule_columns_figure(columns, finding.rule))


def _fill(feature) -> Optional[float]:
    if feature is None:
        return 0.0
    common = feature.string_stats.common_stats if feature.HasField("string_stats") else feature.num_stats.common_stats
    total = common.num_non_missing + common.num_missing
    return common.num_non_missing / total if total else None


def _presence(run, verdict, validation) -> Optional[Evidence]:
    """A missing column or one filled too rarely: the share of rows with a value in the batch,
    in the baseline, and the schema's minimum."""
    from core.settings import schema_files

    finding = verdict.finding
    batch = _statistics(validation.statistics_uri, _batch_split(validation))
    if batch is None:
        return None
    if validation.environment == names.SERVING:
        training = next((v for v in run.validations if v.environment == names.TRAINING), None)
        baseline, against = (_statistics(training.statistics_uri, names.BASELINE_SPLIT) if training else None), "training"
    else:
        baseline = _statistics(validation.drift_baseline_uri, names.BASELINE_SPLIT)
        against = f"span {validation.drift_baseline_span}" if validation.drift_baseline_span is not None else "baseline"
    floor = None
    if run.schema_file and os.path.isfile(run.schema_file):
        for f in schema_files.load(run.schema_file, "curated schema").feature:
            if f.name == finding.feature and f.HasField("presence") and f.presence.min_fraction:
                floor = f.presence.min_fraction
    bars = []
    if baseline is not None:
        base_fill = _fill(tables.feature_statistics(baseline, finding.feature))
        if base_fill is not None:
            bars.append((f"baseline ({against})", base_fill))
    batch_fill = _fill(tables.feature_statistics(batch, finding.feature))
    if batch_fill is None:
        return None
    bars.append(("this batch", batch_fill))
    rows = [{"data": label, "rows with a value": f"{share:.1%}"} for label, share in bars]
    summary = (f"{finding.feature} has a value in {batch_fill:.1%} of this batch's rows"
               + (f", the schema requires at least {floor:.1%}" if floor is not None else "") + ":")
    return Evidence(verdict, summary, rows,
                    lambda: figures.shares_figure(bars, f"{finding.feature}: rows with a value", floor,
                                                  frozenset({"this batch"})))


def _in_slice(run, verdict, validation) -> Optional[Evidence]:
    """Which slice: the finding's slice beside the same feature's measure in every other slice
    judged, the one that stands out first, so a reader sees whether one slice moved or all did."""
    finding = verdict.finding
    measured = [d for d in validation.distances
                if d.get("feature") == finding.feature and d.get("slice") and d.get("check") == finding.check]
    if not measured:
        return None
    measured.sort(key=lambda d: (d.get("slice") != finding.slice, -(d["value"] / d["threshold"] if d.get("threshold") else 0)))
    rows = [{"slice": d["slice"], "split": d["split"], "measure": d["type"], "value": bins.number(d["value"]),
             "threshold": bins.number(d["threshold"]),
             "noise": bins.number(d["noise"]) if d.get("noise") is not None else "",
             "": "this finding" if d["slice"] == finding.slice else ""} for d in measured[:TOP * 2]]
    over = sum(1 for d in measured if d.get("threshold") and d["value"] > d["threshold"])
    summary = (f"Found in slice {finding.slice}; {finding.feature} was measured in {len({d['slice'] for d in measured})} "
               f"slice(s), {over} over the threshold:")
    return Evidence(verdict, summary, rows)


def for_verdict(run: runs.Run, verdict: policy_lib.Verdict) -> Optional[Evidence]:
    """The evidence for one verdict of `run`, or None where the run holds none to show."""
    validation = _validation_of(run, verdict)
    if validation is None:
        return None
    finding = verdict.finding
    if finding.slice:
        return _in_slice(run, verdict, validation)
    if finding.check in (SKEW, DRIFT):
        return _distance(run, verdict, validation)
    if "ENUM_TYPE_UNEXPECTED_STRING_VALUES" in finding.types:
        return _outside_domain(run, verdict, validation)
    if _RANGE_TYPES & set(finding.types):
        return _outside_range(run, verdict, validation)
    if finding.check == "constraint" and finding.columns:
        return rule_columns(verdict)
    if finding.rule == "typed_reading" or finding.check == "constraint":
        return _unreadable(run, verdict, validation)
    if {"SCHEMA_MISSING_COLUMN", "FEATURE_TYPE_LOW_FRACTION_PRESENT"} & set(finding.types):
        return _presence(run, verdict, validation)
    return None
