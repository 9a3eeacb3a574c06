"""A finding: one anomaly on one feature, as tfxgate reports it and the gate judges it; and how
TFDV's Anomalies proto, with tfxgate's additions, becomes a list of findings.

Kept free of TensorFlow and TFDV imports so that policy code and command lines load quickly.
"""

import dataclasses
from typing import Dict, List, Optional

SCHEMA, FILL_RATE, SKEW, DRIFT = "schema", "fill_rate", "skew", "drift"
DEGENERATE, TAILS, CONSTRAINT = "degenerate", "tails", "constraint"  # core/checks/profile_checks.py, core/rules/
SCALE_SHIFT = "scale_shift"  # tfxgate's own check (a `rule`), where TFDV has none
DATASET_FEATURE = "(dataset)"  # the feature of a finding about the whole dataset


@dataclasses.dataclass(frozen=True)
class Finding:
    """One anomaly on one feature, as tfxgate reports it and the gate's policy judges it."""

    feature: str
    types: List[str]  # TFDV's AnomalyInfo.Type names
    check: str  # schema | fill_rate | skew | drift | degenerate | tails | constraint
    description: str
    rule: Optional[str] = None  # tfxgate's own check, where TFDV has none (e.g. scale_shift)
    fraction: Optional[float] = None  # share of rows affected, where known
    value: Optional[float] = None  # measured distance (skew, drift) or fill rate
    threshold: Optional[float] = None
    noise: Optional[float] = None  # the distance sampling noise alone gives a batch this size (core/statistics/noise.py)
    slice: Optional[str] = None  # the slice it was found in (`company=Flash Cab`); None: the whole batch
    columns: Optional[List[dict]] = None  # a broken rule: each column judged against its baseline (core/checks/rule_cause.py)

    def named(self) -> List[str]:
        """The features this finding is about: its `feature`, or for a broken rule whose cause is
        several columns (`feature` names them joined), each of them: the changed ones, or all of
        the rule's when none changed alone (core/checks/rule_cause.py)."""
        if not self.columns:
            return [self.feature]
        changed = [c["feature"] for c in self.columns if c.get("changed")]
        return changed or [c["feature"] for c in self.columns]

    def to_json(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, data: dict) -> "Finding":
        return cls(**{f.name: data.get(f.name) for f in dataclasses.fields(cls)})


def distances(anomalies) -> List[dict]:
    """Every skew and drift measurement TFDV recorded: {check, feature, type, value, threshold}."""
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    result = []
    for info in anomalies.drift_skew_info:
        name = ".".join(info.path.step)
        for kind, measurements in ((SKEW, info.skew_measurements), (DRIFT, info.drift_measurements)):
            for m in measurements:
                result.append({
                    "check": kind,
                    "feature": name,
                    "type": anomalies_pb2.DriftSkewInfo.Measurement.Type.Name(m.type),
                    "value": float(m.value),
                    "threshold": float(m.threshold),
                })
    return result


def _measurement(measured: List[dict], check: str, feature: str, rule: Optional[str]) -> dict:
    for m in measured:
        if m["check"] == check and m["feature"] == feature and (m["type"] == SCALE_SHIFT) == (rule == SCALE_SHIFT):
            return m
    return {}


def from_anomalies(anomalies, checks: Dict[str, Dict[int, str]], new_values: Dict[str, float],
                   fill_rates: Dict[str, tuple], measured: List[dict]) -> List[Finding]:
    """One finding per feature, check and kind of reason (TFDV's, or tfxgate's own rule).

    checks: feature -> reason type -> check, as the validation assigned them;
    new_values: share of rows outside a string domain; fill_rates: (fill rate, required);
    measured: every distance, to attach the value and threshold a finding crossed.
    """
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    custom_type = anomalies_pb2.AnomalyInfo.CUSTOM_VALIDATION
    type_name = anomalies_pb2.AnomalyInfo.Type.Name
    findings = []
    for name in sorted(anomalies.anomaly_info):
        by_check: Dict[str, list] = {}
        for reason in anomalies.anomaly_info[name].reason:
            by_check.setdefault(checks.get(name, {}).get(reason.type, SCHEMA), []).append(reason)
        for check, reasons in by_check.items():
            standard = [r for r in reasons if r.type != custom_type]
            custom = [r for r in reasons if r.type == custom_type]
            for group, rule in ((standard, None), (custom, SCALE_SHIFT)):
                if not group:
                    continue
                found = _measurement(measured, check, name, rule)
                if check == FILL_RATE:
                    value, threshold = fill_rates[name]
                    found = {"value": value, "threshold": threshold}
                findings.append(Finding(
                    feature=name,
                    types=[type_name(r.type) for r in group],
                    check=check,
                    description=" ".join(r.description for r in group),
                    rule=rule,
                    fraction=new_values.get(name) if check == SCHEMA else None,
                    value=found.get("value"),
                    threshold=found.get("threshold"),
                    noise=found.get("noise"),
                ))
    for reason in anomalies.dataset_anomaly_info.reason:
        findings.append(Finding(feature=DATASET_FEATURE, types=[type_name(reason.type)], check=SCHEMA,
                                description=reason.description))
    return findings
