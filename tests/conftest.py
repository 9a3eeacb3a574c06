"""Shared fixtures. `import tfxgate` first: it selects Keras 2 before TensorFlow is imported."""

import os
import pathlib

import tfxgate  # noqa: F401

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA_ROOT = PROJECT_ROOT / "data"
