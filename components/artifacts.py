"""tfxgate's own artifact type: the gate's decision (read by the drift Resolver and the validator)."""

from tfx import types

from core.common import names


class GateDecision(types.Artifact):
    """The gate's decision on a run's data, when it let the run go on.

    Custom properties: `decision` (pass or warn), `summary`, `warning_count`, `verdicts` (JSON),
    and what was accepted: `span`, `training_statistics_uri`, `training_statistics_splits`.
    A blocked run has no GateDecision: its DataGate execution is FAILED, with the reasons as the
    execution's result message.
    """

    # Also the class path Kubeflow's container entrypoint imports: tfxgate exposes it lazily.
    TYPE_NAME = names.GATE_DECISION_TYPE
