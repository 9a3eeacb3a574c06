"""The drift baseline of a training span: the newest earlier span that passed the gate.

A Resolver node with this strategy takes the current run's Examples (an output channel, scoped
to this run) and every GateDecision of earlier runs, and resolves only the one decision that is
the baseline. Resolving just that keeps the validator's inputs identical on a re-run with
nothing changed, so the cache holds. Local runs only: the open-source Kubeflow backend cannot run
Resolver nodes.
"""

from typing import Dict, List, Optional

from tfx import types
from tfx import v1 as tfx


def span_of(artifact: types.Artifact) -> Optional[int]:
    """The span an artifact records: a custom property (Examples, GateDecision) or a property."""
    if artifact.has_custom_property("span"):
        return int(artifact.get_int_custom_property("span"))
    if artifact.has_property("span"):
        return int(artifact.span)
    return None


def baseline_decision(current_span: Optional[int], decisions: List[types.Artifact]) -> Optional[types.Artifact]:
    """The newest decision for the largest span below `current_span`, or None."""
    if current_span is None:
        return None
    earlier = [d for d in decisions if span_of(d) is not None and span_of(d) < current_span]
    return max(earlier, key=lambda d: (span_of(d), d.id), default=None)


class PreviousAcceptedSpanStrategy(tfx.dsl.experimental.ResolverStrategy):
    """Inputs `examples` (this run's) and `decisions` (all); resolves `decisions` to the baseline."""

    def resolve_artifacts(
        self, store, input_dict: Dict[str, List[types.Artifact]]
    ) -> Optional[Dict[str, List[types.Artifact]]]:
        examples = input_dict.get("examples") or []
        current = span_of(examples[-1]) if examples else None
        baseline = baseline_decision(current, input_dict.get("decisions") or [])
        return {"examples": examples, "decisions": [baseline] if baseline is not None else []}
