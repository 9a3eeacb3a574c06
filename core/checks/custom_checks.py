"""tfxgate's own checks, where TFDV has none; each adds its reasons to TFDV's Anomalies proto.

- fill rates: CsvExampleGen writes an empty cell as a feature with zero values, which TFDV's
  `presence` never counts as missing; the share of rows with a value is checked here instead;
- oversized values: TFDV's domain check passes any value over 1 KiB;
- the share of rows that carry a value outside a string domain, so a policy can tell a rare new
  category from a takeover;
- a scale check on every feature with a numeric (Jensen-Shannon) comparator: the median ratio of
  matched deciles, current over baseline. A change of units (miles to km, dollars to cents,
  seconds to minutes) multiplies every decile alike; Jensen-Shannon divergence barely moves for a
  factor of 1.6, which clean spans of this data already reach.

`checks` (feature -> reason type -> check) records which check each added reason belongs to.
"""

import math
import statistics as pystats
from typing import Dict, List, Optional, Tuple

from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2

from core.statistics import noise
from core.statistics import stats_view
from core.common.findings import FILL_RATE, SCALE_SHIFT, SCHEMA, SKEW
from core.settings.schema_files import features_in

LOW_FRACTION_PRESENT = anomalies_pb2.AnomalyInfo.FEATURE_TYPE_LOW_FRACTION_PRESENT
CUSTOM_VALIDATION = anomalies_pb2.AnomalyInfo.CUSTOM_VALIDATION
UNEXPECTED_STRING = anomalies_pb2.AnomalyInfo.ENUM_TYPE_UNEXPECTED_STRING_VALUES

# Scale check: flag when matched deciles differ by this factor or more (either direction).
# Clean spans of the taxi data differ by at most 1.29 (trip_miles, 2014 to 2015); a mile-to-km
# change is 1.61. The measured value is max(r, 1/r) of the median decile ratio r.
SCALE_SHIFT_MAX_RATIO = 1.4
# ...and at least this share of the matched deciles moved past it the same way: a change of units
# moves them all, while a coarse, zero-heavy feature (tips in whole dollars) moves one or two.
SCALE_SHIFT_AGREEMENT = 0.75
# ...and the matched deciles must move together: the interquartile range of their log ratios at
# most this. A change of units multiplies every decile alike (miles to km: 0.17, the deciles being
# estimates); a change of mix does not (the largest company's trips against the whole span: 0.37;
# 2013 against 2014, with many more zero-mile trips: 0.22, still flagged).
SCALE_SHIFT_SPREAD = 0.25
_MIN_DECILES = 3
LARGE_VALUE = "__LARGE_BYTES__"  # tensorflow_data_validation.constants.LARGE_BYTES_PLACEHOLDER
LARGE_VALUE_BYTES = 1024  # TFDV's top-k length limit (_LARGE_STRING_THRESHOLD)

Checks = Dict[str, Dict[int, str]]


def _info(anomalies, name: str) -> anomalies_pb2.AnomalyInfo:
    """The feature's AnomalyInfo, created with its path and ERROR severity when new."""
    info = anomalies.anomaly_info[name]
    if not info.HasField("path"):
        info.path.step.append(name)
        info.severity = anomalies_pb2.AnomalyInfo.ERROR
    return info


def fill_rates(anomalies, statistics, schema, environment: str, checks: Checks) -> Dict[str, tuple]:
    """Flags single-valued features whose share of rows with a value is below presence.min_fraction;
    returns {feature: (fill rate, required fill rate)} of those flagged."""
    total = stats_view.num_examples(statistics)
    stats = stats_view.by_name(statistics)
    in_env = features_in(schema, environment)
    affected: Dict[str, tuple] = {}
    if not total:
        return affected
    for feature in schema.feature:
        if (
            feature.name not in in_env
            or feature.lifecycle_stage == schema_pb2.DEPRECATED
            or not feature.presence.min_fraction
            or feature.value_count.max != 1
            or feature.name not in stats
        ):
            continue
        filled_rows = int(stats_view.common(stats[feature.name]).tot_num_values)
        filled = filled_rows / total
        if filled + 1e-9 >= feature.presence.min_fraction:
            continue
        if not noise.fill_rate_stands(filled_rows, total, feature.presence.min_fraction):
            continue  # a shortfall this batch's size explains
        existing = anomalies.anomaly_info.get(feature.name)
        if existing is not None and any(r.type == LOW_FRACTION_PRESENT for r in existing.reason):
            continue
        description = (
            f"Only {filled:.1%} of rows have a value; the schema expects at least "
            f"{feature.presence.min_fraction:.1%}."
        )
        _info(anomalies, feature.name).reason.add(
            type=LOW_FRACTION_PRESENT, short_description="Column filled too rarely", description=description
        )
        checks.setdefault(feature.name, {})[LOW_FRACTION_PRESENT] = FILL_RATE
        affected[feature.name] = (filled, feature.presence.min_fraction)
    return affected


def oversized_values(anomalies, statistics, schema, environment: str, checks: Checks) -> Dict[str, float]:
    """Flags values too long for TFDV to compare with a string domain; returns the share of rows
    they are in, where TFDV's histogram does not show them.

    TFDV's domain check passes values over 1 KiB: its in-memory top-k shows them as one
    `__LARGE_BYTES__` token, its Beam sketch shows them whole, and neither is compared with the
    domain, so a 1 MB value in a column of company names passes. Both forms are counted here;
    where the histogram does not show every value, a length accounting finds the rest: the
    values not shown average over 1 KiB, where a domain's values are short."""
    stats = stats_view.by_name(statistics)
    in_env = features_in(schema, environment)
    hidden_shares: Dict[str, float] = {}
    total = stats_view.num_examples(statistics)
    for feature in schema.feature:
        domain = string_domain(schema, feature)
        if domain is None or feature.name not in stats or feature.name not in in_env:
            continue
        measured = _oversized(stats[feature.name], domain)
        if not measured:
            continue
        rows, shown = measured
        info = _info(anomalies, feature.name)
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
    counts = stats_view.value_counts(feature_stats)
    shown = sum(n for k, n in counts.items() if k not in domain and (k == LARGE_VALUE or len(k.encode()) > LARGE_VALUE_BYTES))
    if shown:
        return int(shown), True
    longest_domain_value = max((len(v.encode()) for v in domain), default=0)
    values = stats_view.common(feature_stats).tot_num_values
    unseen = values - sum(counts.values())
    unseen_bytes = feature_stats.string_stats.avg_length * values - sum(len(k.encode()) * n for k, n in counts.items())
    if unseen < 0.5 or longest_domain_value >= LARGE_VALUE_BYTES or unseen_bytes / unseen <= LARGE_VALUE_BYTES:
        return None
    return max(1, int(round(unseen))), False


def string_domain(schema, feature) -> Optional[set]:
    """The values of a feature's string domain (inline or named), or None."""
    if feature.HasField("string_domain"):
        return set(feature.string_domain.value)
    if feature.domain:
        for domain in schema.string_domain:
            if domain.name == feature.domain:
                return set(domain.value)
    return None


def unexpected_value_fractions(anomalies, statistics, schema) -> Dict[str, float]:
    """The share of rows whose value lies outside the string domain, per anomalous feature."""
    stats = stats_view.by_name(statistics)
    total = stats_view.num_examples(statistics)
    result = {}
    for feature in schema.feature:
        info = anomalies.anomaly_info.get(feature.name)
        if not info or not total or not any(r.type == UNEXPECTED_STRING for r in info.reason):
            continue
        domain = string_domain(schema, feature)
        if domain is None or feature.name not in stats:
            continue
        counts = stats_view.value_counts(stats[feature.name])
        result[feature.name] = sum(n for value, n in counts.items() if value not in domain) / total
    return result


def _scale_ratio(baseline, current) -> Optional[Tuple[float, float, float]]:
    """(max(r, 1/r) of the median ratio r of matched deciles of one sign, the share of those
    deciles that moved past the threshold in r's direction, the interquartile range of their log
    ratios), or None if too few match."""
    base, cur = stats_view.deciles(baseline), stats_view.deciles(current)
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
    logs = sorted(math.log(r) for r in ratios)
    spread = pystats.quantiles(logs, n=4, method="inclusive")
    return max(ratio, 1 / ratio), agreeing / len(ratios), spread[2] - spread[0]


def scale_shifts(anomalies, baseline, current, schema, check: str, environment: str, checks: Checks) -> List[dict]:
    """Measures the scale of every feature with a Jensen-Shannon comparator; flags large shifts.
    Returns every measurement, under the threshold too."""
    base_stats, cur_stats = stats_view.by_name(baseline), stats_view.by_name(current)
    in_env = features_in(schema, environment)
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
        ratio, agreement, spread = measured
        measurement = {"check": check, "feature": name, "type": SCALE_SHIFT, "value": ratio,
                       "threshold": SCALE_SHIFT_MAX_RATIO, "spread": spread}
        measurements.append(measurement)
        if ratio < SCALE_SHIFT_MAX_RATIO or agreement < SCALE_SHIFT_AGREEMENT or spread > SCALE_SHIFT_SPREAD:
            continue
        histogram = stats_view.quantiles(base_stats[name])
        n = int(stats_view.common(cur_stats[name]).num_non_missing)
        measurement["noise"] = noise.scale_noise(histogram, n, name) if histogram else None
        if not noise.ratio_stands(ratio, SCALE_SHIFT_MAX_RATIO, measurement["noise"]):
            measurement["within_noise"] = True
            continue
        side = "serving and training" if check == SKEW else "current and previous span"
        _info(anomalies, name).reason.add(
            type=CUSTOM_VALIDATION,
            short_description="Scale shift",
            description=(
                f"The deciles of {side} differ by a factor of {ratio:.3g} (median over deciles; "
                f"{agreement:.0%} of them moved past {SCALE_SHIFT_MAX_RATIO}): a change of units?"
            ),
        )
        checks.setdefault(name, {})[CUSTOM_VALIDATION] = check
    return measurements
