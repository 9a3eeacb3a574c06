"""Work of `tfxgate serve` done in a child process with a deadline, so that abandoned work stops.

Each batch (and each window) is judged in a child forked from the service: copy-on-write, it
starts with TensorFlow, the schema and the baseline already loaded (nothing imported, nothing
pickled in), writes its answer to a file in the request's own folder and exits. The parent
waits for its exit at most the deadline; past it, or when the service stops, the child is
killed, and its CPU and memory are back at once whatever it was doing.

Why a process and not a thread told to stop: a Python thread cannot be stopped from outside,
and a flag checked between blocks cannot stop TFDV's C++ inside one block (a 100,000-column
block is one call of minutes); an abandoned thread kept computing and holding gigabytes. Why a
fork per batch and not a pool of spawned workers: a worker would pay TensorFlow's import (about
ten seconds and some hundreds of MB) again after every kill, and would need the schema and
baseline sent to it at every reload; a fork costs milliseconds and sees what the parent holds.
"""

import multiprocessing
import os
import json
import signal
import stat
import threading
import traceback
from typing import Callable, Dict

from core.common.errors import UserError

_ANSWER = "answer.json"  # JSON, not pickle: nothing read back from a file is unpickled (tests/test_security.py)


class DeadlineExceeded(Exception):
    """The child did not finish within the deadline; it was killed."""


class Stopped(Exception):
    """The service is stopping: the child was killed (or never started)."""


class ChildFailed(Exception):
    """The child ended without an answer: a bug (`traceback` says where), or killed by the system."""

    def __init__(self, reason: str, traceback: str = ""):
        super().__init__(reason)
        self.traceback = traceback


class Children:
    """The children judging now; each `run` waits for one (from a worker thread)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._live: Dict[int, multiprocessing.Process] = {}
        self.stopping = False

    def run(self, fn: Callable, args: tuple, deadline: float, folder: str):
        """fn(*args) in a forked child; its return value. Raises the child's UserError,
        DeadlineExceeded past `deadline` seconds, Stopped when the service stops, ChildFailed."""
        answer = os.path.join(folder, _ANSWER)
        with self._lock:
            if self.stopping:
                raise Stopped()
            child = multiprocessing.get_context("fork").Process(target=_child, args=(fn, args, answer), daemon=True)
            child.start()
            self._live[child.pid] = child
        try:
            child.join(deadline)
            timed_out = child.exitcode is None
            if timed_out:
                child.kill()
                child.join()
        finally:
            with self._lock:
                self._live.pop(child.pid, None)
            child.close()
        if self.stopping and not os.path.exists(answer):
            raise Stopped()
        if timed_out:
            raise DeadlineExceeded()
        try:
            with open(answer, encoding="utf-8") as f:
                kind, value = json.load(f)  # written by our own child, a moment ago
        except (OSError, ValueError):
            raise ChildFailed("the judging process ended without an answer (killed by the system?)") from None
        if kind == "user":  # [the class name of a UserError, its message]: raised again here, as that class
            raise _user_error(value[0])(value[1])
        if kind == "bug":
            raise ChildFailed(*value)
        return value

    def kill_all(self) -> None:
        """Kills every child judging now, and starts no more (the service stops)."""
        with self._lock:
            self.stopping = True
            for child in self._live.values():
                try:
                    child.kill()
                except (OSError, ValueError):
                    pass


def _user_error(name: str) -> type:
    """The UserError subclass of that name (the parent has imported every module the child's work
    raises from), else UserError itself."""
    found, pending = UserError, [UserError]
    while pending:
        cls = pending.pop()
        if cls.__name__ == name:
            found = cls
            break
        pending.extend(cls.__subclasses__())
    return found


def _child(fn: Callable, args: tuple, answer: str) -> None:
    """In the child: the parent's signal handlers and sockets are not its own."""
    signal.set_wakeup_fd(-1)  # else a signal here would wake the parent's event loop
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    _close_sockets()
    try:
        result = ("ok", fn(*args))  # JSON: the answers are JSON documents, texts and counts
    except UserError as e:
        result = ("user", (type(e).__name__, str(e)))
    except BaseException as e:  # a bug: one line for the client, the traceback for the parent's log
        result = ("bug", (f"internal error (a bug in tfxgate, not in your request): {type(e).__name__}",
                          traceback.format_exc()))
    with open(answer + ".part", "w", encoding="utf-8") as f:
        json.dump(result, f)
    os.replace(answer + ".part", answer)


def _close_sockets() -> None:
    """Closes the listening socket and the clients' connections the fork inherited, so that a
    port closes when the service closes it (the standard streams stay, whatever they are)."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd <= 2:
            continue
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.close(fd)
        except OSError:
            pass
