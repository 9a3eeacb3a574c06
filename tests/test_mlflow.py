"""Local runs logged to a real MLflow tracking server (tests/mlflow_server.py), read back with
MLflow's client and checked against the MLMD store (issue 18).

The session's runs (tests/conftest.py, `runs`) log two of theirs to this server when this module
is collected, so that no pipeline run is this module's own: the sample's second run (clean, from
the cache) with `--mlflow-tracking-uri`; span 5 of the session's extra data (a new payment type in
10 % of rows, no label), blocked, with `MLFLOW_TRACKING_URI`. The runner's tracking step on its own
then logs further runs of a copy of that store (the session's store stays as it was).
"""

import json
import shutil
import types

import pytest

from core.common import names
from mlmd import query, runs as runs_lib

pytestmark = [pytest.mark.services, pytest.mark.pipeline]


@pytest.fixture(scope="module")
def server(runs):
    assert runs["mlflow"] is not None, "the session's runs were not logged to MLflow"
    return runs["mlflow"]


@pytest.fixture(scope="module")
def tracked(runs, server, tmp_path_factory):
    clean, blocked = runs["cached"], runs["blocked"]
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert blocked.returncode == 3, blocked.stdout + blocked.stderr
    from mlflow.tracking import MlflowClient

    store = query.sqlite_store(str(runs["outputs"] / "metadata.sqlite"))
    contexts = runs_lib.run_contexts(store)
    clean_run, blocked_run = runs_lib.load_run(store, contexts[1]), runs_lib.load_run(store, contexts[-1])
    assert contexts[1].id == runs["first_runs"][1].id  # the cached run, the second of the session
    # The tracking step's own tests log further runs of this copy (the session's store stays as it was).
    copy = tmp_path_factory.mktemp("tracked")
    shutil.copy(runs["outputs"] / "metadata.sqlite", copy / "metadata.sqlite")
    client = MlflowClient(tracking_uri=server.uri)
    experiment = client.get_experiment_by_name("tfxgate")
    assert experiment is not None, [e.name for e in client.search_experiments()]
    logged = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    return types.SimpleNamespace(client=client, store=store, outputs=runs["outputs"], copy=copy, logged=logged,
                                 clean=clean, blocked=blocked, clean_run=clean_run, blocked_run=blocked_run,
                                 seconds=runs["cached_seconds"])


def test_both_runs_are_in_the_experiment_named_after_the_pipeline(tracked):
    print(f"the clean run, logged to MLflow: {tracked.seconds:.1f} s")
    assert set(tracked.logged) == {tracked.clean_run.run_id, tracked.blocked_run.run_id}
    for proc in (tracked.clean, tracked.blocked):
        assert "MLflow logging failed" not in proc.stderr


def test_the_clean_run_finished_with_its_params_gate_and_distances(tracked):
    run = tracked.logged[tracked.clean_run.run_id]
    assert run.info.status == "FINISHED"
    assert run.data.params["span"] == "3" and run.data.params["schema_version"] == tracked.clean_run.schema_version
    assert run.data.params["pipeline"] == "tfxgate" and run.data.params["policy_digest"] == tracked.clean_run.policy_digest
    assert run.data.metrics["gate.decision"] == 0 and run.data.tags["gate.decision"] == names.PASS
    assert run.data.metrics["gate.blocking"] == 0
    fare_skew = [k for k in run.data.metrics if k.startswith("distance/serving/") and "/skew/" in k and k.endswith("/fare")]
    assert fare_skew, sorted(run.data.metrics)[:20]
    [distance] = [d for v in tracked.clean_run.validations for d in v.distances
                  if d["check"] == "skew" and d["feature"] == "fare" and not d.get("slice")
                  and fare_skew[0].split("/")[4] == d["type"]]
    assert run.data.metrics[fare_skew[0]] == pytest.approx(distance["value"])


def test_the_clean_run_tags_name_its_mlmd_records(tracked):
    run = tracked.logged[tracked.clean_run.run_id]
    tags = run.data.tags
    assert tags["mlmd.pipeline_run.id"] == str(tracked.clean_run.context_id)
    assert tags["mlmd.pipeline_run.name"] == tracked.clean_run.run_id
    assert tags["mlmd.store"].endswith(str(tracked.outputs / "metadata.sqlite"))
    by_node = query.executions_by_node(tracked.store, tracked.clean_run.context_id)
    assert {k[len("mlmd.execution_id."):]: int(v) for k, v in tags.items() if k.startswith("mlmd.execution_id.")} == {
        node: e.id for node, e in by_node.items()}


def test_the_clean_run_artifacts_are_its_report_and_anomalies(tracked, tmp_path):
    run = tracked.logged[tracked.clean_run.run_id]
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")  # through the server, not its folder
    report = tracked.client.download_artifacts(run.info.run_id, "report.html", str(tmp_path))
    page = open(report, encoding="utf-8").read()
    assert page.startswith("<!DOCTYPE html>") and f"run {tracked.clean_run.run_id}" in page
    anomalies = json.load(open(tracked.client.download_artifacts(run.info.run_id, "anomalies.json", str(tmp_path))))
    assert anomalies["run_id"] == tracked.clean_run.run_id and anomalies["gate"]["decision"] == names.PASS
    assert {v["node"] for v in anomalies["validations"]} == set(names.VALIDATORS)


def test_the_blocked_run_failed_with_the_reason_naming_its_feature(tracked, tmp_path):
    run = tracked.logged[tracked.blocked_run.run_id]
    assert run.info.status == "FAILED"
    assert run.data.metrics["gate.decision"] == 2 and run.data.metrics["gate.blocking"] >= 1
    assert run.data.params["span"] == "5"
    assert "payment_type ENUM_TYPE_UNEXPECTED_STRING_VALUES" in run.data.tags["gate.reasons"]
    report = tracked.client.download_artifacts(run.info.run_id, "report.html", str(tmp_path))
    page = open(report, encoding="utf-8").read()
    assert f"run {tracked.blocked_run.run_id}" in page and "payment_type" in page


def test_an_unreachable_server_is_one_line_and_changes_nothing(tracked, capsys):
    """The runner's tracking step on its own (no third pipeline run): a port nothing listens on."""
    import runner_local
    from mlmd import store as store_lib
    from tests.ports import free_port

    settings = store_lib.as_settings(str(tracked.copy / "metadata.sqlite"))
    config = types.SimpleNamespace(store=settings, pipeline_name="tfxgate")
    uri = f"http://127.0.0.1:{free_port()}"
    runner_local._track(config, tracked.clean_run.run_id, uri)
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"tfxgate: MLflow logging to {uri} failed: no tracking server answers there"), line
    assert set(tracked.logged) == {r.info.run_name for r in tracked.client.search_runs(
        [tracked.client.get_experiment_by_name("tfxgate").experiment_id])}


def test_a_refused_model_is_logged_finished_with_its_blessing_and_reasons(tracked, runs):
    """The session's one-step model (refused by the model gate, exit 5), logged by the runner's
    tracking step from the copied store: FINISHED (the data was fine), `eval.blessed` 0, the
    reasons, and the candidate's metrics beside the baseline's. Logged last: the test above
    compares the experiment with the fixture's two runs."""
    import runner_local
    from mlmd import store as store_lib

    refused = runs["refused_run"].name
    settings = store_lib.as_settings(str(tracked.copy / "metadata.sqlite"))
    runner_local._track(types.SimpleNamespace(store=settings, pipeline_name="tfxgate"), refused, tracked.client.tracking_uri)
    experiment = tracked.client.get_experiment_by_name("tfxgate")
    [run] = [r for r in tracked.client.search_runs([experiment.experiment_id]) if r.info.run_name == refused]
    judged = runs_lib.load_run(tracked.store, tracked.store.get_context_by_type_and_name(names.RUN_CONTEXT, refused)).evaluation
    assert run.info.status == "FINISHED" and run.data.metrics["gate.decision"] == 0
    assert run.data.metrics["eval.blessed"] == 0
    assert run.data.tags["eval.reasons"] and judged["reasons"][0] in run.data.tags["eval.reasons"]
    assert run.data.metrics["eval.auc"] == pytest.approx(judged["metrics"]["auc"]["candidate"])
    assert run.data.metrics["eval.baseline.auc"] == pytest.approx(judged["metrics"]["auc"]["baseline"])
