"""What `tfxgate serve` holds in memory and does, apart from HTTP: the schema, policy and
baseline loaded once (and again on a reload), the per-instance checks, the sliding windows of
accepted instances judged for skew (windows.py), and the metrics.

A batch is judged by tfxgate/validation/validate.py's own functions (`read_batch`, `judge`), so the service
answers what `tfxgate validate --format json` answers, without the server's paths (the schema
version and the baseline's run name them); a window of instances is such a batch too, judged
against the training baseline by the same noise-aware skew checks. Both are judged in a child
process under a deadline (tfxgate/online/judging.py), after the columns the schema does not know are
counted against their limit.
"""

import csv
import dataclasses
import json
import logging
import os
import tempfile
import time
from typing import Dict, List, Optional

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from core.reading import source as source_lib
from core.checks import instances as instances_lib
from core.common import names
from core.common.errors import InputError, UserError
from tfxgate.validation import validate

log = logging.getLogger("tfxgate.online.serve")

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
    max_unknown_columns: int = 100  # columns (instance keys) the schema does not know, per batch, request or window
    deadline_seconds: float = 60.0  # judging a batch or a window stops past this (its child is killed)
    grace_seconds: float = 25.0  # after SIGTERM: requests in flight may finish this long, then the process ends


class LimitExceeded(UserError):
    """A request within the body's limit that asks for more work than the service takes (413)."""


@dataclasses.dataclass
class Loaded:
    """One consistent set of what judges: swapped whole on a reload, never edited."""

    checks: validate.Checks
    baseline: tuple  # (statistics or None, profile or None, description): validate.load_baseline
    baseline_key: object  # what identifies the baseline (the accepted decision's id and URI)
    checkers: Dict[str, instances_lib.Checker]  # environment -> its row-level checks
    loaded_at: float

    def names_json(self) -> dict:
        """The schema version and baseline in use, named in every answer: no server path (those
        are in the log only, written at each load)."""
        return {"schema_version": self.checks.version, "baseline": public_baseline(self.baseline[2])}


def public_baseline(info: dict) -> dict:
    """validate.load_baseline's description of the baseline without the server's paths (MLMD
    store, statistics URI, a --baseline file): its kind, and for MLMD its run, span and split."""
    kind = info["kind"]
    if kind == "mlmd":
        return {"kind": kind, "run": info["run"], "span": info["span"], "split": info["split"],
                "description": f"training statistics of span {info['span']} accepted by the data gate in run "
                               f"{info['run']}"}
    if kind == "path":
        return {"kind": kind, "description": "the statistics given by the service's --baseline"}
    if "--baseline none" in info["description"]:
        return dict(info)
    return {"kind": kind, "description": "none: the service's MLMD store holds no accepted training span yet, "
                                         "so no skew or drift check"}


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


def check_columns(columns, known, most: int, what: str) -> None:
    """Refuses `columns` (of a batch, an instance, a request) with more than `most` the schema does
    not know: each costs what a feature costs (statistics, profile, findings), so their number,
    unlike the body's bytes, is what bounds the work."""
    unknown = sum(1 for c in columns if c not in known)
    if unknown > most:
        raise LimitExceeded(f"{what} has {unknown:,} columns the schema does not know; the service takes at most "
                            f"{most:,} (--max-unknown-columns)")


def parse_instances(body: bytes, ndjson: bool) -> list:
    """The instances of a JSON body ({"instances": [...]}, a list, or one object) or of NDJSON;
    an InputError for anything else, a key given twice in an object included (a parser keeping
    the first would see other data than the one judged)."""
    if not body.strip():
        raise InputError("an empty body: send {\"instances\": [...]}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("the body is not UTF-8 text") from None
    try:
        if ndjson:
            found = [json.loads(line, object_pairs_hook=_unique_keys) for line in text.splitlines() if line.strip()]
        else:
            data = json.loads(text, object_pairs_hook=_unique_keys)
            if isinstance(data, dict) and "instances" not in data:
                raise InputError("expected {\"instances\": [...]}: a list of objects, feature name to value")
            found = data["instances"] if isinstance(data, dict) else data
    except json.JSONDecodeError as e:
        raise InputError(f"malformed JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    except RecursionError:
        raise InputError("malformed JSON: nested too deeply") from None
    if not isinstance(found, list):
        raise InputError("expected {\"instances\": [...]}: a list of objects, feature name to value")
    if not found:
        raise InputError("no instances")
    for i, instance in enumerate(found):
        if not isinstance(instance, dict):
            raise InputError(f"instance {i}: expected an object of feature values, not {type(instance).__name__}")
        if not instance:
            raise InputError(f"instance {i}: no feature values")
    return found


def _unique_keys(pairs: list) -> dict:
    data = dict(pairs)
    if len(data) != len(pairs):
        seen = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise InputError(f"malformed JSON: the key {twice!r} appears twice in one object")
    return data


def answer_batch(loaded: Loaded, options: Options, body_path: str, path: str, ndjson: Optional[bool], label: str,
                 environment: str, delimiter: str, text: bool) -> tuple:
    """What /v1/validate answers for the body at `body_path`: a batch in any format read (CSV,
    Parquet, TFRecord, compressed or not) when `ndjson` is None (then `body_path` is `path`), else JSON instances written as CSV to `path`. Returns (the JSON
    answer, the text answer or None, rows). Runs in a child process (tfxgate/online/judging.py):
    everything costly happens here, under the deadline."""
    if ndjson is None:
        try:
            with source_lib.open_batch(path, delimiter) as source:  # the file's format from its content
                columns = list(source.columns)
        except InputError as e:
            raise InputError(str(e).replace(path, label)) from None
    else:
        with open(body_path, "rb") as f:
            found = parse_instances(f.read(), ndjson)
        columns = {}
        for instance in found:
            columns.update(dict.fromkeys(instance))
    check_columns(columns, loaded.checks.kinds, options.max_unknown_columns, "the batch")
    if ndjson is not None:
        instances_csv(found, path)
    outcome = validate_file(loaded, path, label, environment, delimiter)
    outcome.baseline = public_baseline(outcome.baseline)
    answer = outcome.to_json()
    answer.pop("schema")  # a server path; the version stays
    shown = outcome.to_text().replace(path, label) + "\n" if text else None
    answer = json.loads(json.dumps(answer).replace(json.dumps(path)[1:-1], json.dumps(label)[1:-1]))
    return answer, shown, outcome.rows


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
    """JSON instances written as a CSV file, each value as its cell (core.checks.instances.cell_text)."""
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
