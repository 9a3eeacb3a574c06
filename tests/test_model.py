import numpy as np
import pytest

import core  # noqa: F401  (Keras 2 before TensorFlow is imported)
from models import features, model

pytestmark = pytest.mark.unit


def _batch(n):
    rng = np.random.default_rng(0)
    inputs = {name: rng.normal(size=(n, 1)).astype("float32") for name in features.transformed_names(features.DENSE_FLOAT_FEATURE_KEYS)}
    for key in features.VOCAB_FEATURE_KEYS:
        inputs[features.transformed_name(key)] = rng.integers(0, features.VOCAB_SIZE + features.OOV_SIZE, size=(n, 1))
    for key in features.BUCKET_FEATURE_KEYS:
        inputs[features.transformed_name(key)] = rng.integers(0, features.BUCKET_COUNT, size=(n, 1))
    for key, max_value in features.CATEGORICAL_FEATURE_MAX_VALUES.items():
        inputs[features.transformed_name(key)] = rng.integers(0, max_value + 1, size=(n, 1))
    return inputs


def test_model_takes_every_transformed_feature_and_outputs_a_probability():
    keras_model = model.build_keras_model(hidden_units=[8])
    expected_inputs = set(features.transformed_names(features.model_input_keys()))
    assert set(keras_model.input_names) == expected_inputs
    predictions = keras_model.predict(_batch(16), verbose=0)
    assert predictions.shape == (16, 1)
    assert np.all((predictions >= 0) & (predictions <= 1))


def test_model_learns_a_separable_signal():
    keras_model = model.build_keras_model(hidden_units=[8], learning_rate=0.05)
    inputs = _batch(512)
    labels = (inputs["fare_xf"] > 0).astype("float32")
    before = keras_model.evaluate(inputs, labels, verbose=0)[0]
    keras_model.fit(inputs, labels, epochs=20, batch_size=64, verbose=0)
    after, accuracy, _ = keras_model.evaluate(inputs, labels, verbose=0)
    assert after < before
    assert accuracy > 0.9
