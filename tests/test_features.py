import csv

import pytest

from models import features
from tests.conftest import DATA_ROOT

pytestmark = pytest.mark.unit


def _header(path):
    with open(path, newline="") as f:
        return next(csv.reader(f))


def test_every_model_input_is_a_column_of_every_span_and_of_serving():
    serving = set(_header(DATA_ROOT / "serving" / "data.csv"))
    for span in sorted((DATA_ROOT / "train").glob("span-*")):
        train = set(_header(span / "data.csv"))
        assert set(features.model_input_keys()) <= train, span
        assert features.LABEL_KEY in train
    assert set(features.model_input_keys()) <= serving
    assert features.LABEL_KEY not in serving


def test_feature_groups_do_not_overlap():
    groups = [
        features.DENSE_FLOAT_FEATURE_KEYS,
        features.BUCKET_FEATURE_KEYS,
        features.CATEGORICAL_FEATURE_KEYS,
        features.VOCAB_FEATURE_KEYS,
    ]
    names = [name for group in groups for name in group]
    assert len(names) == len(set(names))
    assert features.LABEL_KEY not in names


def test_transformed_names():
    assert features.transformed_name("fare") == "fare_xf"
    assert features.transformed_names(["a", "b"]) == ["a_xf", "b_xf"]
