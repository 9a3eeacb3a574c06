"""Library noise kept out of what a person reads: TensorFlow's C++ start-up and CUDA probing
lines, Google clients' FutureWarnings, deprecation warnings, absl's INFO lines. Set before
TensorFlow is first imported; the `tfxgate` command (cli.py), the run console and the notebook
call it. TFXGATE_VERBOSE=1 keeps everything."""

import logging
import os
import warnings


def settings() -> None:
    """Quiet TensorFlow and the Python warnings libraries raise on import (idempotent)."""
    if os.environ.get("TFXGATE_VERBOSE"):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    for category in (FutureWarning, DeprecationWarning, PendingDeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("ignore", message=".*(pkg_resources|google.cloud|TensorFlow|tensorflow_io).*")
    for name in ("absl", "tensorflow", "apache_beam", "tfx"):
        logging.getLogger(name).setLevel(logging.ERROR)


def notebook() -> None:
    """`settings()`, and absl's logging (which TFDV and TFX write through) at errors only."""
    settings()
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # absl comes with TensorFlow; without it there is nothing to quiet
        pass
