"""How far a clean batch of a given size lands from its baseline by sampling noise alone.

A fixed threshold ignores sample size: 50 clean rows move L-infinity and Jensen-Shannon a lot,
while a million rows move them by nothing. For each comparator and batch, this module draws
batches of the same size from the baseline's own statistics (deterministic: a fixed seed),
measures each with the same distance TFDV uses, and returns a high quantile of those distances:
the noise level. A comparator finding stands only when the measured distance exceeds both the
schema's threshold (the effect size a person cares about) and the noise level by a clear margin;
a large batch is judged by the threshold alone, since its noise level is tiny.

The distances are TFDV's own (tensorflow_data_validation/anomalies/metrics.cc):
- L-infinity: the largest difference of normalised value counts, over the union of values;
- Jensen-Shannon divergence of numeric features: both quantiles histograms aligned on the union
  of their bucket boundaries (mass spread uniformly within a bucket), point and infinite buckets
  kept apart, normalised, then (KL(P||M) + KL(Q||M)) / 2 with log base 2, capped at 1.
  (`tests/test_noise.py` checks both against TFDV's own measurements on real spans.)
A resampled batch gets a quantiles histogram as TFDV builds one: ten equal-mass buckets between
its own quantiles.
"""

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

SEED = 20261202
DRAWS = 100
# Above this many rows, the noise level of this many is used: an upper bound, already far below
# any threshold a schema sets (L-infinity about 0.03, Jensen-Shannon 0.05 to 0.12 on the sample).
MAX_ROWS = 2000
QUANTILE = 0.99
MARGIN = 1.75  # a distance counts as a change only beyond this multiple of the noise level
BUCKETS = 10  # TFDV's default number of quantiles histogram buckets

Histogram = List[Tuple[float, float, float]]  # (low, high, count) per bucket


# ---- TFDV's distances --------------------------------------------------------------------------

def linf(counts_a: Dict[str, float], counts_b: Dict[str, float]) -> float:
    """TFDV's L-infinity distance: the largest difference of normalised counts."""
    total_a, total_b = sum(counts_a.values()), sum(counts_b.values())
    if not total_a or not total_b:
        return 0.0
    keys = set(counts_a) | set(counts_b)
    return max(abs(counts_a.get(k, 0.0) / total_a - counts_b.get(k, 0.0) / total_b) for k in keys)


def _strip(histogram: Histogram):
    finite, points, infinite = [], {}, 0.0
    for low, high, count in histogram:
        if not (np.isfinite(low) and np.isfinite(high)):
            infinite += count
        elif low == high:
            points[low] = points.get(low, 0.0) + count
        else:
            finite.append((low, high, count))
    return finite, points, infinite


def _rebucket(boundaries: Sequence[float], histogram: Histogram) -> List[float]:
    """Counts of `histogram` in the buckets between consecutive `boundaries` (uniform within a bucket)."""
    if not histogram:
        return [0.0] * (len(boundaries) - 1)
    edges = np.asarray(boundaries, dtype=float)
    lows, highs, counts = (np.asarray(column, dtype=float) for column in zip(*histogram))
    # The cumulative mass at each boundary, every bucket spread uniformly over its width.
    covered = np.clip((edges[:, None] - lows[None, :]) / (highs - lows)[None, :], 0.0, 1.0)
    return list(np.diff(covered @ counts))


def _align(histogram_1: Histogram, histogram_2: Histogram) -> Tuple[np.ndarray, np.ndarray]:
    finite_1, points_1, inf_1 = _strip(histogram_1)
    finite_2, points_2, inf_2 = _strip(histogram_2)
    bounds_1 = {v for b in finite_1 for v in b[:2]}
    bounds_2 = {v for b in finite_2 for v in b[:2]}
    if bounds_1 != bounds_2:
        boundaries = sorted(bounds_1 | bounds_2)
        counts_1, counts_2 = _rebucket(boundaries, finite_1), _rebucket(boundaries, finite_2)
    else:
        counts_1, counts_2 = [b[2] for b in finite_1], [b[2] for b in finite_2]
    for point in sorted(set(points_1) | set(points_2)):
        counts_1.append(points_1.get(point, 0.0))
        counts_2.append(points_2.get(point, 0.0))
    if inf_1:
        counts_1 += [inf_1]
        counts_2 += [0.0]
    if inf_2:
        counts_1 += [0.0]
        counts_2 += [inf_2]
    return np.asarray(counts_1, dtype=float), np.asarray(counts_2, dtype=float)


def jensen_shannon(histogram_1: Histogram, histogram_2: Histogram) -> float:
    """TFDV's Jensen-Shannon divergence of two numeric histograms."""
    p, q = _align(histogram_1, histogram_2)
    if p.sum() == 0 or q.sum() == 0:
        return 0.0
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a):
        mask = (a > 0) & (m > 0)
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))

    return min((kl(p) + kl(q)) / 2, 1.0)


# ---- noise levels --------------------------------------------------------------------------------

def _rng(key: str) -> np.random.Generator:
    """A generator seeded by the constant seed and the feature: the same answer every run."""
    return np.random.default_rng([SEED, sum(key.encode()) % 2**31, len(key)])


def linf_noise(baseline: Dict[str, float], n: int, key: str = "", draws: int = DRAWS) -> float:
    """The QUANTILE of L-infinity between the baseline's value shares and `n` rows drawn from them."""
    total = sum(baseline.values())
    n = min(n, MAX_ROWS)
    if n <= 0 or total <= 0:
        return 0.0
    shares = np.asarray(list(baseline.values()), dtype=float) / total
    drawn = _rng(key).multinomial(n, shares, size=draws) / n
    return float(np.quantile(np.abs(drawn - shares).max(axis=1), QUANTILE))


def jensen_shannon_noise(baseline: Histogram, n: int, key: str = "", draws: int = DRAWS) -> float:
    """The QUANTILE of TFDV's Jensen-Shannon divergence between the baseline's quantiles histogram
    and the quantiles histogram of `n` values drawn from it (uniformly within each bucket)."""
    buckets = [b for b in baseline if b[2] > 0 and np.isfinite(b[0]) and np.isfinite(b[1])]
    total = sum(b[2] for b in buckets)
    n = min(n, MAX_ROWS)
    if n <= 0 or total <= 0:
        return 0.0
    edges = np.quantile(_draw(buckets, n, draws, _rng(key)), np.linspace(0.0, 1.0, BUCKETS + 1), axis=1,
                        method="lower").T
    count = n / BUCKETS
    distances = [jensen_shannon(baseline, [(float(e[i]), float(e[i + 1]), count) for i in range(BUCKETS)])
                 for e in edges]
    return float(np.quantile(distances, QUANTILE))


def _draw(buckets: Histogram, n: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """`draws` batches of `n` values from a histogram (uniform within each bucket): (draws, n)."""
    lows = np.asarray([b[0] for b in buckets])
    widths = np.asarray([b[1] - b[0] for b in buckets])
    shares = np.asarray([b[2] for b in buckets]) / sum(b[2] for b in buckets)
    chosen = rng.choice(len(buckets), size=(draws, n), p=shares)
    return lows[chosen] + rng.random((draws, n)) * widths[chosen]


def ratio_stands(ratio: float, threshold: float, noise: Optional[float]) -> bool:
    """A scale shift (a ratio >= 1) stands when it exceeds the threshold and its noise level by the
    margin, both measured on a log scale."""
    if noise is None or noise <= 1.0:
        return ratio >= threshold
    return ratio >= threshold and np.log(ratio) > MARGIN * np.log(noise)


def stands(distance: float, threshold: float, noise: Optional[float]) -> bool:
    """A comparator finding stands when the distance exceeds the threshold and the noise level by
    the margin (no noise level known: the threshold alone)."""
    return distance > threshold and (noise is None or distance > MARGIN * noise)


def fill_rate_stands(filled_rows: int, rows: int, min_fraction: float) -> bool:
    """A fill rate below its floor stands when so few rows with a value would be unlikely (below
    the 1 - QUANTILE tail) for a batch of this size whose true rate is the floor itself: a small
    batch is not blocked for a shortfall its size explains; a large one is judged by the floor."""
    from scipy.stats import binom

    if rows <= 0 or filled_rows >= min_fraction * rows:
        return False
    return filled_rows < binom.ppf(1 - QUANTILE, rows, min_fraction)


def _median_log_ratio(base_deciles: np.ndarray, deciles: np.ndarray) -> Optional[float]:
    keep = base_deciles * deciles > 0
    if keep.sum() < 3:
        return None
    return float(abs(np.log(np.median(deciles[keep] / base_deciles[keep]))))


def scale_noise(baseline: Histogram, n: int, key: str = "", draws: int = DRAWS) -> Optional[float]:
    """The QUANTILE of the scale check's statistic (the median ratio of matched deciles, as
    max(r, 1/r)) between the baseline and `n` values drawn from it."""
    buckets = [b for b in baseline if np.isfinite(b[0]) and np.isfinite(b[1]) and b[2] > 0]
    total = sum(b[2] for b in buckets)
    n = min(n, MAX_ROWS)
    if n <= 1 or total <= 0:
        return None
    base = np.asarray([b[1] for b in baseline[:-1]])
    deciles = np.quantile(_draw(buckets, n, draws, _rng("scale:" + key)), np.linspace(0.1, 0.9, 9), axis=1,
                          method="lower").T
    logs = [m for m in (_median_log_ratio(base, d) for d in deciles) if m is not None]
    return float(np.exp(np.quantile(logs, QUANTILE))) if logs else None
