"""Executes a compiled KFP 2 PipelineSpec on this machine, task by task, as the KFP launcher would.

Each task starts once all its upstream tasks have succeeded, two at a time (a KFP backend runs
independent tasks in parallel too): build its ExecutorInput (constant parameters; input artifacts
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
import tempfile
import time
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


def run(spec: dict, root: str, cwd: str, env: Dict[str, str] = None, parallel: int = 2):
    """Runs every task it can, up to `parallel` at once as a KFP backend runs independent tasks.
    Returns (results of the tasks that ran, in the order they ended; {task: {output key: runtime
    artifact with the metadata its executor reported}} of the tasks that succeeded)."""
    tasks = spec["root"]["dag"]["tasks"]
    produced: Dict[str, Dict[str, dict]] = {}
    results: List[TaskResult] = []
    pending = topological_order(tasks)  # dependencies first, so ready tasks start in that order
    running = {}  # name -> (process, executor input, log file, started)
    while pending or running:
        ended = {r.name for r in results}
        for name in list(pending):
            upstream = tasks[name].get("dependentTasks", [])
            if any(u in ended and u not in produced for u in upstream):
                pending.remove(name)  # an upstream task failed: this one never starts
            elif len(running) < parallel and all(u in produced for u in upstream):
                pending.remove(name)
                running[name] = _start(spec, name, root, produced, cwd, env)
        if not running:
            break
        time.sleep(0.2)
        for name, (proc, executor_input, log, started) in list(running.items()):
            if proc.poll() is None:
                continue
            del running[name]
            log.seek(0)
            results.append(TaskResult(name, proc.returncode, time.monotonic() - started, log.read()[-4000:]))
            log.close()
            if proc.returncode == 0:
                produced[name] = _outputs(executor_input)
    return results, produced


def _start(spec: dict, name: str, root: str, produced: Dict[str, Dict[str, dict]], cwd: str, env):
    """Starts one task's container command; returns (process, executor input, log, start time)."""
    component = spec["components"][spec["root"]["dag"]["tasks"][name]["componentRef"]["name"]]
    container = spec["deploymentSpec"]["executors"][component["executorLabel"]]["container"]
    executor_input = _executor_input(spec, name, root, produced)
    args = [json.dumps(executor_input) if a == PLACEHOLDER else a for a in container["args"]]
    command = [sys.executable if c == "python" else c for c in container["command"]]
    log = tempfile.TemporaryFile("w+")
    proc = subprocess.Popen(command + args, stdout=subprocess.DEVNULL, stderr=log, text=True, cwd=cwd,
                            env=dict(os.environ, **(env or {})))
    return proc, executor_input, log, time.monotonic()


def _outputs(executor_input: dict) -> Dict[str, dict]:
    """The task's output artifacts, with the metadata its executor reported in its output file."""
    outputs = {k: v["artifacts"][0] for k, v in executor_input["outputs"]["artifacts"].items()}
    output_file = executor_input["outputs"]["outputFile"]
    if os.path.exists(output_file):
        with open(output_file) as f:
            reported = json.load(f).get("artifacts", {})
        for key, value in reported.items():
            if value.get("artifacts"):
                outputs[key] = dict(outputs[key], metadata=value["artifacts"][0].get("metadata", {}))
    return outputs
