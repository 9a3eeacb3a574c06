"""Trainer's module: a small Keras model over the transformed features, for this project's task.

Written by `tfxgate init`; yours to edit. Keras 2 (`tf_keras`) is used explicitly: TFX 1.16's
Trainer and Transform layers are Keras 2 objects, and TF 2.16's default `tf.keras` is Keras 3.
The model gate (schema/evaluation.yaml) reads predictions from `serving_default` and the label
from `transform_features`; both signatures are saved here.
"""

from typing import List

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from absl import logging
from tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs
from tfx_bsl.tfxio import dataset_options

import features

TRANSFORM_FEATURES_SIGNATURE = "transform_features"  # named in schema/evaluation.yaml


def build_keras_model() -> keras.Model:
    """Numbers through a few dense layers (deep), categories one-hot beside them (wide), then the
    task's output: one probability (binary), one per class (multiclass), or a number (regression)."""
    inputs, deep, wide = {}, [], []
    for key in features.NUMERIC_FEATURE_KEYS:
        name = features.transformed_name(key)
        inputs[name] = keras.layers.Input(name=name, shape=(1,), dtype=tf.float32)
        deep.append(inputs[name])
    sizes = {features.transformed_name(k): high - low + 2 for k, (low, high) in features.INT_CATEGORY_RANGES.items()}
    sizes.update({features.transformed_name(k): features.VOCAB_SIZE + features.OOV_SIZE for k in features.VOCAB_FEATURE_KEYS})
    for name, size in sizes.items():
        inputs[name] = keras.layers.Input(name=name, shape=(1,), dtype=tf.int64)
        wide.append(keras.layers.CategoryEncoding(num_tokens=size, output_mode="one_hot")(inputs[name]))
    parts = []
    if deep:
        hidden = keras.layers.concatenate(deep) if len(deep) > 1 else deep[0]
        for units in features.HIDDEN_UNITS:
            hidden = keras.layers.Dense(units, activation="relu")(hidden)
        parts.append(hidden)
    parts += wide
    joined = keras.layers.concatenate(parts) if len(parts) > 1 else parts[0]
    if features.TASK == "binary":
        output = keras.layers.Dense(1, activation="sigmoid")(joined)
        loss, metrics = "binary_crossentropy", [keras.metrics.BinaryAccuracy(), keras.metrics.AUC(name="auc")]
    elif features.TASK == "multiclass":
        output = keras.layers.Dense(len(features.LABEL_CLASSES), activation="softmax")(joined)
        loss, metrics = "sparse_categorical_crossentropy", [keras.metrics.SparseCategoricalAccuracy()]
    else:
        output = keras.layers.Dense(1)(joined)
        loss, metrics = "mean_squared_error", [keras.metrics.MeanAbsoluteError()]
    model = keras.Model(inputs, output)
    model.compile(loss=loss, optimizer=keras.optimizers.Adam(learning_rate=features.LEARNING_RATE), metrics=metrics)
    return model


def _input_fn(file_pattern: List[str], data_accessor: DataAccessor, tf_transform_output: tft.TFTransformOutput,
              batch_size: int) -> tf.data.Dataset:
    return data_accessor.tf_dataset_factory(
        file_pattern,
        dataset_options.TensorFlowDatasetOptions(batch_size=batch_size,
                                                 label_key=features.transformed_name(features.LABEL_KEY)),
        tf_transform_output.transformed_metadata.schema,
    ).repeat()


def _serving_signature(model: keras.Model, tf_transform_output: tft.TFTransformOutput):
    """`serving_default`: serialized tf.Examples of raw features (no label) in, predictions out."""
    model.tft_layer = tf_transform_output.transform_features_layer()

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def serve_tf_examples_fn(serialized_tf_examples):
        raw_feature_spec = tf_transform_output.raw_feature_spec()
        raw_feature_spec.pop(features.LABEL_KEY, None)
        transformed = model.tft_layer(tf.io.parse_example(serialized_tf_examples, raw_feature_spec))
        transformed.pop(features.transformed_name(features.LABEL_KEY), None)
        return {"predictions": model(transformed)}

    return serve_tf_examples_fn


def _transform_features_signature(model: keras.Model, tf_transform_output: tft.TFTransformOutput):
    """`transform_features`: serialized raw tf.Examples in, every transformed feature out, the
    label among them (the model gate scores against it)."""
    model.tft_layer_eval = tf_transform_output.transform_features_layer()

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def transform_features_fn(serialized_tf_examples):
        raw_features = tf.io.parse_example(serialized_tf_examples, tf_transform_output.raw_feature_spec())
        return model.tft_layer_eval(raw_features)

    return transform_features_fn


def run_fn(fn_args: FnArgs) -> None:
    """TFX Trainer entry point: trains on the transformed examples and saves the serving model."""
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    train = _input_fn(fn_args.train_files, fn_args.data_accessor, tf_transform_output, features.BATCH_SIZE)
    evaluation = _input_fn(fn_args.eval_files, fn_args.data_accessor, tf_transform_output, features.BATCH_SIZE)
    model = build_keras_model()
    model.fit(train, steps_per_epoch=fn_args.train_steps, validation_data=evaluation,
              validation_steps=fn_args.eval_steps, verbose=2)
    logging.info("Saving the serving model to %s", fn_args.serving_model_dir)
    model.save(fn_args.serving_model_dir, save_format="tf", signatures={
        "serving_default": _serving_signature(model, tf_transform_output),
        TRANSFORM_FEATURES_SIGNATURE: _transform_features_signature(model, tf_transform_output),
    })
