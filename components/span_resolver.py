"""The drift baseline of a training span: the newest earlier span that passed the gate.

A Resolver node with this strategy takes the current run's Examples (an output channel, scoped
to this run) and every GateDecision of earlier runs, and resolves only the one decision that is
the baseline (the rule is core.common.baseline's). Resolving just that keeps the validator's inputs
identical on a re-run with nothing changed, so the cache holds. Local runs only: the open-source
Kubeflow backend cannot run Resolver nodes.
"""

from typing import Dict, List, Optional

from tfx import types
from tfx import v1 as tfx

from core.common import baseline
from core.common import names


def span_of(artifact: Optional[types.Artifact]) -> Optional[int]:
    """The span an artifact records: a custom property (Examples, GateDecision) or a property."""
    if artifact is None:
        return None
    if artifact.has_custom_property(names.SPAN):
        return int(artifact.get_int_custom_property(names.SPAN))
    if artifact.has_property(names.SPAN):
        return int(artifact.span)
    return None


def baseline_decision(current_span: Optional[int], decisions: List[types.Artifact]) -> Optional[types.Artifact]:
    """The drift baseline of `current_span` among `decisions`, or None."""
    return baseline.accepted_baseline(decisions, span_of, lambda d: d.id, before_span=current_span)


class PreviousAcceptedSpanStrategy(tfx.dsl.experimental.ResolverStrategy):
    """Inputs `examples` (this run's) and `decisions` (all); resolves `decisions` to the baseline."""

    def resolve_artifacts(
        self, store, input_dict: Dict[str, List[types.Artifact]]
    ) -> Optional[Dict[str, List[types.Artifact]]]:
        examples = input_dict.get("examples") or []
        current = span_of(examples[-1]) if examples else None
        chosen = baseline_decision(current, input_dict.get("decisions") or [])
        return {"examples": examples, "decisions": [chosen] if chosen is not None else []}
