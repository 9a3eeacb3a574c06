"""The Kubeflow variant of the pipeline: its config, the compiled spec's post-processing and the
checks a KFP 2 backend makes, so a spec that would be rejected never leaves this machine.

Differences from the local pipeline (the README says so too):
- no Resolver node (the open-source backend cannot run one), so no drift against the previous
  span; skew against the serving batch and every schema check remain;
- ExampleGen resolves its span in its executor (SpanCsvExampleGen), since the backend never calls
  the `preCacheCheck` driver; those tasks are not cached, so new files are always read.
"""

import json
import os
from typing import List

import yaml

from core import names, schema_files
from core.errors import ConfigError
from pipeline import config as config_lib

IMAGE_PROJECT_ROOT = "/pipeline"  # where the Dockerfile puts the project
SCHEMA_VERSION = "2.1.0"
EXECUTOR_INPUT = "{{$}}"


class SpecError(ConfigError):
    """The compiled spec would be rejected or fail; the message says where."""


def kubeflow_config(
    pipeline_root: str,
    data_root: str,
    serving_model_dir: str,
    beam_args=(),
    project_root: str = IMAGE_PROJECT_ROOT,
    train_steps: int = config_lib.PipelineConfig.train_steps,
) -> config_lib.PipelineConfig:
    """The Kubeflow variant's config; `project_root` is where the image has the project."""
    local_schema = config_lib.default_schema_path()
    version = schema_files.version_of(local_schema)
    return config_lib.PipelineConfig(
        pipeline_root=pipeline_root,
        data_root=data_root,
        schema_path=f"{project_root}/schema/{version}/{names.SCHEMA_FILE}",
        train_steps=train_steps,
        serving_model_dir=serving_model_dir,
        store=None,  # Kubeflow's own metadata service records the runs
        installed_functions=True,  # the image has the project installed: no wheel to stage
        policy_json=config_lib.read_policy(),
        schema_text=config_lib.read_schema_text(local_schema),  # the same file as in the image
        **config_lib.read_beside_schema(local_schema),
        drift_against_previous_span=False,
        example_gen_without_driver=True,
        beam_pipeline_args=config_lib.beam_args_for(tuple(beam_args)),
    )


def uncache_example_gens(spec: dict) -> dict:
    """ExampleGen tasks are never cached: without a driver only a run can see new files."""
    for name in names.EXAMPLE_GENS:
        task = spec["root"]["dag"]["tasks"].get(name)
        if task is not None:
            task["cachingOptions"] = {}
    return spec


def check_spec(spec: dict) -> List[str]:
    """What the backend checks, and what would fail in a first pod; raises SpecError.

    Returns the task names."""
    parsed, deployment = _parse(spec)
    tasks = parsed.root.dag.tasks
    problems = _header_problems(parsed)
    for name, task in tasks.items():
        problems += _task_problems(name, task, parsed, deployment.executors)
    problems += _cycles({n: list(t.dependent_tasks) for n, t in tasks.items()})
    for label, executor in deployment.executors.items():
        problems += _executor_problems(label, executor)
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


def compile_spec(config: config_lib.PipelineConfig, image: str, output: str) -> dict:
    """Compiles, post-processes, checks and writes the spec; returns it."""
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
    spec = uncache_example_gens(json.loads(json.dumps(job["pipelineSpec"])))
    spec["defaultPipelineRoot"] = config.pipeline_root
    check_spec(spec)
    tmp = output + ".tmp"
    with open(tmp, "w") as f:
        yaml.safe_dump(spec, f, sort_keys=True)
    os.replace(tmp, output)
    return spec
