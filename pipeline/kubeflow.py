"""The Kubeflow variant of the pipeline: its config, the compiled spec's post-processing and the
checks a KFP 2 backend makes (pipeline/kfp_checks.py), so a spec that would be rejected never
leaves this machine; the tasks' CPU and memory in pipeline/kfp_resources.py.

Differences from the local pipeline (the README says so too):
- no Resolver node (the open-source backend cannot run one): the drift baseline is the
  `drift_baseline` run parameter instead, an earlier run's gate decision URI, which
  `runner_kubeflow.py --submit` finds through the run history (pipeline/kfp_runs.py);
- span, training steps and schema version are run parameters too (with this config's values as
  defaults); the tasks read the chosen schema version from the image's schema/ folder;
- ExampleGen resolves its span in its executor (SpanCsvExampleGen), since the backend never calls
  the `preCacheCheck` driver; those tasks are not cached, so new files are always read;
- every TFX task runs pipeline/kfp_entrypoint.py around TFX's entrypoint (the backend hands inputs
  untyped and adds an `executor-logs` output), with CPU and memory requests and limits;
- an AnomalyReport task (tfxgate/kubeflow/kfp_report.py) writes the report and the decision as outputs the
  run's UI shows.
"""

import dataclasses
import json
import os
from typing import Dict, Optional, Tuple

import yaml

from core.common import names
from core.common import project as project_lib
from core.settings import schema_files
from core.common import storage
from core.common.errors import ConfigError
from pipeline import config as config_lib, kfp_entrypoint
from pipeline.kfp_checks import ENTRYPOINT, EXECUTOR_INPUT, check_spec
from pipeline.kfp_resources import DEFAULT_RESOURCES, Resources, set_resources

IMAGE_PROJECT_ROOT = "/pipeline"  # where the Dockerfile puts the project
IMAGE_OWN_PROJECT = "/pipeline/project"  # where it puts a project of one's own (its PROJECT argument)


def flag_problem(output: str, submit: bool, host: Optional[str], params) -> Optional[str]:
    """What is wrong with runner_kubeflow.py's output, --submit, --host and --param together, in one
    line (None: nothing)."""
    if not output.endswith(".yaml"):
        return "--output must end in .yaml (a KFP 2 backend takes only a bare YAML PipelineSpec)"
    if submit and not host:
        return "--submit needs --host URL (or KFP_HOST)"
    if params and not submit:
        return "--param needs --submit (a compiled spec takes parameter values per run)"
    if host and not _is_http_url(host):
        return f"--host {host!r}: not an http(s) URL (e.g. http://localhost:8888)"
    return None


def _is_http_url(text: str) -> bool:
    from urllib.parse import urlparse

    parsed = urlparse(text)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def kubeflow_config(
    pipeline_root: str,
    data_root: str,
    serving_model_dir: str,
    beam_args=(),
    project_root: Optional[str] = None,
    train_steps: int = config_lib.PipelineConfig.train_steps,
    project: Optional[project_lib.Project] = None,
) -> config_lib.PipelineConfig:
    """The Kubeflow variant's config for `project` (default: the shipped example); `project_root`
    is where the image has the project's files (default: IMAGE_PROJECT_ROOT for the shipped
    example, IMAGE_OWN_PROJECT for another, as the Dockerfile's PROJECT argument puts it)."""
    project = project or project_lib.load(project_lib.SHIPPED)
    if project_root is None:
        project_root = IMAGE_PROJECT_ROOT if project.is_shipped else IMAGE_OWN_PROJECT
    local_schema = config_lib.default_schema_path(project.schema_dir)
    version = schema_files.version_of(local_schema)
    own = {} if project.is_shipped else {"pipeline_name": project.name, "module_package": ""}
    return config_lib.PipelineConfig(
        **own,
        pipeline_root=pipeline_root,
        data_root=data_root,
        schema_path=f"{project_root}/schema/{version}/{names.SCHEMA_FILE}",
        train_steps=train_steps,
        serving_model_dir=serving_model_dir,
        store=None,  # Kubeflow's own metadata service records the runs
        installed_functions=True,  # the image has the project installed: no wheel to stage
        policy_json=config_lib.read_policy(str(project.policy_path)),
        evaluation_text=config_lib.read_evaluation(str(project.evaluation_path)),
        **schema_files.read_version(local_schema),  # the same files as in the image, read once
        drift_against_previous_span=False,  # a Resolver's work: the drift_baseline run parameter instead
        example_gen_without_driver=True,
        run_parameters=True,
        schema_dir=f"{project_root}/schema",
        beam_pipeline_args=config_lib.beam_args_for(tuple(beam_args), setup_file=f"{IMAGE_PROJECT_ROOT}/setup.py"),
    )


REPORT_MODULE = "tfxgate.kubeflow.kfp_report"  # the report task's entrypoint (python -m)
# The report task's inputs: its key -> (producer task, the producer's output key).
REPORT_INPUTS = {
    "training_anomalies": (names.TRAIN_VALIDATOR, "anomalies"),
    "serving_anomalies": (names.SERVING_VALIDATOR, "anomalies"),
    "examples": (names.EXAMPLE_GEN, "examples"),
    "curated_schema": (names.CURATED_SCHEMA, "schema"),
    "inferred_schema": (names.INFERRED_SCHEMA, "schema"),
}
# KFP's UI renders these types on the run's page (frontend MetricsVisualizations.tsx).
REPORT_OUTPUTS = {"report": "system.HTML", "decision": "system.Markdown"}


def add_report_task(spec: dict, config: config_lib.PipelineConfig, image: str) -> dict:
    """The AnomalyReport task (tfxgate/kubeflow/kfp_report.py): the anomaly report and the gate's decision
    as `system.HTML` and `system.Markdown` outputs, which KFP's UI shows on the run's page. It
    reads the validators' outputs beside the gate, not the gate's, so a blocked run has its
    report too (the gate's task fails, and nothing below a failed task starts)."""
    tasks, components = spec["root"]["dag"]["tasks"], spec["components"]
    inputs = {key: source for key, source in REPORT_INPUTS.items() if source[0] in tasks}
    definitions = {}
    for key, (producer, output) in inputs.items():
        producer_component = components[tasks[producer]["componentRef"]["name"]]
        definitions[key] = {"artifactType": producer_component["outputDefinitions"]["artifacts"][output]["artifactType"]}
    label = f"{names.REPORT}_executor"
    components[names.REPORT] = {
        "executorLabel": label,
        "inputDefinitions": {"artifacts": definitions, "parameters": {"policy": {"parameterType": "STRING"}}},
        "outputDefinitions": {"artifacts": {key: {"artifactType": {"schemaTitle": title, "schemaVersion": "0.0.1"}}
                                            for key, title in REPORT_OUTPUTS.items()}},
    }
    spec["deploymentSpec"]["executors"][label] = {"container": {
        "image": image, "command": ["python", "-m", REPORT_MODULE], "args": ["--executor_input", EXECUTOR_INPUT]}}
    tasks[names.REPORT] = {
        "taskInfo": {"name": names.REPORT},
        "componentRef": {"name": names.REPORT},
        "dependentTasks": sorted({producer for producer, _ in inputs.values()}),
        "inputs": {
            "artifacts": {key: {"taskOutputArtifact": {"producerTask": producer, "outputArtifactKey": output}}
                          for key, (producer, output) in inputs.items()},
            "parameters": {"policy": {"runtimeValue": {"constant": config.policy_json}}},
        },
        "cachingOptions": {"enableCache": True},
    }
    return spec


def set_parameter_defaults(spec: dict, config: config_lib.PipelineConfig) -> dict:
    """The run parameters' defaults (this config's values) on the root's inputDefinitions, where
    the backend fills a run's missing values from (argocompiler/argo.go); TFX leaves them out of a
    bare spec, and the API server refuses a run that omits a parameter without one."""
    from pipeline.pipeline import run_parameters

    parameters = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    for name, parameter in run_parameters(config).items():
        if name in parameters:
            parameters[name].update(defaultValue=parameter.default, isOptional=True)
    return spec


def uncache_example_gens(spec: dict) -> dict:
    """ExampleGen tasks are never cached: without a driver only a run can see new files."""
    for name in names.EXAMPLE_GENS:
        task = spec["root"]["dag"]["tasks"].get(name)
        if task is not None:
            task["cachingOptions"] = {}
    return spec


def use_entrypoint(spec: dict) -> dict:
    """Every task runs pipeline/kfp_entrypoint.py around TFX's entrypoint, told the outputs its
    component declares (the backend adds one more, `executor-logs`, that TFX cannot take)."""
    executors = spec["deploymentSpec"]["executors"]
    for component in spec["components"].values():
        container = executors.get(component.get("executorLabel"), {}).get("container")
        if not container or container.get("command") != ["python", "-m", kfp_entrypoint.TFX_ENTRYPOINT]:
            continue
        declared = sorted(component.get("outputDefinitions", {}).get("artifacts", {}))
        container["command"] = ["python", "-m", ENTRYPOINT]
        container["args"] = [kfp_entrypoint.DECLARED_OUTPUTS_FLAG, json.dumps(declared)] + container["args"]
    return spec


# Object storage: the credentials of a default Kubeflow installation's MinIO, a Kubernetes secret
# in the profile namespace (kubeflow/pipelines backend/src/v2/config/env.go).
S3_SECRET = "mlpipeline-minio-artifact"
S3_SECRET_KEYS = ("accesskey", "secretkey")


@dataclasses.dataclass(frozen=True)
class S3Access:
    """How every task reaches `s3://` URIs: the endpoint, in each container's env, and the
    Kubernetes secret whose keys the driver puts in each pod as AWS_ACCESS_KEY_ID and
    AWS_SECRET_ACCESS_KEY (driver.go initPodSpecPatch, secretAsEnv); the spec holds its name only."""

    endpoint: str
    secret: str = S3_SECRET
    access_key_key: str = S3_SECRET_KEYS[0]
    secret_key_key: str = S3_SECRET_KEYS[1]


def parse_s3_secret(text: str) -> Tuple[str, str, str]:
    """'NAME' or 'NAME:ACCESS_KEY_KEY:SECRET_KEY_KEY' -> (name, access key's key, secret key's key)."""
    parts = text.split(":")
    if len(parts) == 1 and parts[0]:
        return parts[0], S3_SECRET_KEYS[0], S3_SECRET_KEYS[1]
    if len(parts) == 3 and all(parts):
        return parts[0], parts[1], parts[2]
    raise ConfigError(f"--s3-secret {text!r}: expected NAME or NAME:ACCESS_KEY_KEY:SECRET_KEY_KEY, "
                      f"e.g. {S3_SECRET}:{S3_SECRET_KEYS[0]}:{S3_SECRET_KEYS[1]}")


def check_storage(config: config_lib.PipelineConfig, s3: Optional[S3Access]) -> None:
    """Refuses, before anything compiles, a root no task could open, and an s3:// one without an
    endpoint; raises ConfigError."""
    uris = (config.pipeline_root, config.serving_model_dir, config.data_root)
    for uri in uris:
        reason = storage.refusal(uri)
        if reason:
            raise ConfigError(reason)
    if s3 is None and any(storage.is_s3(u) for u in uris):
        raise ConfigError(f"{next(u for u in uris if storage.is_s3(u))}: an s3:// URI needs --s3-endpoint, the "
                          f"endpoint the tasks reach (e.g. http://minio-service.kubeflow:9000 for Kubeflow's MinIO)")
    if s3 is not None and not s3.endpoint.startswith(("http://", "https://")):
        raise ConfigError(f"--s3-endpoint {s3.endpoint!r}: give the scheme, http:// or https://")


def use_s3(spec: dict, s3: S3Access) -> dict:
    """Puts the endpoint in every container's env and returns the platform spec (the package's
    second YAML document, as kfp-kubernetes writes it) that gives every executor the secret's
    keys as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."""
    executors = {}
    for label, executor in spec["deploymentSpec"]["executors"].items():
        container = executor.get("container")
        if container is None:
            continue
        env = [e for e in container.get("env", []) if e.get("name") != storage.ENDPOINT]
        container["env"] = env + [{"name": storage.ENDPOINT, "value": s3.endpoint}]
        executors[label] = {"secretAsEnv": [{
            "secretName": s3.secret,  # read by 2.5.0's driver; newer ones read the parameter
            "secretNameParameter": {"runtimeValue": {"constant": s3.secret}},
            "keyToEnv": [{"secretKey": s3.access_key_key, "envVar": storage.ACCESS_KEY},
                         {"secretKey": s3.secret_key_key, "envVar": storage.SECRET_KEY}],
        }]}
    return {"platforms": {"kubernetes": {"deploymentSpec": {"executors": executors}}}}


def storage_platform(spec: dict, config: config_lib.PipelineConfig, s3: Optional[S3Access]) -> Optional[dict]:
    """`use_s3` when the config names an s3:// URI, else nothing (a secret reference to a secret
    the namespace lacks would keep every pod from starting)."""
    uris = (config.pipeline_root, config.serving_model_dir, config.data_root)
    return use_s3(spec, s3) if s3 is not None and any(storage.is_s3(u) for u in uris) else None


def write_package(spec: dict, output: str, platform: Optional[dict] = None) -> None:
    """Writes the spec, and the platform spec as a second YAML document when there is one,
    through a temporary file and a rename."""
    tmp = output + ".tmp"
    with open(tmp, "w") as f:
        yaml.safe_dump_all([spec] + ([platform] if platform else []), f, sort_keys=True)
    os.replace(tmp, output)


def read_package(path: str) -> Tuple[dict, Optional[dict]]:
    """(the PipelineSpec, the platform spec or None) of a package written by `write_package`."""
    with open(path) as f:
        documents = list(yaml.safe_load_all(f))
    return documents[0], (documents[1] if len(documents) > 1 else None)


def compile_spec(config: config_lib.PipelineConfig, image: str, output: str,
                 resources: Optional[Dict[str, Resources]] = None, s3: Optional[S3Access] = None) -> dict:
    """Compiles, post-processes, checks and writes the spec; returns it. `resources` (by task)
    replace DEFAULT_RESOURCES task by task. `s3` is how the tasks reach s3:// URIs, needed when
    the config names one (see `use_s3`)."""
    check_storage(config, s3)
    from tfx import v1 as tfx

    from pipeline.pipeline import create_pipeline

    directory = os.path.dirname(os.path.abspath(output))
    os.makedirs(directory, exist_ok=True)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=image, use_pipeline_spec_2_1=True),
        output_dir=directory,
        output_filename=os.path.basename(output),
    )
    job = runner.run(create_pipeline(config), write_out=False)
    spec = use_entrypoint(uncache_example_gens(json.loads(json.dumps(job["pipelineSpec"]))))
    set_parameter_defaults(spec, config)
    add_report_task(spec, config, image)
    set_resources(spec, dict(DEFAULT_RESOURCES, **(resources or {})))
    spec["defaultPipelineRoot"] = config.pipeline_root
    platform = storage_platform(spec, config, s3)
    check_spec(spec, platform)
    write_package(spec, output, platform)
    return spec
