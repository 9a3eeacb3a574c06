"""The checks a KFP 2 backend makes of a compiled PipelineSpec (and what would fail in a first
pod), so a spec that would be rejected never leaves this machine: the spec parsed strictly as the
backend parses it, its header, tasks, parameters and executors, no dependency cycle, and how the
tasks reach object storage (no credential in the spec; the platform spec's Kubernetes secrets)."""

from typing import List, Optional

from core.common import storage
from core.common.errors import ConfigError
from pipeline import kfp_entrypoint

SCHEMA_VERSION = "2.1.0"
EXECUTOR_INPUT = "{{$}}"
ENTRYPOINT = "pipeline.kfp_entrypoint"  # the module every task runs (python -m)
CREDENTIALS = (storage.ACCESS_KEY, storage.SECRET_KEY, "AWS_SESSION_TOKEN")
SECRET_AS_ENV_FIELDS = {"secretName", "secretNameParameter", "keyToEnv"}


class SpecError(ConfigError):
    """The compiled spec would be rejected or fail; the message says where."""


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
