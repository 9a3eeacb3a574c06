"""The tfxgate pipeline: its configuration and its wiring (local and Kubeflow)."""

import core  # noqa: F401  (Keras 2 before TensorFlow is imported)
