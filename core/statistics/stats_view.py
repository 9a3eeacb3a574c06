"""Read-only views of TFDV statistics protos: the accessors the checks share. No TFDV import."""

from typing import Dict, List, Optional

from tensorflow_metadata.proto.v0 import statistics_pb2


def dataset(statistics) -> statistics_pb2.DatasetFeatureStatistics:
    return statistics.datasets[0]


def num_examples(statistics) -> int:
    return int(dataset(statistics).num_examples) if statistics.datasets else 0


def common(feature_stats) -> statistics_pb2.CommonStatistics:
    kind = feature_stats.WhichOneof("stats")
    return getattr(feature_stats, kind).common_stats if kind else statistics_pb2.CommonStatistics()


def by_name(statistics) -> Dict[str, statistics_pb2.FeatureNameStatistics]:
    """{feature name: its statistics} of the first dataset."""
    return {".".join(f.path.step) or f.name: f for f in dataset(statistics).features}


def value_counts(feature_stats) -> Dict[str, float]:
    """{value: rows} of a string feature as far as its statistics show: the rank histogram
    (Beam's sketch) or else the top values (the in-memory path)."""
    string_stats = feature_stats.string_stats
    counts = {b.label: b.sample_count for b in string_stats.rank_histogram.buckets}
    return counts or {v.value: v.frequency for v in string_stats.top_values}


def deciles(feature_stats) -> Optional[List[float]]:
    """The inner boundaries of a numeric feature's quantiles histogram, or None."""
    for histogram in feature_stats.num_stats.histograms:
        if histogram.type == statistics_pb2.Histogram.QUANTILES and histogram.buckets:
            return [b.high_value for b in histogram.buckets[:-1]]
    return None


def quantiles(feature_stats) -> Optional[List[tuple]]:
    """(low, high, count) of a numeric feature's quantiles histogram (what TFDV's Jensen-Shannon
    divergence compares), or None."""
    for histogram in feature_stats.num_stats.histograms:
        if histogram.type == statistics_pb2.Histogram.QUANTILES and histogram.buckets:
            return [(b.low_value, b.high_value, b.sample_count) for b in histogram.buckets]
    return None
