"""DataGate's executor: judges every finding of the run under the policy; blocks or records."""

import json
from typing import Any, Dict, List

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.orchestration.portable import launcher
from tfx.proto.orchestration import execution_result_pb2
from tfx.types import artifact_utils

from components import span_resolver
from core.settings import layout
from core.common import names
from core.judging import policy as policy_lib

BLOCKED_CODE = 3
ANOMALY_INPUTS = ("training_anomalies", "serving_anomalies")


class GateBlocked(launcher._ExecutionFailedError):  # pylint: disable=protected-access
    """Raised to stop the run. Subclassing the launcher's failure type makes the local launcher
    record the message as the FAILED execution's result in MLMD; on Kubeflow the raised error
    fails the task's container, so nothing downstream starts."""


class Executor(base_executor.BaseExecutor):
    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        policy = policy_lib.parse(exec_properties[names.POLICY], "the gate's policy")
        verdicts = [v for key in ANOMALY_INPUTS for artifact in input_dict.get(key) or []
                    for v in judge_artifact(artifact, policy)]
        message = policy_lib.summary(policy_lib.unique(verdicts))
        if policy_lib.decision(verdicts) == names.BLOCK:
            result = execution_result_pb2.ExecutorOutput()
            result.execution_result.code = BLOCKED_CODE
            result.execution_result.result_message = f"{names.GATE}: {message}"
            raise GateBlocked(f"{names.GATE}: {message}", result)
        training = artifact_utils.get_single_instance(input_dict["training_anomalies"])
        record(artifact_utils.get_single_instance(output_dict["decision"]), verdicts, message, training)


def judge_artifact(artifact: types.Artifact, policy: policy_lib.Policy) -> List[policy_lib.Verdict]:
    """The policy's verdicts on the findings of one DataValidator output, every split."""
    splits = artifact_utils.decode_split_names(artifact.split_names)
    return policy_lib.judge_documents(layout.read_findings(artifact.uri, splits), policy)


def record(decision: types.Artifact, verdicts: List[policy_lib.Verdict], message: str,
           training: types.Artifact) -> None:
    """Writes decision.json and the GateDecision's properties, including what was accepted:
    the training span and statistics (the next span's drift baseline)."""
    warnings = [v for v in verdicts if v.severity == names.WARN]
    span = span_resolver.span_of(training)
    accepted = {  # the next span's drift baseline; decision.json alone is enough to name it by URI
        names.SPAN: span,
        names.TRAINING_STATISTICS_URI: training.get_string_custom_property(names.STATISTICS_URI),
        names.TRAINING_STATISTICS_SPLITS: training.get_string_custom_property(names.STATISTICS_SPLITS),
        names.TRAINING_EXAMPLES_URI: (training.get_string_custom_property(names.EXAMPLES_URI)
                                      if training.has_custom_property(names.EXAMPLES_URI) else None),
    }
    document = {
        "decision": policy_lib.decision(verdicts),
        "summary": message,
        "verdicts": [v.to_json() for v in verdicts],
        "accepted": accepted,
    }
    layout.write_decision(decision.uri, document)
    decision.set_string_custom_property(names.DECISION, document["decision"])
    decision.set_string_custom_property(names.SUMMARY, message)
    decision.set_int_custom_property("warning_count", len(warnings))
    decision.set_int_custom_property("blocking_count", 0)
    decision.set_string_custom_property(names.VERDICTS, json.dumps(document["verdicts"], sort_keys=True))
    if span is not None:
        decision.set_int_custom_property(names.SPAN, span)
    decision.set_string_custom_property(names.TRAINING_STATISTICS_URI, accepted[names.TRAINING_STATISTICS_URI])
    decision.set_string_custom_property(names.TRAINING_STATISTICS_SPLITS, accepted[names.TRAINING_STATISTICS_SPLITS])
    if accepted[names.TRAINING_EXAMPLES_URI]:  # their profile: the next span's baseline beyond TFDV's
        decision.set_string_custom_property(names.TRAINING_EXAMPLES_URI, training.get_string_custom_property(names.EXAMPLES_URI))
