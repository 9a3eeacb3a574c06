"""A readable console for pipeline runs: one line per component with its time, noise to a log file.

TensorFlow, Beam and pip write freely to the process's stdout and stderr (also from C++ and from
subprocesses), so quiet mode redirects file descriptors 1 and 2 to a log file and keeps a private
copy of the terminal for the progress lines.
"""

import contextlib
import logging
import os
import resource
import sys
import threading
import time
from typing import Dict, Iterator, List, Optional, TextIO

from absl import logging as absl_logging

from core.common import progress as progress_counters

_RUNNING = "Component %s is running."
_FINISHED = "Component %s is finished."
_CACHED = "A cached execution %d is used."
# A long component says it is alive this often (TFXGATE_HEARTBEAT_SECONDS; 0: never): elapsed
# time, the rows read so far where the component counts them (core/common/progress.py) and the
# process's peak memory, so a 200 MB batch is not five silent minutes.
HEARTBEAT_SECONDS = float(os.environ.get("TFXGATE_HEARTBEAT_SECONDS", "30"))


class ComponentProgress(logging.Handler):
    """Turns LocalDagRunner's log records into 'start' and 'done in N s' lines on `out`."""

    def __init__(self, out: TextIO, heartbeat: float = HEARTBEAT_SECONDS):
        super().__init__(level=logging.INFO)
        self.out = out
        self.heartbeat = heartbeat
        self._last_beat: Dict[str, float] = {}
        self._lock = threading.Lock()
        self.current: Optional[str] = None
        self.started: Dict[str, float] = {}
        self._rows_at_start: Dict[str, int] = {}
        self.cached: Dict[str, bool] = {}
        self.durations: Dict[str, float] = {}
        self.order: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == _RUNNING and record.args:
            node = str(record.args[0])
            self.current = node
            self.order.append(node)
            self.started[node] = time.monotonic()
            self._rows_at_start[node] = progress_counters.count(progress_counters.ROWS_READ)
            self.cached[node] = False
            self._print(f"  {node:<24} started")
        elif record.msg == _CACHED and self.current:
            self.cached[self.current] = True
        elif record.msg == _FINISHED and record.args:
            node = str(record.args[0])
            self.durations[node] = time.monotonic() - self.started.get(node, time.monotonic())
            how = "cached" if self.cached.get(node) else "done"
            self._print(f"  {node:<24} {how} in {self.durations[node]:.1f} s")
            self.current = None

    def beat(self, now: Optional[float] = None) -> Optional[str]:
        """A 'still running' line for the running component, at most once per heartbeat."""
        node = self.current
        if node is None or self.heartbeat <= 0 or node not in self.started:
            return None
        now = time.monotonic() if now is None else now
        if now - self._last_beat.get(node, self.started[node]) < self.heartbeat:
            return None
        self._last_beat[node] = now
        rows = progress_counters.count(progress_counters.ROWS_READ) - self._rows_at_start.get(node, 0)
        line = (f"  {node:<24} still running: {_duration(now - self.started[node])}"
                f"{f', {rows:,} rows read' if rows > 0 else ''}, peak memory {_peak_mib():,} MiB")
        self._print(line)
        return line

    def _print(self, line: str) -> None:
        with self._lock:
            self.out.write(line + "\n")
            self.out.flush()


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def _peak_mib() -> int:
    """The process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


@contextlib.contextmanager
def pipeline_console(log_path: str, verbose: bool) -> Iterator[ComponentProgress]:
    """Shows component progress; unless `verbose`, sends all other output to `log_path`."""
    os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
    absl_logging.set_verbosity(absl_logging.INFO)
    absl_logger = logging.getLogger("absl")
    with _terminal(log_path, verbose) as terminal:
        progress = ComponentProgress(terminal)
        absl_logger.addHandler(progress)
        stop = threading.Event()
        beating = threading.Thread(target=_heartbeat, args=(progress, stop), name="tfxgate-heartbeat", daemon=True)
        beating.start()
        try:
            yield progress
        finally:
            stop.set()
            beating.join(timeout=5)
            absl_logger.removeHandler(progress)
            absl_logging.set_verbosity(absl_logging.WARNING)


def _heartbeat(progress: ComponentProgress, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        progress.beat()


@contextlib.contextmanager
def _terminal(log_path: str, verbose: bool) -> Iterator[TextIO]:
    if verbose:
        yield sys.stdout
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(1), "w", buffering=1)
    with open(log_path, "ab", buffering=0) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield terminal
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved_out, 1)
            os.dup2(saved_err, 2)
            os.close(saved_out)
            os.close(saved_err)
            terminal.close()


def one_line(error: BaseException) -> str:
    """The useful last line of an exception's message (TFX wraps executor errors in prose)."""
    text = str(error).strip()
    marker = "error message "
    if marker in text:  # "Execution N failed with error code C and error message M"
        text = text.split(marker, 1)[1]
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(error).__name__
