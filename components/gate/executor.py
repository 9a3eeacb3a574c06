"""DataGate's executor: judges every finding of the run under the policy; blocks or records."""

import json
import os
from typing import Any, Dict, List

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.orchestration.portable import launcher
from tfx.proto.orchestration import execution_result_pb2
from tfx.types import artifact_utils
from tfx.utils import io_utils

from components.gate import policy as policy_lib
from components.validator import executor as validator_executor
from components.validator.findings import Finding

DECISION_FILE = "decision.json"
BLOCKED_CODE = 3


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
        policy = policy_lib.parse(exec_properties["policy"], "the gate's policy")
        verdicts = []
        for key in ("training_anomalies", "serving_anomalies"):
            for artifact in input_dict.get(key) or []:
                verdicts += judge_artifact(artifact, policy)
        blocking = [v for v in verdicts if v.severity == policy_lib.BLOCK]
        message = policy_lib.summary(unique(verdicts))
        if blocking:
            result = execution_result_pb2.ExecutorOutput()
            result.execution_result.code = BLOCKED_CODE
            result.execution_result.result_message = f"DataGate: {message}"
            raise GateBlocked(f"DataGate: {message}", result)

        decision = artifact_utils.get_single_instance(output_dict["decision"])
        warnings = [v for v in verdicts if v.severity == policy_lib.WARN]
        document = {
            "decision": "warn" if warnings else "pass",
            "summary": message,
            "verdicts": [v.to_json() for v in verdicts],
        }
        io_utils.write_string_file(os.path.join(decision.uri, DECISION_FILE), json.dumps(document, indent=1))
        decision.set_string_custom_property("decision", document["decision"])
        decision.set_string_custom_property("summary", message)
        decision.set_int_custom_property("warning_count", len(warnings))
        decision.set_int_custom_property("blocking_count", 0)
        decision.set_string_custom_property("verdicts", json.dumps(document["verdicts"], sort_keys=True))
        # What was accepted: the next span's drift baseline.
        training = artifact_utils.get_single_instance(input_dict["training_anomalies"])
        span = validator_executor.span_of(training)
        if span is not None:
            decision.set_int_custom_property("span", span)
        decision.set_string_custom_property(
            "training_statistics_uri", training.get_string_custom_property("statistics_uri")
        )
        decision.set_string_custom_property(
            "training_statistics_splits", training.get_string_custom_property("statistics_splits")
        )


def judge_artifact(artifact: types.Artifact, policy: policy_lib.Policy) -> List[policy_lib.Verdict]:
    verdicts = []
    for split, document in validator_executor.read_findings(artifact).items():
        dataset = f"{document['environment'].lower()}[{split}]"
        findings = [Finding.from_json(f) for f in document["findings"]]
        verdicts += policy_lib.judge_all(dataset, findings, policy)
    return verdicts


def unique(verdicts: List[policy_lib.Verdict]) -> List[policy_lib.Verdict]:
    """One verdict per environment, feature, check and types: splits of one dataset agree."""
    seen, result = set(), []
    for v in verdicts:
        key = (v.dataset.split("[")[0], v.finding.feature, v.finding.check, tuple(v.finding.types))
        if key not in seen:
            seen.add(key)
            result.append(v)
    return result
