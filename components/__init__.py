"""tfxgate's own TFX components, one folder each: thin wrappers around the pure code in `core`."""

import core  # noqa: F401  (Keras 2 before TensorFlow is imported)
