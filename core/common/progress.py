"""Counters a long step bumps as it goes, for the console's heartbeat in the same process.

Beam's own metrics reach the caller only when a pipeline ends, so a step that wants to be seen
while it runs (ExampleGen reading a 200 MB batch) counts here. In a process of its own (Beam's
multi-processing mode, a Kubeflow task) nobody reads the counter and nothing changes.
"""

import threading
from typing import Dict

ROWS_READ = "rows read"

_lock = threading.Lock()
_counts: Dict[str, int] = {}


def add(name: str, n: int) -> None:
    with _lock:
        _counts[name] = _counts.get(name, 0) + n


def count(name: str) -> int:
    return _counts.get(name, 0)
