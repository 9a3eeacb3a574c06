"""Degenerate columns (`check: degenerate`): constant, rounded, collapsed or taken over by one
value, against the baseline; see core/checks/profile_checks.py."""

from typing import List

import numpy as np

from core.statistics import noise
from core.common.findings import DEGENERATE, Finding
from core.statistics.profile import FeatureProfile, Profile
from core.checks.profile_terms import (
    CODE_MAX_DISTINCT, COLLAPSE_FACTOR, COLLAPSE_MIN_GAP, CONSTANT, CONSTANT_CHANCE, DISTINCT_COLLAPSE,
    MEASUREMENT_MIN_DISTINCT, MIN_ROWS, PRECISION, PRECISION_MIN, PRECISION_MIN_DISTINCT, SIGNIFICANCE,
    TOP_SHARE, TOP_SHARE_MIN, Outcome, against, effective, measured, place, show)


# ---- degenerate columns --------------------------------------------------------------------------

def _measurement(base: FeatureProfile, feature) -> bool:
    """Whether a feature is a measurement, whose batches should vary like the baseline: numeric,
    not declared categorical, with many distinct values that are not just whole-number codes
    (an hour, a weekday, an area number: one batch may legitimately hold one of them)."""
    if feature.HasField("int_domain") and feature.int_domain.is_categorical:
        return False
    return not code_values(base.values)


def code_values(values: np.ndarray) -> bool:
    """Whether a numeric column's distinct values (the baseline's) are those of a code, not of a
    measurement: fewer than MEASUREMENT_MIN_DISTINCT, or whole numbers, at most CODE_MAX_DISTINCT.
    A few dozen temperatures to a tenth of a degree are a measurement."""
    distinct = len(values)
    if distinct < MEASUREMENT_MIN_DISTINCT:
        return True
    integral = bool(np.all(values == np.round(values)))
    return integral and distinct <= CODE_MAX_DISTINCT


def constant_labels(current: Profile, label_names: List[str]) -> Outcome:
    outcome = Outcome()
    f_cur = effective(current)
    for name in label_names:
        cur = current.features.get(name)
        if cur is None or cur.distinct != 1 or cur.present * f_cur < MIN_ROWS:
            continue
        value, _ = cur.top()
        outcome.findings.append(Finding(
            feature=name, types=["LABEL_CONSTANT"], check=DEGENERATE, rule=CONSTANT, fraction=1.0,
            description=(f"The label holds one value ({show(value)}) in all {cur.present} rows with a value: "
                         "a model cannot learn anything from it.")))
    return outcome


def degenerate(name: str, cur: FeatureProfile, base: FeatureProfile, feature, f_cur: float, kind: str) -> Outcome:
    outcome = Outcome()
    rows = cur.present * f_cur
    if rows < MIN_ROWS or not base.present or not _measurement(base, feature):
        return outcome
    baseline_name = against(kind)
    if cur.distinct == 1:
        value, _ = cur.top()
        shares = base.counts / base.present
        chance = float(np.sum(shares ** rows))
        outcome.measurements.append(measured(kind, name, CONSTANT, 1.0, CONSTANT_CHANCE, chance=chance))
        if chance < CONSTANT_CHANCE:
            top_share = base.counts.max() / base.present
            outcome.findings.append(Finding(
                feature=name, types=["FEATURE_CONSTANT"], check=DEGENERATE, rule=CONSTANT, fraction=1.0,
                description=(f"Every one of {cur.present} rows holds {show(value)}, where {baseline_name} has "
                             f"{base.distinct} distinct values (the most common in {top_share:.0%} of rows).")))
        return outcome
    for test in (_precision, _collapse, _top_share):
        found = test(name, cur, base, rows, kind)
        if found is None:
            continue
        measurement, finding = found
        outcome.measurements.append(measurement)
        if finding is not None:
            outcome.findings.append(finding)
            break
    return outcome


def _precision(name, cur: FeatureProfile, base: FeatureProfile, rows: float, kind: str):
    """Loss of precision: the share of distinct values at least as fine as the baseline's typical
    decimal place (its median level) fell sharply. Only a loss counts: finer values are not a
    defect, and a tariff grid moving from 5 to 25 cents moves the share by half, not by most."""
    if cur.digits is not None or base.digits is not None:
        return None
    cur_levels, base_levels = cur.level_shares(), base.level_shares()
    distinct = int(np.sum(cur.values != 0))
    if distinct < PRECISION_MIN_DISTINCT or not base_levels:
        return None
    cumulative, typical = 0.0, min(base_levels)
    for level in sorted(base_levels):
        cumulative += base_levels[level]
        if cumulative >= 0.5:
            typical = level
            break
    fine_base = sum(v for k, v in base_levels.items() if k <= typical)
    fine_cur = sum(v for k, v in cur_levels.items() if k <= typical)
    drop = fine_base - fine_cur
    fine_noise = noise.linf_noise({"fine": fine_base, "coarse": 1.0 - fine_base}, distinct, "precision:" + name)
    measurement = measured(kind, name, PRECISION, drop, PRECISION_MIN, noise_level=fine_noise)
    if not noise.stands(drop, PRECISION_MIN, fine_noise):
        return measurement, None
    cur_whole = sum(v for k, v in cur_levels.items() if k >= 0)
    base_whole = sum(v for k, v in base_levels.items() if k >= 0)
    description = (f"The values lost precision: {fine_cur:.0%} of its {distinct} distinct values are as fine as "
                   f"{place(typical)}, against {fine_base:.0%} in {against(kind)}; {cur_whole:.0%} are whole "
                   f"numbers, against {base_whole:.0%} (were they rounded?).")
    return measurement, Finding(feature=name, types=["FEATURE_PRECISION_LOST"], check=DEGENERATE, rule=PRECISION,
                                value=drop, threshold=PRECISION_MIN, noise=fine_noise, description=description)


def _collapse(name, cur: FeatureProfile, base: FeatureProfile, rows: float, kind: str):
    low, high = float(cur.values[0]), float(cur.values[-1])
    within = base.within(low, high)
    if within.present < 30 or within.distinct < COLLAPSE_MIN_GAP:
        return None
    shares = within.counts / within.present
    expected = float(np.sum(1.0 - (1.0 - shares) ** rows))
    distinct = cur.distinct
    measurement = measured(kind, name, DISTINCT_COLLAPSE, expected / distinct, COLLAPSE_FACTOR)
    if distinct * COLLAPSE_FACTOR > expected or expected - distinct < COLLAPSE_MIN_GAP:
        return measurement, None
    description = (f"{cur.present} rows hold only {distinct} distinct values between {show(low)} and {show(high)}; "
                   f"as many rows drawn from {against(kind)} over that range would hold about {expected:.0f}.")
    return measurement, Finding(feature=name, types=["FEATURE_DISTINCT_VALUES_COLLAPSED"], check=DEGENERATE,
                                rule=DISTINCT_COLLAPSE, value=expected / distinct, threshold=COLLAPSE_FACTOR,
                                description=description)


def _top_share(name, cur: FeatureProfile, base: FeatureProfile, rows: float, kind: str):
    from scipy.stats import binom

    value, count = cur.top()
    within = base.within(float(cur.values[0]), float(cur.values[-1]))
    if within.present < 30:
        return None
    share = count / cur.present
    base_share = within.value_counts().get(value, 0) / within.present
    jump = share - base_share
    measurement = measured(kind, name, TOP_SHARE, jump, TOP_SHARE_MIN)
    chance = binom.sf(share * rows - 1, int(rows), max(base_share, 1.0 / within.present))
    if jump < TOP_SHARE_MIN or chance >= SIGNIFICANCE:
        return measurement, None
    description = (f"{show(value)} holds {share:.0%} of rows, against {base_share:.1%} in {against(kind)} over "
                   f"the same range: a default or placeholder value?")
    return measurement, Finding(feature=name, types=["FEATURE_TOP_VALUE_SHARE_HIGH"], check=DEGENERATE, rule=TOP_SHARE,
                                fraction=share, value=jump, threshold=TOP_SHARE_MIN, description=description)
