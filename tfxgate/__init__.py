"""tfxgate's faces for people: the `tfxgate` command, the run console, the HTML report, and the
Python API for notebooks:

    import tfxgate
    result = tfxgate.validate(df)          # a DataFrame, a pyarrow Table or a path; -> tfxgate.Result
    result.verdict, result.findings, result.left_out
    tfxgate.runs(), tfxgate.run("latest"), tfxgate.history("fare")

The top layer: it imports `pipeline`, `components`, `mlmd` and `core`; nothing imports it back.
Importing it loads no TensorFlow, Beam or TFDV (tfxgate/notebook/).
"""

import core  # noqa: F401  (Keras 2 before TensorFlow is imported)


_API = {  # the notebook API (tfxgate/notebook/), loaded on first use
    "validate": "tfxgate.notebook.batch", "Result": "tfxgate.notebook.batch",
    "runs": "tfxgate.notebook.history", "run": "tfxgate.notebook.history", "history": "tfxgate.notebook.history",
    "Error": "tfxgate.notebook.errors", "DataError": "tfxgate.notebook.errors", "ProjectError": "tfxgate.notebook.errors",
}
__all__ = list(_API)


def __getattr__(name):
    """`tfxgate.GateDecision`: Kubeflow's container entrypoint imports a custom artifact type by
    its type name (core.common.names.GATE_DECISION_TYPE) as a class path, so the name must resolve
    here. Loaded lazily: importing tfxgate itself must not import TFX (the CLI would pay for it)."""
    if name == "GateDecision":
        from components.artifacts import GateDecision

        return GateDecision
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'tfxgate' has no attribute {name!r}")
