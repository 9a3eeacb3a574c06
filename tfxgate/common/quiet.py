"""Library noise kept out of what a person reads: TensorFlow's C++ start-up and CUDA probing
lines, Google clients' FutureWarnings, deprecation warnings, absl's INFO lines. Set before
TensorFlow is first imported; the `tfxgate` command (cli.py), the run console and the notebook
call it. TFXGATE_VERBOSE=1 keeps everything."""

import contextlib
import logging
import os
import warnings
from typing import Iterator, Optional


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


@contextlib.contextmanager
def library_noise_to(log_path: Optional[str]) -> Iterator[None]:
    """While a network client runs (MLflow's, KFP's): library log records and Python warnings
    (urllib3's retries, MLflow's deprecation notices) go to `log_path` (None: nowhere), not to
    the terminal, where the caller's own one line says what failed. Handlers writing to the
    terminal are detached meanwhile, the root's and those libraries attach to their own loggers."""
    import sys

    terminals = (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)
    detached = []
    loggers = [logging.getLogger()] + [l for l in logging.Logger.manager.loggerDict.values()
                                       if isinstance(l, logging.Logger)]
    for logger in loggers:
        for handler in list(logger.handlers):
            if isinstance(handler, logging.StreamHandler) and getattr(handler, "stream", None) in terminals:
                logger.removeHandler(handler)
                detached.append((logger, handler))
    if log_path:
        os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    log = logging.FileHandler(log_path) if log_path else logging.NullHandler()
    log.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(log)
    saved_last_resort, logging.lastResort = logging.lastResort, None
    logging.captureWarnings(True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            yield
    finally:
        logging.captureWarnings(False)
        logging.lastResort = saved_last_resort
        root.removeHandler(log)
        log.close()
        for logger, handler in detached:
            logger.addHandler(handler)
