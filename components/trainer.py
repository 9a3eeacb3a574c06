"""TFX's Trainer with one more execution property, `train_steps`, that replaces `train_args`'
`num_steps` when set: a Kubeflow run parameter. TFX 1.16's Kubeflow compiler turns a
RuntimeParameter into a pipeline parameter only where it is a whole execution property, never
inside a proto such as TrainArgs, so the number of steps needs a property of its own.
"""

from typing import Any, Dict, List, Optional

from tfx import types
from tfx.components.trainer import executor as trainer_executor
from tfx.dsl.components.base import base_component, executor_spec
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import proto_utils

from core.common.errors import ConfigError

TRAIN_STEPS = "train_steps"


class StepsTrainerSpec(standard_component_specs.TrainerSpec):
    PARAMETERS = dict(standard_component_specs.TrainerSpec.PARAMETERS,
                      **{TRAIN_STEPS: ExecutionParameter(type=int, optional=True)})


def with_train_steps(exec_properties: Dict[str, Any]) -> Dict[str, Any]:
    """Exec properties whose train_args hold `train_steps` (when set); ConfigError in one line
    for a number of steps below 1."""
    steps = exec_properties.get(TRAIN_STEPS)
    if steps is None:
        return exec_properties
    if int(steps) < 1:
        raise ConfigError(f"train_steps {steps}: at least 1")
    train_args = trainer_pb2.TrainArgs()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.TRAIN_ARGS_KEY], train_args)
    train_args.num_steps = int(steps)
    return dict(exec_properties, **{standard_component_specs.TRAIN_ARGS_KEY: proto_utils.proto_to_json(train_args)})


class Executor(trainer_executor.GenericExecutor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        super().Do(input_dict, output_dict, with_train_steps(exec_properties))


class StepsTrainer(base_component.BaseComponent):
    """Trainer (examples, transform_graph, schema, run_fn as a dotted path) with `train_steps`,
    which may be a RuntimeParameter. Only for installed functions: no module file is packaged."""

    SPEC_CLASS = StepsTrainerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, examples, transform_graph, schema, run_fn: str, train_args: trainer_pb2.TrainArgs,
                 eval_args: trainer_pb2.EvalArgs, train_steps=None, custom_config: Optional[dict] = None):
        from tfx.utils import json_utils

        super().__init__(spec=StepsTrainerSpec(
            examples=examples, transform_graph=transform_graph, schema=schema,
            train_args=train_args, eval_args=eval_args, run_fn=run_fn,
            custom_config=json_utils.dumps(custom_config), **{TRAIN_STEPS: train_steps},
            model=types.Channel(type=standard_artifacts.Model),
            model_run=types.Channel(type=standard_artifacts.ModelRun)))
