"""tfxgate: the command line, console and MLMD helpers around the tfxgate pipeline."""

import os

# TFX 1.16's Trainer and Transform need Keras 2; TF 2.16 defaults to Keras 3 unless this is set
# before TensorFlow is first imported. Every tfxgate entry point imports this package first.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def __getattr__(name):
    """`tfxgate.GateDecision`: Kubeflow's container entrypoint imports a custom artifact type by
    its type name as a class path, so the name must resolve here. Loaded lazily: importing
    tfxgate itself must not import TFX (the CLI would pay for it)."""
    if name == "GateDecision":
        from components.gate.artifacts import GateDecision

        return GateDecision
    raise AttributeError(f"module 'tfxgate' has no attribute {name!r}")
