"""One test per class of defect: the anomaly type and the feature, on small data named for it."""

import pytest

from core.batch import batch_stats
from core.common import findings
from core.reading import report as reading
from core.checks import validation
from pipeline import config as config_lib
from tests import defects

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def schema():
    import tensorflow_data_validation as tfdv

    return tfdv.load_schema_text(config_lib.default_schema_path())


@pytest.fixture(scope="module")
def stats_of(tmp_path_factory, schema):
    """The batch of a defect, read typed by the curated schema as both paths read it."""
    folder = tmp_path_factory.mktemp("defects")
    cache = {}

    def batch(name):
        if name not in cache:
            cache[name] = batch_stats.read(str(defects.write(folder, name)), reading.schema_kinds(schema))
        return cache[name]

    return batch


def _validate(stats_of, schema, name, environment, baseline=None):
    kwargs = {}
    if baseline == "skew":
        kwargs["training_statistics"] = stats_of("clean_training").statistics
    elif baseline == "drift":
        kwargs["previous_statistics"] = stats_of("clean_training").statistics
    batch = stats_of(name)
    return validation.validate(batch.statistics, schema, environment, reading=batch.report, **kwargs)


def _found(report, feature, anomaly_type, check):
    return [f for f in report.findings if f.feature == feature and anomaly_type in f.types and f.check == check]


@pytest.mark.parametrize(
    "defect, environment, baseline, feature, anomaly_type, check",
    [
        ("long_trips_only_span", "TRAINING", "drift", "trip_miles", "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH", "drift"),
        ("hour_out_of_domain", "TRAINING", None, "trip_start_hour", "INT_TYPE_BIG_INT", "schema"),
        ("latitude_outside_chicago", "TRAINING", None, "pickup_latitude", "FLOAT_TYPE_SMALL_FLOAT", "schema"),
        ("new_payment_type", "TRAINING", None, "payment_type", "ENUM_TYPE_UNEXPECTED_STRING_VALUES", "schema"),
        ("string_in_fare", "TRAINING", None, "fare", "FLOAT_TYPE_STRING_NOT_FLOAT", "schema"),
        ("missing_trip_miles", "SERVING", "skew", "trip_miles", "SCHEMA_MISSING_COLUMN", "schema"),
        ("dropoff_fill_drop", "TRAINING", None, "dropoff_latitude", "FEATURE_TYPE_LOW_FRACTION_PRESENT", "fill_rate"),
        ("fare_in_cents_serving", "SERVING", "skew", "fare", "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH", "skew"),
        ("fare_in_cents_serving", "SERVING", "skew", "fare", "CUSTOM_VALIDATION", "skew"),
        ("miles_in_km_serving", "SERVING", "skew", "trip_miles", "CUSTOM_VALIDATION", "skew"),
        ("seconds_in_minutes_serving", "SERVING", "skew", "trip_seconds", "CUSTOM_VALIDATION", "skew"),
        ("cash_takes_over_serving", "SERVING", "skew", "payment_type", "COMPARATOR_L_INFTY_HIGH", "skew"),
        ("miles_in_km_span", "TRAINING", "drift", "trip_miles", "CUSTOM_VALIDATION", "drift"),
        ("tips_tripled_span", "TRAINING", "drift", "tips", "CUSTOM_VALIDATION", "drift"),
        ("label_missing", "TRAINING", None, "tips", "SCHEMA_MISSING_COLUMN", "schema"),
    ],
)
def test_defect_is_found_by_type_and_feature(stats_of, schema, defect, environment, baseline, feature, anomaly_type, check):
    report = _validate(stats_of, schema, defect, environment, baseline)
    assert _found(report, feature, anomaly_type, check), [f.to_json() for f in report.findings]
    if defect != "long_trips_only_span":  # a change of mix moves fare and duration with distance
        # Only the defective feature is reported: nothing else fires on otherwise clean rows.
        assert {f.feature for f in report.findings} == {feature}


def test_scale_shift_names_the_factor(stats_of, schema):
    report = _validate(stats_of, schema, "miles_in_km_serving", "SERVING", "skew")
    [finding] = _found(report, "trip_miles", "CUSTOM_VALIDATION", "skew")
    assert finding.rule == findings.SCALE_SHIFT
    assert finding.value == pytest.approx(1.609, rel=0.02)


def test_a_value_not_of_the_schemas_type_is_named_with_its_lines(stats_of, schema):
    report = _validate(stats_of, schema, "string_in_fare", "TRAINING")
    [finding] = _found(report, "fare", "FLOAT_TYPE_STRING_NOT_FLOAT", "schema")
    assert finding.rule == reading.TYPED_READING
    assert finding.fraction == pytest.approx(0.01, abs=0.002)
    rows, _ = defects.DEFECTS["string_in_fare"]()
    lines = [i + 2 for i, row in enumerate(rows) if row["fare"] == "n/a"]  # one line per record, after the header
    for line in lines[:2]:
        assert f"'n/a' (string_in_fare.csv line {line})" in finding.description


def test_new_category_reports_the_share_of_rows(stats_of, schema):
    report = _validate(stats_of, schema, "new_payment_type", "TRAINING")
    [finding] = _found(report, "payment_type", "ENUM_TYPE_UNEXPECTED_STRING_VALUES", "schema")
    assert finding.fraction == pytest.approx(0.05, abs=0.002)


def test_label_absent_in_serving_is_not_an_anomaly(stats_of, schema):
    report = _validate(stats_of, schema, "clean_serving", "SERVING", "skew")
    assert report.findings == []
    measured = {(m["check"], m["feature"]) for m in report.distances}
    assert ("skew", "fare") in measured and ("skew", "tips") not in measured


@pytest.mark.parametrize("environment, baseline", [("TRAINING", None), ("TRAINING", "drift"), ("SERVING", "skew")])
def test_clean_data_passes(stats_of, schema, environment, baseline):
    name = "clean_serving" if environment == "SERVING" else "clean_training"
    assert _validate(stats_of, schema, name, environment, baseline).findings == []


def test_every_comparator_distance_is_recorded_also_under_threshold(stats_of, schema):
    report = _validate(stats_of, schema, "clean_training", "TRAINING", "drift")
    measured = {(m["feature"], m["type"]) for m in report.distances if m["check"] == "drift"}
    for feature in schema.feature:
        if feature.drift_comparator.HasField("infinity_norm"):
            assert (feature.name, "L_INFTY") in measured
        if feature.drift_comparator.HasField("jensen_shannon_divergence"):
            assert (feature.name, "JENSEN_SHANNON_DIVERGENCE") in measured
            assert (feature.name, findings.SCALE_SHIFT) in measured
    assert all(m["value"] < m["threshold"] for m in report.distances)


def test_real_serving_batch_and_spans_are_clean(schema):
    kinds = reading.schema_kinds(schema)
    serving = batch_stats.statistics(str(defects.DATA_ROOT / "serving"), kinds)[0]
    span2 = batch_stats.statistics(str(defects.DATA_ROOT / "train" / "span-2"), kinds)[0]
    span3 = batch_stats.statistics(str(defects.DATA_ROOT / "train" / "span-3"), kinds)[0]
    assert validation.validate(span3, schema, "TRAINING", previous_statistics=span2).findings == []
    assert validation.validate(serving, schema, "SERVING", training_statistics=span3).findings == []


# Names TFDV quotes in its anomaly keys ('fare.usd', 'it''s'): a finding must still carry the
# schema's own name, so the policy, the reports and `schema propose` find the feature.
_QUOTED_NAMES = {"fare": "fare.usd", "dropoff_latitude": "dropoff's latitude", "payment_type": "payment(type)"}


@pytest.mark.parametrize(
    "defect, environment, baseline, feature, anomaly_type, check",
    [
        ("fare_in_cents_serving", "SERVING", "skew", "fare", "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH", "skew"),
        ("dropoff_fill_drop", "TRAINING", None, "dropoff_latitude", "FEATURE_TYPE_LOW_FRACTION_PRESENT", "fill_rate"),
        ("new_payment_type", "TRAINING", None, "payment_type", "ENUM_TYPE_UNEXPECTED_STRING_VALUES", "schema"),
    ],
)
def test_a_feature_name_tfdv_quotes_is_found_by_its_own_name(tmp_path, schema, defect, environment, baseline,
                                                             feature, anomaly_type, check):
    renamed_schema = type(schema)()
    renamed_schema.CopyFrom(schema)
    for f in renamed_schema.feature:
        f.name = _QUOTED_NAMES.get(f.name, f.name)
    kinds = reading.schema_kinds(renamed_schema)

    def renamed_batch(name):
        path = defects.write(tmp_path, name)
        header, rest = path.read_text().split("\n", 1)
        path.write_text(",".join(f'"{_QUOTED_NAMES.get(c, c)}"' for c in header.split(",")) + "\n" + rest)
        return batch_stats.read(str(path), kinds)

    batch = renamed_batch(defect)
    kwargs = {"training_statistics": renamed_batch("clean_training").statistics} if baseline == "skew" else {}
    report = validation.validate(batch.statistics, renamed_schema, environment, reading=batch.report, **kwargs)
    name = _QUOTED_NAMES[feature]
    assert _found(report, name, anomaly_type, check), [(f.feature, f.types, f.check) for f in report.findings]
    assert {f.feature for f in report.findings} <= set(_QUOTED_NAMES.values())
