"""Noise-aware thresholds: distances TFDV's own way, noise levels from the baseline's statistics,
and a false-alarm suite of clean batches resampled from real rows at sizes from 30 to 200,000."""

import random

import numpy as np
import pytest

from core.batch import batch_stats
from core.settings import check_settings
from core import rules as rules_lib
from core.common import names
from core.statistics import noise
from core.judging import policy as policy_lib
from core.reading import report as reading
from core.settings import schema_files
from core.statistics import stats_view
from core.checks import validation
from core.common.findings import DRIFT, SKEW
from pipeline import config as config_lib
from tests import defects

pytestmark = pytest.mark.unit

SIZES = (30, 100, 1_000, 20_000, 200_000)
SEEDS_PER_SIZE = {30: 8, 100: 8, 1_000: 4, 20_000: 1, 200_000: 1}


@pytest.fixture(scope="module")
def schema():
    return schema_files.load(config_lib.default_schema_path())


@pytest.fixture(scope="module")
def kinds(schema):
    return reading.schema_kinds(schema)


@pytest.fixture(scope="module")
def span(kinds):
    return {s: batch_stats.read(str(defects.DATA_ROOT / "train" / f"span-{s}"), kinds).statistics for s in (2, 3)}


def test_distances_are_tfdvs_own(schema, span):
    """core/statistics/noise.py measures L-infinity and Jensen-Shannon exactly as TFDV does: the same numbers
    on every comparator TFDV measured between two real spans."""
    report = validation.validate(span[3], schema, "TRAINING", previous_statistics=span[2])
    before, after = stats_view.by_name(span[2]), stats_view.by_name(span[3])
    compared = 0
    for d in report.distances:
        if d["type"] == "L_INFTY":
            mine = noise.linf(stats_view.value_counts(before[d["feature"]]), stats_view.value_counts(after[d["feature"]]))
        elif d["type"] == "JENSEN_SHANNON_DIVERGENCE":
            mine = noise.jensen_shannon(stats_view.quantiles(before[d["feature"]]), stats_view.quantiles(after[d["feature"]]))
        else:
            continue
        assert mine == pytest.approx(d["value"], abs=1e-6), d
        compared += 1
    assert compared >= 6


def test_noise_levels_are_deterministic_and_shrink_with_the_batch(span):
    fare = stats_view.quantiles(stats_view.by_name(span[3])["fare"])
    payment = stats_view.value_counts(stats_view.by_name(span[3])["payment_type"])
    levels = [noise.jensen_shannon_noise(fare, n, "fare") for n in (30, 300, 2000)]
    assert levels == [noise.jensen_shannon_noise(fare, n, "fare") for n in (30, 300, 2000)]
    assert levels[0] > levels[1] > levels[2] > 0
    shares = [noise.linf_noise(payment, n, "payment_type") for n in (30, 300, 2000)]
    assert shares[0] > shares[1] > shares[2] > 0
    # L-infinity of n draws: the largest share's standard error times about 2.5 to 3.5.
    p = max(payment.values()) / sum(payment.values())
    assert 2 * np.sqrt(p * (1 - p) / 300) < shares[1] < 4 * np.sqrt(p * (1 - p) / 300) + 0.02


def test_a_small_fill_rate_shortfall_is_noise_a_large_one_is_not():
    assert not noise.fill_rate_stands(26, 30, 0.9)  # 87 % of 30 rows: what 90 % often gives
    assert noise.fill_rate_stands(15, 30, 0.9)
    assert noise.fill_rate_stands(8_700, 10_000, 0.9)  # the same 87 % in 10,000 rows is real


def _resampled(n: int, seed: int):
    rows = defects.base_rows(n=10**6)
    rng = random.Random(seed)
    return [rng.choice(rows) for _ in range(n)]


def _clean_batches():
    """(name, rows, columns): clean serving batches drawn from the training span's real rows."""
    for n in SIZES:
        for seed in range(SEEDS_PER_SIZE[n]):
            yield f"resampled_{n}_rows_seed_{seed}", _resampled(n, seed), defects.SERVING_COLUMNS
    rows = defects.base_rows(n=10**6)
    yield "every_row_twice", rows + rows, defects.SERVING_COLUMNS
    yield "columns_shuffled", rows, random.Random(1).sample(defects.SERVING_COLUMNS, len(defects.SERVING_COLUMNS))
    # Narrow but legitimate slices of real data, judged as training spans (drift against span 3):
    # one day's, one hour's or one company's trips. Their mix differs (drift warns by policy);
    # none may block: a constant hour, day or company is not a degenerate column, and the largest
    # company's shorter trips (its trip_miles deciles 0.17 to 0.65 of the span's) are not a
    # change of units.
    yield from (_narrow(rows, key) for key in ("day", "trip_start_hour", "company"))


def _narrow(rows, key: str):
    """(name, rows, columns): the real rows of the most common day, hour or company."""
    import datetime

    def value(row):
        if key == "day":
            return datetime.datetime.utcfromtimestamp(int(row["trip_start_timestamp"])).date()
        return row[key]

    counts = {}
    for row in rows:
        if value(row) != "":
            counts[value(row)] = counts.get(value(row), 0) + 1
    chosen = max(counts, key=lambda v: (counts[v], str(v)))
    return f"one_{key}_only", [r for r in rows if value(r) == chosen], None


@pytest.fixture(scope="module")
def checks(kinds):
    """The files beside the schema, and span 3 read with them: its profile is the baseline."""
    path = config_lib.default_schema_path()
    rules = rules_lib.load(check_settings.path_beside(path, names.CONSTRAINTS_FILE), list(kinds))
    settings = check_settings.load(path, list(kinds))
    baseline = batch_stats.read(str(defects.DATA_ROOT / "train" / "span-3"), kinds, rules=rules,
                                slice_keys=settings.slices)
    return rules, settings, baseline.profile


def test_clean_batches_of_any_size_do_not_block(schema, kinds, span, checks, tmp_path):
    """The false-alarm suite: clean batches at every size pass against the training statistics
    (skew) and as a span against the previous one (drift). Prints the largest
    distance-to-threshold ratio seen on clean data per check: the margin before a false alarm."""
    policy = policy_lib.load(str(config_lib.POLICY_PATH))
    rules, settings, baseline_profile = checks
    margins, blocked = {}, []
    for name, rows, columns in _clean_batches():
        batch = batch_stats.read(str(defects.write_rows(tmp_path / f"{name}.csv", rows, columns)), kinds,
                                 rules=rules, slice_keys=settings.slices)
        if columns is None:  # a training span: drift against span 3
            report = validation.validate(batch.statistics, schema, "TRAINING", previous_statistics=span[3],
                                         reading=batch.report, profile=batch.profile,
                                         baseline_profiles={DRIFT: baseline_profile}, settings=settings)
        else:
            report = validation.validate(batch.statistics, schema, "SERVING", training_statistics=span[3],
                                         reading=batch.report, profile=batch.profile,
                                         baseline_profiles={SKEW: baseline_profile}, settings=settings)
        verdicts = policy_lib.judge_all("serving" if columns else "training", report.findings, policy)
        blocked += [f"{name}: {v.line()}" for v in verdicts if v.severity == policy_lib.BLOCK]
        for d in report.distances:
            if d.get("within_noise") or not d["threshold"]:
                continue
            key = f"{d['check']} {d['type']}" + (" (slices)" if d.get("slice") else "")
            margins[key] = max(margins.get(key, 0.0), d["value"] / d["threshold"])
    print("largest distance / threshold on clean data, per check:",
          ", ".join(f"{k} {v:.2f}" for k, v in sorted(margins.items())))
    assert blocked == []
    assert set(margins) >= {f"{SKEW} L_INFTY", f"{SKEW} JENSEN_SHANNON_DIVERGENCE", f"{SKEW} TAILS",
                            f"{SKEW} PRECISION", f"{SKEW} WASSERSTEIN", f"{SKEW} PSI", f"{SKEW} TAILS (slices)"}


def test_a_real_defect_still_blocks_at_a_thousand_rows(schema, kinds, span, tmp_path):
    batch = batch_stats.read(str(defects.write(tmp_path, "cash_takes_over_serving")), kinds)
    report = validation.validate(batch.statistics, schema, "SERVING", training_statistics=span[3])
    [finding] = [f for f in report.findings if f.feature == "payment_type" and f.check == SKEW]
    assert finding.value > noise.MARGIN * finding.noise and finding.value > finding.threshold


def test_a_distance_over_its_threshold_carries_its_noise_level(schema, kinds, tmp_path):
    """Where a distance decides (over its threshold), its noise level is recorded beside it."""
    clean = batch_stats.read(str(defects.write(tmp_path, "clean_training")), kinds).statistics
    drifted = batch_stats.read(str(defects.write(tmp_path, "long_trips_only_span")), kinds).statistics
    report = validation.validate(drifted, schema, "TRAINING", previous_statistics=clean)
    over = [d for d in report.distances if d["check"] == DRIFT and d["value"] > d["threshold"]
            and d["type"] in ("L_INFTY", "JENSEN_SHANNON_DIVERGENCE")]
    assert over and all(0 < d["noise"] < d["threshold"] and not d["within_noise"] for d in over)
    [finding] = [f for f in report.findings if f.feature == "trip_miles" and f.check == DRIFT and f.rule is None]
    assert finding.noise == next(d["noise"] for d in over if d["feature"] == "trip_miles")
