"""The evidence beside each reason of a verdict: what a person needs to see to believe it and to
find it in the data, from statistics and the reading report (never raw rows beyond the examples
ExampleGen kept), shared by the HTML report and the notebook.

- a distance (skew, drift): the baseline's and the batch's distributions overlaid, the categories
  or bins that moved most with their shares, and the noise level for this batch's size;
- a value outside the schema's domain: the values, their row counts and shares;
- a value its type cannot hold, or a row breaking a rule across columns: how many rows, and
  examples with their file and line;
- a missing column or a low fill rate: what the batch has instead.
"""

import dataclasses
from typing import Callable, Dict, List, Optional

from core import layout, names, policy as policy_lib
from core.findings import DRIFT, SKEW
from mlmd import runs
from tfxgate import figures, tables

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


def _batch_split(validation: runs.Validation) -> str:
    return names.SERVING_SPLIT if validation.environment == names.SERVING else names.BASELINE_SPLIT


def _shares(feature) -> Dict[str, float]:
    labels, shares = figures.distribution(feature) if feature is not None else ([], [])
    return dict(zip(labels, shares))


def contributions(baseline, batch, name: str) -> List[dict]:
    """The categories or bins (the baseline's deciles for a number) whose share moved most, with
    both shares: what drove a distance."""
    base_f, batch_f = tables.feature_statistics(baseline, name), tables.feature_statistics(batch, name)
    if base_f is None or batch_f is None:
        return []
    if base_f.HasField("num_stats") and batch_f.HasField("num_stats"):
        labels, base_share = figures.distribution(base_f)
        batch_share = figures.share_in_deciles(base_f, batch_f)
    else:
        base, moved = _shares(base_f), _shares(batch_f)
        labels = sorted(set(base) | set(moved), key=lambda k: -abs(moved.get(k, 0.0) - base.get(k, 0.0)))
        base_share = [base.get(k, 0.0) for k in labels]
        batch_share = [moved.get(k, 0.0) for k in labels]
    rows = [{"value or bin": label, "baseline share": f"{b:.1%}", "batch share": f"{m:.1%}",
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
    return Evidence(verdict, summary, contributions(baseline, batch, finding.feature),
                    lambda: figures.distribution_figure(baseline, batch, finding.feature, ("baseline", "batch")))


def _outside_domain(run, verdict, validation) -> Optional[Evidence]:
    from core import schema_files

    finding = verdict.finding
    batch = _statistics(validation.statistics_uri, _batch_split(validation))
    feature = tables.feature_statistics(batch, finding.feature) if batch is not None else None
    if feature is None or not feature.HasField("string_stats") or not run.schema_file:
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
    rows = [{"value": value, "rows": f"{int(count):,}", "share": f"{count / total:.1%}"} for value, count in outside[:TOP]]
    summary = f"{len(outside)} value(s) outside the schema's domain of {len(known)} in {int(total):,} rows with a value:"
    return Evidence(verdict, summary, rows, lambda: figures.categories_figure(values, known, finding.feature))


def _unreadable(run, verdict) -> Optional[Evidence]:
    """Values a type cannot hold, or rows breaking a rule: counts and examples with file and line."""
    from core import reading

    finding = verdict.finding
    rows, count = [], 0
    for examples in run.examples:
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
    return Evidence(verdict, f"{count:,} row(s) left out (quarantined), for example:", rows)


def for_verdict(run: runs.Run, verdict: policy_lib.Verdict) -> Optional[Evidence]:
    """The evidence for one verdict of `run`, or None where the run holds none to show."""
    validation = _validation_of(run, verdict)
    if validation is None:
        return None
    finding = verdict.finding
    if finding.check in (SKEW, DRIFT) and not finding.slice:
        return _distance(run, verdict, validation)
    if "ENUM_TYPE_UNEXPECTED_STRING_VALUES" in finding.types:
        return _outside_domain(run, verdict, validation)
    if finding.rule == "typed_reading" or finding.check == "constraint":
        return _unreadable(run, verdict)
    return None
