"""The report task of a Kubeflow run (tfxgate/kubeflow/kfp_report.py), called on artifacts handed over as
the backend's driver hands them (uri, MLMD id as name, MLMD values as metadata, no type): the
page and the decision it writes at the outputs' uris, for a clean and a blocked batch. The task
run by the backend double, its outputs recorded as `system.HTML` and `system.Markdown`, is in
tests/test_kubeflow_harness.py."""

import json

import pytest

from core.common import names as p
from pipeline import config as config_lib
from tests.test_components import _schema_artifact, _validate
from tfxgate.kubeflow import kfp_report

pytestmark = pytest.mark.component


def _handed(artifact, artifact_id: int) -> dict:
    """A TFX artifact as the driver hands it on: MLMD's values, numbers as doubles."""
    metadata = {}
    for key, value in list(artifact.mlmd_artifact.properties.items()) + list(artifact.mlmd_artifact.custom_properties.items()):
        kind = value.WhichOneof("value")
        metadata[key] = float(getattr(value, kind)) if kind in ("int_value", "double_value") else getattr(value, kind)
    return {"name": str(artifact_id), "type": {"instanceSchema": ""}, "uri": artifact.uri, "metadata": metadata}


def _executor_input(tmp_path, defect):
    anomalies = _validate(tmp_path, defect)
    schema = _schema_artifact(tmp_path / "curated")
    root = tmp_path / "root" / "tfxgate" / "run-1" / p.REPORT / "uuid"
    return {
        "inputs": {"parameterValues": {"policy": config_lib.read_policy()},
                   "artifacts": {"training_anomalies": {"artifacts": [_handed(anomalies, 11)]},
                                 "curated_schema": {"artifacts": [_handed(schema, 12)]}}},
        "outputs": {"artifacts": {key: {"artifacts": [{"type": {"schemaTitle": title}, "uri": str(root / key)}]}
                                  for key, title in (("report", "system.HTML"), ("decision", "system.Markdown"))},
                    "outputFile": str(tmp_path / "output_metadata.json")},
    }


@pytest.mark.parametrize("defect, decision, reason", [
    ("clean_training", p.PASS, None),
    ("hour_out_of_domain", p.BLOCK, "trip_start_hour"),
    ("new_payment_type", p.BLOCK, "payment_type"),
])
def test_the_report_task_writes_the_page_and_the_decision_at_the_output_uris(tmp_path, defect, decision, reason):
    executor_input = _executor_input(tmp_path, defect)
    assert kfp_report.main(["--executor_input", json.dumps(executor_input)]) == 0
    outputs = executor_input["outputs"]["artifacts"]
    page = open(outputs["report"]["artifacts"][0]["uri"]).read()
    assert page.startswith("<!DOCTYPE html>") and "tfxgate anomaly report: run run-1" in page
    assert f'<span class="{decision}">{decision}</span>' in page
    markdown = open(outputs["decision"]["artifacts"][0]["uri"]).read()
    assert markdown.startswith(f"# Data gate: **{decision}**")
    if reason:
        assert f"| block | training | {reason}" in markdown and reason in page
        evidence = page.split('id="evidence-1"')[1].split("</div>")[0]
        assert reason in evidence
        if reason == "payment_type":  # the values outside the domain, counted, and their figure
            assert "<td>Bitcoin</td>" in evidence and 'class="figure evidence-figure"' in evidence
    else:
        assert "| severity |" not in markdown and "The evidence for each reason" not in page


def test_an_executor_input_the_report_cannot_use_is_one_line(tmp_path, capsys):
    executor_input = _executor_input(tmp_path, "clean_training")
    del executor_input["inputs"]["parameterValues"]["policy"]
    assert kfp_report.main(["--executor_input", json.dumps(executor_input)]) == 2
    assert capsys.readouterr().err == "error: tfxgate report task: the task was handed no 'policy' parameter\n"
    assert kfp_report.main(["--executor_input", "{not json"]) == 2
    assert capsys.readouterr().err.startswith("error: tfxgate report task: --executor_input is not JSON")
