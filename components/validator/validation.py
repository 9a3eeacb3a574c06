"""Validation of statistics against a curated schema: pure functions, no TFX, no I/O.

TFDV does the checks it has; tfxgate adds what it lacks for this pipeline:
- environments for skew: TFDV computes skew with the *training* side as the main statistics, so
  validating a serving batch takes two calls, merged here;
- fill rates: CsvExampleGen writes an empty cell as a feature with zero values, which TFDV's
  `presence` never counts as missing; the share of rows with a value is checked here instead;
- the share of rows that carry a value outside a string domain, so a policy can tell a rare new
  category from a takeover;
- a scale check on every feature with a numeric (Jensen-Shannon) comparator: the median ratio of
  matched deciles, current over baseline. A change of units (miles to km, dollars to cents,
  seconds to minutes) multiplies every decile alike; Jensen-Shannon divergence barely moves for a
  factor of 1.6, which clean spans of this data already reach;
- every comparator's measured distance, also those under threshold, for history.
"""

import dataclasses
import statistics as pystats
from typing import Dict, List, Optional, Tuple

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from components.validator.findings import DRIFT, FILL_RATE, SCHEMA, SKEW, Finding

TRAINING = "TRAINING"
SERVING = "SERVING"
ENVIRONMENTS = (TRAINING, SERVING)


_COMPARATOR_TYPES = {
    anomalies_pb2.AnomalyInfo.COMPARATOR_L_INFTY_HIGH,
    anomalies_pb2.AnomalyInfo.COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH,
    anomalies_pb2.AnomalyInfo.COMPARATOR_NORMALIZED_ABSOLUTE_DIFFERENCE_HIGH,
    anomalies_pb2.AnomalyInfo.COMPARATOR_CONTROL_DATA_MISSING,
    anomalies_pb2.AnomalyInfo.COMPARATOR_TREATMENT_DATA_MISSING,
}
LOW_FRACTION_PRESENT = anomalies_pb2.AnomalyInfo.FEATURE_TYPE_LOW_FRACTION_PRESENT
CUSTOM_VALIDATION = anomalies_pb2.AnomalyInfo.CUSTOM_VALIDATION

# Scale check: flag when matched deciles differ by this factor or more (either direction).
# Clean spans of the taxi data differ by at most 1.29 (trip_miles, 2014 to 2015); a mile-to-km
# change is 1.61. The measured value is max(r, 1/r) of the median decile ratio r.
SCALE_SHIFT = "scale_shift"
SCALE_SHIFT_MAX_RATIO = 1.4
# ...and at least this share of the matched deciles moved past it the same way: a change of units
# moves them all, while a coarse, zero-heavy feature (tips in whole dollars) moves one or two.
SCALE_SHIFT_AGREEMENT = 0.75
_MIN_DECILES = 3
UNEXPECTED_STRING = anomalies_pb2.AnomalyInfo.ENUM_TYPE_UNEXPECTED_STRING_VALUES
LARGE_VALUE = "__LARGE_BYTES__"  # tensorflow_data_validation.constants.LARGE_BYTES_PLACEHOLDER
LARGE_VALUE_BYTES = 1024  # TFDV's top-k length limit (_LARGE_STRING_THRESHOLD)


@dataclasses.dataclass
class Report:
    """The result of validating one dataset (one split) in one environment."""

    anomalies: anomalies_pb2.Anomalies  # TFDV's proto, with tfxgate's additions merged in
    findings: List[Finding]
    distances: List[dict]  # every measurement: {check, feature, type, value, threshold}
    num_examples: int


def validate(
    statistics: statistics_pb2.DatasetFeatureStatisticsList,
    schema: schema_pb2.Schema,
    environment: str,
    previous_statistics: Optional[statistics_pb2.DatasetFeatureStatisticsList] = None,
    training_statistics: Optional[statistics_pb2.DatasetFeatureStatisticsList] = None,
    serving_statistics: Optional[statistics_pb2.DatasetFeatureStatisticsList] = None,
) -> Report:
    """Validates `statistics` in `environment`.

    previous_statistics: an earlier span of the same kind, for drift (drift comparators).
    training_statistics: when `statistics` is a serving batch, the training side of skew.
    serving_statistics: when `statistics` is training data, the serving side of skew.
    """
    if environment not in ENVIRONMENTS:
        raise ValueError(f"environment must be one of {ENVIRONMENTS}, not {environment!r}")
    anomalies = tfdv.validate_statistics(
        statistics, schema, environment=environment, previous_statistics=previous_statistics
    )
    checks: Dict[str, Dict[int, str]] = {}  # feature -> reason type -> check
    scale: List[dict] = []
    for name, info in anomalies.anomaly_info.items():
        for reason in info.reason:
            kind = DRIFT if reason.type in _COMPARATOR_TYPES else SCHEMA
            checks.setdefault(name, {})[reason.type] = kind
    hidden_new_values = _add_oversized_value_anomalies(anomalies, statistics, schema, environment, checks)
    if previous_statistics is not None:
        scale += _scale_shifts(anomalies, previous_statistics, statistics, schema, DRIFT, environment, checks)
    if training_statistics is not None or serving_statistics is not None:
        baseline, current = (
            (training_statistics, statistics) if training_statistics is not None else (statistics, serving_statistics)
        )
        scale += _scale_shifts(anomalies, baseline, current, schema, SKEW, SERVING, checks)
        if training_statistics is not None:
            skew = tfdv.validate_statistics(
                training_statistics, schema, environment=TRAINING, serving_statistics=statistics
            )
        else:
            skew = tfdv.validate_statistics(
                statistics, schema, environment=environment, serving_statistics=serving_statistics
            )
        _merge_skew(anomalies, skew, _features_in(schema, SERVING), checks)
    fill_rates = _add_fill_rate_anomalies(anomalies, statistics, schema, environment, checks)
    new_values = _unexpected_value_fractions(anomalies, statistics, schema)
    for name, share in hidden_new_values.items():
        new_values[name] = new_values.get(name, 0.0) + share
    distances = _distances(anomalies) + scale
    findings = _findings(anomalies, checks, new_values, fill_rates, distances)
    return Report(anomalies, findings, distances, _num_examples(statistics))


def _features_in(schema: schema_pb2.Schema, environment: str) -> set:
    names = set()
    for feature in schema.feature:
        envs = set(feature.in_environment) or set(schema.default_environment)
        if environment in envs and environment not in feature.not_in_environment:
            names.add(feature.name)
    return names


def _merge_skew(anomalies, skew, serving_features: set, checks) -> None:
    """Adds the comparator anomalies and skew measurements of a skew-only TFDV call."""
    for name, info in skew.anomaly_info.items():
        if name not in serving_features:
            continue  # e.g. the label: absent when serving by design, so no skew to measure
        for reason in info.reason:
            if reason.type not in _COMPARATOR_TYPES:
                continue  # the training side's own anomalies belong to its own validation
            target = anomalies.anomaly_info[name]
            if not target.HasField("path"):
                target.path.CopyFrom(info.path)
                target.severity = info.severity
            target.reason.add().CopyFrom(reason)
            checks.setdefault(name, {})[reason.type] = SKEW
    for info in skew.drift_skew_info:
        if info.skew_measurements and info.path.step[-1] in serving_features:
            anomalies.drift_skew_info.add(path=info.path, skew_measurements=info.skew_measurements)


def _dataset(statistics) -> statistics_pb2.DatasetFeatureStatistics:
    return statistics.datasets[0]


def _num_examples(statistics) -> int:
    return int(_dataset(statistics).num_examples) if statistics.datasets else 0


def _common(feature_stats) -> statistics_pb2.CommonStatistics:
    kind = feature_stats.WhichOneof("stats")
    return getattr(feature_stats, kind).common_stats if kind else statistics_pb2.CommonStatistics()


def _feature_stats(statistics) -> Dict[str, statistics_pb2.FeatureNameStatistics]:
    return {".".join(f.path.step) or f.name: f for f in _dataset(statistics).features}


def _add_fill_rate_anomalies(anomalies, statistics, schema, environment, checks) -> Dict[str, tuple]:
    """Flags single-valued features whose share of rows with a value is below presence.min_fraction."""
    total = _num_examples(statistics)
    stats = _feature_stats(statistics)
    affected: Dict[str, tuple] = {}  # feature -> (fill rate, required fill rate)
    if not total:
        return affected
    for feature in schema.feature:
        if (
            feature.name not in _features_in(schema, environment)
            or feature.lifecycle_stage == schema_pb2.DEPRECATED
            or not feature.presence.min_fraction
            or feature.value_count.max != 1
            or feature.name not in stats
        ):
            continue
        filled = _common(stats[feature.name]).tot_num_values / total
        if filled + 1e-9 >= feature.presence.min_fraction:
            continue
        info = anomalies.anomaly_info[feature.name]
        if any(r.type == LOW_FRACTION_PRESENT for r in info.reason):
            continue
        if not info.HasField("path"):
            info.path.step.append(feature.name)
            info.severity = anomalies_pb2.AnomalyInfo.ERROR
        description = (
            f"Only {filled:.1%} of rows have a value; the schema expects at least "
            f"{feature.presence.min_fraction:.1%}."
        )
        info.reason.add(
            type=LOW_FRACTION_PRESENT, short_description="Column filled too rarely", description=description
        )
        checks.setdefault(feature.name, {})[LOW_FRACTION_PRESENT] = FILL_RATE
        affected[feature.name] = (filled, feature.presence.min_fraction)
    return affected


def _add_oversized_value_anomalies(anomalies, statistics, schema, environment, checks) -> Dict[str, float]:
    """Flags values too long for TFDV to compare with a string domain; returns the share of rows
    they are in, where TFDV's histogram does not show them.

    TFDV's domain check passes values over 1 KiB: its in-memory top-k shows them as one
    `__LARGE_BYTES__` token, its Beam sketch shows them whole, and neither is compared with the
    domain, so a 1 MB value in a column of company names passes. Both forms are counted here;
    where the histogram does not show every value, a length accounting finds the rest: the
    values not shown average over 1 KiB, where a domain's values are short."""
    stats = _feature_stats(statistics)
    hidden_shares: Dict[str, float] = {}
    total = _num_examples(statistics)
    for feature in schema.feature:
        domain = _string_domain(schema, feature)
        if domain is None or feature.name not in stats or feature.name not in _features_in(schema, environment):
            continue
        measured = _oversized(stats[feature.name], domain)
        if not measured:
            continue
        rows, shown = measured
        info = anomalies.anomaly_info[feature.name]
        if not info.HasField("path"):
            info.path.step.append(feature.name)
            info.severity = anomalies_pb2.AnomalyInfo.ERROR
        if not any(r.type == UNEXPECTED_STRING for r in info.reason):
            info.reason.add(
                type=UNEXPECTED_STRING,
                short_description="Oversized values",
                description=f"{'' if shown else 'about '}{rows} value(s) over {LARGE_VALUE_BYTES} bytes, too long to "
                f"compare with the domain (whose longest value is far shorter): not in it.",
            )
        checks.setdefault(feature.name, {})[UNEXPECTED_STRING] = SCHEMA
        if not shown and total:
            hidden_shares[feature.name] = rows / total
    return hidden_shares


def _oversized(feature_stats, domain: set) -> Optional[Tuple[int, bool]]:
    """(rows with an oversized value, whether the histogram shows them), or None."""
    string_stats = feature_stats.string_stats
    counts = {b.label: b.sample_count for b in string_stats.rank_histogram.buckets}
    if not counts:
        counts = {v.value: v.frequency for v in string_stats.top_values}
    shown = sum(n for k, n in counts.items() if k not in domain and (k == LARGE_VALUE or len(k.encode()) > LARGE_VALUE_BYTES))
    if shown:
        return int(shown), True
    longest_domain_value = max((len(v.encode()) for v in domain), default=0)
    values = _common(feature_stats).tot_num_values
    unseen = values - sum(counts.values())
    unseen_bytes = string_stats.avg_length * values - sum(len(k.encode()) * n for k, n in counts.items())
    if unseen < 0.5 or longest_domain_value >= LARGE_VALUE_BYTES or unseen_bytes / unseen <= LARGE_VALUE_BYTES:
        return None
    return max(1, int(round(unseen))), False


def _string_domain(schema, feature) -> Optional[set]:
    if feature.HasField("string_domain"):
        return set(feature.string_domain.value)
    if feature.domain:
        for domain in schema.string_domain:
            if domain.name == feature.domain:
                return set(domain.value)
    return None


def _unexpected_value_fractions(anomalies, statistics, schema) -> Dict[str, float]:
    """The share of rows whose value lies outside the string domain, per anomalous feature."""
    stats = _feature_stats(statistics)
    total = _num_examples(statistics)
    result = {}
    for feature in schema.feature:
        info = anomalies.anomaly_info.get(feature.name)
        if not info or not total or not any(r.type == UNEXPECTED_STRING for r in info.reason):
            continue
        domain = _string_domain(schema, feature)
        if domain is None or feature.name not in stats:
            continue
        string_stats = stats[feature.name].string_stats
        counts = {b.label: b.sample_count for b in string_stats.rank_histogram.buckets}
        if not counts:
            counts = {v.value: v.frequency for v in string_stats.top_values}
        result[feature.name] = sum(n for value, n in counts.items() if value not in domain) / total
    return result


def _distances(anomalies) -> List[dict]:
    result = []
    for info in anomalies.drift_skew_info:
        name = ".".join(info.path.step)
        for kind, measurements in ((SKEW, info.skew_measurements), (DRIFT, info.drift_measurements)):
            for m in measurements:
                result.append(
                    {
                        "check": kind,
                        "feature": name,
                        "type": anomalies_pb2.DriftSkewInfo.Measurement.Type.Name(m.type),
                        "value": float(m.value),
                        "threshold": float(m.threshold),
                    }
                )
    return result


def _deciles(feature_stats) -> Optional[List[float]]:
    for histogram in feature_stats.num_stats.histograms:
        if histogram.type == statistics_pb2.Histogram.QUANTILES and histogram.buckets:
            return [b.high_value for b in histogram.buckets[:-1]]
    return None


def _scale_ratio(baseline, current) -> Optional[Tuple[float, float]]:
    """(max(r, 1/r) of the median ratio r of matched deciles of one sign, the share of those
    deciles that moved past the threshold in r's direction), or None if too few match."""
    base, cur = _deciles(baseline), _deciles(current)
    if not base or not cur or len(base) != len(cur):
        return None
    ratios = [c / b for b, c in zip(base, cur) if b * c > 0]
    if len(ratios) < _MIN_DECILES:
        return None
    ratio = pystats.median(ratios)
    if ratio >= 1:
        agreeing = sum(r >= SCALE_SHIFT_MAX_RATIO for r in ratios)
    else:
        agreeing = sum(r <= 1 / SCALE_SHIFT_MAX_RATIO for r in ratios)
    return max(ratio, 1 / ratio), agreeing / len(ratios)


def _scale_shifts(anomalies, baseline, current, schema, check, environment, checks) -> List[dict]:
    """Measures the scale of every feature with a Jensen-Shannon comparator; flags large shifts."""
    base_stats, cur_stats = _feature_stats(baseline), _feature_stats(current)
    in_env = _features_in(schema, environment)
    measurements = []
    for feature in schema.feature:
        comparator = feature.skew_comparator if check == SKEW else feature.drift_comparator
        name = feature.name
        if not comparator.HasField("jensen_shannon_divergence") or name not in in_env:
            continue
        if name not in base_stats or name not in cur_stats:
            continue
        measured = _scale_ratio(base_stats[name], cur_stats[name])
        if measured is None:
            continue
        ratio, agreement = measured
        measurements.append(
            {"check": check, "feature": name, "type": SCALE_SHIFT, "value": ratio, "threshold": SCALE_SHIFT_MAX_RATIO}
        )
        if ratio < SCALE_SHIFT_MAX_RATIO or agreement < SCALE_SHIFT_AGREEMENT:
            continue
        info = anomalies.anomaly_info[name]
        if not info.HasField("path"):
            info.path.step.append(name)
            info.severity = anomalies_pb2.AnomalyInfo.ERROR
        side = "serving and training" if check == SKEW else "current and previous span"
        info.reason.add(
            type=CUSTOM_VALIDATION,
            short_description="Scale shift",
            description=(
                f"The deciles of {side} differ by a factor of {ratio:.3g} (median over deciles; "
                f"{agreement:.0%} of them moved past {SCALE_SHIFT_MAX_RATIO}): a change of units?"
            ),
        )
        checks.setdefault(name, {})[CUSTOM_VALIDATION] = check
    return measurements


def _measurement(distances: List[dict], check: str, feature: str, rule: Optional[str]) -> dict:
    for m in distances:
        if m["check"] == check and m["feature"] == feature and (m["type"] == SCALE_SHIFT) == (rule == SCALE_SHIFT):
            return m
    return {}


def _findings(anomalies, checks, new_values, fill_rates, distances) -> List[Finding]:
    findings = []
    for name in sorted(anomalies.anomaly_info):
        info = anomalies.anomaly_info[name]
        by_check: Dict[str, list] = {}
        for reason in info.reason:
            by_check.setdefault(checks.get(name, {}).get(reason.type, SCHEMA), []).append(reason)
        for check, reasons in by_check.items():
            custom = [r for r in reasons if r.type == CUSTOM_VALIDATION]
            standard = [r for r in reasons if r.type != CUSTOM_VALIDATION]
            for group, rule in ((standard, None), (custom, SCALE_SHIFT)):
                if not group:
                    continue
                measured = _measurement(distances, check, name, rule)
                if check == FILL_RATE:
                    value, threshold = fill_rates[name]
                    measured = {"value": value, "threshold": threshold}
                findings.append(
                    Finding(
                        feature=name,
                        types=[anomalies_pb2.AnomalyInfo.Type.Name(r.type) for r in group],
                        check=check,
                        description=" ".join(r.description for r in group),
                        rule=rule,
                        fraction=new_values.get(name) if check == SCHEMA else None,
                        value=measured.get("value"),
                        threshold=measured.get("threshold"),
                    )
                )
    for reason in anomalies.dataset_anomaly_info.reason:
        findings.append(
            Finding(
                feature="(dataset)",
                types=[anomalies_pb2.AnomalyInfo.Type.Name(reason.type)],
                check=SCHEMA,
                description=reason.description,
            )
        )
    return findings
