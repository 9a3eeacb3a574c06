"""`tfxgate serve` as a real process on a loopback port, and `tfxgate validate --server`.

One service for the module (session-scoped: TensorFlow's import is paid once), judging against
an MLMD store holding one accepted run whose statistics and profile are span 3's: the defect
corpus gives the same answers through the service as through the command line; per-request
checks refuse or flag malformed instances; windows of skewed instances raise the skew metric and
a finding; a newer accepted run and SIGHUP reload; each bad request gets its 4xx and the service
keeps serving; a bounded load keeps the server's memory flat; SIGTERM lets a request in flight
finish (a second, short-lived service). The hostile requests of issue 29: too many unknown
columns, work past the deadline or the grace period (a third service), bad query parameters,
duplicate JSON keys, the bearer scheme's case, control characters in a name, an unknown format,
server paths in answers.
"""

import asyncio
import concurrent.futures
import json
import re
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.batch import batch_stats
from core.settings import layout
from core.common import names
from core.reading import report as reading
from core.settings import schema_files
from tests import defects
from tests.paths import DATA_ROOT, PROJECT_ROOT
from tests.ports import free_port
from tfxgate.command import cli

pytestmark = pytest.mark.services

TFXGATE = str(pathlib.Path(sys.executable).parent / "tfxgate")
TOKEN = "test-token-of-this-session"
WINDOW_ROWS = 200
MAX_BODY_MIB = 1
HEAVY = ("tensorflow", "tfx", "apache_beam", "tensorflow_data_validation", "ml_metadata")


# -- the accepted runs in MLMD ------------------------------------------------------------------

def _accepted_statistics(folder: pathlib.Path, span: int = 3) -> dict:
    """A span (3) read as the pipeline reads it: statistics as StatisticsGen writes them (train
    split) and the profile ExampleGen writes beside its Examples."""
    schema_path = schema_files.latest_path(str(PROJECT_ROOT / "schema"))
    kinds = reading.schema_kinds(schema_files.load(schema_path))
    from core.settings import check_settings
    from core import rules as rules_lib

    rules = rules_lib.load(check_settings.path_beside(schema_path, names.CONSTRAINTS_FILE), list(kinds))
    settings = check_settings.load(schema_path, list(kinds))
    batch = batch_stats.read(str(DATA_ROOT / "train" / f"span-{span}"), kinds, rules=rules, slice_keys=settings.slices)
    statistics_file = pathlib.Path(layout.statistics_path(str(folder / "statistics"), names.BASELINE_SPLIT))
    statistics_file.parent.mkdir(parents=True)
    statistics_file.write_bytes(batch.statistics.SerializeToString())
    examples = folder / "examples"
    examples.mkdir()
    pathlib.Path(layout.profile_path(str(examples))).write_text(json.dumps(batch.profile.to_json()))
    return {"statistics": str(folder / "statistics"), "examples": str(examples)}


def _record_accepted_run(store_path: pathlib.Path, run: str, span: int, accepted: dict) -> None:
    """A gate decision that accepted `accepted`, produced by a DataGate execution of run `run`,
    recorded as the pipeline records it (core.common.names' types and properties)."""
    from ml_metadata.proto import metadata_store_pb2 as pb

    from mlmd import query

    store = query.sqlite_store(str(store_path), must_exist=False)
    artifact_type = store.put_artifact_type(pb.ArtifactType(name=names.GATE_DECISION_TYPE))
    execution_type = store.put_execution_type(pb.ExecutionType(name="tfxgate.DataGate"))
    context_type = store.put_context_type(pb.ContextType(name=names.RUN_CONTEXT))
    decision = pb.Artifact(type_id=artifact_type, uri=accepted["statistics"] + "-decision", state=pb.Artifact.LIVE)
    decision.custom_properties[names.SPAN].int_value = span
    decision.custom_properties[names.TRAINING_STATISTICS_URI].string_value = accepted["statistics"]
    decision.custom_properties[names.TRAINING_STATISTICS_SPLITS].string_value = json.dumps([names.BASELINE_SPLIT])
    decision.custom_properties[names.TRAINING_EXAMPLES_URI].string_value = accepted["examples"]
    execution = pb.Execution(type_id=execution_type, last_known_state=pb.Execution.COMPLETE)
    context = pb.Context(type_id=context_type, name=run)
    store.put_execution(execution, [(decision, pb.Event(type=pb.Event.OUTPUT))], [context])


# -- the service --------------------------------------------------------------------------------

class Service:
    def __init__(self, proc, port, log):
        self.proc, self.port, self.log = proc, port, log
        self.url = f"http://127.0.0.1:{port}"

    def request(self, method, path, body=None, content_type=None, token=TOKEN, headers=None):
        """(status, headers, body bytes); never raises for an HTTP status."""
        sent = dict(headers or {})
        if content_type:
            sent["Content-Type"] = content_type
        if token:
            sent["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=sent)
        try:
            with urllib.request.urlopen(req, timeout=120) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def json(self, method, path, body=None, content_type=None, **kwargs):
        status, _, data = self.request(method, path, body, content_type, **kwargs)
        return status, json.loads(data)

    def check(self, instances, **kwargs):
        return self.json("POST", "/v1/check", json.dumps({"instances": instances}).encode(), "application/json", **kwargs)

    def metrics(self) -> dict:
        """{(sample name, frozenset(labels)): value} of /metrics, parsed by prometheus_client."""
        status, _, data = self.request("GET", "/metrics")
        assert status == 200
        return {(s.name, frozenset(s.labels.items())): s.value
                for family in text_string_to_metric_families(data.decode()) for s in family.samples}

    def rss_kib(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def _start(tmp: pathlib.Path, *args: str, env=None) -> Service:
    port = free_port()
    log = open(tmp / f"serve-{port}.log", "w")
    proc = subprocess.Popen([TFXGATE, "serve", "--port", str(port), *args], stdout=log, stderr=subprocess.STDOUT,
                            cwd=PROJECT_ROOT, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {})))
    service = Service(proc, port, tmp / f"serve-{port}.log")
    deadline = time.monotonic() + 300  # a wait for start-up (TensorFlow's import), not a speed check
    while time.monotonic() < deadline:
        assert proc.poll() is None, service.log.read_text()
        try:
            if service.request("GET", "/readyz", token=None)[0] == 200:
                return service
        except OSError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise AssertionError(f"the service did not become ready: {service.log.read_text()}")


def _stop(service: Service) -> int:
    service.proc.send_signal(signal.SIGTERM)
    try:
        return service.proc.wait(timeout=60)
    finally:
        if service.proc.poll() is None:
            service.proc.kill()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    accepted = _accepted_statistics(tmp / "run-1")
    store = tmp / "metadata.sqlite"
    _record_accepted_run(store, "run-1", 3, accepted)
    token_file = tmp / "token"
    token_file.write_text(TOKEN + "\n")
    service = _start(tmp, "--metadata", str(store), "--token-file", str(token_file), "--reload-seconds", "1",
                     "--window-rows", str(WINDOW_ROWS), "--window-seconds", "3600", "--max-body-mib", str(MAX_BODY_MIB))
    yield {"service": service, "store": store, "tmp": tmp, "accepted": accepted}
    assert _stop(service) == 0, service.log.read_text()
    assert "Traceback" not in service.log.read_text()


def _serving_rows(name: str):
    rows, columns = defects.DEFECTS[name]()
    return [{c: r[c] for c in (columns or list(r))} for r in rows]


# -- batches: the same answer as the command line -------------------------------------------------

def _cli_json(capfd, *argv):
    code = cli.main(["validate", *argv, "--format", "json"])
    out, err = capfd.readouterr()
    assert code in (0, 1), err
    return code, json.loads(out)


def _assert_served_as(served: dict, expected: dict) -> None:
    """The service's answer is the command line's, without the server's paths: no schema path,
    and the baseline named by its run and span, not by its MLMD store and statistics URI."""
    assert set(served) == set(expected) - {"schema"}
    assert {k: v for k, v in served.items() if k != "baseline"} == \
        {k: v for k, v in expected.items() if k not in ("schema", "baseline")}
    for key in ("kind", "run", "span", "split"):
        assert served["baseline"][key] == expected["baseline"][key]
    shown = json.dumps(served)
    assert expected["schema"] not in shown and expected["baseline"]["statistics_uri"] not in shown
    assert expected["baseline"]["metadata"] not in shown


@pytest.mark.parametrize("name", sorted(defects.DEFECTS))
def test_a_batch_gets_the_command_lines_answer(world, tmp_path, capfd, name):
    service = world["service"]
    data = defects.write(tmp_path, name)
    environment = names.SERVING if "serving" in name else names.TRAINING
    code, expected = _cli_json(capfd, "--data", str(data), "--environment", environment,
                               "--metadata", str(world["store"]))
    assert expected["baseline"]["kind"] == "mlmd"
    status, headers, body = service.request("POST", f"/v1/validate?environment={environment}&name={data}",
                                            data.read_bytes(), "text/csv")
    assert status == 200, body
    _assert_served_as(json.loads(body), expected)
    assert headers["x-tfxgate-result"] == expected["result"]


def test_json_and_ndjson_instances_get_the_answer_of_the_same_rows_as_csv(world, tmp_path, capfd):
    service = world["service"]
    rows = _serving_rows("new_payment_type")
    data = defects.write_rows(tmp_path / "batch.csv", rows)
    _, expected = _cli_json(capfd, "--data", str(data), "--metadata", str(world["store"]))
    assert any(a["feature"] == "payment_type" for a in expected["anomalies"])
    for content_type, body in [("application/json", json.dumps({"instances": rows})),
                               ("application/x-ndjson", "\n".join(json.dumps(r) for r in rows))]:
        status, answer = service.json("POST", f"/v1/validate?name={data}", body.encode(), content_type)
        assert status == 200, answer
        _assert_served_as(answer, expected)


_FORM_TYPES = {  # a content type per form, as a client would label each
    "csv.gz": "application/gzip", "jsonl.zst": "application/zstd", "parquet": "application/vnd.apache.parquet",
    "tfrecord.gz": "application/x-tfrecord",
}


def _unplaced(answer: dict) -> dict:
    """An answer without where its examples are (a CSV line is a Parquet or TFRecord row plus one)."""
    text = re.sub(r"\(([^()]*) (line|row) [0-9]+\)", "(place)", json.dumps(answer))
    return json.loads(text)


def test_every_form_gets_the_answer_of_the_same_rows_as_csv(world, tmp_path, capfd):
    """The same real rows with defects (text in a FLOAT feature, hours breaking a rule) sent as
    compressed CSV, compressed JSON lines, Parquet and TFRecord, each with its content type, get
    the command line's answer for the rows as CSV."""
    from tests import binary_forms

    service = world["service"]
    rows = defects._every(_serving_rows("string_in_fare"), 0.03, defects._shift_hour)
    data = defects.write_rows(tmp_path / "batch.csv", rows)
    _, expected = _cli_json(capfd, "--data", str(data), "--metadata", str(world["store"]))
    assert {"fare"} <= {a["feature"] for a in expected["anomalies"]}
    for form, content_type in _FORM_TYPES.items():
        body = binary_forms.write(tmp_path / form, form, rows).read_bytes()
        status, answer = service.json("POST", f"/v1/validate?name={data}", body, content_type)
        assert status == 200, (form, answer)
        _assert_served_as(_unplaced(answer), _unplaced(expected))
    # A broken body in any form is a 4xx in one line: a gzip stream cut short, a Parquet footer lost.
    body = binary_forms.write(tmp_path / "cut", "csv.gz", rows).read_bytes()
    for cut, content_type in [(body[: len(body) // 2], "application/gzip"),
                              (binary_forms.write(tmp_path / "footer", "parquet", rows).read_bytes()[:-12],
                               "application/vnd.apache.parquet")]:
        status, answer = service.json("POST", "/v1/validate?name=batch", cut, content_type)
        assert 400 <= status < 500 and len(answer["error"].splitlines()) == 1, answer
        assert "batch" in answer["error"], answer


def test_the_thin_client_prints_the_same_answer_and_loads_no_tensorflow(world, tmp_path, capfd):
    """`tfxgate validate --server` as a whole process: the same JSON and exit status as the
    command line, with neither TensorFlow, Beam, TFDV nor MLMD in sys.modules."""
    service = world["service"]
    data = defects.write(tmp_path, "fare_in_cents_serving")
    code, expected = _cli_json(capfd, "--data", str(data), "--metadata", str(world["store"]))
    report = tmp_path / "modules.json"
    program = ("import json, sys\nfrom tfxgate.command import cli\n"
               "code = cli.main(sys.argv[2:])\n"
               "json.dump({'code': code, 'heavy': [m for m in %r if m in sys.modules]}, open(sys.argv[1], 'w'))\n"
               % (HEAVY,))
    proc = subprocess.run([sys.executable, "-c", program, str(report), "validate", "--server", service.url,
                           "--data", str(data), "--format", "json"], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, env=dict(os.environ, TFXGATE_TOKEN=TOKEN), timeout=120)
    assert proc.stderr == ""
    outcome = json.loads(report.read_text())
    assert outcome == {"code": code, "heavy": []}
    assert code == 1
    _assert_served_as(json.loads(proc.stdout), expected)
    proc = subprocess.run([TFXGATE, "validate", "--data", str(data)], capture_output=True, text=True,
                          env=dict(os.environ, TFXGATE_SERVER=service.url, TFXGATE_TOKEN=TOKEN), timeout=120)
    assert proc.returncode == 1 and "fare" in proc.stdout and "result: block" in proc.stdout


def test_the_thin_client_says_in_one_line_what_is_wrong(world, tmp_path):
    service = world["service"]
    data = defects.write(tmp_path, "clean_serving")
    cases = [
        ([], {}, "a bearer token is required"),
        (["--schema", "x"], {"TFXGATE_TOKEN": TOKEN}, "--schema: not with --server"),
        ([], {"TFXGATE_TOKEN": TOKEN, "TFXGATE_SERVER": f"http://127.0.0.1:{free_port()}"}, "cannot reach the service"),
    ]
    for extra, env, message in cases:
        environ = {k: v for k, v in os.environ.items() if k not in ("TFXGATE_TOKEN", "TFXGATE_SERVER")}
        environ.setdefault("TFXGATE_SERVER", service.url)
        environ.update(env)
        proc = subprocess.run([TFXGATE, "validate", "--data", str(data), *extra], capture_output=True, text=True,
                              env=environ, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


# -- per-request checks --------------------------------------------------------------------------

def test_per_request_checks_refuse_or_flag_malformed_instances(world):
    service = world["service"]
    row = _serving_rows("clean_serving")[0]
    shifted = str((int(row["trip_start_hour"]) + 1) % 24)
    cases = {
        "clean": (row, "ok", set()),
        "string_in_fare": (dict(row, fare="n/a"), "refuse", {("fare", "type")}),
        "nan_fare": (dict(row, fare="NaN"), "refuse", {("fare", "type")}),
        "trip_miles_missing": ({k: v for k, v in row.items() if k != "trip_miles"}, "refuse",
                               {("trip_miles", "required")}),
        "hour_disagrees_with_timestamp": (dict(row, trip_start_hour=shifted), "refuse",
                                          {("rule hour_of_start_timestamp", "rule")}),
        "two_fares": (dict(row, fare=[1.0, 2.0]), "refuse", {("fare", "value_count")}),
        "latitude_outside_chicago": (dict(row, pickup_latitude=40.71), "flag", {("pickup_latitude", "domain")}),
        # 27 is outside the hour's domain, and no longer the hour of the timestamp: a broken rule
        "hour_out_of_domain": (dict(row, trip_start_hour=27), "refuse",
                               {("trip_start_hour", "domain"), ("rule hour_of_start_timestamp", "rule")}),
        "new_payment_type": (dict(row, payment_type="Bitcoin"), "flag", {("payment_type", "domain")}),
        "unknown_feature": (dict(row, surge="1.5"), "flag", {("surge", "unknown_feature")}),
        "numbers_as_json_numbers": ({k: (float(v) if k == "fare" else [v]) for k, v in row.items()}, "ok", set()),
    }
    status, answer = service.check([instance for instance, _, _ in cases.values()])
    assert status == 200, answer
    assert answer["schema_version"] == "v1" and answer["baseline"]["kind"] == "mlmd"
    for (name, (_, outcome, problems)), result in zip(cases.items(), answer["instances"]):
        assert (name, result["outcome"]) == (name, outcome)
        assert {(p["feature"], p["check"]) for p in result["problems"]} == problems, name
    assert answer["refused"] == sum(outcome == "refuse" for _, outcome, _ in cases.values())
    status, answer = service.check([row], token=None)
    assert status == 401


# -- windows -------------------------------------------------------------------------------------

def _wait_for_windows(service, count: int) -> list:
    deadline = time.monotonic() + 120  # a wait for the worker thread, not a speed check
    while time.monotonic() < deadline:
        status, answer = service.json("GET", "/v1/windows")
        if len(answer["windows"]) >= count:
            return answer["windows"]
        time.sleep(0.2)
    raise AssertionError(f"{count} windows never closed: {answer}")


def _fare_distance(metrics: dict):
    labels = frozenset({"feature": "fare", "check": "skew", "type": "JENSEN_SHANNON_DIVERGENCE", "slice": ""}.items())
    return metrics[("tfxgate_window_distance", labels)], metrics[("tfxgate_window_threshold", labels)]


def test_a_window_of_skewed_instances_raises_the_skew_metric_and_a_finding(world):
    service = world["service"]
    status, answer = service.json("GET", "/v1/windows")
    seen = len(answer["windows"])
    clean = _serving_rows("clean_serving")
    cents = _serving_rows("fare_in_cents_serving")
    filler = WINDOW_ROWS - answer["open_window_rows"]  # closes the window other tests began
    for rows in (clean[:filler], clean[::5][:WINDOW_ROWS]):
        if rows:
            assert service.check(rows)[1]["refused"] == 0
    windows = _wait_for_windows(service, seen + (2 if filler else 1))
    clean_window = windows[-1]
    assert clean_window["rows"] == WINDOW_ROWS and clean_window["baseline"]["kind"] == "mlmd"
    assert not [a for a in clean_window["anomalies"] if a["feature"] == "fare"]
    distance, threshold = _fare_distance(service.metrics())
    assert distance < threshold
    findings_before = service.metrics().get(
        ("tfxgate_findings_total", frozenset({"source": "window", "feature": "fare", "check": "skew",
                                              "severity": "block"}.items())), 0)
    assert service.check(cents[::5][:WINDOW_ROWS])[1]["refused"] == 0
    skewed_window = _wait_for_windows(service, len(windows) + 1)[-1]
    assert skewed_window["result"] == "block"
    assert any(a["feature"] == "fare" and a["check"] == "skew" and a["severity"] == "block"
               for a in skewed_window["anomalies"])
    metrics = service.metrics()
    distance, threshold = _fare_distance(metrics)
    assert distance > threshold
    assert metrics[("tfxgate_findings_total", frozenset({"source": "window", "feature": "fare", "check": "skew",
                                                         "severity": "block"}.items()))] > findings_before
    assert metrics[("tfxgate_windows_total", frozenset({"result": "block"}.items()))] >= 1


def test_a_window_closes_after_its_seconds_and_at_most_two_wait(tmp_path):
    """The window's rules on their own (no service): `window_seconds` after the first instance a
    window closes however few rows it has; a third waiting window pushes out the oldest."""
    from tfxgate.online import service as service_lib, windows as windows_lib

    options = service_lib.Options(schema_path="", policy_path="", window_rows=3, window_seconds=10.0)
    windows = windows_lib.Windows(options, service_lib.Metrics(), str(tmp_path))
    rows = _serving_rows("clean_serving")
    assert not windows.add(rows[:2])
    opened = windows.opened
    assert not windows.close_if_due(now=opened + 9.9)
    assert windows.close_if_due(now=opened + 10.0)
    assert [len(w[3]) for w in windows.waiting] == [2] and windows.rows == []
    assert windows.add(rows[2:9])  # two full windows of 3, one row left open
    assert [(w[0], len(w[3])) for w in windows.waiting] == [(2, 3), (3, 3)]
    assert len(windows.rows) == 1
    assert windows.metrics.registry.get_sample_value("tfxgate_windows_dropped_total") == 1


def test_metrics_parse_and_count_requests_rows_and_latency(world):
    service = world["service"]
    before = service.metrics()
    rows = _serving_rows("clean_serving")[:3]
    service.check(rows, token=None)  # refused: 401
    assert service.check(rows)[0] == 200
    after = service.metrics()

    def value(metrics, name, **labels):
        return metrics.get((name, frozenset(labels.items())), 0)

    assert value(after, "tfxgate_requests_total", path="/v1/check", status="200") == \
        value(before, "tfxgate_requests_total", path="/v1/check", status="200") + 1
    assert value(after, "tfxgate_requests_total", path="/v1/check", status="401") == \
        value(before, "tfxgate_requests_total", path="/v1/check", status="401") + 1
    assert value(after, "tfxgate_rows_checked_total", endpoint="check") == \
        value(before, "tfxgate_rows_checked_total", endpoint="check") + 3
    assert value(after, "tfxgate_request_seconds_count", path="/v1/check") == \
        value(before, "tfxgate_request_seconds_count", path="/v1/check") + 2
    assert value(after, "tfxgate_request_seconds_bucket", path="/v1/check", le="+Inf") == \
        value(after, "tfxgate_request_seconds_count", path="/v1/check")
    assert not [k for k in after if k[0].endswith("_created")]


# -- bad requests ---------------------------------------------------------------------------------

def _bad_requests(tmp_path):
    clean = defects.write(tmp_path, "clean_serving").read_bytes()
    lines = clean.decode().splitlines()
    return {
        "malformed_json": ("POST", "/v1/check", b'{"instances": [{"fare": 1.0', "application/json", 400),
        "json_not_instances": ("POST", "/v1/validate", b'{"rows": []}', "application/json", 400),
        "instance_not_an_object": ("POST", "/v1/check", b'{"instances": [[1, 2]]}', "application/json", 400),
        "nested_value": ("POST", "/v1/validate", b'{"instances": [{"fare": {"a": 1}}]}', "application/json", 400),
        "malformed_ndjson": ("POST", "/v1/validate", b'{"fare": 1}\n{"fare": ', "application/x-ndjson", 400),
        "ragged_csv": ("POST", "/v1/validate", "\n".join(lines[:5] + [lines[5] + ",1,2"] + lines[6:10]).encode(),
                       "text/csv", 400),
        "header_only_csv": ("POST", "/v1/validate", lines[0].encode() + b"\n", "text/csv", 400),
        "empty_csv": ("POST", "/v1/validate", b"", "text/csv", 400),
        "empty_json": ("POST", "/v1/check", b"", "application/json", 400),
        "no_instances": ("POST", "/v1/check", b'{"instances": []}', "application/json", 400),
        "binary": ("POST", "/v1/validate", bytes(range(256)) * 64, "text/csv", 400),
        "not_utf8_json": ("POST", "/v1/check", b'{"instances": [{"company": "\xff\xfe"}]}', "application/json", 400),
        "huge": ("POST", "/v1/validate", clean * (MAX_BODY_MIB * 2**20 // len(clean) + 2), "text/csv", 413),
        "too_many_instances": ("POST", "/v1/check", json.dumps({"instances": [{"fare": 1}] * 1001}).encode(),
                               "application/json", 413),
        "wrong_content_type": ("POST", "/v1/validate", clean, "application/pdf", 415),
        "csv_to_check": ("POST", "/v1/check", clean, "text/csv", 415),
        "no_content_type": ("POST", "/v1/validate", clean, None, 415),
        "wrong_environment": ("POST", "/v1/validate?environment=STAGING", clean, "text/csv", 400),
        "wrong_method": ("GET", "/v1/validate", None, None, 405),
        "unknown_path": ("GET", "/v2/validate", None, None, 404),
    }


def test_every_bad_request_gets_its_4xx_in_one_line_and_the_service_keeps_serving(world, tmp_path):
    service = world["service"]
    good = _serving_rows("clean_serving")[:2]
    for name, (method, path, body, content_type, expected) in _bad_requests(tmp_path).items():
        status, headers, data = service.request(method, path, body, content_type)
        assert (name, status) == (name, expected), data
        assert headers["content-type"] == "application/json"
        reason = json.loads(data)["error"]
        assert reason and "\n" not in reason and "Traceback" not in reason, (name, reason)
        assert service.check(good)[0] == 200, name
    assert service.request("GET", "/healthz", token=None)[0] == 200
    assert service.proc.poll() is None


def test_a_bug_is_a_500_with_one_line_and_its_traceback_only_in_the_log(world, monkeypatch, caplog):
    """The ASGI application in process, a judging function made to fail as a bug would."""
    from tfxgate.online import serve, service as service_lib

    options = service_lib.Options(schema_path=schema_files.latest_path(str(PROJECT_ROOT / "schema")),
                                  policy_path=str(PROJECT_ROOT / "schema" / "policy.yaml"), baseline="none")
    app = serve.App(options)
    app.load()

    def broken(*args):
        raise ZeroDivisionError("division by zero deep inside")

    monkeypatch.setattr(service_lib, "validate_file", broken)
    body = defects.write(world["tmp"], "clean_serving").read_bytes()
    sent = []

    async def call():
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive():
            return messages.pop(0)

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/v1/validate", "query_string": b"",
                 "headers": [(b"content-type", b"text/csv")]}
        await app(scope, receive, send)

    asyncio.run(call())
    assert sent[0]["status"] == 500
    reason = json.loads(sent[1]["body"])["error"]
    assert "ZeroDivisionError" in reason and "\n" not in reason and "deep inside" not in reason
    assert any("division by zero deep inside" in r.getMessage() for r in caplog.records)  # from the child judging
    app.pool.shutdown()
    app.window_pool.shutdown()
    shutil.rmtree(app.tmp_dir)


# -- reload ---------------------------------------------------------------------------------------

def test_a_newer_accepted_run_and_sighup_reload_what_judges(world, tmp_path):
    service = world["service"]
    status, ready = service.json("GET", "/readyz", token=None)
    assert ready["baseline"]["run"] == "run-1"
    newer = tmp_path / "run-2"
    shutil.copytree(world["tmp"] / "run-1", newer)
    _record_accepted_run(world["store"], "run-2", 4, {"statistics": str(newer / "statistics"),
                                                      "examples": str(newer / "examples")})
    deadline = time.monotonic() + 120  # the service polls MLMD every second; a wait, not a speed check
    while ready["baseline"]["run"] != "run-2" and time.monotonic() < deadline:
        time.sleep(0.3)
        ready = service.json("GET", "/readyz", token=None)[1]
    assert ready["baseline"]["run"] == "run-2" and ready["baseline"]["span"] == 4
    data = defects.write(tmp_path, "clean_serving").read_bytes()
    status, answer = service.json("POST", "/v1/validate", data, "text/csv")
    assert answer["baseline"]["run"] == "run-2" and answer["baseline"]["span"] == 4

    def reloads():
        return service.metrics().get(("tfxgate_reloads_total", frozenset({"why": "SIGHUP", "outcome": "done"}.items())), 0)

    before = reloads()
    service.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 120
    while reloads() == before and time.monotonic() < deadline:
        time.sleep(0.3)
    assert reloads() == before + 1
    assert service.check(_serving_rows("clean_serving")[:1])[0] == 200


# -- load and shutdown ----------------------------------------------------------------------------

def test_a_bounded_load_from_concurrent_clients_gives_no_error_and_flat_memory(world, tmp_path):
    """Four clients, a fixed number of requests (single-instance checks and 1,000-row batches):
    every answer 200, and the server's resident memory no larger after the last round than after
    the first (beyond allocator noise)."""
    service = world["service"]
    batch = defects.write(tmp_path, "clean_serving").read_bytes()
    rows = _serving_rows("clean_serving")

    def client(k: int) -> list:
        statuses = []
        for i in range(60):
            statuses.append(service.check([rows[(k * 60 + i) % len(rows)]])[0])
            if i % 15 == 0:
                statuses.append(service.request("POST", "/v1/validate", batch, "text/csv")[0])
        return statuses

    rss = []
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            statuses = [s for result in pool.map(client, range(4)) for s in result]
            assert set(statuses) == {200}
            rss.append(service.rss_kib())
    assert rss[2] - rss[0] < 32 * 1024, rss


def _stops_listening(port: int) -> bool:
    deadline = time.monotonic() + 60  # a wait for the signal to be handled, not a speed check
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        except ConnectionRefusedError:
            return True
        time.sleep(0.1)
    return False


def test_sigterm_lets_the_request_in_flight_finish(tmp_path):
    service = _start(tmp_path, "--baseline", "none")
    body = defects.write(tmp_path, "clean_serving").read_bytes()
    half = len(body) // 2
    with socket.create_connection(("127.0.0.1", service.port), timeout=120) as s:
        s.sendall(f"POST /v1/validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:half])
        labels = frozenset({"path": "/v1/validate"}.items())
        deadline = time.monotonic() + 60
        while service.metrics().get(("tfxgate_requests_in_flight", labels)) != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert service.metrics()[("tfxgate_requests_in_flight", labels)] == 1
        service.proc.send_signal(signal.SIGTERM)
        assert _stops_listening(service.port)  # shutting down, while this request's body still arrives
        s.sendall(body[half:])
        response = b""
        while chunk := s.recv(65536):
            response += chunk
    head, _, payload = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), response[:300]
    assert json.loads(payload)["rows"] == 1000
    assert service.proc.wait(timeout=60) == 0
    assert "Traceback" not in service.log.read_text()


# -- hostile requests (issue 29) -----------------------------------------------------------------

EXTRA_COLUMNS = 100_000


def _wide_batch(extra: int, cell: str = "") -> bytes:
    """The real header of data/serving/data.csv and three of its real rows, with `extra` more
    columns (each row's extra cells `cell`)."""
    lines = (DATA_ROOT / "serving" / "data.csv").read_text().splitlines()
    names_ = [f"x{i}" for i in range(extra)]
    return "\n".join([",".join([lines[0]] + names_)] + [",".join([line] + [cell] * extra) for line in lines[1:4]]
                     ).encode() + b"\n"


def _children(pid: int) -> list:
    """The processes `pid` forked (of any of its threads), from /proc."""
    found = []
    for path in pathlib.Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(c) for c in path.read_text().split()]
        except OSError:
            pass
    return found


def _one_line(data: bytes) -> str:
    reason = json.loads(data)["error"]
    assert reason and "\n" not in reason and "Traceback" not in reason, reason
    return reason


def test_too_many_unknown_columns_are_refused_before_any_work(world):
    """Issue 29, item 1: the real header plus 100,000 columns, three real rows (under the body's
    limit): a 413 naming the limit, at once, and so for JSON instances and /v1/check; at the
    limit itself, the batch is judged."""
    service = world["service"]
    body = _wide_batch(EXTRA_COLUMNS)
    assert len(body) < MAX_BODY_MIB * 2**20
    status, _, data = service.request("POST", "/v1/validate", body, "text/csv")
    assert status == 413 and "--max-unknown-columns" in _one_line(data) and "100,000" in _one_line(data), data
    row = _serving_rows("clean_serving")[0]
    wide = dict(row, **{f"x{i}": "1" for i in range(101)})
    for path in ("/v1/validate", "/v1/check"):
        status, _, data = service.request("POST", path, json.dumps({"instances": [wide]}).encode(), "application/json")
        assert status == 413 and "--max-unknown-columns" in _one_line(data), (path, data)
    at_limit = dict(row, **{f"x{i}": "1" for i in range(100)})
    status, answer = service.json("POST", "/v1/validate", json.dumps({"instances": [at_limit]}).encode(),
                                  "application/json")
    assert status == 200 and answer["rows"] == 1, answer
    assert service.request("GET", "/healthz", token=None)[0] == 200


def test_a_window_takes_at_most_the_unknown_columns_allowed(tmp_path):
    """Issue 29, item 1, for windows (no service): instances each with unknown keys of their own
    gather into one window of at most `max_unknown_columns` unknown columns."""
    from tfxgate.online import service as service_lib, windows as windows_lib

    options = service_lib.Options(schema_path="", policy_path="", window_rows=1000, max_unknown_columns=5)
    windows = windows_lib.Windows(options, service_lib.Metrics(), str(tmp_path))
    rows = _serving_rows("clean_serving")[:20]
    known = set(rows[0])
    windows.add([dict(row, **{f"extra_{i}": "1"}) for i, row in enumerate(rows)], known)
    columns = set().union(*windows.rows)
    assert columns - known == {f"extra_{i}" for i in range(5)}


def test_work_past_the_deadline_or_the_grace_period_is_stopped_and_its_files_removed(tmp_path):
    """Issue 29, item 1: with the column limit lifted, the 100,000-column batch is minutes of
    work. Past --deadline-seconds its child is killed (a 503 naming the limit; no child left;
    the service answers). Sent again and SIGTERM given: the process is gone within
    --grace-seconds (the client hears a 503 saying the service stops), with its child and its
    temporary folder."""
    tmp_dir = tmp_path / "tmp"
    tmp_dir.mkdir()
    service = _start(tmp_path, "--baseline", "none", "--max-unknown-columns", str(EXTRA_COLUMNS),
                     "--deadline-seconds", "5", "--grace-seconds", "2", env={"TMPDIR": str(tmp_dir)})
    try:
        body = _wide_batch(EXTRA_COLUMNS, "1")
        status, _, data = service.request("POST", "/v1/validate", body, "text/csv")
        assert status == 503 and "--deadline-seconds" in _one_line(data), data
        assert _children(service.proc.pid) == []
        assert service.request("GET", "/healthz", token=None)[0] == 200
        [service_tmp] = list(tmp_dir.glob("tfxgate-serve-*"))

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            answer = pool.submit(service.request, "POST", "/v1/validate", body, "text/csv")
            deadline = time.monotonic() + 60  # a wait for the child to start, not a speed check
            while not _children(service.proc.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            [child] = _children(service.proc.pid)
            service.proc.send_signal(signal.SIGTERM)
            assert service.proc.wait(timeout=60) == 0
            status, _, data = answer.result(timeout=60)
        assert status == 503 and "stopping" in _one_line(data), data
        assert not pathlib.Path(f"/proc/{child}").exists()
        assert not service_tmp.exists()
        assert "Traceback" not in service.log.read_text()
    finally:
        if service.proc.poll() is None:
            service.proc.kill()


def test_bad_query_parameters_are_a_400_in_one_line(world):
    """Issue 29, item 2: each parameter checked at the boundary, in bytes where bytes matter."""
    service = world["service"]
    body = defects.write(world["tmp"], "clean_serving").read_bytes()
    euro = urllib.parse.quote("€" * 150)  # 150 characters, 450 bytes: over a file name's 255
    cases = {
        "nul_name": ("/v1/validate?name=%00", "NUL"),
        "long_name_in_bytes": (f"/v1/validate?name={euro}", "bytes"),
        "name_too_long": ("/v1/validate?name=" + "a/" * 2100, "bytes"),
        "nul_delimiter": ("/v1/validate?delimiter=%00", "delimiter"),
        "multibyte_delimiter": (f"/v1/validate?delimiter={urllib.parse.quote('€')}", "delimiter"),
        "quote_delimiter": ("/v1/validate?delimiter=%22", "delimiter"),
        "not_utf8": ("/v1/validate?name=%FF", "UTF-8"),
        "unknown_parameter": ("/v1/validate?fromat=text", "fromat"),
        "repeated_parameter": ("/v1/validate?name=a.csv&name=b.csv", "twice"),
        "parameter_of_another_route": ("/v1/check?name=a", "name"),
    }
    for name, (path, words) in cases.items():
        content_type = "application/json" if path.startswith("/v1/check") else "text/csv"
        sent = json.dumps({"instances": _serving_rows("clean_serving")[:1]}).encode() \
            if path.startswith("/v1/check") else body
        status, _, data = service.request("POST", path, sent, content_type)
        assert (name, status) == (name, 400), data
        assert words in _one_line(data), (name, data)
    status, _, data = service.request("POST", "/v1/validate?name=" + urllib.parse.quote("€" * 80 + ".csv"), body,
                                      "text/csv")
    assert status == 200 and json.loads(data)["data"] == "€" * 80 + ".csv"
    assert service.request("GET", "/healthz", token=None)[0] == 200


def test_duplicate_json_keys_are_refused(world):
    """Issue 29, item 3: a key given twice (a feature, or "instances") is a 400, whichever route
    and JSON flavour carries it."""
    service = world["service"]
    row = _serving_rows("clean_serving")[0]
    instance = json.dumps(row)
    twice_fare = instance[:-1] + ', "fare": "n/a"}'
    twice_instances = '{"instances": [%s], "instances": [%s]}' % (instance, instance)
    cases = [("/v1/check", '{"instances": [%s]}' % twice_fare, "application/json", "fare"),
             ("/v1/validate", '{"instances": [%s]}' % twice_fare, "application/json", "fare"),
             ("/v1/validate", twice_fare, "application/x-ndjson", "fare"),
             ("/v1/check", twice_instances, "application/json", "instances"),
             ("/v1/validate", twice_instances, "application/json", "instances")]
    for path, body, content_type, key in cases:
        status, _, data = service.request("POST", path, body.encode(), content_type)
        assert status == 400, (path, data)
        assert f"{key!r} appears twice" in _one_line(data), data


def test_the_bearer_scheme_is_case_insensitive(world):
    """Issue 29, item 4 (RFC 9110: the scheme is case-insensitive; the token is not)."""
    service = world["service"]
    rows = _serving_rows("clean_serving")[:1]
    for scheme in ("bearer", "BEARER", "Bearer", "bEaReR"):
        status, _ = service.check(rows, token=None, headers={"Authorization": f"{scheme} {TOKEN}"})
        assert (scheme, status) == (scheme, 200)
    for given in (f"Bearer {TOKEN.upper()}", f"Basic {TOKEN}", TOKEN, f"Bearer{TOKEN}"):
        assert service.check(rows, token=None, headers={"Authorization": given})[0] == 401, given


def test_control_characters_of_a_name_are_shown_escaped(world):
    """Issue 29, item 5: a name with CR/LF and terminal escapes reads escaped in a text answer (no
    forged line, no escape sequence) and in JSON."""
    service = world["service"]
    body = defects.write(world["tmp"], "clean_serving").read_bytes()
    name = "batch.csv\r\nresult: pass\x1b[2J\u202e"
    query = urllib.parse.urlencode({"name": name, "format": "text"})
    status, headers, data = service.request("POST", f"/v1/validate?{query}", body, "text/csv")
    assert status == 200, data
    text = data.decode("utf-8")
    assert "\r" not in text and "\x1b" not in text and "\u202e" not in text
    assert "batch.csv\\r\\nresult: pass\\x1b[2J\\u202e" in text
    assert [line.split(" (")[0] for line in text.splitlines() if line.startswith("result:")] == [
        f"result: {headers['x-tfxgate-result']}"]  # no forged "result: pass" line
    query = urllib.parse.urlencode({"name": name})
    status, answer = service.json("POST", f"/v1/validate?{query}", body, "text/csv")
    assert status == 200 and answer["data"] == "batch.csv\\r\\nresult: pass\\x1b[2J\\u202e"


def test_an_unknown_format_is_refused(world):
    """Issue 29, item 6."""
    service = world["service"]
    body = defects.write(world["tmp"], "clean_serving").read_bytes()
    for given in ("xml", "JSON", ""):
        status, _, data = service.request("POST", f"/v1/validate?format={given}", body, "text/csv")
        assert (given, status) == (given, 400)
        assert "format must be one of json, text" in _one_line(data)


def test_no_answer_names_a_server_path(world):
    """Issue 29, item 7: /readyz (unauthenticated) and every /v1 answer name the schema version
    and the baseline's run, never the schema's path, the MLMD store or a statistics URI."""
    service = world["service"]
    body = defects.write(world["tmp"], "clean_serving").read_bytes()
    paths = [str(PROJECT_ROOT), str(world["tmp"]), str(world["store"])]
    answers = [service.request("GET", "/readyz", token=None),
               service.request("POST", "/v1/check", json.dumps({"instances": _serving_rows("clean_serving")[:2]}
                                                               ).encode(), "application/json"),
               service.request("POST", "/v1/validate", body, "text/csv"),
               service.request("POST", "/v1/validate?format=text", body, "text/csv"),
               service.request("GET", "/v1/windows")]
    for status, _, data in answers:
        assert status == 200, data
        assert not [p for p in paths if p in data.decode("utf-8")], data[:500]
    for status, _, data in answers[:2] + answers[4:]:
        answer = json.loads(data)
        assert answer["schema_version"] == "v1" and answer["baseline"]["kind"] == "mlmd"
        assert answer["baseline"]["run"] in ("run-1", "run-2")
    assert "schema v1" in answers[3][2].decode()
