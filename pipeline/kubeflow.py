"""The Kubeflow variant of the pipeline: its config, the compiled spec's post-processing and the
checks a KFP 2 backend makes, so a spec that would be rejected never leaves this machine.

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
import math
import os
from typing import Dict, List, Optional, Tuple

import yaml

from core.common import names
from core.common import project as project_lib
from core.settings import schema_files
from core.common import storage
from core.common.errors import ConfigError
from pipeline import config as config_lib, kfp_entrypoint

IMAGE_PROJECT_ROOT = "/pipeline"  # where the Dockerfile puts the project
IMAGE_OWN_PROJECT = "/pipeline/project"  # where it puts a project of one's own (its PROJECT argument)
SCHEMA_VERSION = "2.1.0"
EXECUTOR_INPUT = "{{$}}"
ENTRYPOINT = "pipeline.kfp_entrypoint"  # the module every task runs (python -m)


class SpecError(ConfigError):
    """The compiled spec would be rejected or fail; the message says where."""


@dataclasses.dataclass(frozen=True)
class Resources:
    """A task's CPU (cores) and memory (GB, as the backend writes `%vG`) requests and limits; the
    driver puts them on the pod (driver.go initPodSpecPatch)."""

    cpu_request: float
    cpu_limit: float
    memory_request_gb: float
    memory_limit_gb: float

    def as_spec(self) -> dict:
        return {"cpuRequest": self.cpu_request, "cpuLimit": self.cpu_limit,
                "memoryRequest": self.memory_request_gb, "memoryLimit": self.memory_limit_gb}


# The compiled spec's tasks (the local pipeline's nodes but the Resolver).
TASKS = frozenset({names.EXAMPLE_GEN, names.STATISTICS_GEN, names.INFERRED_SCHEMA, names.CURATED_SCHEMA,
                   names.EXAMPLE_VALIDATOR, names.TRAIN_VALIDATOR, names.SERVING_EXAMPLE_GEN,
                   names.SERVING_STATISTICS_GEN, names.SERVING_VALIDATOR, names.GATE, names.TRANSFORM,
                   names.TRAINER, names.PUSHER, names.REPORT})

# From docs/BENCHMARKS.md: about 0.9 GB of imports in every task, and a local run with a 1 GB
# serving batch peaked at 1.4 GB (ExampleGen streams); Transform and Trainer load TensorFlow and
# the whole span.
DEFAULT_RESOURCES = {
    names.EXAMPLE_GEN: Resources(1, 2, 2, 8), names.SERVING_EXAMPLE_GEN: Resources(1, 2, 2, 8),
    names.STATISTICS_GEN: Resources(1, 2, 2, 8), names.SERVING_STATISTICS_GEN: Resources(1, 2, 2, 8),
    names.TRANSFORM: Resources(1, 2, 4, 16), names.TRAINER: Resources(2, 4, 4, 16),
}


# What a container can plausibly be given: from Kubernetes' smallest unit (a millicore; a
# megabyte) to the largest machines clouds rent (448 vCPUs and 24 TB of memory), with room.
MIN_CPU, MAX_CPU = 0.001, 1024.0
MIN_MEMORY_GB, MAX_MEMORY_GB = 0.001, 32768.0


def parse_resources(text: str) -> Tuple[str, Resources]:
    """'Trainer=2/4,8/16' (CPU request/limit in cores, memory request/limit in GB) -> (task, Resources)."""
    usage = f"--resources {text!r}: expected TASK=CPU_REQUEST/CPU_LIMIT,MEMORY_REQUEST_GB/MEMORY_LIMIT_GB, e.g. Trainer=2/4,8/16"
    task, _, values = text.partition("=")
    try:
        (cpu_request, cpu_limit), (memory_request, memory_limit) = (
            [float(v) for v in part.split("/")] for part in values.split(","))
    except ValueError:
        raise ConfigError(usage) from None
    if task.strip() not in TASKS:
        raise ConfigError(f"{usage}: no task {task.strip()!r}; the tasks are {', '.join(sorted(TASKS))}")
    figures = (cpu_request, cpu_limit, memory_request, memory_limit)
    if not all(math.isfinite(v) for v in figures):
        raise ConfigError(f"{usage}: every figure must be a finite number (not nan or inf)")
    if min(figures) <= 0:
        raise ConfigError(f"{usage}: every figure must be positive")
    for what, low, high, values in (("CPU", MIN_CPU, MAX_CPU, figures[:2]), ("memory", MIN_MEMORY_GB, MAX_MEMORY_GB,
                                                                             figures[2:])):
        unit = "cores" if what == "CPU" else "GB"
        for value in values:
            if not low <= value <= high:
                raise ConfigError(f"{usage}: {what} {value:g} {unit} is outside {low:g} to {high:g} {unit}, what a "
                                  "Kubernetes node can give a container")
    if cpu_request > cpu_limit or memory_request > memory_limit:
        raise ConfigError(f"{usage}: a request above its limit")
    return task.strip(), Resources(cpu_request, cpu_limit, memory_request, memory_limit)


def set_resources(spec: dict, resources: Dict[str, Resources]) -> dict:
    """Puts each task's requests and limits on its executor's container."""
    tasks = spec["root"]["dag"]["tasks"]
    unknown = sorted(set(resources) - set(tasks))
    if unknown:
        raise SpecError(f"resources for unknown task(s) {', '.join(unknown)}; the tasks are {', '.join(sorted(tasks))}")
    for name, wanted in resources.items():
        label = spec["components"][tasks[name]["componentRef"]["name"]]["executorLabel"]
        spec["deploymentSpec"]["executors"][label]["container"]["resources"] = wanted.as_spec()
    return spec


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
        beam_pipeline_args=config_lib.beam_args_for(tuple(beam_args)),
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
CREDENTIALS = (storage.ACCESS_KEY, storage.SECRET_KEY, "AWS_SESSION_TOKEN")
SECRET_AS_ENV_FIELDS = {"secretName", "secretNameParameter", "keyToEnv"}


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


def _storage_problems(spec: dict, platform: Optional[dict]) -> List[str]:
    """No credential in the spec; an s3:// root reached by every container (the endpoint in its
    env, a secret's keys as credentials); the platform spec as the backend parses it."""
    problems = []
    root = spec.get("defaultPipelineRoot", "")
    if storage.refusal(root):
        problems.append(storage.refusal(root))
    executors = {label: e["container"] for label, e in spec.get("deploymentSpec", {}).get("executors", {}).items()
                 if "container" in e}
    no_endpoint = []
    for label, container in sorted(executors.items()):
        names_in_env = {e.get("name") for e in container.get("env", [])}
        problems += [f"executor {label}: {name} in the container env: credentials come from a Kubernetes secret"
                     for name in sorted(names_in_env & set(CREDENTIALS))]
        if storage.ENDPOINT not in names_in_env:
            no_endpoint.append(label)
    if storage.is_s3(root) and no_endpoint:
        problems.append(f"{root} but no {storage.ENDPOINT} in the container env of {', '.join(no_endpoint)}")
    secrets = {}
    if platform is not None:
        from google.protobuf import json_format
        from kfp.pipeline_spec import pipeline_spec_pb2

        try:
            json_format.ParseDict(platform, pipeline_spec_pb2.PlatformSpec(), ignore_unknown_fields=False)
        except json_format.ParseError as e:
            return problems + [f"not a PlatformSpec: {e}"]
        configs = platform["platforms"].get("kubernetes", {}).get("deploymentSpec", {}).get("executors", {})
        for label, config in sorted(configs.items()):
            if label not in executors:
                problems.append(f"platform spec: no executor {label!r} in the spec")
            unknown = sorted(set(config) - {"secretAsEnv"})
            unknown += sorted({k for entry in config.get("secretAsEnv", []) for k in entry} - SECRET_AS_ENV_FIELDS)
            unknown += sorted({k for entry in config.get("secretAsEnv", []) for m in entry.get("keyToEnv", [])
                               for k in m} - {"secretKey", "envVar"})
            if unknown:
                problems.append(f"platform spec: executor {label}: field(s) {', '.join(unknown)} this compiler "
                                f"never writes (the driver parses kfp-kubernetes' KubernetesExecutorConfig strictly)")
            for entry in config.get("secretAsEnv", []):
                name = entry.get("secretName") or entry.get("secretNameParameter", {}).get("runtimeValue", {}).get("constant")
                pairs = [(m.get("secretKey"), m.get("envVar")) for m in entry.get("keyToEnv", [])]
                if not name or not pairs or not all(k and v for k, v in pairs):
                    problems.append(f"platform spec: executor {label}: a secretAsEnv without a secret name, key or variable")
                secrets.setdefault(label, set()).update(v for _, v in pairs)
    lacking = [label for label in sorted(executors) if {storage.ACCESS_KEY, storage.SECRET_KEY} - secrets.get(label, set())]
    if storage.is_s3(root) and lacking:
        problems.append(f"{root} but no Kubernetes secret gives {storage.ACCESS_KEY} and {storage.SECRET_KEY} "
                        f"to {', '.join(lacking)}")
    return problems


def check_spec(spec: dict, platform: Optional[dict] = None) -> List[str]:
    """What the backend checks, and what would fail in a first pod; raises SpecError. `platform`
    is the package's platform spec (the Kubernetes secrets), when it has one.

    Returns the task names."""
    parsed, deployment = _parse(spec)
    tasks = parsed.root.dag.tasks
    problems = _header_problems(parsed)
    for name, task in tasks.items():
        problems += _task_problems(name, task, parsed, deployment.executors)
    problems += _cycles({n: list(t.dependent_tasks) for n, t in tasks.items()})
    problems += _parameter_problems(parsed)
    for label, executor in deployment.executors.items():
        problems += _executor_problems(label, executor)
    problems += _storage_problems(spec, platform)
    if problems:
        raise SpecError("; ".join(problems))
    return sorted(tasks)


def _parse(spec: dict):
    """(PipelineSpec, PipelineDeploymentConfig), parsed strictly as the backend does."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    parsed = pipeline_spec_pb2.PipelineSpec()
    deployment = pipeline_spec_pb2.PipelineDeploymentConfig()
    try:
        json_format.ParseDict(spec, parsed, ignore_unknown_fields=False)
        json_format.ParseDict(spec.get("deploymentSpec", {}), deployment, ignore_unknown_fields=False)
    except json_format.ParseError as e:
        raise SpecError(f"not a PipelineSpec: {e}") from None
    return parsed, deployment


def _header_problems(parsed) -> List[str]:
    problems = []
    if parsed.schema_version != SCHEMA_VERSION:
        problems.append(f"schemaVersion is {parsed.schema_version!r}, the backend takes only {SCHEMA_VERSION}")
    if not parsed.pipeline_info.name:
        problems.append("pipelineInfo.name is empty")
    if not parsed.default_pipeline_root:
        problems.append("defaultPipelineRoot is empty")
    if not parsed.root.dag.tasks:
        problems.append("the root DAG has no task")
    return problems


def _task_problems(name: str, task, parsed, executors) -> List[str]:
    """A task's component, executor, upstream tasks and the outputs it reads must all exist."""
    tasks = parsed.root.dag.tasks
    # .get, never []: indexing a proto map inserts an empty entry, which would hide a missing
    # component from the checks of tasks visited later.
    component = parsed.components.get(task.component_ref.name)
    if component is None:
        return [f"task {name}: no component {task.component_ref.name!r}"]
    problems = []
    if component.executor_label not in executors:
        problems.append(f"component {task.component_ref.name}: no executor {component.executor_label!r}")
    for key, spec_input in task.inputs.artifacts.items():
        producer = spec_input.task_output_artifact.producer_task
        if not producer:
            continue
        if producer not in tasks:
            problems.append(f"task {name}: input {key} from unknown task {producer!r}")
            continue
        producer_component = parsed.components.get(tasks[producer].component_ref.name)
        if producer_component is None:
            continue  # reported for the producer task itself
        output_key = spec_input.task_output_artifact.output_artifact_key
        if output_key not in producer_component.output_definitions.artifacts:
            problems.append(f"task {name}: {producer} has no output {output_key!r}")
    problems += [f"task {name}: depends on unknown task {upstream!r}"
                 for upstream in task.dependent_tasks if upstream not in tasks]
    return problems


def _parameter_problems(parsed) -> List[str]:
    """Every pipeline parameter a task reads exists and has a default (the API server refuses a
    run that omits a required parameter without one)."""
    root = parsed.root.input_definitions.parameters
    problems = [f"pipeline parameter {name}: no default value" for name, p in root.items()
                if not p.HasField("default_value") and not p.is_optional]
    for name, task in parsed.root.dag.tasks.items():
        for key, value in task.inputs.parameters.items():
            wanted = value.component_input_parameter
            if wanted and wanted not in root:
                problems.append(f"task {name}: parameter {key} reads unknown pipeline parameter {wanted!r}")
    return problems


def _executor_problems(label: str, executor) -> List[str]:
    kind = executor.WhichOneof("spec")
    if kind == "resolver":
        return [f"executor {label}: a resolver, which the open-source backend cannot run"]
    if kind != "container":
        return []
    container, problems = executor.container, []
    if container.HasField("lifecycle"):
        problems.append(f"executor {label}: a preCacheCheck driver hook, which the backend never calls")
    if EXECUTOR_INPUT not in list(container.args):
        problems.append(f"executor {label}: no executor input placeholder {EXECUTOR_INPUT}")
    if not container.image:
        problems.append(f"executor {label}: no image")
    limits = container.resources
    for kind in ("cpu", "memory"):
        request, limit = getattr(limits, f"{kind}_request"), getattr(limits, f"{kind}_limit")
        if request and limit and request > limit:
            problems.append(f"executor {label}: {kind} request {request:g} above its limit {limit:g}")
    if kfp_entrypoint.TFX_ENTRYPOINT in list(container.command):
        problems.append(f"executor {label}: TFX's entrypoint unwrapped, which fails on the backend's untyped input "
                        f"artifacts and its executor-logs output (use {ENTRYPOINT})")
    return problems


def _cycles(graph: dict) -> List[str]:
    state, problems = {}, []

    def visit(node, path):
        if state.get(node) == "done":
            return
        if state.get(node) == "visiting":
            problems.append("dependency cycle: " + " -> ".join(path + [node]))
            return
        state[node] = "visiting"
        for upstream in graph.get(node, []):
            visit(upstream, path + [node])
        state[node] = "done"

    for node in graph:
        visit(node, [])
    return problems


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
