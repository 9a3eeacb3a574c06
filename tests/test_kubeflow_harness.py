"""The compiled Kubeflow spec, executed on a double of the open-source KFP 2 backend that hands each
task what the real driver and launcher hand it (tests/kfp_harness.py): untyped input artifacts
read back from MLMD, an extra `executor-logs` output, uuid output folders, Argo's scheduling and
the backend's cache key. TFX's own entrypoint fails on it as it fails on a real cluster; the
spec's entrypoint (pipeline/kfp_entrypoint.py) runs to a model the Evaluator blessed and Pusher
pushed, and the gate still stops a corrupted span with nothing after it started.

Those runs keep their artifacts and the pushed model on S3-compatible storage (a moto server
on loopback that checks credentials, tests/s3.py), as on a Kubeflow installation's MinIO: the
spec names the endpoint and a Kubernetes secret, and the credentials reach the tasks only from
that secret (the harness resolves it as the driver does; no AWS variable of this process reaches
a task). The clean run sets `train_steps` as a run parameter and leaves `baseline_model` '' (its
model judged by the floors only); the corrupted run takes as its drift baseline the clean run's
gate decision, found as `--submit` finds it; both show the report and the decision as outputs the
run's UI renders. A third run on the same backend (the cache's rerun) trains a one-step model
with `baseline_model` the clean run's Model URI on the bucket, found as `--submit` finds it: the
Evaluator reads that model in its own task (no input artifact: on Kubeflow the baseline is a
parameter, not a Resolver's channel), measures both, refuses the new one, and Pusher pushes
nothing."""

import contextlib
import json
import os
import shutil

import pytest
import yaml
from tfx.components.evaluator import constants as evaluator_constants

from core.common import names as p
from core.common import storage
from pipeline import kfp_checks, kfp_entrypoint, kfp_runs, kubeflow
from tests import defects, kfp_harness, s3 as s3_server
from tests.conftest import DATA_ROOT, PROJECT_ROOT

pytestmark = pytest.mark.kubeflow

ENV = {"TF_CPP_MIN_LOG_LEVEL": "3"}
SECRET = "tfxgate-s3"  # the Kubernetes secret the spec names; the keys are a default install's


def _compile(root, data_root, server=None):
    """(the spec, its platform spec, where artifacts and the model go) as written: on `server`'s
    bucket when given, else under `root`."""
    store = f"s3://{server.bucket}/{root.name}" if server else str(root)
    config = kubeflow.kubeflow_config(
        pipeline_root=f"{store}/pipeline", data_root=str(data_root), serving_model_dir=f"{store}/serving",
        project_root=str(PROJECT_ROOT), train_steps=50,
    )
    access = kubeflow.S3Access(server.endpoint, SECRET) if server else None
    kubeflow.compile_spec(config, "local-harness", str(root / "tfxgate_pipeline.yaml"), s3=access)
    return kubeflow.read_package(str(root / "tfxgate_pipeline.yaml")) + (store,)  # run what was written


def _compile_and_run(root, data_root, server, parameters=None):
    spec, platform, store = _compile(root, data_root, server)
    host, port = server.endpoint[len("http://"):].split(":")
    backend = kfp_harness.Backend(
        str(root / "backend"), str(PROJECT_ROOT), env=ENV,
        secrets={SECRET: {kubeflow.S3_SECRET_KEYS[0]: server.access_key, kubeflow.S3_SECRET_KEYS[1]: server.secret_key}},
        s3_provider={"endpoint": f"{host}:{port}", "disableSSL": True, "region": s3_server.REGION,
                     "credentials": {"fromEnv": False, "secretRef": {"secretName": SECRET, "accessKeyKey": kubeflow.S3_SECRET_KEYS[0],
                                                                     "secretKeyKey": kubeflow.S3_SECRET_KEYS[1]}}})
    run = backend.run(spec, f"{store}/pipeline", parameters=parameters, platform=platform)
    return {"root": root, "store": store, "spec": spec, "platform": platform, "backend": backend, "run": run,
            "results": run.results, "s3": server}


@pytest.fixture(scope="module")
def server():
    started = s3_server.S3Server.start()
    yield started
    started.stop()


# A run parameter (the spec's default is kubeflow_config's 50), and enough for the model gate: a
# model of 40 steps scored AUC 0.78 on the eval split here, under schema/evaluation.yaml's floor of 0.8.
TRAIN_STEPS = 100
WEAK_STEPS = 1  # the retrained run's model, which the Evaluator must refuse


@pytest.fixture(scope="module")
def clean(tmp_path_factory, server):
    return _compile_and_run(tmp_path_factory.mktemp("kfp-clean"), DATA_ROOT, server,
                            parameters={p.PARAM_TRAIN_STEPS: TRAIN_STEPS})


@contextlib.contextmanager
def _s3_env(server):
    """This process's environment reaching `server`, as --submit's would (restored after)."""
    saved = dict(os.environ)
    os.environ.update(server.env())
    try:
        storage.prepare([f"s3://{server.bucket}/"])
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def corrupted(tmp_path_factory, server, clean):
    """Span 7, a tenth of its rows with a payment type the schema does not know, run with the
    drift baseline --submit would find: the clean run's gate decision, through the run history."""
    data = tmp_path_factory.mktemp("kfp-data")
    shutil.copytree(DATA_ROOT / "serving", data / "serving")
    rows = [dict(r, payment_type="Bitcoin") if i % 10 == 0 else r for i, r in enumerate(defects.base_rows(n=10**6))]
    defects.write_rows(data / "train" / "span-7" / "data.csv", rows, defects.SERVING_COLUMNS)
    with _s3_env(server):
        baseline = kfp_runs.accepted_decision([clean["run"].run_id], f"{clean['store']}/pipeline",
                                              clean["spec"]["pipelineInfo"]["name"])
    assert baseline, "the clean run's gate decision was not found where the backend puts it"
    run = _compile_and_run(tmp_path_factory.mktemp("kfp-corrupt"), data, server,
                           parameters={p.PARAM_DRIFT_BASELINE: baseline})
    return dict(run, baseline=baseline)


def _serving_keys(run) -> set:
    """Every object under the run's serving model folder on the bucket."""
    bucket = f"s3://{run['s3'].bucket}/"
    return set(run["s3"].keys(f"{run['store']}/serving/"[len(bucket):]))


# Left out of the retrained run: nothing of the model gate or the cache check depends on them.
NOT_RERUN = {p.INFERRED_SCHEMA, p.EXAMPLE_VALIDATOR, p.REPORT}


@pytest.fixture(scope="module")
def retrained(clean):
    """A second run of the clean run's spec on the same backend: a deliberately weak model (one
    training step) given as `baseline_model` the clean run's blessed model, found as --submit
    finds it, through the run history. The Evaluator compares the two and refuses the new one."""
    with _s3_env(clean["s3"]):
        baseline = kfp_runs.blessed_model([clean["run"].run_id], f"{clean['store']}/pipeline",
                                          clean["spec"]["pipelineInfo"]["name"])
    assert baseline, "the clean run's blessed model was not found where the backend puts it"
    serving_before = _serving_keys(clean)
    spec = json.loads(json.dumps(clean["spec"]))
    spec["root"]["dag"]["tasks"] = {n: t for n, t in spec["root"]["dag"]["tasks"].items() if n not in NOT_RERUN}
    run = clean["backend"].run(spec, f"{clean['store']}/pipeline", platform=clean["platform"],
                               parameters={p.PARAM_TRAIN_STEPS: WEAK_STEPS, p.PARAM_BASELINE_MODEL: baseline})
    return dict(clean, spec=spec, run=run, results=run.results, baseline=baseline, serving_before=serving_before)


class _Props(dict):
    """An artifact's metadata as the next task receives it from the backend: MLMD's values, so
    numbers are doubles; TFX's custom properties that clash with a property come as 'custom:<name>'."""

    def get(self, key, default=None):
        for k in (key, f"custom:{key}"):
            if k in self:
                value = self[k]
                return int(value) if isinstance(value, float) and value.is_integer() else value
        return default


def _metadata(run, task, key):
    return _Props(run["backend"].input_artifact(run["run"].outputs[task][key])["metadata"])


def _task_log(run, task: str) -> str:
    """The task's whole output, as the launcher uploaded it to executor-logs (a result keeps its end only)."""
    return run["s3"].read(run["backend"].input_artifact(run["run"].outputs[task][kfp_harness.EXECUTOR_LOGS])["uri"]).decode()


def _model_uri(run) -> str:
    return run["backend"].input_artifact(run["run"].outputs[p.TRAINER]["model"])["uri"]


def _container(spec: dict, task: str) -> dict:
    label = spec["components"][spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]]["executorLabel"]
    return spec["deploymentSpec"]["executors"][label]["container"]


def _unwrapped(spec: dict) -> dict:
    """The spec as TFX compiles it: every task runs TFX's entrypoint directly."""
    spec = json.loads(json.dumps(spec))
    for executor in spec["deploymentSpec"]["executors"].values():
        container = executor["container"]
        if container["command"] == ["python", "-m", kfp_checks.ENTRYPOINT]:
            container["command"] = ["python", "-m", kfp_entrypoint.TFX_ENTRYPOINT]
            container["args"] = container["args"][2:]  # the declared outputs flag and its value
    return spec


def test_every_task_runs_to_a_pushed_model(clean):
    failed = {name: r.log[-1500:] for name, r in clean["results"].items() if r.code != 0}
    assert not failed, failed
    assert set(clean["results"]) == set(clean["spec"]["root"]["dag"]["tasks"])
    pushed = _metadata(clean, p.PUSHER, "pushed_model")
    assert pushed.get("pushed") == 1
    destination = pushed.get("pushed_destination")
    assert destination.startswith(f"{clean['store']}/serving/")
    bucket = f"s3://{clean['s3'].bucket}/"
    assert destination[len(bucket):] + "/saved_model.pb" in clean["s3"].keys(destination[len(bucket):])
    # Every task wrote its artifacts to the bucket itself, with credentials from the secret only.
    assert not os.path.exists(clean["root"] / "pipeline") and not os.path.exists(clean["root"] / "serving")
    for task in clean["results"]:
        logs = clean["backend"].input_artifact(clean["run"].outputs[task][kfp_harness.EXECUTOR_LOGS])["uri"]
        if _container(clean["spec"], task)["command"] == ["python", "-m", kfp_checks.ENTRYPOINT]:
            assert f"tfxgate entrypoint: s3:// storage at {clean['s3'].endpoint}" in clean["s3"].read(logs).decode(), task
    package = (clean["root"] / "tfxgate_pipeline.yaml").read_text()
    assert clean["s3"].secret_key not in package and clean["s3"].access_key not in package


def test_the_evaluator_blessed_the_model_that_pusher_pushed(clean):
    """TFMA read the model and the eval split from the bucket in its own task; its blessing in the
    backend's MLMD says blessed, with the metrics, and no baseline ('' by default: floors only)."""
    assert clean["results"][p.EVALUATOR].code == 0
    blessing = _metadata(clean, p.EVALUATOR, "blessing")
    assert blessing.get(p.BLESSED) == 1, blessing.get(p.EVAL_REASONS)
    assert json.loads(blessing.get(p.EVAL_REASONS)) == [] and blessing.get(p.EVAL_HAS_BASELINE) == 0
    metrics = json.loads(blessing.get(p.EVAL_METRICS))
    assert metrics["overall"]["auc"]["candidate"] >= metrics["thresholds"]["auc"]["floor"]
    assert metrics["overall"]["example_count"]["candidate"] >= 200 and "baseline" not in metrics["overall"]["auc"]
    handed = clean["run"].executor_inputs[p.EVALUATOR]["inputs"]
    assert handed["parameterValues"]["baseline_model_uri"] == ""
    assert set(handed["artifacts"]) == {"examples", "model"}  # no baseline channel: a parameter only
    assert blessing.get(evaluator_constants.ARTIFACT_PROPERTY_CURRENT_MODEL_URI_KEY) == _model_uri(clean)
    pusher = clean["run"].executor_inputs[p.PUSHER]["inputs"]["artifacts"]
    assert pusher["model_blessing"]["artifacts"][0]["name"] == str(clean["run"].outputs[p.EVALUATOR]["blessing"])


# A baseline given by URI is no MLMD artifact: its id 0 in the blessing made TFX's Kubeflow
# entrypoint (refactor_model_blessing) fail with KeyError 0, which this run found; the blessing
# now records the baseline's URI alone.
def test_a_weak_model_against_the_baseline_model_is_refused_and_not_pushed(clean, retrained):
    """The `baseline_model` run parameter (an earlier run's Model URI on the bucket) is the
    Evaluator's baseline: both models measured on the same rows, the weak one refused on its floors
    and on its drop against the baseline; Pusher records pushed 0 and writes nothing to serving."""
    results = retrained["results"]
    failed = {name: r.log[-1500:] for name, r in results.items() if r.code not in (0, None)}
    assert not failed, failed
    assert set(results) == set(retrained["spec"]["root"]["dag"]["tasks"])
    assert retrained["baseline"] == _model_uri(clean)
    handed = retrained["run"].executor_inputs[p.EVALUATOR]["inputs"]["parameterValues"]
    assert handed["baseline_model_uri"] == retrained["baseline"]
    assert f"{WEAK_STEPS}/{WEAK_STEPS} - " in _task_log(retrained, p.TRAINER)
    blessing = _metadata(retrained, p.EVALUATOR, "blessing")
    assert blessing.get(p.BLESSED) == 0 and blessing.get(p.EVAL_HAS_BASELINE) == 1
    assert blessing.get(p.BLESSING_BASELINE_URI) == retrained["baseline"]
    assert blessing.get(p.BLESSING_BASELINE_ID) is None
    overall = json.loads(blessing.get(p.EVAL_METRICS))["overall"]
    for metric in ("auc", "binary_accuracy", "calibration"):
        assert set(overall[metric]) == {"candidate", "baseline"}, metric
    clean_metrics = json.loads(_metadata(clean, p.EVALUATOR, "blessing").get(p.EVAL_METRICS))["overall"]
    assert overall["auc"]["baseline"] == pytest.approx(clean_metrics["auc"]["candidate"], abs=1e-3)  # the same rows
    reasons = json.loads(blessing.get(p.EVAL_REASONS))
    assert any(line.startswith("AUC") and "< floor 0.8" in line for line in reasons), reasons
    assert any("baseline" in line for line in reasons), reasons
    assert _metadata(retrained, p.PUSHER, "pushed_model").get(p.PUSHED) == 0
    assert _serving_keys(retrained) == retrained["serving_before"]


def test_tasks_got_what_the_real_driver_hands_them(clean):
    """The double is strict: inputs untyped and named by MLMD id, executor-logs among the outputs,
    outputs under <root>/<pipeline>/<run>/<task>/<uuid>/<key>; the logs were recorded."""
    handed = clean["run"].executor_inputs[p.TRAIN_VALIDATOR]
    statistics = handed["inputs"]["artifacts"]["statistics"]["artifacts"][0]
    assert statistics["type"] == {"instanceSchema": ""} and statistics["name"].isdigit()
    assert statistics["metadata"]["display_name"] == "statistics" and "store_session_info" in statistics["metadata"]
    outputs = handed["outputs"]["artifacts"]
    assert outputs[kfp_harness.EXECUTOR_LOGS]["artifacts"][0]["type"] == {"schemaTitle": "system.Artifact"}
    uri = outputs["anomalies"]["artifacts"][0]["uri"]
    prefix = f"{clean['store']}/pipeline/{clean['spec']['pipelineInfo']['name']}/{clean['run'].run_id}/{p.TRAIN_VALIDATOR}/"
    assert uri.startswith(prefix) and uri.endswith("/anomalies") and len(uri[len(prefix):].split("/")) == 2
    logs = clean["backend"].input_artifact(clean["run"].outputs[p.TRAIN_VALIDATOR][kfp_harness.EXECUTOR_LOGS])
    assert logs["uri"].startswith(prefix)  # the launcher uploaded it from the pod's local path
    assert "tfxgate entrypoint: input statistics: type restored" in clean["s3"].read(logs["uri"]).decode()


def test_driverless_example_gen_records_the_span_and_the_gate_passes(clean):
    examples = _metadata(clean, p.EXAMPLE_GEN, "examples")
    assert examples.get("span") == 3 and examples.get("input_fingerprint", "").startswith("split:single_split")
    assert _metadata(clean, p.GATE, "decision").get("decision") == "pass"
    anomalies = _metadata(clean, p.SERVING_VALIDATOR, "anomalies")
    assert anomalies.get("environment") == "SERVING" and anomalies.get("anomaly_count") == 0


def test_gate_stops_a_corrupted_span_on_kubeflow(corrupted):
    results = corrupted["results"]
    assert results[p.TRAIN_VALIDATOR].code == 0
    assert results[p.GATE].code == 1  # TFX's status for a failed component, not tensorflow-io's abort (134)
    assert "blocked by training: payment_type ENUM_TYPE_UNEXPECTED_STRING_VALUES" in results[p.GATE].log
    assert "tips SCHEMA_MISSING_COLUMN" in results[p.GATE].log
    for task in (p.TRANSFORM, p.TRAINER, p.EVALUATOR, p.PUSHER):
        assert task not in results, f"{task} started after the gate failed"
    assert set(corrupted["run"].omitted) == {p.TRANSFORM, p.TRAINER, p.EVALUATOR, p.PUSHER}
    assert _metadata(corrupted, p.EXAMPLE_GEN, "examples").get("span") == 7


def test_tfx_entrypoint_unwrapped_fails_on_the_backend_as_on_a_real_cluster(tmp_path):
    """Without the wrapper every task fails before our code runs: with the default publish-logs,
    already the first tasks on executor-logs; without it, every task with an input artifact on its
    missing type."""
    spec = _unwrapped(_compile(tmp_path, DATA_ROOT)[0])
    with_logs = kfp_harness.Backend(str(tmp_path / "backend-logs"), str(PROJECT_ROOT), env=ENV).run(
        spec, str(tmp_path / "root-logs"))
    first = with_logs.results[p.EXAMPLE_GEN]
    assert first.code != 0 and "Could not import system.Artifact" in first.log
    assert not [n for n, r in with_logs.results.items() if r.code == 0]
    no_logs = kfp_harness.Backend(str(tmp_path / "backend"), str(PROJECT_ROOT), env=ENV, publish_logs=False).run(
        spec, str(tmp_path / "root"))
    assert no_logs.results[p.EXAMPLE_GEN].code == 0
    statistics = no_logs.results[p.STATISTICS_GEN]
    assert statistics.code != 0 and "'NoneType' object has no attribute 'get'" in statistics.log
    assert p.TRAINER not in no_logs.results and p.TRAINER in no_logs.omitted


def test_the_backend_cache_serves_a_rerun_only_where_nothing_changed(clean, retrained):
    """The second run of the same spec: ExampleGens are never cached (no driver sees new files),
    so they run again and make new artifact ids, which are in every downstream cache key; the
    schema importer, whose inputs are only parameters, is served from the cache."""
    states = {n: r.state for n, r in retrained["results"].items()}
    assert states[p.CURATED_SCHEMA] == kfp_harness.CACHED
    assert retrained["run"].outputs[p.CURATED_SCHEMA] == clean["run"].outputs[p.CURATED_SCHEMA]
    assert states[p.EXAMPLE_GEN] == kfp_harness.SUCCEEDED
    assert states[p.STATISTICS_GEN] == kfp_harness.SUCCEEDED  # a new Examples id: a new key
    assert retrained["results"][p.STATISTICS_GEN].fingerprint != clean["results"][p.STATISTICS_GEN].fingerprint
    assert {n for n, state in states.items() if state == kfp_harness.CACHED} == {p.CURATED_SCHEMA}


def test_run_parameters_reach_their_tasks(clean, corrupted):
    """train_steps set for the clean run, drift_baseline for the corrupted one; every other
    parameter took the spec's default, as the backend fills it."""
    trainer = clean["run"].executor_inputs[p.TRAINER]["inputs"]["parameterValues"]
    assert trainer["train_steps"] == TRAIN_STEPS
    assert f"{TRAIN_STEPS}/{TRAIN_STEPS}" in _task_log(clean, p.TRAINER)  # Keras' progress: the steps trained
    example_gen = clean["run"].executor_inputs[p.EXAMPLE_GEN]["inputs"]["parameterValues"]
    assert example_gen["requested_span"] == -1 and example_gen["schema_version"] == "v1"
    validator = corrupted["run"].executor_inputs[p.TRAIN_VALIDATOR]["inputs"]["parameterValues"]
    assert validator["drift_baseline"] == corrupted["baseline"]
    with pytest.raises(ValueError, match="requires type double or integer"):
        clean["backend"].run(clean["spec"], f"{clean['store']}/pipeline", parameters={p.PARAM_SPAN: "3"})


def test_drift_on_kubeflow_is_measured_against_the_earlier_runs_accepted_span(clean, corrupted):
    """No Resolver: the drift baseline came as a parameter, and the validator used what the clean
    run's gate accepted (span 3, its statistics)."""
    anomalies = _metadata(corrupted, p.TRAIN_VALIDATOR, "anomalies")
    assert anomalies.get(p.DRIFT_BASELINE_SPAN) == 3
    accepted = _metadata(clean, p.GATE, "decision").get(p.TRAINING_STATISTICS_URI)
    assert accepted and anomalies.get(p.DRIFT_BASELINE_URI) == accepted
    assert corrupted["baseline"].startswith(f"{clean['store']}/pipeline/tfxgate/{clean['run'].run_id}/{p.GATE}/")


def test_the_report_and_the_decision_are_outputs_the_runs_ui_shows(clean, corrupted):
    """Both runs, the blocked one too: the report task reads the validators, not the failed gate."""
    for run, decision in ((clean, p.PASS), (corrupted, p.BLOCK)):
        assert run["results"][p.REPORT].code == 0, run["results"][p.REPORT].log[-1500:]
        shown = kfp_harness.visualizations(run["backend"], run["run"])
        assert {k: v["type"] for k, v in shown.items()} == {(p.REPORT, "report"): "system.HTML",
                                                            (p.REPORT, "decision"): "system.Markdown"}
        page = run["s3"].read(shown[(p.REPORT, "report")]["uri"]).decode()
        assert page.startswith("<!DOCTYPE html>") and f'<span class="{decision}">{decision}</span>' in page
        assert f"tfxgate anomaly report: run {run['run'].run_id}" in page
        markdown = run["s3"].read(shown[(p.REPORT, "decision")]["uri"]).decode()
        assert markdown.startswith(f"# Data gate: **{decision}**")
    assert "| block | training | payment_type" in markdown and "payment_type" in page
    assert corrupted["results"][p.GATE].code == 1
