"""One run at a time per pipeline root and per SQLite store, and the truth about killed runs.

SQLite allows one writer: two LocalDagRunners on one file fail at random with `database is
locked`, and two runs sharing a pipeline root with different stores would write into the same
`<node>/<output>/<execution id>` folders. `hold` takes an exclusive `flock` on a lock file beside
each; a second run waits (saying for whom) or, with `wait=False`, stops with a clear message.
The kernel drops a flock when its process dies, even by SIGKILL, so a killed run never leaves a
stale lock behind.

A run killed mid-component leaves its execution RUNNING in MLMD forever, and its half-written
output folders on disk. TFX never reuses either (its cache takes only COMPLETE executions, and
registers output artifacts only on success), but the store would claim something is still
running. `reconcile` runs while the lock is held: every RUNNING execution it finds belongs to a
process that is gone, so it is marked FAILED with the reason, and its partial folders removed.
"""

import contextlib
import datetime
import errno
import fcntl
import glob
import json
import os
import shutil
import socket
import time
from typing import Callable, Iterator, List, Optional

INTERRUPTED_KEY = "tfxgate_interrupted"


class Busy(RuntimeError):
    """Another run holds the lock and the caller chose not to wait; one line, says who."""


def _holder(path: str) -> str:
    try:
        with open(path) as f:
            info = json.loads(f.read() or "{}")
    except (OSError, ValueError):
        return "another run"
    return f"run of pid {info.get('pid', '?')} on {info.get('host', '?')} since {info.get('started', '?')}"


@contextlib.contextmanager
def hold(lock_paths: List[str], wait: bool = True, say: Callable[[str], None] = print) -> Iterator[None]:
    """Exclusive locks on `lock_paths`, taken in sorted order (no deadlock between two runs)."""
    with contextlib.ExitStack() as stack:
        for path in sorted(set(lock_paths)):
            stack.enter_context(_lock(path, wait, say))
        yield


@contextlib.contextmanager
def _lock(path: str, wait: bool, say: Callable[[str], None]) -> Iterator[None]:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            holder = _holder(path)
            if not wait:
                raise Busy(f"{path}: held by {holder}; try again when it ends (or drop --no-wait to wait)") from None
            say(f"tfxgate: waiting for the {holder} to finish ({path})")
            started = time.monotonic()
            fcntl.flock(fd, fcntl.LOCK_EX)
            say(f"tfxgate: lock taken after {time.monotonic() - started:.0f} s")
        os.ftruncate(fd, 0)
        stamp = datetime.datetime.now().isoformat(timespec="seconds")
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": stamp}).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _execution_dirs(pipeline_root: str, node_id: str, execution_id: int) -> List[str]:
    """The folders TFX made for one execution: outputs and its .system working folders."""
    node_dir = os.path.join(pipeline_root, node_id)
    pattern_outputs = os.path.join(glob.escape(node_dir), "*", str(execution_id))
    pattern_system = os.path.join(glob.escape(node_dir), ".system", "*", str(execution_id))
    return sorted(p for p in glob.glob(pattern_outputs) + glob.glob(pattern_system) if os.path.isdir(p))


def reconcile(store, pipeline_name: str, pipeline_root: str, whole_store: bool) -> List[str]:
    """Marks this pipeline's executions left RUNNING by a dead process FAILED; returns what it did.

    Call only while holding the locks. With `whole_store` (a SQLite store, whose lock admits one
    run at all) every RUNNING execution of the pipeline is orphaned. On a shared MySQL store other
    machines may run the same pipeline into other roots, so only executions whose folders are
    under this pipeline root are claimed.
    """
    from ml_metadata.proto import metadata_store_pb2

    from mlmd import query

    context = query.pipeline_context(store, pipeline_name)
    if context is None:
        return []
    unfinished = (metadata_store_pb2.Execution.NEW, metadata_store_pb2.Execution.RUNNING)
    notes = []
    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    for execution in store.get_executions_by_context(context.id):
        if execution.last_known_state not in unfinished:
            continue
        node = query.node_id_of(store, execution.id) or "?"
        dirs = _execution_dirs(pipeline_root, node, execution.id)
        if not whole_store and not dirs:
            continue
        execution.last_known_state = metadata_store_pb2.Execution.FAILED
        execution.custom_properties[INTERRUPTED_KEY].string_value = (
            f"the run's process ended while this execution was running (found at {stamp}); "
            f"its partial outputs were removed"
        )
        store.put_executions([execution])
        for path in dirs:
            shutil.rmtree(path, ignore_errors=True)
        notes.append(f"execution {execution.id} of {node} was left running by a killed run: marked FAILED, "
                     f"{len(dirs)} partial folder(s) removed")
    return notes


def lock_paths(pipeline_root: str, sqlite_path: Optional[str]) -> List[str]:
    paths = [os.path.join(pipeline_root, ".tfxgate-run.lock")]
    if sqlite_path:
        paths.append(sqlite_path + ".lock")
    return paths
