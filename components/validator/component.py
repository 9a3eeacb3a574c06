"""DataValidator's spec: statistics + curated schema + environment (+ baselines) -> ExampleAnomalies."""

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.artifacts import GateDecision
from components.validator import executor


class DataValidatorSpec(types.ComponentSpec):
    PARAMETERS = {
        "environment": ExecutionParameter(type=str),
        "schema_version": ExecutionParameter(type=str),
        # checks.yaml beside the schema: slices and extra tests ('' for none).
        "checks": ExecutionParameter(type=str, optional=True),
        # Where the curated versions are (the image's schema/): with it, checks.yaml is read from
        # <schema_dir>/<schema_version>/ at run time, the version being a Kubeflow run parameter.
        "schema_dir": ExecutionParameter(type=str, optional=True),
        # The `decision` output of an earlier run's gate (its URI): the drift baseline where no
        # Resolver can choose one (Kubeflow); it replaces `previous_decisions`' choice.
        "drift_baseline": ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {
        "statistics": ChannelParameter(type=standard_artifacts.ExampleStatistics),
        "schema": ChannelParameter(type=standard_artifacts.Schema),
        # The Examples the statistics describe: their span is recorded on the anomalies.
        "examples": ChannelParameter(type=standard_artifacts.Examples, optional=True),
        # Earlier runs' gate decisions: the statistics of the newest span before the current one
        # that passed the gate are the drift baseline (a blocked span is never a baseline).
        "previous_decisions": ChannelParameter(type=GateDecision, optional=True),
        # The training side of skew, when `statistics` is a serving batch.
        "training_statistics": ChannelParameter(type=standard_artifacts.ExampleStatistics, optional=True),
        # The training Examples, for their profile: the training side of skew beyond TFDV's.
        "training_examples": ChannelParameter(type=standard_artifacts.Examples, optional=True),
    }
    OUTPUTS = {"anomalies": ChannelParameter(type=standard_artifacts.ExampleAnomalies)}


class DataValidator(base_component.BaseComponent):
    """Validates statistics in a named schema environment, with drift and skew, recorded in MLMD.

    The ExampleAnomalies artifact holds, per split, TFDV's `SchemaDiff.pb` (so TFDV's tools read
    it) and tfxgate's `findings.json`; its MLMD custom properties record the environment, the
    schema version, the anomaly count and every measured skew and drift distance.
    """

    SPEC_CLASS = DataValidatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        statistics: types.BaseChannel,
        schema: types.BaseChannel,
        environment: str,
        schema_version: str,
        examples: types.BaseChannel = None,
        previous_decisions: types.BaseChannel = None,
        training_statistics: types.BaseChannel = None,
        training_examples: types.BaseChannel = None,
        checks: str = "",
        schema_dir: str = None,
        drift_baseline=None,
    ):
        """`schema_version` and `drift_baseline` may be RuntimeParameters (Kubeflow run parameters)."""
        spec = DataValidatorSpec(
            statistics=statistics,
            schema=schema,
            environment=environment,
            schema_version=schema_version,
            examples=examples,
            previous_decisions=previous_decisions,
            training_statistics=training_statistics,
            training_examples=training_examples,
            checks=checks,
            schema_dir=schema_dir,
            drift_baseline=drift_baseline,
            anomalies=types.Channel(type=standard_artifacts.ExampleAnomalies),
        )
        super().__init__(spec=spec)
