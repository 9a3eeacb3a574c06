"""The sliding windows of `tfxgate serve`: the instances /v1/check did not refuse, gathered into
windows and each judged as a SERVING batch against the baseline, in a child process under the
deadline, with its findings and distances in the metrics.
"""

import collections
import logging
import os
import shutil
import tempfile
import threading
import time
from typing import Deque, Dict, List, Optional

from core.common import names
from tfxgate.online import judging, service

log = logging.getLogger("tfxgate.online.serve")


class Windows:
    """The sliding windows: accepted instances gathered until `window_rows` of them or
    `window_seconds` since the first, then judged (in the caller's worker thread) as a SERVING
    batch against the baseline, in a child process under the deadline (tfxgate/online/judging.py). At
    most two windows wait to be judged; the last `windows_kept` results are kept. A window takes
    at most `max_unknown_columns` columns the schema does not know (the first ones seen): the
    instances' other unknown keys were flagged by /v1/check and are not judged again. Memory:
    one open window of text rows, two waiting."""

    def __init__(self, options: service.Options, metrics: service.Metrics, tmp_dir: str,
                 children: Optional[judging.Children] = None):
        self.options, self.metrics, self.tmp_dir = options, metrics, tmp_dir
        self.children = children or judging.Children()
        self.lock = threading.Lock()
        self.rows: List[Dict[str, str]] = []
        self.unknown: set = set()  # the open window's columns the schema does not know
        self.opened: Optional[float] = None
        self.waiting: Deque[tuple] = collections.deque()
        self.results: Deque[dict] = collections.deque(maxlen=options.windows_kept)
        self.count = 0

    def add(self, rows: List[Dict[str, str]], known=None) -> bool:
        """Adds accepted rows (`known`: the schema's features); True when a window closed and
        waits to be judged."""
        closed = False
        with self.lock:
            for row in rows:
                if known is not None:
                    for name in [k for k in row if k not in known and k not in self.unknown]:
                        if len(self.unknown) < self.options.max_unknown_columns:
                            self.unknown.add(name)
                        else:
                            del row[name]
                if not self.rows:
                    self.opened = time.time()
                self.rows.append(row)
                if len(self.rows) >= self.options.window_rows:
                    closed |= self._close()
            self.metrics.window_rows.set(len(self.rows))
        return closed

    def close_if_due(self, now: Optional[float] = None) -> bool:
        """Closes the open window when it is `window_seconds` old; True when one closed."""
        with self.lock:
            if self.rows and (now or time.time()) - self.opened >= self.options.window_seconds:
                closed = self._close()
                self.metrics.window_rows.set(0)
                return closed
        return False

    def _close(self) -> bool:
        self.count += 1
        if len(self.waiting) >= 2:
            self.waiting.popleft()
            self.metrics.windows_dropped.inc()
        self.waiting.append((self.count, self.opened, time.time(), self.rows))
        self.rows, self.opened, self.unknown = [], None, set()
        return True

    def judge_waiting(self, loaded: service.Loaded) -> None:
        """Judges the windows waiting (called in a worker thread, one at a time)."""
        while True:
            with self.lock:
                if not self.waiting:
                    return
                number, opened, closed, rows = self.waiting.popleft()
            self.results.append(self._judge(loaded, number, opened, closed, rows))

    def _judge(self, loaded: service.Loaded, number: int, opened: float, closed: float, rows) -> dict:
        fd, path = tempfile.mkstemp(suffix=".csv", dir=self.tmp_dir)
        os.close(fd)
        label = f"window {number}"
        folder = tempfile.mkdtemp(dir=self.tmp_dir)
        try:
            service.write_csv(rows, path)
            answer = self.children.run(_window_answer, (loaded, path, label), self.options.deadline_seconds, folder)
        except (judging.DeadlineExceeded, judging.Stopped) as e:
            why = ("not judged within the deadline of {:g} s (--deadline-seconds)".format(self.options.deadline_seconds)
                   if isinstance(e, judging.DeadlineExceeded) else "not judged: the service stopped")
            log.warning("window %s: %s", number, why)
            return {"window": number, "opened": opened, "closed": closed, "rows": len(rows), "error": why}
        except Exception as e:  # a window is never a user's input: one line here, the traceback in the log
            log.error("window %s could not be judged: %s", number, getattr(e, "traceback", "") or e,
                      exc_info=not isinstance(e, judging.ChildFailed))
            return {"window": number, "opened": opened, "closed": closed, "rows": len(rows),
                    "error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
        finally:
            os.unlink(path)
            shutil.rmtree(folder, ignore_errors=True)
        m = self.metrics
        m.windows.labels(answer["result"]).inc()
        for anomaly in answer["anomalies"]:
            m.findings.labels("window", anomaly["feature"], anomaly["check"] or "", anomaly["severity"]).inc()
        for gauge in (m.window_distance, m.window_threshold, m.window_noise):
            gauge.clear()  # the last window's distances only
        for d in answer["distances"]:
            labels = (d.get("feature", ""), d.get("check", ""), d.get("type", ""), d.get("slice") or "")
            if d.get("value") is not None:
                m.window_distance.labels(*labels).set(d["value"])
            if d.get("threshold") is not None:
                m.window_threshold.labels(*labels).set(d["threshold"])
            if d.get("noise") is not None:
                m.window_noise.labels(*labels).set(d["noise"])
        return {"window": number, "opened": opened, "closed": closed, **answer}


def _window_answer(loaded: service.Loaded, path: str, label: str) -> dict:
    """A window's answer (in a child process): /v1/validate's, without server paths."""
    outcome = service.validate_file(loaded, path, label, names.SERVING)
    outcome.baseline = service.public_baseline(outcome.baseline)
    answer = outcome.to_json()
    answer.pop("schema")
    return answer
