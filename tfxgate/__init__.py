"""tfxgate: the command line, console and MLMD helpers around the tfxgate pipeline."""

import os

# TFX 1.16's Trainer and Transform need Keras 2; TF 2.16 defaults to Keras 3 unless this is set
# before TensorFlow is first imported. Every tfxgate entry point imports this package first.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
