"""Executes a compiled KFP 2 PipelineSpec on this machine, task by task, as the KFP launcher would.

For each task in topological order: build its ExecutorInput (constant parameters; input artifacts
from upstream outputs, with their type schema and the metadata the producer's executor reported;
output artifacts with URIs under a local root and an output file), substitute it for the `{{$}}`
placeholder in the task's own container command and arguments, and run that command as a local
process. A task that exits non-zero stops the run: its downstream tasks never start, as on the
backend. The image is the only thing not exercised: the command runs in this environment, which
installs the same lock and the project as the Dockerfile does.
"""

import dataclasses
import json
import os
import subprocess
import sys
from typing import Dict, List

PLACEHOLDER = "{{$}}"


@dataclasses.dataclass
class TaskResult:
    name: str
    code: int
    seconds: float
    log: str


def topological_order(tasks: Dict[str, dict]) -> List[str]:
    order, seen = [], set()

    def visit(name):
        if name in seen:
            return
        seen.add(name)
        for upstream in sorted(tasks[name].get("dependentTasks", [])):
            visit(upstream)
        order.append(name)

    for name in sorted(tasks):
        visit(name)
    return order


def _executor_input(spec: dict, name: str, root: str, produced: Dict[str, Dict[str, dict]]) -> dict:
    task = spec["root"]["dag"]["tasks"][name]
    component = spec["components"][task["componentRef"]["name"]]
    parameters = {}
    for key, value in task.get("inputs", {}).get("parameters", {}).items():
        if "runtimeValue" not in value:
            raise ValueError(f"task {name}: parameter {key} is not a constant; the harness takes constants only")
        parameters[key] = value["runtimeValue"]["constant"]
    artifacts = {}
    for key, value in task.get("inputs", {}).get("artifacts", {}).items():
        source = value["taskOutputArtifact"]
        artifacts[key] = {"artifacts": [produced[source["producerTask"]][source["outputArtifactKey"]]]}
    outputs = {}
    for key, definition in component.get("outputDefinitions", {}).get("artifacts", {}).items():
        uri = os.path.join(root, name, key)
        os.makedirs(uri, exist_ok=True)
        outputs[key] = {"artifacts": [{"name": f"{name}-{key}", "type": definition["artifactType"], "uri": uri,
                                       "metadata": {}}]}
    return {
        "inputs": {"parameterValues": parameters, "artifacts": artifacts},
        "outputs": {"artifacts": outputs, "outputFile": os.path.join(root, name, "executor_output.json")},
    }


def run(spec: dict, root: str, cwd: str, env: Dict[str, str] = None):
    """Runs every task it can. Returns (results of the tasks that ran, in order; {task: {output key:
    runtime artifact with the metadata its executor reported}} of the tasks that succeeded)."""
    import time

    tasks = spec["root"]["dag"]["tasks"]
    executors = spec["deploymentSpec"]["executors"]
    produced: Dict[str, Dict[str, dict]] = {}
    results = []
    for name in topological_order(tasks):
        if any(upstream not in produced for upstream in tasks[name].get("dependentTasks", [])):
            continue  # an upstream task failed or was skipped: this one never starts
        component = spec["components"][tasks[name]["componentRef"]["name"]]
        container = executors[component["executorLabel"]]["container"]
        executor_input = _executor_input(spec, name, root, produced)
        args = [json.dumps(executor_input) if a == PLACEHOLDER else a for a in container["args"]]
        command = [sys.executable if c == "python" else c for c in container["command"]]
        started = time.monotonic()
        proc = subprocess.run(command + args, capture_output=True, text=True, cwd=cwd,
                              env=dict(os.environ, **(env or {})))
        results.append(TaskResult(name, proc.returncode, time.monotonic() - started, proc.stderr[-4000:]))
        if proc.returncode != 0:
            continue
        outputs = {k: v["artifacts"][0] for k, v in executor_input["outputs"]["artifacts"].items()}
        output_file = executor_input["outputs"]["outputFile"]
        if os.path.exists(output_file):
            with open(output_file) as f:
                reported = json.load(f).get("artifacts", {})
            for key, value in reported.items():
                if value.get("artifacts"):
                    outputs[key] = dict(outputs[key], metadata=value["artifacts"][0].get("metadata", {}))
        produced[name] = outputs
    return results, produced
