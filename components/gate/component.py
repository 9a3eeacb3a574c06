"""DataGate's spec: a run's anomalies + the policy -> a GateDecision, or a failed run."""

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.gate import executor
from components.artifacts import GateDecision


class DataGateSpec(types.ComponentSpec):
    PARAMETERS = {
        # The policy file's content as canonical JSON: part of the cache key, and nothing for the
        # container to find on its disk.
        "policy": ExecutionParameter(type=str),
    }
    INPUTS = {
        "training_anomalies": ChannelParameter(type=standard_artifacts.ExampleAnomalies),
        "serving_anomalies": ChannelParameter(type=standard_artifacts.ExampleAnomalies, optional=True),
    }
    OUTPUTS = {"decision": ChannelParameter(type=GateDecision)}


class DataGate(base_component.BaseComponent):
    """Fails the run when the policy calls any anomaly blocking; otherwise records pass or warn."""

    SPEC_CLASS = DataGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        training_anomalies: types.BaseChannel,
        policy: str,
        serving_anomalies: types.BaseChannel = None,
    ):
        spec = DataGateSpec(
            training_anomalies=training_anomalies,
            serving_anomalies=serving_anomalies,
            policy=policy,
            decision=types.Channel(type=GateDecision),
        )
        super().__init__(spec=spec)
