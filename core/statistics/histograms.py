"""TFDV's equal-width histogram, computed the same way without its per-bucket proto traffic.

`tensorflow_data_validation.utils.quantiles_util.generate_equi_width_histogram` builds a protobuf
histogram of every quantile bucket (thousands of `buckets.add` calls) and then walks it through
`_overlap`, reading each bucket's fields from the proto: about half of the time TFDV takes to
turn a 1,000-row batch's accumulators into statistics. `equi_width_histogram` below is the same
algorithm line for line (the same branches, the same arithmetic in the same order, on the same
float64 values read from plain lists), so its output is bit-for-bit TFDV's
(tests/test_histograms.py compares the serialized protos on real columns and edge cases, and
whole batches' statistics with and without it). `install()` puts it in TFDV's module for this
process; the statistics TFDV computes do not change, only their cost.
"""

import numpy as np

_ORIGINAL = None


def equi_width_histogram(quantiles: np.ndarray, cumulative_counts: np.ndarray, finite_min: float,
                         finite_max: float, num_buckets: int, num_pos_inf: float):
    """What `quantiles_util.generate_equi_width_histogram` returns, for the same arguments."""
    from tensorflow_data_validation.utils import quantiles_util as q
    from tensorflow_metadata.proto.v0 import statistics_pb2

    result = statistics_pb2.Histogram()
    result.type = statistics_pb2.Histogram.STANDARD
    if not np.isfinite(finite_min) and not np.isfinite(finite_max):
        result.buckets.add(low_value=finite_min, high_value=finite_max, sample_count=cumulative_counts[-1])
        return result
    assert np.isfinite(finite_min)
    assert np.isfinite(finite_max)
    assert np.all(quantiles[:-1] <= quantiles[1:])
    quantiles, cumulative_counts, num_neg_inf = q._strip_infinities(quantiles, cumulative_counts, finite_max,
                                                                    num_pos_inf)
    # The quantile buckets TFDV would store in a proto and read back: float64 values, kept as floats.
    low_bounds, high_bounds, bin_weights = q._get_bin_weights(quantiles, cumulative_counts)
    lows = np.asarray(low_bounds, dtype=np.float64).tolist()
    highs = np.asarray(high_bounds, dtype=np.float64).tolist()
    weights = np.asarray(bin_weights, dtype=np.float64).tolist()
    if finite_min == finite_max:
        new_boundaries = np.array([finite_min, finite_max])
    else:
        new_boundaries = np.linspace(finite_min, finite_max, num_buckets + 1)
        if not np.isfinite(new_boundaries).all():
            return result
    start_index = 0
    if num_neg_inf:
        result.buckets.add(low_value=float("-inf"), high_value=float("-inf"), sample_count=num_neg_inf)
    boundaries = new_boundaries.tolist()
    count = len(lows)
    for i in range(len(boundaries) - 1):
        low_bound, high_bound = boundaries[i], boundaries[i + 1]
        first_bucket = i == 0
        sample_count = 0
        for current in range(start_index, count):
            low, high = lows[current], highs[current]
            # quantiles_util._overlap, inline: (overlap, bucket precedes, bucket follows)
            if first_bucket and high == low == low_bound:
                overlap, precedes, follows = 1.0, False, False
            elif not first_bucket and high == low == low_bound:
                overlap, precedes, follows = 0.0, True, False
            elif high < low_bound:
                overlap, precedes, follows = 0.0, True, False
            elif low > high_bound:
                overlap, precedes, follows = 0.0, False, True
            elif low_bound <= low and high_bound >= high:
                overlap, precedes, follows = 1.0, False, False
            elif low_bound <= low:
                overlap, precedes, follows = (high_bound - low) / (high - low), False, False
            elif high_bound >= high:
                overlap, precedes, follows = (high - low_bound) / (high - low), False, False
            elif low_bound > low and high_bound < high:
                overlap, precedes, follows = (high_bound - low_bound) / (high - low), False, False
            else:
                raise ValueError(f"Unable to compute overlap between ({low_bound:f}, {high_bound:f}) and "
                                 f"[{low}, {high}]")
            if follows:
                break
            if precedes:
                start_index = current
            sample_count += overlap * weights[current]
        result.buckets.add(low_value=low_bound, high_value=high_bound, sample_count=sample_count)
    if num_pos_inf:
        result.buckets.add(low_value=float("inf"), high_value=float("inf"), sample_count=num_pos_inf)
    return result


def install() -> None:
    """Makes TFDV's statistics in this process use `equi_width_histogram` (idempotent)."""
    global _ORIGINAL
    from tensorflow_data_validation.utils import quantiles_util

    if _ORIGINAL is None:
        _ORIGINAL = quantiles_util.generate_equi_width_histogram
        quantiles_util.generate_equi_width_histogram = equi_width_histogram


def original():
    """TFDV's own function (for the tests that compare the two)."""
    from tensorflow_data_validation.utils import quantiles_util

    return _ORIGINAL or quantiles_util.generate_equi_width_histogram
