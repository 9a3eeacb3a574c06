"""preprocessing_fn on a tiny in-memory batch, through real tf.Transform on Beam."""

import numpy as np
import pytest
import tensorflow_data_validation as tfdv
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from models import features, preprocessing
from pipeline import config as config_lib

pytestmark = pytest.mark.unit


def _row(fare, tips, hour, payment, company, miles=1.0, seconds=600, area=8):
    row = {
        "fare": [fare],
        "tips": [tips],
        "trip_start_hour": [hour],
        "trip_start_day": [3],
        "trip_start_month": [5],
        "trip_start_timestamp": [1400000000],
        "payment_type": [payment],
        "company": [company] if company is not None else [],
        "trip_miles": [miles],
        "trip_seconds": [seconds],
        "pickup_community_area": [area],
        "dropoff_community_area": [area],
        "pickup_latitude": [41.9],
        "pickup_longitude": [-87.6],
        "dropoff_latitude": [41.95],
        "dropoff_longitude": [-87.65],
        "dropoff_census_tract": [],
    }
    return {k: np.array(v, dtype=object if isinstance(v[0] if v else "", str) else None) for k, v in row.items()}


@pytest.fixture(scope="module")
def transformed(tmp_path_factory):
    schema = tfdv.load_schema_text(config_lib.default_schema_path())
    spec = schema_utils.schema_as_feature_spec(schema).feature_spec
    spec.pop("pickup_census_tract", None)  # deprecated in the curated schema
    metadata = dataset_metadata.DatasetMetadata.from_feature_spec(spec)
    rows = [
        _row(10.0, 3.0, 30, "Cash", "A"),  # hour 30 is out of domain: clipped, not a crash
        _row(20.0, 0.0, 5, "Cash", None),
        _row(30.0, 10.0, 12, "Credit Card", "A"),
        _row(40.0, 2.0, 23, "Cash", "B"),
    ]
    with tft_beam.Context(temp_dir=str(tmp_path_factory.mktemp("tft")), force_tf_compat_v1=False):
        (result, _), _ = (rows, metadata) | tft_beam.AnalyzeAndTransformDataset(
            preprocessing.preprocessing_fn, output_record_batches=False
        )
    return result


def _column(rows, key):
    return np.array([r[features.transformed_name(key)] for r in rows]).reshape(-1)


def test_dense_floats_become_z_scores(transformed):
    fares = np.array([10.0, 20.0, 30.0, 40.0])
    expected = (fares - fares.mean()) / fares.std()
    np.testing.assert_allclose(_column(transformed, "fare"), expected, rtol=1e-5)


def test_label_is_a_tip_above_a_fifth_of_the_fare(transformed):
    # 3/10 > 0.2, 0/20 no, 10/30 > 0.2, 2/40 no
    assert _column(transformed, "tips").tolist() == [1, 0, 1, 0]


def test_vocabulary_gives_the_most_frequent_value_index_zero(transformed):
    payment = _column(transformed, "payment_type").tolist()
    assert payment == [0, 0, 1, 0]


def test_missing_string_gets_its_own_vocabulary_entry(transformed):
    company = _column(transformed, "company").tolist()
    assert company[0] == company[2]  # both "A"
    assert len({company[0], company[1], company[3]}) == 3  # "A", "" and "B" differ


def test_categories_are_clipped_into_their_range(transformed):
    assert _column(transformed, "trip_start_hour").tolist() == [23, 5, 12, 23]
