"""schema/evaluation.yaml, the model gate's reviewed settings (core/common/evaluation.py): checked with
one-line errors, turned into the EvalConfig TFMA runs (thresholds on the whole eval split,
metrics per slice), and the words of a refusal."""

import json
import subprocess
import sys

import pytest

from core.settings import check_settings
from core.common import evaluation
from core.common.errors import ConfigError
from models import features, model
from pipeline import config as config_lib
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.unit

SHIPPED = config_lib.EVALUATION_PATH.read_text()


def test_the_shipped_settings_gate_the_metrics_of_a_binary_task_and_read_the_model_as_it_is_saved():
    settings = evaluation.parse(SHIPPED)
    gates = {g.name: g for g in settings.metrics}
    assert {"auc", "binary_accuracy", "calibration", "example_count"} <= set(gates)
    assert gates["auc"].floor is not None and gates["auc"].drop is not None
    assert gates["calibration"].floor < 1 < gates["calibration"].ceiling  # 1 is calibrated
    # What models/ saves and names: the label after Transform, and the signature that makes it.
    assert settings.label == features.transformed_name(features.LABEL_KEY)
    assert settings.preprocessing == model.TRANSFORM_FEATURES_SIGNATURE


def test_thresholds_judge_the_whole_eval_split_and_every_checks_yaml_slice_is_measured():
    slices = [key.feature for key in check_settings.parse(config_lib.read_beside_schema(
        config_lib.default_schema_path())["checks_text"]).slices]
    config = evaluation.eval_config(SHIPPED, slices)
    assert config["slicing_specs"][0] == {}  # the whole eval split
    assert [s["feature_keys"] for s in config["slicing_specs"][1:]] == [[f] for f in slices]
    by_class = {m["class_name"]: m for m in config["metrics_specs"][0]["metrics"]}
    auc = by_class["AUC"]["per_slice_thresholds"]
    assert len(auc) == 1 and auc[0]["slicing_specs"] == [{}]  # a 30-row slice gates nothing
    threshold = auc[0]["threshold"]
    gate = {g.name: g for g in evaluation.parse(SHIPPED).metrics}["auc"]
    assert threshold["value_threshold"] == {"lower_bound": gate.floor}
    assert threshold["change_threshold"] == {"direction": "HIGHER_IS_BETTER", "absolute": -gate.drop}
    assert "change_threshold" not in by_class["Calibration"]["per_slice_thresholds"][0]["threshold"]


def test_the_eval_config_is_one_tfma_reads():
    import tensorflow_model_analysis as tfma
    from google.protobuf import json_format

    parsed = json_format.Parse(evaluation.eval_config_json(SHIPPED, ["company"]), tfma.EvalConfig())
    assert parsed.model_specs[0].label_key == "tips_xf"
    assert tfma.metrics.metric_thresholds_from_metrics_specs(parsed.metrics_specs, eval_config=parsed)


@pytest.mark.parametrize("text, words", [
    ("version: 1\nmetrics: {}\n", "expected a mapping with a 'metrics' mapping"),
    ("version: 1\nmodel: {signature: s, preprocessing: p, label: l}\nmetrics: {f1: {floor: 0.5}}\n",
     "metric 'f1' is not one tfxgate knows"),
    ("model: {signature: s, preprocessing: p, label: l}\nmetrics: {auc: {floor: .nan}}\n", "auc.floor must be a finite number"),
    ("model: {signature: s, preprocessing: p, label: l}\nmetrics: {auc: {drop: -0.1}}\n", "auc.drop is how far"),
    ("model: {signature: s, preprocessing: p, label: l}\nmetrics: {calibration: {floor: 2, ceiling: 1}}\n",
     "floor 2 is above ceiling 1"),
    ("model: {signature: s, preprocessing: p, label: l}\nmetrics: {auc: {minimum: 0.5}}\n", "needs floor, ceiling or drop"),
    ("model: {signature: s}\nmetrics: {auc: {floor: 0.5}}\n", "'model' needs exactly signature, preprocessing and label"),
    ("metrics: [auc\n", "not valid YAML"),
])
def test_a_broken_settings_file_is_one_line_naming_the_problem(text, words):
    with pytest.raises(ConfigError) as raised:
        evaluation.parse(text, "evaluation.yaml")
    message = str(raised.value)
    assert words in message and "\n" not in message and message.startswith("evaluation.yaml: ")


def test_the_runner_refuses_a_broken_settings_file_before_anything_runs(tmp_path):
    broken = tmp_path / "evaluation.yaml"
    broken.write_text("model: {signature: s, preprocessing: p, label: l}\nmetrics: {auc: {floor: high}}\n")
    proc = subprocess.run([sys.executable, str(PROJECT_ROOT / "runner_local.py"), "--outputs", str(tmp_path / "out"),
                           "--evaluation", str(broken)], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == f"error: {broken}: auc.floor must be a finite number, not 'high'"
    assert not (tmp_path / "out" / "metadata.sqlite").exists()


def test_a_refusal_says_which_threshold_in_the_files_words():
    settings = evaluation.parse(SHIPPED)
    gates = {g.name: g for g in settings.metrics}
    values = {"auc": {"candidate": 0.71, "baseline": 0.74}, "binary_accuracy": {"candidate": 0.5},
              "calibration": {"candidate": 1.7}}
    lines = evaluation.reasons(settings, values, [("auc", True), ("binary_accuracy", False), ("calibration", False),
                                                  ("auc", True)])
    assert lines == [f"AUC 0.71 < baseline 0.74 - {evaluation.number(gates['auc'].drop)}",
                     f"accuracy 0.5 < floor {evaluation.number(gates['binary_accuracy'].floor)}",
                     f"calibration 1.7 > ceiling {evaluation.number(gates['calibration'].ceiling)}"]


def test_the_headline_names_the_baseline_or_says_floors_only():
    first = {"blessed": True, "metrics": {"auc": {"candidate": 0.912}}, "reasons": [], "baseline_model": None}
    assert evaluation.headline(first) == "blessed; AUC 0.912; no baseline model yet: floors only"
    refused = {"blessed": False, "metrics": {"auc": {"candidate": 0.6, "baseline": 0.91}}, "reasons": ["x"],
               "baseline_model": {"artifact_id": 7, "uri": "/m", "run_id": "2026-12-02T10:00:00"}}
    assert evaluation.headline(refused) == ("NOT blessed; AUC 0.6 (baseline 0.91); "
                                            "against the model of run 2026-12-02T10:00:00")
    assert json.dumps(refused)  # what MLMD and MLflow carry is plain JSON
