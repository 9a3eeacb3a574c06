"""The checks no whole-column distance makes, on two profiles (core/profile.py): the batch's and
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

Every measurement is noise-aware (core/noise.py): a finding stands only beyond both its
threshold (an effect a person cares about) and what a batch of this size drawn from the baseline
gives by chance. Sample sizes are effective ones: rows times the share of distinct rows, so
duplicated rows do not make a small batch look large.
"""

import dataclasses
from typing import List, Optional, Tuple

import numpy as np

from core import names, noise, profile as profile_lib
from core.check_settings import PSI, WASSERSTEIN, CheckSettings
from core.findings import DEGENERATE, FILL_RATE, SKEW, TAILS, Finding
from core.profile import FeatureProfile, Profile
from core.schema_files import features_in

CONSTANT, PRECISION, DISTINCT_COLLAPSE, TOP_SHARE = "constant", "precision", "distinct_collapse", "top_share"

MIN_ROWS = 10  # effective rows below which no degenerate check is made
CONSTANT_CHANCE = 1e-6  # a constant column stands when drawing it from the baseline is less likely
MEASUREMENT_MIN_DISTINCT = 20  # fewer distinct values in the baseline: a code, not a measurement
CODE_MAX_DISTINCT = 100  # whole numbers with at most this many distinct values: codes (hours, areas)
PRECISION_MIN = 0.6  # the least drop of the share of distinct values as fine as the baseline's typical place
PRECISION_MIN_DISTINCT = 5
COLLAPSE_FACTOR = 3.0  # distinct values at most a third of what the baseline's would give
COLLAPSE_MIN_GAP = 10
TOP_SHARE_MIN = 0.25  # the top value's share at least this far above its baseline share
SIGNIFICANCE = 1e-6  # binomial tail probability below which a share is not chance
TAIL_LOW, TAIL_HIGH = 0.001, 0.999
TAIL_MIN_BASELINE = 1000  # below this many baseline values, its range bounds the tails
TAILS_MIN_SHARE = 0.01  # at least 1 % of rows beyond the baseline's bounds...
TAILS_FACTOR = 5.0  # ...and five times the baseline's own share there
SLICE_MIN_ROWS = 50
SLICE_FILL_DROP = 0.1  # a slice's fill rate this far below the same slice in the baseline


@dataclasses.dataclass
class Outcome:
    findings: List[Finding] = dataclasses.field(default_factory=list)
    measurements: List[dict] = dataclasses.field(default_factory=list)
    skipped: List[dict] = dataclasses.field(default_factory=list)  # slices too small: {slice, rows, why}

    def extend(self, other: "Outcome") -> None:
        self.findings += other.findings
        self.measurements += other.measurements
        self.skipped += other.skipped


def labels(schema) -> List[str]:
    """The schema's labels: features of TRAINING that are absent when SERVING."""
    return sorted(features_in(schema, names.TRAINING) - features_in(schema, names.SERVING))


def effective(profile: Profile) -> float:
    """The share of distinct rows: a batch of duplicated rows holds less evidence than its size."""
    if not profile.rows:
        return 1.0
    return min(1.0, max(profile.distinct_rows, 1) / profile.rows)


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
        outcome.extend(_constant_labels(current, labels(schema)))
    if baseline is None:
        return outcome
    by_name = {f.name: f for f in schema.feature}
    f_cur, f_base = effective(current), effective(baseline)
    for name in sorted(in_env):
        cur, base = current.features.get(name), baseline.features.get(name)
        if cur is None or base is None or not cur.numeric or not base.numeric:
            continue
        if name not in labels(schema) or environment != names.TRAINING or cur.distinct != 1:
            outcome.extend(_degenerate(name, cur, base, by_name[name], f_cur, kind))
        if _compared(by_name[name], kind):
            outcome.extend(_tails(name, cur, base, f_cur, kind))
        for test, threshold in settings.tests.get(name, {}).items():
            outcome.extend(_test(test, threshold, name, cur, base, f_cur, kind))
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
    """One numeric column (or a part of a rule that reads one, core/rule_cause.py) against its
    baseline by this module's checks: degenerate columns, and with `distributions` the tails and
    the Jensen-Shannon divergence of the quantiles histograms beyond `js_threshold` and the noise.

    feature: the schema's feature (None: none, the column is a measurement if its values say so)."""
    if feature is None:
        from tensorflow_metadata.proto.v0 import schema_pb2

        feature = schema_pb2.Feature(name=name)
    outcome = _degenerate(name, cur, base, feature, f_cur, kind)
    if not distributions or outcome.findings:
        return outcome
    outcome.extend(_tails(name, cur, base, f_cur, kind))
    if outcome.findings:
        return outcome
    histogram = base.quantiles_histogram()
    value = noise.jensen_shannon(histogram, cur.quantiles_histogram())
    measurement = _measured(kind, name, "JENSEN_SHANNON_DIVERGENCE", value, js_threshold)
    outcome.measurements.append(measurement)
    if value > js_threshold:
        measurement["noise"] = js_noise(base, cur.present * f_cur, name)
        if noise.stands(value, js_threshold, measurement["noise"]):
            outcome.findings.append(Finding(
                feature=name, types=["COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH"], check=kind, value=value,
                threshold=js_threshold, noise=measurement["noise"],
                description=f"the Jensen-Shannon divergence between {_side(kind)} is {value:.3g}, above {js_threshold:.3g}"))
    return outcome


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


def _constant_labels(current: Profile, label_names: List[str]) -> Outcome:
    outcome = Outcome()
    f_cur = effective(current)
    for name in label_names:
        cur = current.features.get(name)
        if cur is None or cur.distinct != 1 or cur.present * f_cur < MIN_ROWS:
            continue
        value, _ = cur.top()
        outcome.findings.append(Finding(
            feature=name, types=["LABEL_CONSTANT"], check=DEGENERATE, rule=CONSTANT, fraction=1.0,
            description=(f"The label holds one value ({_show(value)}) in all {cur.present} rows with a value: "
                         "a model cannot learn anything from it.")))
    return outcome


def _degenerate(name: str, cur: FeatureProfile, base: FeatureProfile, feature, f_cur: float, kind: str) -> Outcome:
    outcome = Outcome()
    rows = cur.present * f_cur
    if rows < MIN_ROWS or not base.present or not _measurement(base, feature):
        return outcome
    against = _against(kind)
    if cur.distinct == 1:
        value, _ = cur.top()
        shares = base.counts / base.present
        chance = float(np.sum(shares ** rows))
        outcome.measurements.append(_measured(kind, name, CONSTANT, 1.0, CONSTANT_CHANCE, chance=chance))
        if chance < CONSTANT_CHANCE:
            top_share = base.counts.max() / base.present
            outcome.findings.append(Finding(
                feature=name, types=["FEATURE_CONSTANT"], check=DEGENERATE, rule=CONSTANT, fraction=1.0,
                description=(f"Every one of {cur.present} rows holds {_show(value)}, where {against} has "
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
    measurement = _measured(kind, name, PRECISION, drop, PRECISION_MIN, noise_level=fine_noise)
    if not noise.stands(drop, PRECISION_MIN, fine_noise):
        return measurement, None
    cur_whole = sum(v for k, v in cur_levels.items() if k >= 0)
    base_whole = sum(v for k, v in base_levels.items() if k >= 0)
    description = (f"The values lost precision: {fine_cur:.0%} of its {distinct} distinct values are as fine as "
                   f"{_place(typical)}, against {fine_base:.0%} in {_against(kind)}; {cur_whole:.0%} are whole "
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
    measurement = _measured(kind, name, DISTINCT_COLLAPSE, expected / distinct, COLLAPSE_FACTOR)
    if distinct * COLLAPSE_FACTOR > expected or expected - distinct < COLLAPSE_MIN_GAP:
        return measurement, None
    description = (f"{cur.present} rows hold only {distinct} distinct values between {_show(low)} and {_show(high)}; "
                   f"as many rows drawn from {_against(kind)} over that range would hold about {expected:.0f}.")
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
    measurement = _measured(kind, name, TOP_SHARE, jump, TOP_SHARE_MIN)
    chance = binom.sf(share * rows - 1, int(rows), max(base_share, 1.0 / within.present))
    if jump < TOP_SHARE_MIN or chance >= SIGNIFICANCE:
        return measurement, None
    description = (f"{_show(value)} holds {share:.0%} of rows, against {base_share:.1%} in {_against(kind)} over "
                   f"the same range: a default or placeholder value?")
    return measurement, Finding(feature=name, types=["FEATURE_TOP_VALUE_SHARE_HIGH"], check=DEGENERATE, rule=TOP_SHARE,
                                fraction=share, value=jump, threshold=TOP_SHARE_MIN, description=description)


# ---- tails ---------------------------------------------------------------------------------------

def tail_bounds(base: FeatureProfile) -> Tuple[float, float, str]:
    """(low, high, what they are) beyond which a value is in the baseline's tails."""
    if base.present < TAIL_MIN_BASELINE:
        return float(base.values[0]), float(base.values[-1]), "range"
    return base.quantile(TAIL_LOW), base.quantile(TAIL_HIGH), "0.1%-99.9% quantiles"


def _tails(name, cur: FeatureProfile, base: FeatureProfile, f_cur: float, kind: str, slice_name=None) -> Outcome:
    from scipy.stats import binom

    outcome = Outcome()
    if not cur.present or not base.present:
        return outcome
    low, high, what = tail_bounds(base)
    beyond = cur.rows_outside(low, high)
    share = beyond / cur.present
    # What a clean batch puts there: the baseline's own share, at least what the bounds promise
    # (0.2 % beyond two quantiles; 2 / (m + 1) beyond the range of m values).
    promised = 2.0 / (base.present + 1) if what == "range" else 2 * TAIL_LOW
    base_share = max(base.rows_outside(low, high) / base.present, promised)
    outcome.measurements.append(_measured(kind, name, TAILS, share, TAILS_MIN_SHARE, slice_name=slice_name))
    rows = cur.present * f_cur
    if share < TAILS_MIN_SHARE or share < TAILS_FACTOR * base_share:
        return outcome
    if binom.sf(share * rows - 1, max(int(rows), 1), base_share) >= SIGNIFICANCE:
        return outcome
    extreme = cur.values[(cur.values < low) | (cur.values > high)]
    far = extreme[np.argmax(np.abs(extreme - (low + high) / 2))]
    where = f" in slice {slice_name}" if slice_name else ""
    outcome.findings.append(Finding(
        feature=name, types=["FEATURE_TAIL_SHARE_HIGH"], check=TAILS, fraction=share, value=share,
        threshold=TAILS_MIN_SHARE, slice=slice_name,
        description=(f"{share:.1%} of rows{where} ({beyond}) lie beyond {_against(kind)}'s {what} "
                     f"[{_show(low)}, {_show(high)}], where it has {base_share:.2%}; the farthest is {_show(float(far))}. "
                     "A change of units in part of the rows?")))
    return outcome


# ---- PSI and Wasserstein -------------------------------------------------------------------------

def psi(base: FeatureProfile, cur_values: np.ndarray, cur_counts: np.ndarray) -> float:
    """The population stability index over the baseline's deciles (shares floored at 1e-4)."""
    edges = np.unique([base.quantile(q) for q in np.linspace(0.1, 0.9, 9)])
    base_bins = np.bincount(np.searchsorted(edges, base.values, side="left"), weights=base.counts,
                            minlength=len(edges) + 1)
    cur_bins = np.bincount(np.searchsorted(edges, cur_values, side="left"), weights=cur_counts,
                           minlength=len(edges) + 1)
    b = np.maximum(base_bins / base_bins.sum(), 1e-4)
    c = np.maximum(cur_bins / max(cur_bins.sum(), 1), 1e-4)
    return float(np.sum((c - b) * np.log(c / b)))


def wasserstein(base: FeatureProfile, cur_values: np.ndarray, cur_counts: np.ndarray) -> Optional[float]:
    """The Wasserstein-1 distance divided by the baseline's standard deviation (None if it is 0),
    both sides clipped to the baseline's 0.1 %-99.9 % quantiles: one 1,710-mile trip must not
    decide it (values beyond are the tails check's)."""
    low, high = base.quantile(TAIL_LOW), base.quantile(TAIL_HIGH)
    base = _clipped(base.values, base.counts, low, high)
    cur_values, cur_counts = _clipped(cur_values, cur_counts, low, high, profile=False)
    mean = np.average(base.values, weights=base.counts)
    spread = float(np.sqrt(np.average((base.values - mean) ** 2, weights=base.counts)))
    if spread == 0 or not cur_counts.sum():
        return None
    support = np.union1d(base.values, cur_values)
    cdf_base = np.cumsum(base.counts)[np.searchsorted(base.values, support, side="right") - 1] / base.counts.sum()
    cdf_base[support < base.values[0]] = 0.0
    cur_cumulative = np.cumsum(cur_counts)
    index = np.searchsorted(cur_values, support, side="right") - 1
    cdf_cur = np.where(index >= 0, cur_cumulative[np.maximum(index, 0)], 0) / cur_counts.sum()
    return float(np.sum(np.abs(cdf_base - cdf_cur)[:-1] * np.diff(support)) / spread)


def _clipped(values, counts, low, high, profile=True):
    clipped, inverse = np.unique(np.clip(values, low, high), return_inverse=True)
    summed = np.bincount(inverse, weights=counts, minlength=len(clipped)).astype(np.int64)
    if not profile:
        return clipped, summed
    result = FeatureProfile("float", int(summed.sum()))
    result.values, result.counts = clipped, summed
    return result


_TESTS = {PSI: psi, WASSERSTEIN: wasserstein}


def statistic_noise(test: str, base: FeatureProfile, rows: float, key: str) -> Optional[float]:
    """The QUANTILE of a test's statistic between the baseline and `rows` values drawn from it."""
    n = int(min(max(rows, 1), noise.MAX_ROWS))
    shares = base.counts / base.counts.sum()
    drawn = np.random.default_rng([noise.SEED, sum(key.encode()) % 2**31]).multinomial(n, shares, size=noise.DRAWS)
    values = [_TESTS[test](base, base.values, counts) for counts in drawn]
    values = [v for v in values if v is not None]
    return float(np.quantile(values, noise.QUANTILE)) if values else None


def _test(test: str, threshold: float, name, cur: FeatureProfile, base: FeatureProfile, f_cur: float,
          kind: str) -> Outcome:
    outcome = Outcome()
    value = _TESTS[test](base, cur.values, cur.counts)
    if value is None:
        return outcome
    measurement = _measured(kind, name, test.upper(), value, threshold)
    outcome.measurements.append(measurement)
    if value <= threshold:
        return outcome
    measurement["noise"] = statistic_noise(test, base, cur.present * f_cur, f"{test}:{name}")
    if not noise.stands(value, threshold, measurement["noise"]):
        measurement["within_noise"] = True
        return outcome
    label = "population stability index" if test == PSI else "Wasserstein distance (in standard deviations)"
    outcome.findings.append(Finding(
        feature=name, types=[f"COMPARATOR_{test.upper()}_HIGH"], check=kind, rule=test, value=value,
        threshold=threshold, noise=measurement["noise"],
        description=f"The {label} between {_side(kind)} is {value:.3g}, above {threshold:.3g}."))
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
                    outcome.extend(_tails(feature.name, cur, base, f_cur, kind, slice_name=name))
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
    measurement = _measured(kind, feature.name, label, value, threshold, slice_name=slice_name)
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
        description=f"In slice {slice_name}, the {name} between {_side(kind)} is {value:.3g}, above {threshold:.3g}."))
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
                     f"same slice in {_against(kind)}; the schema expects at least {floor:.1%}.")))
    return outcome


# ---- helpers -------------------------------------------------------------------------------------

def _measured(kind: str, feature: str, kind_of_check: str, value: float, threshold: float, slice_name=None,
              noise_level=None, chance=None) -> dict:
    measurement = {"check": kind, "feature": feature, "type": kind_of_check.upper(), "value": float(value),
                   "threshold": float(threshold)}
    if slice_name:
        measurement["slice"] = slice_name
    if noise_level is not None:
        measurement["noise"] = float(noise_level)
    if chance is not None:
        measurement["chance"] = float(chance)
    return measurement


def _against(kind: str) -> str:
    return "training data" if kind == SKEW else "the previous accepted span"


def _side(kind: str) -> str:
    return "serving and training" if kind == SKEW else "this span and the previous accepted one"


def _show(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)


def _place(level: int) -> str:
    if level <= -7:
        return "beyond 10^-6"
    return "1" if level == 0 else f"10^{level}"
