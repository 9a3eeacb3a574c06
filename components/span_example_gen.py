"""A CSV ExampleGen that resolves its span inside its own executor, for Kubeflow.

TFX's CsvExampleGen resolves `{SPAN}` in its input pattern in a driver, which Kubeflow Pipelines
2 runs as a `preCacheCheck` lifecycle hook; the open-source KFP backend never calls it, so the
executor would look for a file literally named `span-{SPAN}`. This component does the driver's
work (resolve span and version, fingerprint the input, substitute the pattern) at the start of
its executor, then runs tfxgate's checked CsvExampleGen executor (components/csv_example_gen.py).
Its Examples carry span, version and input fingerprint as CsvExampleGen's do.

What the driver also gave, caching on the input's fingerprint, cannot be had without it:
runner_kubeflow.py turns caching off for these tasks, so new files are always seen.
"""

from typing import Any, Dict, List

from tfx import types
from tfx.components.example_gen import input_processor
from tfx.components.example_gen import utils as example_gen_utils
from tfx.dsl.components.base import base_component, executor_spec
from tfx.proto import example_gen_pb2, range_config_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.utils import proto_utils

from components import csv_example_gen


def resolve_span(exec_properties: Dict[str, Any]) -> Dict[str, Any]:
    """The driver's work: exec properties with span, version, fingerprint and a concrete pattern."""
    resolved = dict(exec_properties)
    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(resolved[standard_component_specs.INPUT_CONFIG_KEY], input_config)
    range_config = None
    if resolved.get(standard_component_specs.RANGE_CONFIG_KEY):
        range_config = range_config_pb2.RangeConfig()
        proto_utils.json_to_proto(resolved[standard_component_specs.RANGE_CONFIG_KEY], range_config)
    processor = input_processor.FileBasedInputProcessor(
        resolved[standard_component_specs.INPUT_BASE_KEY], input_config.splits, range_config
    )
    span, version = processor.resolve_span_and_version()
    resolved[example_gen_utils.SPAN_PROPERTY_NAME] = span
    resolved[example_gen_utils.VERSION_PROPERTY_NAME] = version
    resolved[example_gen_utils.FINGERPRINT_PROPERTY_NAME] = processor.get_input_fingerprint(span, version)
    for split in input_config.splits:
        split.pattern = processor.get_pattern_for_span_version(split.pattern, span, version)
    resolved[standard_component_specs.INPUT_CONFIG_KEY] = proto_utils.proto_to_json(input_config)
    return resolved


class Executor(csv_example_gen.Executor):
    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        resolved = resolve_span(exec_properties)
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        examples.set_int_custom_property(example_gen_utils.SPAN_PROPERTY_NAME, resolved[example_gen_utils.SPAN_PROPERTY_NAME])
        if resolved[example_gen_utils.VERSION_PROPERTY_NAME] is not None:
            examples.set_int_custom_property(
                example_gen_utils.VERSION_PROPERTY_NAME, resolved[example_gen_utils.VERSION_PROPERTY_NAME]
            )
        examples.set_string_custom_property(
            example_gen_utils.FINGERPRINT_PROPERTY_NAME, resolved[example_gen_utils.FINGERPRINT_PROPERTY_NAME]
        )
        super().Do(input_dict, output_dict, resolved)


class SpanCsvExampleGen(base_component.BaseComponent):
    """CsvExampleGen's inputs and outputs, with span resolution in the executor (no driver)."""

    SPEC_CLASS = standard_component_specs.FileBasedExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, input_base: str, input_config, output_config, range_config=None, custom_config=None):
        spec = standard_component_specs.FileBasedExampleGenSpec(
            input_base=input_base,
            input_config=input_config,
            output_config=output_config,
            range_config=range_config,
            custom_config=custom_config,
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            examples=types.Channel(type=standard_artifacts.Examples),
        )
        super().__init__(spec=spec)
