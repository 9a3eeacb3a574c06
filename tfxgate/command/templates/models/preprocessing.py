"""Transform's module: `preprocessing_fn` turns the raw features into the model's inputs.

Written by `tfxgate init` for this project's schema; yours to edit (the lists it reads are in
features.py, each with the reason it was chosen). TFX packages this folder as a wheel: editing any
file here re-runs Transform and Trainer, and nothing else.
"""

import tensorflow as tf
import tensorflow_transform as tft

import features


def _dense(x, default):
    """A feature of at most one value per row as a vector; a row without a value gets `default`."""
    if not isinstance(x, tf.sparse.SparseTensor):
        return tf.squeeze(x, axis=1) if x.shape.rank == 2 else x
    return tf.squeeze(tf.sparse.to_dense(tf.SparseTensor(x.indices, x.values, [x.dense_shape[0], 1]), default), axis=1)


def _number(x):
    """A numeric feature as float32, a missing value replaced by the feature's mean over the span."""
    values = x.values if isinstance(x, tf.sparse.SparseTensor) else x
    mean = tft.mean(tf.cast(values, tf.float32))
    return _dense(tf.cast(x, tf.float32) if not isinstance(x, tf.sparse.SparseTensor)
                  else tf.SparseTensor(x.indices, tf.cast(x.values, tf.float32), x.dense_shape), mean)


def _text(x):
    """A text feature; numbers (a whole-number label) are written as text."""
    if x.dtype == tf.string:
        return _dense(x, "")
    return tf.strings.as_string(tf.cast(tf.round(tf.cast(_dense(x, 0), tf.float64)), tf.int64))


def label(x):
    """The label as the task needs it: the class's index (binary: 1 for POSITIVE_CLASS, else 0;
    multiclass: its place in LABEL_CLASSES), or the number itself (regression)."""
    if features.TASK == "regression":
        return _dense(tf.cast(x, tf.float32) if not isinstance(x, tf.sparse.SparseTensor)
                      else tf.SparseTensor(x.indices, tf.cast(x.values, tf.float32), x.dense_shape), 0.0)
    text = _text(x)
    if features.TASK == "binary":
        return tf.cast(tf.equal(text, features.POSITIVE_CLASS), tf.int64)
    # A class the training spans never had matches none and becomes class 0; the schema's domain
    # of the label makes such a span an anomaly before it gets here.
    matches = tf.equal(tf.expand_dims(text, 1), tf.expand_dims(tf.constant(features.LABEL_CLASSES), 0))
    return tf.argmax(tf.cast(matches, tf.int32), axis=1, output_type=tf.int64)


def preprocessing_fn(inputs):
    """tf.Transform's callback: a map from raw feature tensors to transformed ones."""
    outputs = {}
    for key in features.NUMERIC_FEATURE_KEYS:
        outputs[features.transformed_name(key)] = tft.scale_to_z_score(_number(inputs[key]))
    for key, (low, high) in features.INT_CATEGORY_RANGES.items():
        # 0 for a missing value, 1 .. high - low + 1 for low .. high; values beyond are clipped
        # (a domain anomaly the gate reports first).
        value = tf.cast(_dense(inputs[key], low - 1), tf.int64)
        outputs[features.transformed_name(key)] = tf.clip_by_value(value - low + 1, 0, high - low + 1)
    for key in features.VOCAB_FEATURE_KEYS:
        outputs[features.transformed_name(key)] = tft.compute_and_apply_vocabulary(
            _text(inputs[key]), top_k=features.VOCAB_SIZE, num_oov_buckets=features.OOV_SIZE)
    if features.LABEL_KEY in inputs:
        outputs[features.transformed_name(features.LABEL_KEY)] = label(inputs[features.LABEL_KEY])
    return outputs
