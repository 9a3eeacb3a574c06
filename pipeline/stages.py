"""The stages of one orchestrated run (runner_airflow.py: one Airflow task each): a partition of
the pipeline's nodes, each stage a partial run of our LocalDagRunner under the run id that the
whole orchestrated run shares, so MLMD, the cache, the run lock and crash recovery are the local
runner's own.

- `check`: no node; the run's settings and every input file, before any stage starts (exit 2).
- `validate`: ingest, statistics, both schemas, the validators and the data gate: every node not
  downstream of the gate, and the gate. One task, so a blocked gate is that task's failure; the
  nodes before it are cheap next to the import of TensorFlow a task pays once.
- `train`: Transform and Trainer, the costly part: retried on its own, the data never read again.
- `push`: the model gate (the baseline model's Resolver, the Evaluator) and Pusher; a refused
  model ends it without pushing (exit 5), which is not a failure of the run.

Imports nothing heavy: runner_local.py imports this before its argument checks.
"""

from typing import Dict, Iterable, List, Optional, Set

from core.common import names
from core.common.errors import ConfigError

CHECK, VALIDATE, TRAIN, PUSH = "check", "validate", "train", "push"
STAGES = (CHECK, VALIDATE, TRAIN, PUSH)
LAST = PUSH
# An execution in these states finished its node: a retried stage skips it (nothing twice).
_FINISHED_STATES = ("COMPLETE", "CACHED")


def _downstream(upstream: Dict[str, Iterable[str]], start: str) -> Set[str]:
    """Every node that depends on `start`, directly or not (not `start` itself)."""
    below: Dict[str, Set[str]] = {}
    for node, ups in upstream.items():
        for up in ups:
            below.setdefault(up, set()).add(node)
    found, frontier = set(), [start]
    while frontier:
        for node in below.get(frontier.pop(), ()):
            if node not in found:
                found.add(node)
                frontier.append(node)
    return found


def partition(upstream: Dict[str, Iterable[str]]) -> Dict[str, List[str]]:
    """{stage: its node ids, in the pipeline's order} for a pipeline given as {node id: the ids of
    its upstream nodes}, in topological order. Every node lands in exactly one stage."""
    missing = {names.GATE, names.TRAINER} - set(upstream)
    if missing:
        raise ValueError(f"the pipeline has no {', '.join(sorted(missing))}: it cannot be staged")
    after_gate, after_trainer = _downstream(upstream, names.GATE), _downstream(upstream, names.TRAINER)
    order = list(upstream)
    return {
        CHECK: [],
        VALIDATE: [n for n in order if n not in after_gate],
        TRAIN: [n for n in order if n in after_gate and n not in after_trainer],
        PUSH: [n for n in order if n in after_trainer],
    }


def finished_nodes(store, run_id: str) -> Set[str]:
    """The nodes whose newest execution in run `run_id` finished (completed or cached): what a
    retried stage of that run must not run again. Empty for a run MLMD does not know yet."""
    from mlmd import query

    if store is None:
        return set()
    context = store.get_context_by_type_and_name(names.RUN_CONTEXT, run_id)
    if context is None:
        return set()
    return {node for node, executions in query.executions_per_node(store, context.id).items()
            if node and query.state_name(executions[-1].last_known_state) in _FINISHED_STATES}


def check_stage(stage: Optional[str], run_id: Optional[str]) -> None:
    """A stage is a part of a named run: every stage but `check` needs the run id they share."""
    if stage not in (None, CHECK) and not run_id:
        raise ConfigError(f"--stage {stage} needs --run-id: the run id every stage of one run shares")
