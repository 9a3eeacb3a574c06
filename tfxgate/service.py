"""What `tfxgate serve` holds in memory and does, apart from HTTP: the schema, policy and
baseline loaded once (and again on a reload), the per-instance checks, the sliding windows of
accepted instances judged for skew, and the metrics.

A batch is judged by tfxgate/validate.py's own functions (`read_batch`, `judge`), so the service
answers exactly what `tfxgate validate --format json` answers; a window of instances is such a
batch too, judged against the training baseline by the same noise-aware skew checks.
"""

import collections
import csv
import dataclasses
import logging
import os
import tempfile
import threading
import time
from typing import Deque, Dict, List, Optional

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from core import instances as instances_lib, names
from core.errors import InputError
from tfxgate import validate

log = logging.getLogger("tfxgate.serve")

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclasses.dataclass(frozen=True)
class Options:
    """The service's settings (`tfxgate serve`'s flags)."""

    schema_path: str
    policy_path: str
    baseline: str = "auto"  # auto (the newest accepted run in MLMD), none, or a path
    metadata: object = None  # mlmd.store.StoreSettings, for `auto`
    pipeline: Optional[str] = None
    window_rows: int = 1000  # a window closes after this many accepted instances ...
    window_seconds: float = 60.0  # ... or this long after its first one
    windows_kept: int = 20  # the last windows' findings, at GET /v1/windows
    reload_seconds: float = 30.0  # how often MLMD is asked whether a newer run was accepted
    max_body_bytes: int = 64 << 20
    max_instances: int = 1000  # per /v1/check request
    token: Optional[str] = None  # a bearer token every /v1 and /metrics request must carry


@dataclasses.dataclass
class Loaded:
    """One consistent set of what judges: swapped whole on a reload, never edited."""

    checks: validate.Checks
    baseline: tuple  # (statistics or None, profile or None, description): validate.load_baseline
    baseline_key: object  # what identifies the baseline (the accepted decision's id and URI)
    checkers: Dict[str, instances_lib.Checker]  # environment -> its row-level checks
    loaded_at: float

    def names_json(self) -> dict:
        """The schema and baseline in use, named in every answer."""
        return {"schema": self.checks.schema_path, "schema_version": self.checks.version,
                "baseline": self.baseline[2]}


class Metrics:
    """The service's Prometheus metrics, in a registry of its own."""

    def __init__(self):
        r = self.registry = CollectorRegistry()
        self.requests = Counter("tfxgate_requests", "HTTP requests answered", ["path", "status"], registry=r)
        self.latency = Histogram("tfxgate_request_seconds", "time to answer a request", ["path"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge("tfxgate_requests_in_flight", "requests being answered", ["path"], registry=r)
        self.rows = Counter("tfxgate_rows_checked", "rows and instances checked", ["endpoint"], registry=r)
        self.instances = Counter("tfxgate_instances", "instances checked by /v1/check, by outcome",
                                 ["outcome"], registry=r)
        self.findings = Counter("tfxgate_findings", "findings per feature and check",
                                ["source", "feature", "check", "severity"], registry=r)
        self.window_distance = Gauge("tfxgate_window_distance", "the last window's distance against the baseline",
                                     ["feature", "check", "type", "slice"], registry=r)
        self.window_threshold = Gauge("tfxgate_window_threshold", "the threshold of that distance",
                                      ["feature", "check", "type", "slice"], registry=r)
        self.window_noise = Gauge("tfxgate_window_noise", "the noise level of that distance at the window's size",
                                  ["feature", "check", "type", "slice"], registry=r)
        self.windows = Counter("tfxgate_windows", "windows judged, by result", ["result"], registry=r)
        self.windows_dropped = Counter("tfxgate_windows_dropped", "windows not judged: too many waiting", registry=r)
        self.window_rows = Gauge("tfxgate_window_rows", "instances in the open window", registry=r)
        self.reloads = Counter("tfxgate_reloads", "reloads of schema, policy and baseline", ["why", "outcome"],
                               registry=r)
        self.loaded = Gauge("tfxgate_loaded_timestamp_seconds", "when what judges was last loaded", registry=r)


def load(options: Options) -> Loaded:
    """Loads the schema, policy, files beside the schema and the baseline; a UserError when one
    cannot be read."""
    checks = validate.load_checks(options.schema_path, options.policy_path)
    key = baseline_key(options)
    baseline = validate.load_baseline(options.baseline, options.metadata, options.pipeline, checks.kinds, ",",
                                      checks.settings.slices)
    if baseline[1] is not None:
        baseline[1].settle()  # shared by concurrent requests: settled once, read only from here on
    checkers = {env: instances_lib.Checker(checks.schema, env, checks.rules) for env in names.ENVIRONMENTS}
    return Loaded(checks, baseline, key, checkers, time.time())


def warm_up(loaded: Loaded, tmp_dir: str) -> None:
    """Judges a one-row batch once (every cell empty), so that the first request or window does
    not pay for TFDV's first-call work (lazy imports, generator set-up) while others wait."""
    fd, path = tempfile.mkstemp(suffix=".csv", dir=tmp_dir)
    os.close(fd)
    try:
        names_in = sorted(loaded.checks.kinds)
        write_csv([dict.fromkeys(names_in, "")], path)
        validate_file(loaded, path, "warm-up", names.SERVING)
    except InputError:
        pass  # what the empty row says does not matter: the code paths are loaded
    finally:
        os.unlink(path)


def baseline_key(options: Options):
    """What identifies the baseline `options` names now: for `auto`, the newest accepted decision
    in MLMD (a cheap query); a reload happens when it changes."""
    if options.baseline != "auto":
        return options.baseline
    from mlmd import query, store as store_lib

    settings = store_lib.as_settings(options.metadata)
    if not settings.exists():
        return None
    accepted = query.latest_accepted_training_statistics(settings.open(), options.pipeline)
    return None if accepted is None else (accepted["run"], accepted["uri"], accepted["span"])


def write_csv(rows: List[Dict[str, str]], path: str) -> None:
    """Text rows as a CSV file, columns in the order first seen."""
    columns: Dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, list(columns), restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def instances_csv(instances: list, path: str) -> int:
    """JSON instances written as a CSV file, each value as its cell (core.instances.cell_text)."""
    if not instances:
        raise InputError("no instances")
    rows = []
    for i, instance in enumerate(instances):
        if not isinstance(instance, dict):
            raise InputError(f"instance {i}: expected an object of feature values, not a {type(instance).__name__}")
        rows.append({str(k): instances_lib.cell_text(v, f"instance {i}, {k}") for k, v in instance.items()})
    write_csv(rows, path)
    return len(rows)


def validate_file(loaded: Loaded, path: str, label: str, environment: str, delimiter: str = ",") -> validate.Outcome:
    """The batch at `path` judged as `tfxgate validate` judges it; `label` is what the answer
    (and any error) calls the data."""
    try:
        batch = validate.read_batch(loaded.checks, path, delimiter)
    except InputError as e:
        raise InputError(str(e).replace(path, label)) from None
    outcome = validate.judge(loaded.checks, label, batch, environment, loaded.baseline)
    for entry in outcome.outside.values():  # where values lie outside: in the data as the client named it
        for seen in entry["values"].values():
            for example in seen["examples"]:
                if example.get("file") == path:
                    example["file"] = label
    return outcome


class Windows:
    """The sliding windows: accepted instances gathered until `window_rows` of them or
    `window_seconds` since the first, then judged (in the caller's worker thread) as a SERVING
    batch against the baseline. At most two windows wait to be judged; the last
    `windows_kept` results are kept. Memory: one open window of text rows, two waiting."""

    def __init__(self, options: Options, metrics: Metrics, tmp_dir: str):
        self.options, self.metrics, self.tmp_dir = options, metrics, tmp_dir
        self.lock = threading.Lock()
        self.rows: List[Dict[str, str]] = []
        self.opened: Optional[float] = None
        self.waiting: Deque[tuple] = collections.deque()
        self.results: Deque[dict] = collections.deque(maxlen=options.windows_kept)
        self.count = 0

    def add(self, rows: List[Dict[str, str]]) -> bool:
        """Adds accepted rows; True when a window closed and waits to be judged."""
        closed = False
        with self.lock:
            for row in rows:
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
        self.rows, self.opened = [], None
        return True

    def judge_waiting(self, loaded: Loaded) -> None:
        """Judges the windows waiting (called in a worker thread, one at a time)."""
        while True:
            with self.lock:
                if not self.waiting:
                    return
                number, opened, closed, rows = self.waiting.popleft()
            self.results.append(self._judge(loaded, number, opened, closed, rows))

    def _judge(self, loaded: Loaded, number: int, opened: float, closed: float, rows) -> dict:
        fd, path = tempfile.mkstemp(suffix=".csv", dir=self.tmp_dir)
        os.close(fd)
        label = f"window {number}"
        try:
            write_csv(rows, path)
            outcome = validate_file(loaded, path, label, names.SERVING)
        except Exception as e:  # a window is never a user's input: one line here, the traceback in the log
            log.exception("window %s could not be judged", number)
            return {"window": number, "opened": opened, "closed": closed, "rows": len(rows),
                    "error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
        finally:
            os.unlink(path)
        answer = outcome.to_json()
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
