"""The Kubeflow deployment, proven offline: the compiled spec is checked as a KFP 2 backend checks
it, compared with a committed golden copy, and matched against what the Dockerfile provides."""

import copy
import importlib
import json
import os
import re

import pytest
import yaml

import runner_kubeflow
from components import span_example_gen
from pipeline import kfp_checks, kubeflow
from core.common import names as p
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
    tasks = kfp_checks.check_spec(spec)
    assert spec["schemaVersion"] == "2.1.0"
    assert spec["pipelineInfo"]["name"] == "tfxgate"
    assert spec["defaultPipelineRoot"] == "gs://tfxgate-test/root"
    expected = {p.EXAMPLE_GEN, p.STATISTICS_GEN, p.INFERRED_SCHEMA, p.CURATED_SCHEMA, p.EXAMPLE_VALIDATOR,
                p.TRAIN_VALIDATOR, p.SERVING_EXAMPLE_GEN, p.SERVING_STATISTICS_GEN, p.SERVING_VALIDATOR,
                p.GATE, p.TRANSFORM, p.TRAINER, p.EVALUATOR, p.PUSHER, p.REPORT}
    assert set(tasks) == expected  # no Resolver node on Kubeflow; the report task is Kubeflow's own


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
        (lambda s: _executor(s, "Trainer")["resources"].update(cpuRequest=8), "cpu request 8 above its limit 4"),
        (lambda s: _executor(s, "Trainer").update(
            command=["python", "-m", "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"]),
         "TFX's entrypoint unwrapped"),
    ],
)
def test_checks_catch_what_the_backend_would_reject(spec, break_it, message):
    broken = copy.deepcopy(spec)
    break_it(broken)
    with pytest.raises(kfp_checks.SpecError, match=message):
        kfp_checks.check_spec(broken)


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
    assert '"span-3/*"' in resolved["input_config"]


def test_bad_settings_and_an_unreachable_host_are_one_line_errors(tmp_path, capsys):
    assert runner_kubeflow.main(ARGS + ["--output", str(tmp_path / "x.json")]) == 2
    assert "must end in .yaml" in capsys.readouterr().err
    assert runner_kubeflow.main(ARGS + ["--output", str(tmp_path / "x.yaml"), "--submit", "--host", ""]) == 2
    assert "--submit needs --host" in capsys.readouterr().err
    code = runner_kubeflow.main(ARGS + ["--output", str(tmp_path / "x.yaml"), "--submit", "--host", "http://127.0.0.1:9"])
    err = "\n".join(line for line in capsys.readouterr().err.splitlines() if not line.startswith("warning: --image"))
    assert code == 1 and err.startswith("error: submitting to http://127.0.0.1:9 failed:")
    assert len(err.strip().splitlines()) == 1


def test_every_task_runs_the_entrypoint_told_its_declared_outputs(spec):
    """Every TFX task; the report task is tfxgate's own, which reads untyped inputs as they come."""
    from pipeline import kfp_entrypoint

    for name, task in spec["root"]["dag"]["tasks"].items():
        component = spec["components"][task["componentRef"]["name"]]
        container = _executor(spec, name)
        if name == p.REPORT:
            assert container["command"] == ["python", "-m", kubeflow.REPORT_MODULE]
            assert container["args"] == ["--executor_input", "{{$}}"]
            continue
        assert container["command"] == ["python", "-m", kfp_checks.ENTRYPOINT], name
        assert container["args"][0] == kfp_entrypoint.DECLARED_OUTPUTS_FLAG
        assert json.loads(container["args"][1]) == sorted(component["outputDefinitions"]["artifacts"]), name


def _driver_shaped(spec, task):
    """A task's arguments with an ExecutorInput as the backend's driver shapes it: upstream inputs
    untyped (`{instanceSchema: ""}`, or no type through a DAG input), executor-logs added."""
    container = _executor(spec, task)
    component = spec["components"][spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]]
    inputs = {key: {"artifacts": [dict({"name": str(i + 1), "uri": f"gs://b/{key}", "metadata": {"span": 3.0}},
                                       **({"type": {"instanceSchema": ""}} if i % 2 == 0 else {}))]}
              for i, key in enumerate(sorted(component["inputDefinitions"].get("artifacts", {})))}
    outputs = {key: {"artifacts": [{"uri": f"gs://b/out/{key}", "type": d["artifactType"]}]}
               for key, d in component["outputDefinitions"]["artifacts"].items()}
    outputs["executor-logs"] = {"artifacts": [{"uri": "gs://b/out/executor-logs", "type": {"schemaTitle": "system.Artifact"}}]}
    executor_input = {"inputs": {"artifacts": inputs, "parameterValues": {}},
                      "outputs": {"artifacts": outputs, "outputFile": "/tmp/kfp_outputs/output_metadata.json"}}
    return [json.dumps(executor_input) if a == "{{$}}" else a for a in container["args"]], component


@pytest.mark.parametrize("task", [p.TRAIN_VALIDATOR, p.TRAINER, p.GATE, p.EXAMPLE_GEN])
def test_entrypoint_restores_input_types_and_drops_executor_logs_and_nothing_else(spec, task):
    from pipeline import kfp_entrypoint
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils as utils

    args, component = _driver_shaped(spec, task)
    tfx_args, changes = kfp_entrypoint.prepare(args)
    executor_input = json.loads(tfx_args[1])
    handed = json.loads(args[args.index("--json_serialized_invocation_args") + 1])
    for key, artifact_list in executor_input["inputs"]["artifacts"].items():
        artifact = artifact_list["artifacts"][0]
        assert artifact["type"] == component["inputDefinitions"]["artifacts"][key]["artifactType"]
        original = handed["inputs"]["artifacts"][key]["artifacts"][0]
        assert {k: v for k, v in artifact.items() if k != "type"} == {k: v for k, v in original.items() if k != "type"}
    assert set(executor_input["outputs"]["artifacts"]) == set(component["outputDefinitions"]["artifacts"])
    assert executor_input["outputs"]["outputFile"] == handed["outputs"]["outputFile"]
    assert tfx_args[2:] == [a for a in args[2:] if a != args[args.index("--json_serialized_invocation_args") + 1]
                            and a != "--json_serialized_invocation_args"]
    assert "output executor-logs: not declared by the component, left to the launcher" in changes
    # What TFX's own parser makes of it: every artifact of a class it can import.
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    parsed = json_format.ParseDict(executor_input, pipeline_spec_pb2.ExecutorInput(), ignore_unknown_fields=True)
    for artifacts in (parsed.inputs.artifacts, parsed.outputs.artifacts):
        assert all(len(v) == 1 for v in utils.parse_raw_artifact_dict(artifacts).values())


def test_entrypoint_arguments_that_cannot_work_are_one_line(spec, capsys):
    from pipeline import kfp_entrypoint

    assert kfp_entrypoint.main(["--executor_class_path", "x.Y"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    args, _ = _driver_shaped(spec, p.TRAINER)
    broken = list(args)
    spec_index = args.index("--json_serialized_inputs_spec_args") + 1
    broken[spec_index] = "{not json"
    assert kfp_entrypoint.main(broken) == 2
    assert "--json_serialized_inputs_spec_args: not JSON" in capsys.readouterr().err


def test_heavy_tasks_have_requests_and_limits_and_flags_replace_them(spec, tmp_path):
    for task in (p.TRANSFORM, p.TRAINER, p.STATISTICS_GEN, p.SERVING_STATISTICS_GEN):
        resources = _executor(spec, task)["resources"]
        assert 0 < resources["cpuRequest"] <= resources["cpuLimit"], task
        assert 0 < resources["memoryRequest"] <= resources["memoryLimit"], task
    out = tmp_path / "spec.yaml"
    assert runner_kubeflow.main(ARGS + ["--output", str(out), "--resources", "Trainer=3/6,10/20"]) == 0
    changed = yaml.safe_load(out.read_text())
    assert _executor(changed, p.TRAINER)["resources"] == {"cpuRequest": 3, "cpuLimit": 6, "memoryRequest": 10,
                                                          "memoryLimit": 20}
    assert _executor(changed, p.TRANSFORM)["resources"] == _executor(spec, p.TRANSFORM)["resources"]


@pytest.mark.parametrize("value, message", [
    ("Trainer=4/2,8/16", "a request above its limit"),
    ("Trainer=2/4,0/16", "every figure must be positive"),
    ("Trainer=2,8", "expected TASK=CPU_REQUEST/CPU_LIMIT"),
    ("Trainr=2/4,8/16", "no task 'Trainr'"),
])
def test_bad_resources_are_one_line_before_anything_compiles(tmp_path, capsys, value, message):
    out = tmp_path / "spec.yaml"
    assert runner_kubeflow.main(ARGS + ["--output", str(out), "--resources", value]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not out.exists()


def test_an_image_tag_is_warned_about_and_a_digest_is_not(tmp_path, capsys):
    out = tmp_path / "spec.yaml"
    assert runner_kubeflow.main(ARGS + ["--output", str(out)]) == 0
    assert "is a tag, not a digest" in capsys.readouterr().err
    digest = "registry.example/tfxgate@sha256:" + "0" * 64
    assert runner_kubeflow.main(ARGS[2:] + ["--image", digest, "--output", str(out)]) == 0
    assert "warning" not in capsys.readouterr().err
    assert {e["container"]["image"] for e in yaml.safe_load(out.read_text())["deploymentSpec"]["executors"].values()} == {digest}


S3_ARGS = ["--image", "registry.example/tfxgate@sha256:" + "0" * 64, "--pipeline-root", "s3://mlpipeline/tfxgate",
           "--serving-model-dir", "s3://mlpipeline/serving", "--s3-endpoint", "http://minio-service.kubeflow:9000"]


@pytest.fixture(scope="module")
def s3_package(tmp_path_factory):
    """A spec compiled for Kubeflow's MinIO, with credentials in this process's environment that
    must not end up anywhere in the package."""
    out = tmp_path_factory.mktemp("kfp-s3") / "tfxgate_pipeline.yaml"
    sentinels = {"AWS_ACCESS_KEY_ID": "SENTINELACCESSKEY", "AWS_SECRET_ACCESS_KEY": "SENTINEL/SECRET+KEY"}
    saved = {k: os.environ.get(k) for k in sentinels}
    os.environ.update(sentinels)
    try:
        assert runner_kubeflow.main(S3_ARGS + ["--s3-secret", "tfxgate-s3:id:key", "--output", str(out)]) == 0
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    return out, sentinels


@pytest.mark.parametrize("flag", ["--pipeline-root", "--serving-model-dir"])
def test_a_minio_root_is_refused_with_what_to_use_instead(tmp_path, capsys, flag):
    out = tmp_path / "spec.yaml"
    assert runner_kubeflow.main(ARGS + [flag, "minio://mlpipeline/v2/artifacts", "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == ("error: minio://mlpipeline/v2/artifacts: TensorFlow and Beam cannot open minio:// URIs; use "
                   "s3://mlpipeline/v2/artifacts with MinIO's service as the S3 endpoint "
                   "(e.g. --s3-endpoint http://minio-service.kubeflow:9000)\n")
    assert not out.exists()


@pytest.mark.parametrize("extra, message", [
    ([], "s3://mlpipeline/tfxgate: an s3:// URI needs --s3-endpoint"),
    (["--s3-endpoint", "minio-service.kubeflow:9000"], "--s3-endpoint 'minio-service.kubeflow:9000': give the scheme"),
    (["--s3-endpoint", "http://m:9000", "--s3-secret", "name:onlyone"], "--s3-secret 'name:onlyone': expected NAME"),
])
def test_s3_settings_that_cannot_work_are_one_line(tmp_path, capsys, extra, message):
    out = tmp_path / "spec.yaml"
    args = ARGS + ["--pipeline-root", "s3://mlpipeline/tfxgate", "--output", str(out)] + extra
    assert runner_kubeflow.main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not out.exists()


def test_an_s3_root_names_the_secret_and_holds_no_credential(s3_package):
    out, sentinels = s3_package
    text = out.read_text()
    assert all(value not in text for value in sentinels.values())
    spec, platform = kubeflow.read_package(str(out))
    assert kfp_checks.check_spec(spec, platform)
    executors = spec["deploymentSpec"]["executors"]
    secrets = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(secrets) == set(executors)
    for label, config in secrets.items():
        [entry] = config["secretAsEnv"]
        assert entry["secretName"] == "tfxgate-s3"
        assert entry["secretNameParameter"] == {"runtimeValue": {"constant": "tfxgate-s3"}}
        assert entry["keyToEnv"] == [{"secretKey": "id", "envVar": "AWS_ACCESS_KEY_ID"},
                                     {"secretKey": "key", "envVar": "AWS_SECRET_ACCESS_KEY"}]
    for label, executor in executors.items():
        assert executor["container"]["env"] == [{"name": "AWS_ENDPOINT_URL", "value": "http://minio-service.kubeflow:9000"}]


def test_a_gs_root_gets_no_endpoint_and_no_secret(spec_path, spec):
    assert kubeflow.read_package(str(spec_path))[1] is None
    assert all("env" not in e["container"] for e in spec["deploymentSpec"]["executors"].values())


def test_the_default_secret_is_kubeflows_minio_secret(tmp_path):
    out = tmp_path / "spec.yaml"
    assert runner_kubeflow.main(S3_ARGS + ["--output", str(out)]) == 0
    _, platform = kubeflow.read_package(str(out))
    [config, *_] = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"].values()
    assert config["secretAsEnv"][0]["secretName"] == "mlpipeline-minio-artifact"
    assert [m["secretKey"] for m in config["secretAsEnv"][0]["keyToEnv"]] == ["accesskey", "secretkey"]


@pytest.mark.parametrize("break_it, message", [
    (lambda s, pl: s.update(defaultPipelineRoot="minio://mlpipeline/x"), "cannot open minio:// URIs"),
    (lambda s, pl: next(iter(s["deploymentSpec"]["executors"].values()))["container"]["env"].append(
        {"name": "AWS_SECRET_ACCESS_KEY", "value": "x"}), "AWS_SECRET_ACCESS_KEY in the container env"),
    (lambda s, pl: next(iter(s["deploymentSpec"]["executors"].values()))["container"].pop("env"),
     "but no AWS_ENDPOINT_URL in the container env of"),
    (lambda s, pl: pl["platforms"]["kubernetes"]["deploymentSpec"]["executors"].popitem(),
     "but no Kubernetes secret gives AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to"),
    (lambda s, pl: next(iter(pl["platforms"]["kubernetes"]["deploymentSpec"]["executors"].values()))[
        "secretAsEnv"][0].update(secretKeyRef="x"), "field.s. secretKeyRef this compiler never writes"),
    (lambda s, pl: pl.update(colour="red"), "not a PlatformSpec"),
    (lambda s, pl: pl["platforms"]["kubernetes"]["deploymentSpec"]["executors"].update(ghost_executor={}),
     "no executor 'ghost_executor'"),
])
def test_storage_checks_catch_a_spec_that_could_not_reach_its_root(s3_package, break_it, message):
    spec, platform = kubeflow.read_package(str(s3_package[0]))
    break_it(spec, platform)
    with pytest.raises(kfp_checks.SpecError, match=message):
        kfp_checks.check_spec(spec, platform)


def test_the_entrypoint_readies_storage_only_for_object_storage_uris():
    from pipeline import kfp_entrypoint

    executor_input = {"inputs": {"artifacts": {"examples": {"artifacts": [{"uri": "s3://b/root/Examples/1"}]}},
                                 "parameterValues": {"push_destination": '{"filesystem": {"base_directory": "s3://b/serving"}}'}},
                      "outputs": {"artifacts": {"model": {"artifacts": [{"uri": "/local/model"}]}}}}
    argv = [kfp_entrypoint.INVOCATION_FLAG, json.dumps(executor_input)]
    assert kfp_entrypoint.storage_uris(argv) == ["s3://b/root/Examples/1", "s3://b/serving"]
