"""tfxgate's bottom layer: shared names, the artifact layout, and the pure checking code.

Nothing here imports TFX, the pipeline, the components or the command line; everything above
imports it. Importing this package selects Keras 2 before TensorFlow is first imported: TFX 1.16's
Trainer and Transform need it, and TF 2.16 defaults to Keras 3 unless TF_USE_LEGACY_KERAS is set.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
