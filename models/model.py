"""Trainer's module: a small wide-and-deep Keras model that predicts a big tip (> 20% of fare).

Keras 2 (`tf_keras`) is used explicitly: TFX 1.16's Trainer and Transform layers are Keras 2
objects, and TF 2.16's default `tf.keras` is Keras 3.
"""

from typing import Dict, List, Optional

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from absl import logging
from tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs
from tfx_bsl.tfxio import dataset_options

from models import features

BATCH_SIZE = 64
DEFAULT_HIDDEN_UNITS = (32, 16)
TRANSFORM_FEATURES_SIGNATURE = "transform_features"  # named in schema/evaluation.yaml's reading


def build_keras_model(hidden_units: Optional[List[int]] = None, learning_rate: float = 0.003) -> keras.Model:
    """A wide (one-hot categories) and deep (dense floats) binary classifier over transformed inputs."""
    dense_inputs = {
        name: keras.layers.Input(name=name, shape=(1,), dtype=tf.float32)
        for name in features.transformed_names(features.DENSE_FLOAT_FEATURE_KEYS)
    }
    category_sizes: Dict[str, int] = {}
    for key in features.VOCAB_FEATURE_KEYS:
        category_sizes[features.transformed_name(key)] = features.VOCAB_SIZE + features.OOV_SIZE
    for key in features.BUCKET_FEATURE_KEYS:
        category_sizes[features.transformed_name(key)] = features.BUCKET_COUNT + 1
    for key, max_value in features.CATEGORICAL_FEATURE_MAX_VALUES.items():
        category_sizes[features.transformed_name(key)] = max_value + 1
    category_inputs = {
        name: keras.layers.Input(name=name, shape=(1,), dtype=tf.int64) for name in category_sizes
    }

    deep = keras.layers.concatenate(list(dense_inputs.values()))
    for units in hidden_units or DEFAULT_HIDDEN_UNITS:
        deep = keras.layers.Dense(units, activation="relu")(deep)
    wide = keras.layers.concatenate(
        [
            keras.layers.CategoryEncoding(num_tokens=size, output_mode="one_hot")(category_inputs[name])
            for name, size in category_sizes.items()
        ]
    )
    output = keras.layers.Dense(1, activation="sigmoid")(keras.layers.concatenate([deep, wide]))
    model = keras.Model({**dense_inputs, **category_inputs}, output)
    model.compile(
        loss="binary_crossentropy",
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        metrics=[keras.metrics.BinaryAccuracy(), keras.metrics.AUC(name="auc")],
    )
    return model


def _input_fn(
    file_pattern: List[str],
    data_accessor: DataAccessor,
    tf_transform_output: tft.TFTransformOutput,
    batch_size: int,
) -> tf.data.Dataset:
    return data_accessor.tf_dataset_factory(
        file_pattern,
        dataset_options.TensorFlowDatasetOptions(
            batch_size=batch_size, label_key=features.transformed_name(features.LABEL_KEY)
        ),
        tf_transform_output.transformed_metadata.schema,
    ).repeat()


def _serving_signature(model: keras.Model, tf_transform_output: tft.TFTransformOutput):
    """`serving_default`: serialized tf.Examples of raw features (no label) in, probabilities out."""
    model.tft_layer = tf_transform_output.transform_features_layer()

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def serve_tf_examples_fn(serialized_tf_examples):
        raw_feature_spec = tf_transform_output.raw_feature_spec()
        raw_feature_spec.pop(features.LABEL_KEY, None)
        raw_features = tf.io.parse_example(serialized_tf_examples, raw_feature_spec)
        transformed = model.tft_layer(raw_features)
        transformed.pop(features.transformed_name(features.LABEL_KEY), None)
        return {"big_tip_probability": model(transformed)}

    return serve_tf_examples_fn


def _transform_features_signature(model: keras.Model, tf_transform_output: tft.TFTransformOutput):
    """`transform_features`: serialized raw tf.Examples in, every transformed feature out, the
    label among them. The Evaluator (TFMA) reads the label it scores against from here."""
    model.tft_layer_eval = tf_transform_output.transform_features_layer()

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def transform_features_fn(serialized_tf_examples):
        raw_features = tf.io.parse_example(serialized_tf_examples, tf_transform_output.raw_feature_spec())
        return model.tft_layer_eval(raw_features)

    return transform_features_fn


def run_fn(fn_args: FnArgs) -> None:
    """TFX Trainer entry point: trains on the transformed examples and saves the serving model."""
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    train = _input_fn(fn_args.train_files, fn_args.data_accessor, tf_transform_output, BATCH_SIZE)
    evaluation = _input_fn(fn_args.eval_files, fn_args.data_accessor, tf_transform_output, BATCH_SIZE)
    model = build_keras_model()
    model.fit(
        train,
        steps_per_epoch=fn_args.train_steps,
        validation_data=evaluation,
        validation_steps=fn_args.eval_steps,
        verbose=2,
    )
    logging.info("Saving the serving model to %s", fn_args.serving_model_dir)
    model.save(
        fn_args.serving_model_dir,
        save_format="tf",
        signatures={
            "serving_default": _serving_signature(model, tf_transform_output),
            TRANSFORM_FEATURES_SIGNATURE: _transform_features_signature(model, tf_transform_output),
        },
    )
