"""Tails, PSI and Wasserstein on two profiles, noise-aware; see core/checks/profile_checks.py."""

from typing import Optional, Tuple

import numpy as np

from core.statistics import noise
from core.settings.check_settings import PSI, WASSERSTEIN
from core.common.findings import TAILS, Finding
from core.statistics.profile import FeatureProfile
from core.checks.profile_terms import (
    Outcome, SIGNIFICANCE, TAILS_FACTOR, TAILS_MIN_SHARE, TAIL_HIGH, TAIL_LOW, TAIL_MIN_BASELINE, against, measured,
    show, side)


# ---- tails ---------------------------------------------------------------------------------------

def tail_bounds(base: FeatureProfile) -> Tuple[float, float, str]:
    """(low, high, what they are) beyond which a value is in the baseline's tails."""
    if base.present < TAIL_MIN_BASELINE:
        return float(base.values[0]), float(base.values[-1]), "range"
    return base.quantile(TAIL_LOW), base.quantile(TAIL_HIGH), "0.1%-99.9% quantiles"


def tails(name, cur: FeatureProfile, base: FeatureProfile, f_cur: float, kind: str, slice_name=None) -> Outcome:
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
    outcome.measurements.append(measured(kind, name, TAILS, share, TAILS_MIN_SHARE, slice_name=slice_name))
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
        description=(f"{share:.1%} of rows{where} ({beyond}) lie beyond {against(kind)}'s {what} "
                     f"[{show(low)}, {show(high)}], where it has {base_share:.2%}; the farthest is {show(float(far))}. "
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


def distance_test(test: str, threshold: float, name, cur: FeatureProfile, base: FeatureProfile, f_cur: float,
          kind: str) -> Outcome:
    outcome = Outcome()
    value = _TESTS[test](base, cur.values, cur.counts)
    if value is None:
        return outcome
    measurement = measured(kind, name, test.upper(), value, threshold)
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
        description=f"The {label} between {side(kind)} is {value:.3g}, above {threshold:.3g}."))
    return outcome
