"""The CPU and memory requests and limits of the Kubeflow tasks: the defaults, a `--resources`
value read and checked, and each task's put on its executor's container in the spec."""

import dataclasses
import math
from typing import Dict, Tuple

from core.common import names
from core.common.errors import ConfigError
from pipeline.kfp_checks import SpecError


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
