"""Validation of statistics against a curated schema: pure functions over protos, no TFX, no I/O.

TFDV does the checks it has (types, domains, presence, value counts, comparators); tfxgate adds
what it lacks for this pipeline (core/checks/custom_checks.py), and environments for skew: TFDV computes
skew with the *training* side as the main statistics, so validating a serving batch takes two
calls, merged here. Every comparator's measured distance is kept, also those under threshold,
for history.
"""

import dataclasses
from typing import List, Optional

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from core.checks import custom_checks
from core.common import findings as findings_lib
from core.statistics import noise
from core.checks import profile_checks
from core.reading import report as reading_lib
from core.checks import rule_cause
from core.statistics import stats_view
from core.settings.check_settings import CheckSettings
from core.common.findings import DRIFT, SCHEMA, SKEW, Finding
from core.common.names import ENVIRONMENTS, SERVING, TRAINING
from core.settings.schema_files import features_in

_COMPARATOR_TYPES = {
    anomalies_pb2.AnomalyInfo.COMPARATOR_L_INFTY_HIGH,
    anomalies_pb2.AnomalyInfo.COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH,
    anomalies_pb2.AnomalyInfo.COMPARATOR_NORMALIZED_ABSOLUTE_DIFFERENCE_HIGH,
    anomalies_pb2.AnomalyInfo.COMPARATOR_CONTROL_DATA_MISSING,
    anomalies_pb2.AnomalyInfo.COMPARATOR_TREATMENT_DATA_MISSING,
}


@dataclasses.dataclass
class Report:
    """The result of validating one dataset (one split) in one environment."""

    anomalies: anomalies_pb2.Anomalies  # TFDV's proto, with tfxgate's additions merged in
    findings: List[Finding]
    distances: List[dict]  # every measurement: {check, feature, type, value, threshold[, noise, slice]}
    num_examples: int
    skipped_slices: List[dict] = dataclasses.field(default_factory=list)  # {slice, rows, why}
    notes: List[str] = dataclasses.field(default_factory=list)  # checks that could not run, and why


def validate(
    statistics: statistics_pb2.DatasetFeatureStatisticsList,
    schema: schema_pb2.Schema,
    environment: str,
    previous_statistics: Optional[statistics_pb2.DatasetFeatureStatisticsList] = None,
    training_statistics: Optional[statistics_pb2.DatasetFeatureStatisticsList] = None,
    serving_statistics: Optional[statistics_pb2.DatasetFeatureStatisticsList] = None,
    reading: Optional[reading_lib.ReadingReport] = None,
    profile=None,
    baseline_profiles: Optional[dict] = None,
    settings: Optional[CheckSettings] = None,
) -> Report:
    """Validates `statistics` in `environment`.

    Args:
      statistics: the dataset to judge (one split).
      schema: the curated schema.
      environment: TRAINING or SERVING.
      previous_statistics: an earlier span of the same kind, for drift (drift comparators).
      training_statistics: when `statistics` is a serving batch, the training side of skew.
      serving_statistics: when `statistics` is training data, the serving side of skew.
      reading: what reading the batch typed by the schema could not read (core/reading/report.py):
        a finding per feature and reason, for the features of `environment`; and the rows that
        broke a rule across columns (core/rules/), a finding per rule.
      profile: the batch's profile (core/statistics/profile.py), for the checks of core/checks/profile_checks.py.
      baseline_profiles: {drift|skew: the baseline's profile, or None when it has none}.
      settings: checks.yaml beside the schema (slices, extra tests).

    Returns:
      A Report: TFDV's Anomalies with tfxgate's additions, findings and every distance.

    Raises:
      ValueError: an unknown environment.
    """
    if environment not in ENVIRONMENTS:
        raise ValueError(f"environment must be one of {ENVIRONMENTS}, not {environment!r}")
    anomalies = _plain_keys(tfdv.validate_statistics(
        statistics, schema, environment=environment, previous_statistics=previous_statistics
    ))
    checks: custom_checks.Checks = {}
    for name, info in anomalies.anomaly_info.items():
        for reason in info.reason:
            checks.setdefault(name, {})[reason.type] = DRIFT if reason.type in _COMPARATOR_TYPES else SCHEMA
    hidden_new_values = custom_checks.oversized_values(anomalies, statistics, schema, environment, checks)
    scale: List[dict] = []
    if previous_statistics is not None:
        scale += custom_checks.scale_shifts(anomalies, previous_statistics, statistics, schema, DRIFT, environment, checks)
    if training_statistics is not None or serving_statistics is not None:
        scale += _skew(anomalies, statistics, schema, environment, training_statistics, serving_statistics, checks)
    fill_rates = custom_checks.fill_rates(anomalies, statistics, schema, environment, checks)
    new_values = custom_checks.unexpected_value_fractions(anomalies, statistics, schema)
    for name, share in hidden_new_values.items():
        new_values[name] = new_values.get(name, 0.0) + share
    distances = findings_lib.distances(anomalies) + scale
    baselines = {DRIFT: (previous_statistics, statistics)}
    if training_statistics is not None:
        baselines[SKEW] = (training_statistics, statistics)
    elif serving_statistics is not None:
        baselines[SKEW] = (statistics, serving_statistics)
    _weigh_noise(anomalies, distances, checks, baselines)
    found = findings_lib.from_anomalies(anomalies, checks, new_values, fill_rates, distances)
    if reading is not None:
        found += reading_lib.findings(reading, features_in(schema, environment))
        found += reading_lib.constraint_findings(reading, _causes(reading, schema, profile, baseline_profiles or {},
                                                                  baselines))
    report = Report(anomalies, found, distances, stats_view.num_examples(statistics))
    _profile_checks(report, schema, environment, profile, baseline_profiles or {}, baselines, settings)
    return report


def _causes(reading: reading_lib.ReadingReport, schema, profile, baseline_profiles: dict, baselines: dict) -> dict:
    """{rule: core.checks.rule_cause.Cause} of every broken rule: its columns judged against the baseline's
    profile (the drift baseline's, else the skew baseline's), or not judged without one."""
    kind = next((k for k in (DRIFT, SKEW) if baselines.get(k, (None,))[0] is not None
                 and baseline_profiles.get(k) is not None), None)
    baseline = baseline_profiles.get(kind) if kind else None
    rules = reading_lib.rules_of(reading)
    held = reading_lib.held_rules(reading)
    return {rule.name: rule_cause.cause(rule, profile, baseline, schema, kind or DRIFT, rules, held)
            for rule in rules if reading.constraints[rule.name]["rows"]}


def _plain_keys(anomalies: anomalies_pb2.Anomalies) -> anomalies_pb2.Anomalies:
    """`anomalies` keyed by feature name as the schema spells it. TFDV keys a feature by its
    serialized path, which quotes a name holding `.`, `(`, `)` or `'` (`'fare.usd'`, `'it''s'`);
    every lookup here, in the policy and in the reports is by the schema's name."""
    for key in list(anomalies.anomaly_info):
        info = anomalies.anomaly_info[key]
        if len(info.path.step) != 1 or info.path.step[0] == key:
            continue
        plain = anomalies.anomaly_info[info.path.step[0]]
        plain.MergeFrom(info)
        del anomalies.anomaly_info[key]
    return anomalies


def _profile_checks(report: Report, schema, environment, profile, baseline_profiles: dict, baselines: dict,
                    settings: Optional[CheckSettings]) -> None:
    """Adds core/checks/profile_checks.py's findings and measurements to `report`."""
    if profile is None:
        report.notes.append("no profile of the batch: degenerate columns, tails, slices and extra tests not checked")
        return
    pairs = []
    for kind in (DRIFT, SKEW):
        if baselines.get(kind, (None,))[0] is None:
            continue
        if baseline_profiles.get(kind) is None:
            report.notes.append(f"the {kind} baseline has no profile (a statistics file): degenerate columns, tails, "
                                f"slices and extra tests not checked against it")
            continue
        pairs.append((kind, baseline_profiles[kind]))
    for i, (kind, baseline) in enumerate(pairs or [(DRIFT, None)]):
        outcome = profile_checks.check(profile, baseline, schema, environment, kind, settings or CheckSettings(),
                                       label_check=i == 0)
        whole = {(f.feature, tuple(f.types)) for f in report.findings if f.slice is None}
        # A slice adds news only where the whole batch did not already find the same thing.
        report.findings += [f for f in outcome.findings if f.slice is None or (f.feature, tuple(f.types)) not in whole]
        report.distances += outcome.measurements
        report.skipped_slices += outcome.skipped


_NOISY = {"L_INFTY": anomalies_pb2.AnomalyInfo.COMPARATOR_L_INFTY_HIGH,
          "JENSEN_SHANNON_DIVERGENCE": anomalies_pb2.AnomalyInfo.COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH}


def _weigh_noise(anomalies, distances: List[dict], checks, baselines: dict) -> None:
    """Records, beside every comparator distance over its threshold (where it decides), the
    distance sampling noise alone would give a batch of this size drawn from the baseline
    (core/statistics/noise.py); withdraws the comparator anomaly when the distance does not clear the noise
    level by the margin (it stays measured, with its noise and `within_noise`)."""
    for d in distances:
        if d["type"] not in _NOISY or baselines.get(d["check"], (None,))[0] is None or d["value"] <= d["threshold"]:
            continue
        baseline, current = baselines[d["check"]]
        d["noise"] = noise_level(d["type"], stats_view.by_name(baseline).get(d["feature"]),
                                 stats_view.by_name(current).get(d["feature"]), d["feature"])
        d["within_noise"] = d["value"] > d["threshold"] and not noise.stands(d["value"], d["threshold"], d["noise"])
        if not d["within_noise"]:
            continue
        info = anomalies.anomaly_info.get(d["feature"])
        if info is None:
            continue
        kept = [r for r in info.reason
                if not (r.type == _NOISY[d["type"]] and checks.get(d["feature"], {}).get(r.type) == d["check"])]
        if len(kept) == len(info.reason):
            continue
        if kept:
            del info.reason[:]
            info.reason.extend(kept)
        else:
            del anomalies.anomaly_info[d["feature"]]
        checks.get(d["feature"], {}).pop(_NOISY[d["type"]], None)


def noise_level(kind: str, baseline, current, key: str) -> Optional[float]:
    """The noise level of one comparator for the current batch's size, or None if unknown."""
    if baseline is None or current is None:
        return None
    n = int(stats_view.common(current).num_non_missing)
    if kind == "L_INFTY":
        return noise.linf_noise(stats_view.value_counts(baseline), n, key)
    histogram = stats_view.quantiles(baseline)
    return noise.jensen_shannon_noise(histogram, n, key) if histogram else None


def _skew(anomalies, statistics, schema, environment, training_statistics, serving_statistics, checks) -> List[dict]:
    """Skew between training and serving statistics, whichever side `statistics` is: TFDV's
    comparators (merged into `anomalies`) and the scale check. Returns the scale measurements."""
    if training_statistics is not None:
        baseline, current = training_statistics, statistics
        skew = tfdv.validate_statistics(training_statistics, schema, environment=TRAINING, serving_statistics=statistics)
    else:
        baseline, current = statistics, serving_statistics
        skew = tfdv.validate_statistics(statistics, schema, environment=environment, serving_statistics=serving_statistics)
    scale = custom_checks.scale_shifts(anomalies, baseline, current, schema, SKEW, SERVING, checks)
    _merge_skew(anomalies, _plain_keys(skew), features_in(schema, SERVING), checks)
    return scale


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
