"""core/statistics/histograms.py gives TFDV's equal-width histograms bit for bit: on the quantile sketches of
real columns of the sample and their edge cases (a constant column, infinities at either end,
a single value, duplicated quantile bounds), and on whole batches' statistics computed with and
without it."""

import functools

import numpy as np
import pyarrow as pa
import pytest

from core.batch import batch_stats
from core.reading import cells
from core.statistics import histograms
from core.reading import report as reading
from core.settings import schema_files
from tests import defects
from tests.paths import DATA_ROOT, PROJECT_ROOT

pytestmark = pytest.mark.unit


def _column(rows, name: str) -> np.ndarray:
    column = cells.read_column(pa.array([r[name] for r in rows], pa.string()), cells.FLOAT)
    return column.values.to_numpy(zero_copy_only=False).astype(np.float64)


def _sketch(values: np.ndarray, points: int = 1001):
    """Quantile bounds and cumulative counts, as TFDV's sketch hands them over."""
    finite = values[np.isfinite(values)]
    quantiles = np.quantile(np.sort(values), np.linspace(0, 1, points), method="inverted_cdf")
    cumulative = np.linspace(0, len(values), points)
    low = float(finite.min()) if len(finite) else float("inf")
    high = float(finite.max()) if len(finite) else float("-inf")
    return quantiles, cumulative, low, high, float(np.isposinf(values).sum())


@functools.lru_cache(maxsize=1)
def _cases():
    rows = defects.base_rows(n=5000)
    fare, miles, seconds = (_column(rows, name) for name in ("fare", "trip_miles", "trip_seconds"))
    return {
        "fare": fare,
        "trip_miles": miles,
        "trip_seconds": seconds,
        "fare_rounded_to_dollars": np.round(fare),
        "fare_constant": np.full(len(fare), fare[0]),
        "one_fare": fare[:1],
        "fares_with_infinities": np.concatenate([fare, [np.inf] * 7, [-np.inf] * 3]),
        "miles_mostly_zero": np.where(np.arange(len(miles)) % 4 == 0, miles, 0.0),
        "only_infinities": np.array([np.inf, -np.inf, np.inf]),
    }


@pytest.mark.parametrize("name", sorted(_cases()))
@pytest.mark.parametrize("buckets", [10, 3])
@pytest.mark.parametrize("points", [1001, 11])
def test_equal_width_histogram_is_tfdvs_bit_for_bit(name, buckets, points):
    quantiles, cumulative, low, high, pos_inf = _sketch(_cases()[name], points)
    args = (quantiles, cumulative, low, high, buckets, pos_inf)
    ours = histograms.equi_width_histogram(*args)
    theirs = histograms.original()(*args)
    assert ours.SerializeToString() == theirs.SerializeToString()
    assert len(ours.buckets) >= 1


def test_a_batchs_statistics_are_the_same_with_tfdvs_own_histograms(monkeypatch):
    from tensorflow_data_validation.utils import quantiles_util

    schema = schema_files.load(schema_files.latest_path(str(PROJECT_ROOT / "schema")))
    kinds = reading.schema_kinds(schema)
    data = str(DATA_ROOT / "train" / "span-3")
    ours = batch_stats.read(data, kinds, profiled=False).statistics
    monkeypatch.setattr(histograms, "install", lambda: None)
    monkeypatch.setattr(quantiles_util, "generate_equi_width_histogram", histograms.original())
    theirs = batch_stats.read(data, kinds, profiled=False).statistics
    assert quantiles_util.generate_equi_width_histogram is histograms.original()
    assert ours.SerializeToString(deterministic=True) == theirs.SerializeToString(deterministic=True)
    assert any(f.num_stats.histograms for f in ours.datasets[0].features)
