"""A feature's statistics as shares per bin, for the report's figures and evidence: a number's
quantile bins (labelled with the fewest digits that tell them apart), a string's top values, and
two batches' shares on one set of bins, the baseline's."""

import math
from typing import List, Tuple


def number(value: float, digits: int = 3) -> str:
    """`value` with `digits` significant digits, in plain notation with thousands separators
    (1,740 not 1.74e+03; -87.63; 0.00125)."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(value)))))
    rounded = round(value, decimals)
    return f"{rounded:,.{decimals}f}"


def bin_labels(edges: List[Tuple[float, float]]) -> List[str]:
    """'low–high' per bin, with the fewest significant digits (3 at least) that tell every bin
    apart and show each bin's two edges apart where they differ: longitude bins read
    -87.632–-87.626, not -87.6--87.6. A bin of one value (low == high) reads as that value."""
    for digits in range(3, 16):
        labels = [number(low, digits) if low == high else number(low, digits) + "–" + number(high, digits)
                  for low, high in edges]
        distinct_edges = all(number(low, digits) != number(high, digits) for low, high in edges if low != high)
        if len(set(labels)) == len(labels) and distinct_edges:
            return labels
    return labels


def quantile_bins(feature) -> List[Tuple[float, float, float]]:
    """(low, high, rows) of a number's quantile histogram, in order, bins with the same edges merged:
    a value that fills several deciles (a tip of 0 in half the rows) is one bin, not five alike."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    merged: List[List[float]] = []
    for h in feature.num_stats.histograms:
        if h.type == statistics_pb2.Histogram.QUANTILES:
            for b in h.buckets:
                if merged and (merged[-1][0], merged[-1][1]) == (b.low_value, b.high_value):
                    merged[-1][2] += b.sample_count
                else:
                    merged.append([b.low_value, b.high_value, b.sample_count])
            break
    return [(low, high, rows) for low, high, rows in merged]


def _distribution(feature) -> Tuple[List[str], List[float]]:
    """Labels and shares: quantile bins for numbers, top values for strings."""
    if feature.HasField("num_stats"):
        bins = quantile_bins(feature)
        total = sum(rows for _, _, rows in bins) or 1
        return bin_labels([(low, high) for low, high, _ in bins]), [rows / total for _, _, rows in bins]
    if feature.HasField("string_stats"):
        values = feature.string_stats.top_values[:10]
        total = feature.string_stats.common_stats.num_non_missing or 1
        return [v.value for v in values], [v.frequency / total for v in values]
    return [], []


def distribution(feature) -> Tuple[List[str], List[float]]:
    """(labels, shares) of a feature's statistics: its quantile bins for a number, its top values
    for a string."""
    return _distribution(feature)


def aligned(base_f, batch_f) -> Tuple[List[str], List[float], List[float]]:
    """(labels, baseline shares, batch shares) on one set of bins, the baseline's: for a number its
    quantile bins, plus 'below'/'above' bins where the batch has rows beyond the baseline's range;
    for a string the baseline's top values, then the batch's values the baseline lacks."""
    if base_f.HasField("num_stats") and batch_f.HasField("num_stats"):
        bins = quantile_bins(base_f)
        if not bins:
            return [], [], []
        base_total = sum(rows for _, _, rows in bins) or 1
        inside, below, above = _batch_mass(bins, quantile_bins(batch_f))
        batch_total = (sum(inside) + below + above) or 1
        labels = bin_labels([(low, high) for low, high, _ in bins])
        base_share = [rows / base_total for _, _, rows in bins]
        batch_share = [mass / batch_total for mass in inside]
        if below > 1e-9 * batch_total:
            labels, base_share, batch_share = ([f"below {number(bins[0][0])}"] + labels, [0.0] + base_share,
                                               [below / batch_total] + batch_share)
        if above > 1e-9 * batch_total:
            labels, base_share, batch_share = (labels + [f"above {number(bins[-1][1])}"], base_share + [0.0],
                                               batch_share + [above / batch_total])
        return labels, base_share, batch_share
    base, batch = dict(zip(*_distribution(base_f))), dict(zip(*_distribution(batch_f)))
    labels = list(base) + [label for label in batch if label not in base]
    return labels, [base.get(k, 0.0) for k in labels], [batch.get(k, 0.0) for k in labels]


def _batch_mass(bins, batch_bins) -> Tuple[List[float], float, float]:
    """The batch's rows in each baseline bin (a batch bin spread over them by overlap, a batch bin
    of one value into the baseline's bin of that one value, else the first bin that holds it), and
    its rows below and above them all."""
    inside, below, above = [0.0] * len(bins), 0.0, 0.0
    low_edge, high_edge = bins[0][0], bins[-1][1]
    for low, high, rows in batch_bins:
        if high <= low:
            home = next((i for i, (b_low, b_high, _) in enumerate(bins) if b_low == low == b_high),
                        next((i for i, (b_low, b_high, _) in enumerate(bins) if b_low <= low <= b_high), None))
            if home is not None:
                inside[home] += rows
            elif low < low_edge:
                below += rows
            else:
                above += rows
            continue
        width = high - low
        below += rows * max(0.0, min(high, low_edge) - low) / width
        above += rows * max(0.0, high - max(low, high_edge)) / width
        for i, (b_low, b_high, _) in enumerate(bins):
            overlap = min(b_high, high) - max(b_low, low)
            if overlap > 0:
                inside[i] += rows * overlap / width
    return inside, below, above
