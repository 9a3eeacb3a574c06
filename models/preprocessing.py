"""Transform's module: `preprocessing_fn` turns raw taxi features into model inputs.

TFX packages this folder as a wheel (the hash of every file here is part of the cache key, so
editing any of them re-runs Transform and Trainer).
"""

import tensorflow as tf
import tensorflow_transform as tft

from models import features


def fill_in_missing(x):
    """Densifies a rank-2 SparseTensor of at most one value per row: missing becomes '' or 0."""
    if not isinstance(x, tf.sparse.SparseTensor):
        return x
    default_value = "" if x.dtype == tf.string else 0
    dense = tf.sparse.to_dense(
        tf.SparseTensor(x.indices, x.values, [x.dense_shape[0], 1]), default_value
    )
    return tf.squeeze(dense, axis=1)


def big_tip_label(fare: tf.Tensor, tips: tf.Tensor) -> tf.Tensor:
    """1 when the tip exceeds BIG_TIP_FRACTION of the fare, else 0 (a missing fare gives 0)."""
    fare = tf.cast(fare, tf.float32)
    tips = tf.cast(tips, tf.float32)
    is_big = tf.greater(tips, fare * features.BIG_TIP_FRACTION)
    return tf.where(tf.math.is_nan(fare), tf.zeros_like(fare, tf.int64), tf.cast(is_big, tf.int64))


def preprocessing_fn(inputs):
    """tf.Transform's callback: a map from raw feature tensors to transformed ones."""
    outputs = {}
    for key in features.DENSE_FLOAT_FEATURE_KEYS:
        value = tf.cast(fill_in_missing(inputs[key]), tf.float32)
        outputs[features.transformed_name(key)] = tft.scale_to_z_score(value)
    for key in features.VOCAB_FEATURE_KEYS:
        outputs[features.transformed_name(key)] = tft.compute_and_apply_vocabulary(
            fill_in_missing(inputs[key]),
            top_k=features.VOCAB_SIZE,
            num_oov_buckets=features.OOV_SIZE,
        )
    for key in features.BUCKET_FEATURE_KEYS:
        outputs[features.transformed_name(key)] = tft.bucketize(
            tf.cast(fill_in_missing(inputs[key]), tf.float32), features.BUCKET_COUNT
        )
    for key, max_value in features.CATEGORICAL_FEATURE_MAX_VALUES.items():
        # Out-of-range values (a domain anomaly the gate reports) are clipped, never crash.
        value = tf.cast(fill_in_missing(inputs[key]), tf.int64)
        outputs[features.transformed_name(key)] = tf.clip_by_value(value, 0, max_value)
    if features.LABEL_KEY in inputs:
        outputs[features.transformed_name(features.LABEL_KEY)] = big_tip_label(
            fill_in_missing(inputs[features.FARE_KEY]),
            fill_in_missing(inputs[features.LABEL_KEY]),
        )
    return outputs
