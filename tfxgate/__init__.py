"""tfxgate's faces for people: the `tfxgate` command, the run console and the HTML report.

The top layer: it imports `pipeline`, `components`, `mlmd` and `core`; nothing imports it back.
"""

import core  # noqa: F401  (Keras 2 before TensorFlow is imported)


def __getattr__(name):
    """`tfxgate.GateDecision`: Kubeflow's container entrypoint imports a custom artifact type by
    its type name (core.common.names.GATE_DECISION_TYPE) as a class path, so the name must resolve
    here. Loaded lazily: importing tfxgate itself must not import TFX (the CLI would pay for it)."""
    if name == "GateDecision":
        from components.artifacts import GateDecision

        return GateDecision
    raise AttributeError(f"module 'tfxgate' has no attribute {name!r}")
