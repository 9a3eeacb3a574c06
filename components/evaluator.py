"""TFX's Evaluator (TensorFlow Model Analysis), which says why a model is not blessed.

Two additions to TFX's component, nothing taken away:
- the blessing records, in MLMD, the overall value of every metric for the candidate and the
  baseline model (`eval_metrics`), and one line per failed threshold in the words of
  `schema/evaluation.yaml` (`eval_reasons`), e.g. `AUC 0.71 < baseline 0.74 - 0.02`;
- `baseline_model_uri`, an execution property that may be a Kubeflow run parameter: the URI of an
  earlier run's Model, the baseline where no Resolver can find one (KFP 2 runs no Resolver node).
  Empty: no baseline, unless the `baseline_model` channel brings one (the local Resolver).
"""

import json
import math
from typing import Any, Dict, List, Optional

from tfx import types
from tfx.components.evaluator import executor as evaluator_executor
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter

from core.common import evaluation
from core.common import names

BASELINE_MODEL_URI = "baseline_model_uri"
EVALUATION_SETTINGS = "evaluation_settings"  # the evaluation.yaml text the reasons are worded from
MAX_SLICE_ROWS = 60  # slices kept in MLMD for the report, largest first


class ExplainedEvaluatorSpec(standard_component_specs.EvaluatorSpec):
    PARAMETERS = dict(standard_component_specs.EvaluatorSpec.PARAMETERS, **{
        BASELINE_MODEL_URI: ExecutionParameter(type=str, optional=True),
        EVALUATION_SETTINGS: ExecutionParameter(type=str),
    })


def with_baseline(input_dict: Dict[str, List[types.Artifact]], uri: Optional[str]) -> Dict[str, List[types.Artifact]]:
    """The inputs with a baseline Model at `uri` when the channel brought none."""
    if not uri or input_dict.get(standard_component_specs.BASELINE_MODEL_KEY):
        return input_dict
    model = standard_artifacts.Model()
    model.uri = uri.rstrip("/")
    return dict(input_dict, **{standard_component_specs.BASELINE_MODEL_KEY: [model]})


def _slice_name(slice_key) -> str:
    parts = []
    for single in slice_key.single_slice_keys:
        kind = single.WhichOneof("kind")
        value = getattr(single, kind) if kind else ""
        parts.append(f"{single.column}={value.decode() if isinstance(value, bytes) else value}")
    return ", ".join(parts)


def read_metrics(output_uri: str) -> Dict[str, Any]:
    """{"overall": {metric: {"candidate": v, "baseline": v}}, "slices": [{"slice", "example_count", metric: v}]}
    from an evaluation's metrics; candidate values per slice."""
    import tensorflow_model_analysis as tfma

    overall: Dict[str, Dict[str, Optional[float]]] = {}
    slices = []
    for per_slice in tfma.load_metrics(output_uri):
        values = {}
        for item in per_slice.metric_keys_and_values:
            key = item.key
            if key.is_diff or not item.value.HasField("double_value"):
                continue
            role = "baseline" if key.model_name == "baseline" else "candidate"
            value = item.value.double_value.value
            values.setdefault(key.name, {})[role] = value if math.isfinite(value) else None  # NaN: one class only
        if not per_slice.slice_key.single_slice_keys:
            overall = values
        else:
            row = {"slice": _slice_name(per_slice.slice_key)}
            row.update({name: v.get("candidate") for name, v in values.items()})
            slices.append(row)
    slices.sort(key=lambda r: (-(r.get("example_count") or 0), r["slice"]))
    return {"overall": overall, "slices": slices[:MAX_SLICE_ROWS]}


def failures(output_uri: str) -> List[tuple]:
    """(metric, is_change) for every threshold TFMA found failing."""
    import tensorflow_model_analysis as tfma

    result = tfma.load_validation_result(output_uri)
    return [(f.metric_key.name, f.metric_key.is_diff)
            for per_slice in result.metric_validations_per_slice for f in per_slice.failures]


class Executor(evaluator_executor.Executor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        from_uri = bool(exec_properties.get(BASELINE_MODEL_URI)) and not input_dict.get(
            standard_component_specs.BASELINE_MODEL_KEY)
        input_dict = with_baseline(input_dict, exec_properties.get(BASELINE_MODEL_URI))
        super().Do(input_dict, output_dict, exec_properties)
        output_uri = output_dict[standard_component_specs.EVALUATION_KEY][0].uri
        blessing = output_dict[standard_component_specs.BLESSING_KEY][0]
        if from_uri:  # not an MLMD artifact: its id 0 would break TFX's Kubeflow entrypoint
            del blessing.mlmd_artifact.custom_properties[names.BLESSING_BASELINE_ID]
        measured = read_metrics(output_uri)
        settings = evaluation.parse(exec_properties[EVALUATION_SETTINGS])
        lines = evaluation.reasons(settings, measured["overall"], failures(output_uri))
        measured["thresholds"] = {g.name: {"floor": g.floor, "ceiling": g.ceiling, "drop": g.drop, "rise": g.rise}
                                  for g in settings.metrics}
        blessing.set_string_custom_property(names.EVAL_METRICS, json.dumps(measured, sort_keys=True))
        blessing.set_string_custom_property(names.EVAL_REASONS, json.dumps(lines))
        blessing.set_int_custom_property(names.EVAL_HAS_BASELINE,
                                         int(bool(input_dict.get(standard_component_specs.BASELINE_MODEL_KEY))))


class ExplainedEvaluator(base_beam_component.BaseBeamComponent):
    """Evaluator(examples, model, baseline_model?, eval_config) whose blessing says why; the
    thresholds and their wording come from one evaluation.yaml text."""

    SPEC_CLASS = ExplainedEvaluatorSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, examples, model, eval_config, evaluation_settings: str, baseline_model=None,
                 baseline_model_uri=None, example_splits: Optional[List[str]] = None):
        from tfx.utils import json_utils

        super().__init__(spec=ExplainedEvaluatorSpec(
            examples=examples, model=model, baseline_model=baseline_model, eval_config=eval_config,
            example_splits=json_utils.dumps(example_splits), evaluation_settings=evaluation_settings,
            baseline_model_uri=baseline_model_uri,
            fairness_indicator_thresholds=json_utils.dumps(None),
            evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
            blessing=types.Channel(type=standard_artifacts.ModelBlessing),
        ))
