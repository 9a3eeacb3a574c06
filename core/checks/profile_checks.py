"""The checks no whole-column distance makes, on two profiles (core/statistics/profile.py): the batch's and
its baseline's (the previous accepted span for drift, the training data for skew).

- **Degenerate columns** (`check: degenerate`), on numeric features that are measurements (not
  codes: see `_measurement`), one finding per feature, the first that stands of:
  `constant` (one value in every row, where drawing this many rows from the baseline would
  almost surely give several); `precision` (the decimal precision of the distinct values
  changed: values rounded); `distinct_collapse` (far fewer distinct values than rows drawn from
  the baseline, over the same range, would give); `top_share` (one value's share jumped far above
  its baseline share over the same range). In TRAINING a label (a feature absent when serving)
  with one value in every row is a finding even without a baseline: nothing can be learned.
- **Tails** (`check: tails`): the share of values beyond the baseline's 0.1 % and 99.9 %
  quantiles (its range, for a baseline under 1,000 values), against the share the baseline
  itself has there: a unit change in one category's rows dilutes every batch-wide distance, but
  puts those rows far beyond anything the baseline had.
- **PSI and Wasserstein** (`check: drift|skew`, `rule: psi|wasserstein`), where checks.yaml asks.
- **Slices** (checks.yaml): per slice present in both profiles, the schema's comparators (TFDV's
  distances on the slice's histograms), tails and fill rates; a finding names its slice. A
  slice with fewer than SLICE_MIN_ROWS rows on either side is skipped, and the report says so.

Every measurement is noise-aware (core/statistics/noise.py): a finding stands only beyond both its
threshold (an effect a person cares about) and what a batch of this size drawn from the baseline
gives by chance. Sample sizes are effective ones: rows times the share of distinct rows, so
duplicated rows do not make a small batch look large.
"""

from typing import List, Optional

import numpy as np

from core.common import names
from core.statistics import noise
from core.statistics import profile as profile_lib
from core.settings.check_settings import CheckSettings
from core.common.findings import FILL_RATE, SKEW, Finding
from core.statistics.profile import FeatureProfile, Profile
from core.settings.schema_files import features_in
from core.checks.degenerate import code_values, constant_labels, degenerate  # noqa: F401 (code_values: rule_cause)
from core.checks.distances import distance_test, tails
from core.checks.profile_terms import (SIGNIFICANCE, SLICE_FILL_DROP, SLICE_MIN_ROWS, Outcome, against, effective,
                                       measured, side)

def labels(schema) -> List[str]:
    """The schema's labels: features of TRAINING that are absent when SERVING."""
    return sorted(features_in(schema, names.TRAINING) - features_in(schema, names.SERVING))


def check(current: Profile, baseline: Optional[Profile], schema, environment: str, kind: str,
          settings: CheckSettings, label_check: bool = True) -> Outcome:
    """Every check of this module on `current`, against `baseline` as `kind` (drift or skew).

    Without a baseline, only the label check runs (in TRAINING, when `label_check`)."""
    outcome = Outcome()
    current.settle()
    if baseline is not None:
        baseline.settle()
    in_env = features_in(schema, environment)
    if environment == names.TRAINING and label_check:
        outcome.extend(constant_labels(current, labels(schema)))
    if baseline is None:
        return outcome
    by_name = {f.name: f for f in schema.feature}
    f_cur, f_base = effective(current), effective(baseline)
    for name in sorted(in_env):
        cur, base = current.features.get(name), baseline.features.get(name)
        if cur is None or base is None or not cur.numeric or not base.numeric:
            continue
        if name not in labels(schema) or environment != names.TRAINING or cur.distinct != 1:
            outcome.extend(degenerate(name, cur, base, by_name[name], f_cur, kind))
        if _compared(by_name[name], kind):
            outcome.extend(tails(name, cur, base, f_cur, kind))
        for test, threshold in settings.tests.get(name, {}).items():
            outcome.extend(distance_test(test, threshold, name, cur, base, f_cur, kind))
    sliced = _slices(current, baseline, schema, environment, kind, settings, f_cur, f_base)
    whole = {(f.feature, tuple(f.types)) for f in outcome.findings}
    # A slice adds news only where the whole batch did not already find the same thing.
    sliced.findings = [f for f in sliced.findings if (f.feature, tuple(f.types)) not in whole]
    outcome.extend(sliced)
    return outcome


def _compared(feature, kind: str) -> bool:
    """Whether the schema compares this feature's distribution for `kind` (a comparator with a
    threshold): the features whose tails are judged. Hours, days and timestamps have none, as
    their values legitimately follow the window a batch covers."""
    comparator = feature.skew_comparator if kind == SKEW else feature.drift_comparator
    return bool(comparator.jensen_shannon_divergence.threshold or comparator.infinity_norm.threshold)


def compared(feature, kind: str) -> bool:
    """Whether the schema compares this feature's distribution for `kind` (see `_compared`)."""
    return _compared(feature, kind)


def judge_column(name: str, cur: FeatureProfile, base: FeatureProfile, feature, f_cur: float, kind: str,
                 distributions: bool, js_threshold: float) -> Outcome:
    """One numeric column (or a part of a rule that reads one, core/checks/rule_cause.py) against its
    baseline by this module's checks: degenerate columns, and with `distributions` the tails and
    the Jensen-Shannon divergence of the quantiles histograms beyond `js_threshold` and the noise.

    feature: the schema's feature (None: none, the column is a measurement if its values say so)."""
    if feature is None:
        from tensorflow_metadata.proto.v0 import schema_pb2

        feature = schema_pb2.Feature(name=name)
    outcome = degenerate(name, cur, base, feature, f_cur, kind)
    if not distributions or outcome.findings:
        return outcome
    outcome.extend(tails(name, cur, base, f_cur, kind))
    if outcome.findings:
        return outcome
    histogram = base.quantiles_histogram()
    value = noise.jensen_shannon(histogram, cur.quantiles_histogram())
    measurement = measured(kind, name, "JENSEN_SHANNON_DIVERGENCE", value, js_threshold)
    outcome.measurements.append(measurement)
    if value > js_threshold:
        measurement["noise"] = js_noise(base, cur.present * f_cur, name)
        if noise.stands(value, js_threshold, measurement["noise"]):
            outcome.findings.append(Finding(
                feature=name, types=["COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH"], check=kind, value=value,
                threshold=js_threshold, noise=measurement["noise"],
                description=f"the Jensen-Shannon divergence between {side(kind)} is {value:.3g}, above {js_threshold:.3g}"))
    return outcome


# ---- slices --------------------------------------------------------------------------------------

def _slices(current: Profile, baseline: Profile, schema, environment, kind, settings: CheckSettings,
            f_cur: float, f_base: float) -> Outcome:
    outcome = Outcome()
    in_env = features_in(schema, environment)
    for key in settings.slices:
        ours = sorted(((s.rows, n) for n, s in current.slices.items() if s.key == key.feature), reverse=True)
        for rank, (rows, name) in enumerate(ours):
            base_slice = baseline.slices.get(name)
            base_rows = base_slice.rows if base_slice else 0
            if rank >= key.top:
                outcome.skipped.append({"slice": name, "rows": rows, "why": f"beyond the {key.top} largest slices"})
                continue
            if rows * f_cur < SLICE_MIN_ROWS or base_rows * f_base < SLICE_MIN_ROWS:
                small = min(rows * f_cur, base_rows * f_base)
                level = noise.linf_noise({"a": 1.0, "b": 1.0}, max(int(small), 1), "slice")
                outcome.skipped.append({
                    "slice": name, "rows": rows, "baseline_rows": base_rows,
                    "why": (f"too small for its noise: {int(small)} rows on the smaller side, where sampling noise "
                            f"alone moves a share by up to {level:.2f} (under {SLICE_MIN_ROWS} rows, not judged)")})
                continue
            for feature in schema.feature:
                if feature.name not in in_env or feature.name == key.feature:
                    continue
                cur = current.slices[name].features.get(feature.name)
                base = base_slice.features.get(feature.name)
                if cur is None or base is None:
                    continue
                outcome.extend(_slice_comparator(feature, kind, name, cur, base, f_cur))
                outcome.extend(_slice_fill(feature, kind, name, cur, base, rows, base_rows, f_cur))
                if cur.numeric and cur.present and base.present and _compared(feature, kind):
                    outcome.extend(tails(feature.name, cur, base, f_cur, kind, slice_name=name))
    return outcome


def _slice_comparator(feature, kind, slice_name, cur: FeatureProfile, base: FeatureProfile, f_cur: float) -> Outcome:
    outcome = Outcome()
    comparator = feature.skew_comparator if kind == SKEW else feature.drift_comparator
    rows = cur.present * f_cur
    if not cur.present or not base.present:
        return outcome
    if comparator.HasField("jensen_shannon_divergence") and cur.numeric:
        threshold, label = comparator.jensen_shannon_divergence.threshold, "JENSEN_SHANNON_DIVERGENCE"
        histogram = base.quantiles_histogram()
        value = noise.jensen_shannon(histogram, cur.quantiles_histogram())
        level = lambda: js_noise(base, rows, f"{slice_name}:{feature.name}")  # noqa: E731
    elif comparator.HasField("infinity_norm"):
        threshold, label = comparator.infinity_norm.threshold, "L_INFTY"
        counts = base.value_counts()
        value = noise.linf(counts, cur.value_counts())
        level = lambda: noise.linf_noise(counts, int(rows), f"{slice_name}:{feature.name}")  # noqa: E731
    else:
        return outcome
    if not threshold:
        return outcome
    measurement = measured(kind, feature.name, label, value, threshold, slice_name=slice_name)
    outcome.measurements.append(measurement)
    if value <= threshold:
        return outcome
    measurement["noise"] = level()
    if not noise.stands(value, threshold, measurement["noise"]):
        measurement["within_noise"] = True
        return outcome
    name = "Jensen-Shannon divergence" if label != "L_INFTY" else "L-infinity distance"
    outcome.findings.append(Finding(
        feature=feature.name, types=[f"COMPARATOR_{'L_INFTY' if label == 'L_INFTY' else 'JENSEN_SHANNON_DIVERGENCE'}_HIGH"],
        check=kind, value=value, threshold=threshold, noise=measurement["noise"], slice=slice_name,
        description=f"In slice {slice_name}, the {name} between {side(kind)} is {value:.3g}, above {threshold:.3g}."))
    return outcome


def js_noise(base: FeatureProfile, rows: float, key: str) -> float:
    """The QUANTILE of the Jensen-Shannon divergence between the baseline's quantiles histogram and
    that of `rows` values drawn from its exact values (a slice's own distinct values and their
    repeats: latitudes of a few census-tract centroids make a small slice land farther than
    values spread uniformly within buckets would)."""
    n = int(min(max(rows, 1), noise.MAX_ROWS))
    histogram = base.quantiles_histogram()
    drawn = np.random.default_rng([noise.SEED, sum(key.encode()) % 2**31]).multinomial(
        n, base.counts / base.counts.sum(), size=noise.DRAWS)
    distances = [noise.jensen_shannon(histogram, profile_lib.quantiles_histogram(base.values, counts)) for counts in drawn]
    return float(np.quantile(distances, noise.QUANTILE))


def _slice_fill(feature, kind, slice_name, cur: FeatureProfile, base: FeatureProfile, rows: int, base_rows: int,
                f_cur: float) -> Outcome:
    from scipy.stats import binom

    outcome = Outcome()
    floor = feature.presence.min_fraction
    if not floor or feature.value_count.max != 1 or not rows or not base_rows:
        return outcome
    filled, base_filled = cur.present / rows, base.present / base_rows
    if filled + 1e-9 >= floor or filled > base_filled - SLICE_FILL_DROP:
        return outcome
    n = max(int(rows * f_cur), 1)
    if binom.cdf(filled * n, n, base_filled) >= SIGNIFICANCE:
        return outcome
    outcome.findings.append(Finding(
        feature=feature.name, types=["FEATURE_TYPE_LOW_FRACTION_PRESENT"], check=FILL_RATE, value=filled,
        threshold=floor, slice=slice_name,
        description=(f"In slice {slice_name}, only {filled:.1%} of rows have a value, against {base_filled:.1%} of the "
                     f"same slice in {against(kind)}; the schema expects at least {floor:.1%}.")))
    return outcome
