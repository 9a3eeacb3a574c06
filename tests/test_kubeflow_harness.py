"""The compiled Kubeflow spec, executed: every task's own container command runs as a local
process with an ExecutorInput built as the KFP launcher builds it (tests/kfp_harness.py). A clean
run reaches a pushed model; a corrupted span is stopped by the gate, and nothing after it starts."""

import os
import shutil

import pytest
import yaml

from pipeline import kubeflow
from core import names as p
from tests import defects, kfp_harness
from tests.conftest import DATA_ROOT, PROJECT_ROOT

pytestmark = pytest.mark.kubeflow


def _compile_and_run(root, data_root):
    config = kubeflow.kubeflow_config(
        pipeline_root=str(root / "pipeline"), data_root=str(data_root), serving_model_dir=str(root / "serving"),
        project_root=str(PROJECT_ROOT), train_steps=50,
    )
    kubeflow.compile_spec(config, "local-harness", str(root / "tfxgate_pipeline.yaml"))
    spec = yaml.safe_load((root / "tfxgate_pipeline.yaml").read_text())  # run what was written
    results, produced = kfp_harness.run(spec, str(root / "pipeline"), str(PROJECT_ROOT),
                                        env={"TF_CPP_MIN_LOG_LEVEL": "3"})
    return {"root": root, "spec": spec, "results": {r.name: r for r in results}, "produced": produced}


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return _compile_and_run(tmp_path_factory.mktemp("kfp-clean"), DATA_ROOT)


@pytest.fixture(scope="module")
def corrupted(tmp_path_factory):
    data = tmp_path_factory.mktemp("kfp-data")
    shutil.copytree(DATA_ROOT / "serving", data / "serving")
    rows = [dict(r, payment_type="Bitcoin") if i % 10 == 0 else r for i, r in enumerate(defects.base_rows(n=10**6))]
    defects.write_rows(data / "train" / "span-7" / "data.csv", rows, defects.SERVING_COLUMNS)
    return _compile_and_run(tmp_path_factory.mktemp("kfp-corrupt"), data)


class _Props(dict):
    """An artifact's metadata as the executor reported it; custom properties come back as
    'custom:<name>' (with numbers as floats), properties under their own name."""

    def get(self, key, default=None):
        for k in (key, f"custom:{key}"):
            if k in self:
                value = self[k]
                return int(value) if isinstance(value, float) and value.is_integer() else value
        return default


def _metadata(run, task, key):
    return _Props(run["produced"][task][key].get("metadata", {}))


def test_every_task_runs_to_a_pushed_model(clean):
    failed = {name: r.log[-800:] for name, r in clean["results"].items() if r.code != 0}
    assert not failed, failed
    assert set(clean["results"]) == set(clean["spec"]["root"]["dag"]["tasks"])
    pushed = _metadata(clean, p.PUSHER, "pushed_model")
    assert pushed.get("pushed") == 1
    destination = pushed.get("pushed_destination")
    assert destination.startswith(str(clean["root"] / "serving"))
    assert os.path.isfile(os.path.join(destination, "saved_model.pb"))


def test_driverless_example_gen_records_the_span_and_the_gate_passes(clean):
    examples = _metadata(clean, p.EXAMPLE_GEN, "examples")
    assert examples.get("span") == 3 and examples.get("input_fingerprint", "").startswith("split:single_split")
    assert _metadata(clean, p.GATE, "decision").get("decision") == "pass"
    anomalies = _metadata(clean, p.SERVING_VALIDATOR, "anomalies")
    assert anomalies.get("environment") == "SERVING" and anomalies.get("anomaly_count") == 0


def test_gate_stops_a_corrupted_span_on_kubeflow(corrupted):
    results = corrupted["results"]
    assert results[p.TRAIN_VALIDATOR].code == 0
    assert results[p.GATE].code != 0
    assert "blocked by training: payment_type ENUM_TYPE_UNEXPECTED_STRING_VALUES" in results[p.GATE].log
    assert "tips SCHEMA_MISSING_COLUMN" in results[p.GATE].log
    for task in (p.TRANSFORM, p.TRAINER, p.PUSHER):
        assert task not in results, f"{task} started after the gate failed"
    assert _metadata(corrupted, p.EXAMPLE_GEN, "examples").get("span") == 7
