"""The Kubeflow deployment, proven offline: the compiled spec is checked as a KFP 2 backend checks
it, compared with a committed golden copy, and matched against what the Dockerfile provides."""

import copy
import importlib
import os
import re

import pytest
import yaml

import runner_kubeflow
from components import span_example_gen
from pipeline import kubeflow
from core import names as p
from tests.conftest import DATA_ROOT, PROJECT_ROOT

pytestmark = pytest.mark.kubeflow

GOLDEN = PROJECT_ROOT / "tests" / "golden" / "tfxgate_pipeline.yaml"
ARGS = ["--image", "registry.example/tfxgate:test", "--pipeline-root", "gs://tfxgate-test/root",
        "--serving-model-dir", "gs://tfxgate-test/serving"]


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory):
    out = tmp_path_factory.mktemp("kfp") / "tfxgate_pipeline.yaml"
    assert runner_kubeflow.main(ARGS + ["--output", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def spec(spec_path):
    return yaml.safe_load(spec_path.read_text())


def test_spec_passes_the_backends_checks(spec):
    tasks = kubeflow.check_spec(spec)
    assert spec["schemaVersion"] == "2.1.0"
    assert spec["pipelineInfo"]["name"] == "tfxgate"
    assert spec["defaultPipelineRoot"] == "gs://tfxgate-test/root"
    expected = {p.EXAMPLE_GEN, p.STATISTICS_GEN, p.INFERRED_SCHEMA, p.CURATED_SCHEMA, p.EXAMPLE_VALIDATOR,
                p.TRAIN_VALIDATOR, p.SERVING_EXAMPLE_GEN, p.SERVING_STATISTICS_GEN, p.SERVING_VALIDATOR,
                p.GATE, p.TRANSFORM, p.TRAINER, p.PUSHER}
    assert set(tasks) == expected  # no Resolver node on Kubeflow


def test_gate_stands_before_transform_and_example_gens_are_not_cached(spec):
    tasks = spec["root"]["dag"]["tasks"]
    assert p.GATE in tasks[p.TRANSFORM]["dependentTasks"]
    for name in (p.EXAMPLE_GEN, p.SERVING_EXAMPLE_GEN):
        assert not tasks[name].get("cachingOptions", {}).get("enableCache")
    assert tasks[p.TRAINER]["cachingOptions"]["enableCache"] is True


def _executor(spec, task):
    label = spec["components"][spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]]["executorLabel"]
    return spec["deploymentSpec"]["executors"][label]["container"]


@pytest.mark.parametrize(
    "break_it, message",
    [
        (lambda s: s.update(schemaVersion="2.0.0"), "schemaVersion"),
        (lambda s: s["pipelineInfo"].update(name=""), "pipelineInfo.name is empty"),
        (lambda s: s.pop("defaultPipelineRoot"), "defaultPipelineRoot is empty"),
        (lambda s: s["root"]["dag"]["tasks"]["Trainer"]["componentRef"].update(name="Nope"), "no component 'Nope'"),
        (lambda s: s["root"]["dag"]["tasks"]["Trainer"]["inputs"]["artifacts"]["examples"]["taskOutputArtifact"].update(
            producerTask="Ghost"), "unknown task 'Ghost'"),
        (lambda s: s["root"]["dag"]["tasks"]["Trainer"]["inputs"]["artifacts"]["examples"]["taskOutputArtifact"].update(
            outputArtifactKey="nothing"), "has no output 'nothing'"),
        (lambda s: s["root"]["dag"]["tasks"]["TrainExampleGen"].setdefault("dependentTasks", []).append("Pusher"),
         "dependency cycle"),
        (lambda s: _executor(s, "Trainer")["args"].remove("{{$}}"), "no executor input placeholder"),
        (lambda s: _executor(s, "TrainExampleGen").update(
            lifecycle={"preCacheCheck": {"command": ["python"], "args": []}}), "preCacheCheck"),
        (lambda s: s.update(colour="red"), "not a PipelineSpec"),
    ],
)
def test_checks_catch_what_the_backend_would_reject(spec, break_it, message):
    broken = copy.deepcopy(spec)
    break_it(broken)
    with pytest.raises(kubeflow.SpecError, match=message):
        kubeflow.check_spec(broken)


def _normalized(spec):
    spec = copy.deepcopy(spec)
    spec.pop("sdkVersion", None)
    return yaml.safe_dump(spec, sort_keys=True)


def test_spec_matches_the_golden_copy(spec):
    if os.environ.get("TFXGATE_UPDATE_GOLDEN"):
        GOLDEN.write_text(_normalized(spec))
    assert GOLDEN.exists(), "no golden spec: run the tests once with TFXGATE_UPDATE_GOLDEN=1 and review it"
    assert _normalized(spec) == GOLDEN.read_text(), (
        "the compiled Kubeflow spec changed; if intended, regenerate with TFXGATE_UPDATE_GOLDEN=1 and review the diff")


def _dockerfile_copies():
    copies = set()
    for line in (PROJECT_ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            copies.update(part.rstrip("/") for part in line.split()[1:-1])
    return copies


def test_dockerfile_provides_what_the_spec_references(spec_path, spec):
    text = spec_path.read_text()
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert f"WORKDIR {kubeflow.IMAGE_PROJECT_ROOT}" in dockerfile
    assert "requirements/lock.txt" in dockerfile and "pip install --no-deps -e ." in dockerfile
    copies = _dockerfile_copies()
    for path in set(re.findall(r"/pipeline/[\w./-]+", text)):
        relative = path[len(kubeflow.IMAGE_PROJECT_ROOT) + 1:]
        assert (PROJECT_ROOT / relative).exists(), path
        assert relative.split("/")[0] in copies, f"{path} is not copied into the image"
    for package in ("pipeline", "components", "models", "tfxgate", "setup.py"):
        assert package in copies
    # Everything the containers import resolves with the locked stack and the project installed.
    class_paths = set(re.findall(r"executor_class_path\n\s*- (\S+)", text))
    assert "components.validator.executor.Executor" in class_paths and len(class_paths) >= 10
    for class_path in class_paths:
        module, name = class_path.rsplit(".", 1)
        assert hasattr(importlib.import_module(module), name), class_path
    for function in ("models.preprocessing.preprocessing_fn", "models.model.run_fn"):
        assert f'"{function}"' in text or function in text
        module, name = function.rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), name))


def test_example_gen_resolves_its_span_without_a_driver():
    from tfx.proto import example_gen_pb2
    from tfx.utils import proto_utils

    config = example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name="single_split", pattern=p.SPAN_PATTERN)])
    resolved = span_example_gen.resolve_span({
        "input_base": str(DATA_ROOT / "train"), "input_config": proto_utils.proto_to_json(config), "range_config": None,
    })
    assert resolved["span"] == 3
    assert resolved["input_fingerprint"].startswith("split:single_split,num_files:1")
    assert '"span-3/*.csv"' in resolved["input_config"]


def test_bad_settings_and_an_unreachable_host_are_one_line_errors(tmp_path, capsys):
    assert runner_kubeflow.main(ARGS + ["--output", str(tmp_path / "x.json")]) == 2
    assert "must end in .yaml" in capsys.readouterr().err
    assert runner_kubeflow.main(ARGS + ["--output", str(tmp_path / "x.yaml"), "--submit", "--host", ""]) == 2
    assert "--submit needs --host" in capsys.readouterr().err
    code = runner_kubeflow.main(ARGS + ["--output", str(tmp_path / "x.yaml"), "--submit", "--host", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: submitting to http://127.0.0.1:9 failed:")
    assert len(err.strip().splitlines()) == 1
