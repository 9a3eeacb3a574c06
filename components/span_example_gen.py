"""A CSV ExampleGen that resolves its span inside its own executor, for Kubeflow.

TFX's CsvExampleGen resolves `{SPAN}` in its input pattern in a driver, which Kubeflow Pipelines
2 runs as a `preCacheCheck` lifecycle hook; the open-source KFP backend never calls it, so the
executor would look for a file literally named `span-{SPAN}`. This component does the driver's
work (resolve span and version, fingerprint the input, substitute the pattern) at the start of
its executor, then runs tfxgate's checked CsvExampleGen executor (components/csv_example_gen.py).
Its Examples carry span, version and input fingerprint as CsvExampleGen's do.

What the driver also gave, caching on the input's fingerprint, cannot be had without it:
runner_kubeflow.py turns caching off for these tasks, so new files are always seen.

Two execution properties a Kubeflow run can set as pipeline parameters (pipeline/kubeflow.py):
`requested_span` (the span to read; -1 or unset: the latest) and `schema_version` with
`schema_dir` (read every cell as that curated version's types, with the constraints.yaml and
checks.yaml beside it, instead of the texts compiled into `custom_config`).
"""

from typing import Any, Dict, List, Optional

from tfx import types
from tfx.components.example_gen import input_processor
from tfx.components.example_gen import utils as example_gen_utils
from tfx.dsl.components.base import base_component, executor_spec
from tfx.proto import example_gen_pb2, range_config_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import proto_utils

from components import csv_example_gen
from core.reading.sources import csv_structure
from core.settings import schema_files
from core.common.errors import ConfigError

REQUESTED_SPAN = "requested_span"  # not `span`: the driver's work writes the resolved span under that key
SCHEMA_DIR = "schema_dir"
SCHEMA_VERSION = "schema_version"
LATEST_SPAN = -1


class SpanCsvExampleGenSpec(standard_component_specs.FileBasedExampleGenSpec):
    PARAMETERS = dict(
        standard_component_specs.FileBasedExampleGenSpec.PARAMETERS,
        **{REQUESTED_SPAN: ExecutionParameter(type=int, optional=True),
           SCHEMA_DIR: ExecutionParameter(type=str, optional=True),
           SCHEMA_VERSION: ExecutionParameter(type=str, optional=True)},
    )


def with_run_parameters(exec_properties: Dict[str, Any]) -> Dict[str, Any]:
    """Exec properties with the requested span as a static range and, where a schema version is
    chosen, that version's texts in custom_config (the delimiter, the missing-value markers and the input format kept); ConfigError in one line for
    a span below -1 or a version that is not there."""
    resolved = dict(exec_properties)
    span = resolved.get(REQUESTED_SPAN)
    if span is not None and int(span) != LATEST_SPAN:
        if int(span) < 0:
            raise ConfigError(f"span {span}: a span number (0 or more), or {LATEST_SPAN} for the latest")
        resolved[standard_component_specs.RANGE_CONFIG_KEY] = proto_utils.proto_to_json(range_config_pb2.RangeConfig(
            static_range=range_config_pb2.StaticRange(start_span_number=int(span), end_span_number=int(span))))
    if resolved.get(SCHEMA_DIR) and resolved.get(SCHEMA_VERSION):
        texts = schema_files.read_version(schema_files.version_path(resolved[SCHEMA_DIR], resolved[SCHEMA_VERSION]))
        kept = csv_example_gen.settings(resolved)
        delimiter = kept.get(csv_example_gen.DELIMITER_KEY) or csv_structure.DELIMITER
        resolved[standard_component_specs.CUSTOM_CONFIG_KEY] = proto_utils.proto_to_json(csv_example_gen.custom_config(
            texts["schema_text"], delimiter, texts["constraints_text"], texts["checks_text"],
            missing=kept.get(csv_example_gen.MISSING_KEY) or (), input_format=kept.get(csv_example_gen.FORMAT_KEY)))
    return resolved


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
        resolved = resolve_span(with_run_parameters(exec_properties))
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

    SPEC_CLASS = SpanCsvExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, input_base: str, input_config, output_config, range_config=None, custom_config=None,
                 requested_span=None, schema_dir: Optional[str] = None, schema_version=None):
        """`requested_span` and `schema_version` may be RuntimeParameters (Kubeflow run parameters)."""
        spec = SpanCsvExampleGenSpec(
            input_base=input_base,
            input_config=input_config,
            output_config=output_config,
            range_config=range_config,
            custom_config=custom_config,
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            examples=types.Channel(type=standard_artifacts.Examples),
            **{REQUESTED_SPAN: requested_span, SCHEMA_DIR: schema_dir, SCHEMA_VERSION: schema_version},
        )
        super().__init__(spec=spec)
