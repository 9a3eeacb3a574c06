"""CsvExampleGen's executor, with the input checked first and every cell read as the curated
schema's type.

TFX's CsvExampleGen reads the header with `line.split(',')` (a byte-order mark stays in the first
column's name; a quoted name is cut at its comma), fails inside Beam on a ragged row with a
message naming neither file nor line, stops at the csv module's 128 KiB field limit, and types
every column from the batch's own text: a pandas export writes an integer column with a missing
value as `8.0`, so the whole column becomes FLOAT and every validator blocks it.

This executor:
- opens the split's files as one source (`core.reading.source.open_batch`) and checks every record
  before building the Beam graph, so a
  broken file fails the execution with `<file>: line N: <problem>` before anything is written;
- reads the records through the same kind of source (Python's csv module, line numbers kept);
- reads each column the curated schema knows by `core.reading.cells.read_column`, the function
  `tfxgate validate` calls too; a column the schema does not know is inferred as CsvExampleGen
  infers it;
- leaves out every row with a cell its schema type cannot hold: it is written, with its file,
  line and reasons, to the quarantine (`Quarantine/<input split>.csv` inside the Examples), never
  to a split, so Transform and Trainer never see it;
- leaves out, the same way, every row breaking a rule across columns of `constraints.yaml`
  (core/rules/; one code path with validate: core/checks/rows.py);
- profiles the rows kept (core/statistics/profile.py, with the slices of `checks.yaml`) into
  `profile.json`, the input to core/checks/profile_checks.py;
- counts those cells per feature and reason (`core.reading.report.ReadingReport`, with file and line
  examples) and records the report on the Examples in MLMD (`typed_reading`, with the count of
  rows quarantined) and in `typed_reading.json`; the validators turn it into findings, and the
  gate's policy decides whether a run with quarantined rows goes on;
- writes the splits as TFX's WriteSplit does, without its Reshuffle: on Beam's in-memory
  DirectRunner a GroupByKey holds every record it is given, so the records stream from the CSV
  to the TFRecord file instead, in file order, and the same input gives the same bytes.

The schema comes in `custom_config` (a Struct holding its text, and the texts of
constraints.yaml and checks.yaml beside it), so a change to any of them changes the execution's
properties and re-runs ExampleGen: the cache stays truthful.
"""

import csv
import json
import os
from typing import Any, Dict, Iterable, List, Optional

import apache_beam as beam
import pyarrow as pa
from google.protobuf import struct_pb2, text_format
from tfx.components.example_gen import component as example_gen_component
from tfx.components.example_gen import utils as example_gen_utils, write_split
from tfx.components.example_gen.csv_example_gen import executor as csv_executor
from tfx.components.util import examples_utils
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils
from tfx_bsl.coders import csv_decoder

from core.reading import cells
from core.settings import check_settings
from core import rules as rules_lib
from core.reading.sources import csv_structure
from core.common import names
from core.statistics import profile as profile_lib
from core.reading import report as reading
from core.checks import rows as rows_lib
from components import example_encoding, example_gen_inputs as inputs, example_gen_outputs as outputs

SCHEMA_KEY = "schema"  # in custom_config: the curated schema in text format
DELIMITER_KEY = "delimiter"  # in custom_config: the field delimiter (default ",")
CONSTRAINTS_KEY = "constraints"  # in custom_config: constraints.yaml beside the schema (rules across columns)
CHECKS_KEY = "checks"  # in custom_config: checks.yaml beside the schema (the profile's slices)
FORMAT_KEY = "format"  # in custom_config: csv, jsonl, parquet or tfrecord (absent: from each file's content)
MISSING_KEY = "missing"  # in custom_config: the cell texts read as missing, in every column (a list)
_READING_URI = "_tfxgate_reading_uri"  # passed from Do to the transform
# Rows per batch, fixed: once a feature has more distinct values than the profile keeps, its
# rounding depends on where batches start (core/statistics/profile.py), so the same input, batched alike,
# gives the same profile.json. The batches run on across files (example_gen_inputs.ReadBatches).
_BATCH = 4096


def custom_config(schema_text: str, delimiter: str = csv_structure.DELIMITER, constraints_text: str = "",
                  checks_text: str = "", missing=(), input_format: Optional[str] = None) -> example_gen_pb2.CustomConfig:
    """ExampleGen's custom_config carrying the curated schema's text, the delimiter, the texts of
    constraints.yaml and checks.yaml beside the schema, the markers of missing values and the
    input's declared format (empty: none; no format: each file's content says)."""
    struct = struct_pb2.Struct()
    struct.update({SCHEMA_KEY: schema_text, DELIMITER_KEY: delimiter})
    struct.update({k: v for k, v in ((CONSTRAINTS_KEY, constraints_text), (CHECKS_KEY, checks_text),
                                     (MISSING_KEY, list(missing)), (FORMAT_KEY, input_format)) if v})
    config = example_gen_pb2.CustomConfig()
    config.custom_config.Pack(struct)
    return config


def settings(exec_properties: Dict[str, Any]) -> Dict[str, str]:
    """The Struct in the execution's custom_config, as a dict; {} without one."""
    raw = exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
    if not raw:
        return {}
    config = example_gen_pb2.CustomConfig()
    if isinstance(raw, str):
        proto_utils.json_to_proto(raw, config)
    else:
        config.CopyFrom(raw)
    struct = struct_pb2.Struct()
    return dict(struct.items()) if config.custom_config.Unpack(struct) else {}


def schema_kinds(exec_properties: Dict[str, Any]) -> Dict[str, str]:
    """{feature: kind} of the schema in the execution's custom_config; {} without one."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    text = settings(exec_properties).get(SCHEMA_KEY)
    return reading.schema_kinds(text_format.Parse(text, schema_pb2.Schema())) if text else {}


def schema_domains(exec_properties: Dict[str, Any]) -> Dict[str, reading.Domain]:
    """{feature: Domain} of the schema in the execution's custom_config; {} without one."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    text = settings(exec_properties).get(SCHEMA_KEY)
    return reading.schema_domains(text_format.Parse(text, schema_pb2.Schema())) if text else {}


def rules_and_slices(exec_properties: Dict[str, Any]):
    """(constraints.yaml's rules, checks.yaml's slice keys) in the execution's custom_config."""
    chosen = settings(exec_properties)
    features = list(schema_kinds(exec_properties))
    rules = rules_lib.parse(chosen.get(CONSTRAINTS_KEY) or "", names.CONSTRAINTS_FILE, features)
    checks = check_settings.parse(chosen.get(CHECKS_KEY) or "", names.CHECKS_FILE, features)
    return rules, checks.slices


_INFERRED = {csv_decoder.ColumnType.INT: cells.INT, csv_decoder.ColumnType.FLOAT: cells.FLOAT,
             csv_decoder.ColumnType.STRING: cells.BYTES}
_EMPTY_COLUMN = pa.list_(pa.binary())  # a column the schema does not know, empty throughout: a Feature of no kind


class _RowsToExamples(beam.DoFn):
    """A batch of records to tf.Examples, column by column through core.reading.cells. A row with a cell
    its schema type cannot hold, or that breaks a rule across columns, is left out (core/checks/rows.py);
    the report of what was left out goes to the `reading` output, the profile of the rows kept
    to `profile`.

    The Examples are encoded from the typed columns (a present cell: a list of one value; an
    empty cell: an empty list of its kind) as their deterministic serialization
    (components/example_encoding.py): the bytes TFX's partition hashes for an Example
    (base_example_gen_executor._GeneratePartitionKey), so every row keeps its split, and the
    bytes written are the same on every run. They leave a
    block at a time, one block per output split (`splitter`: TFX's partition function), on the
    outputs `split_tag(i)`: Beam's cost per element is paid per block, not per row."""

    def __init__(self, names: List[str], kinds: Dict[str, str], rules=(), slice_keys=(), domains=None,
                 splitter: Optional[outputs.Splitter] = None):
        self._names, self._kinds, self._rules, self._slice_keys = names, kinds, rules, slice_keys
        self._domains = domains or {}
        self._splitter = splitter  # None: one output split

    def process(self, batch: List[tuple], inferred: Optional[List[Any]]):
        report = reading.ReadingReport(rows=len(batch))
        columns, read, texts = [], {}, {}
        cells_by_column = list(zip(*(row[2] for row in batch)))  # the batch's fields, a column at a time
        for j, name in enumerate(self._names):
            kind = self._kinds.get(name) or (_INFERRED.get(inferred[j].type) if inferred else None)
            if kind is None:
                columns.append(pa.nulls(len(batch), _EMPTY_COLUMN))
                continue
            text = list(cells_by_column[j])
            column = cells.read_column(pa.array(text, pa.string()), kind)
            if name in self._kinds:
                read[name], texts[name] = column, text
            columns.append(pa.ListArray.from_arrays(pa.array(column.offsets()), column.values))
        block = rows_lib.judge(read, {n: self._kinds[n] for n in read}, self._rules, report,
                               lambda i: (batch[i][0], batch[i][1]), texts.__getitem__, self._domains)
        profile = profile_lib.Profile()
        rows_lib.profile(block, profile, self._slice_keys)
        for i, reasons in sorted(block.reasons.items()):
            yield beam.pvalue.TaggedOutput("quarantine", reading.quarantine_row(batch[i][0], batch[i][1], reasons, batch[i][2]))
        kept = pa.RecordBatch.from_arrays(columns, self._names).filter(pa.array(~block.bad))
        records = example_encoding.serialized_examples(kept.columns, self._names)
        for i, split in enumerate(self._splitter(records) if self._splitter else [records]):
            if split:
                yield beam.pvalue.TaggedOutput(split_tag(i), split) if i else split  # the first: the main output
        yield beam.pvalue.TaggedOutput("reading", report)
        yield beam.pvalue.TaggedOutput("profile", profile)


def split_tag(index: int) -> str:
    """The output of _RowsToExamples holding the blocks of the index-th output split (the
    first is its main output)."""
    return f"split{index}"


class _TypedCsvToExample(beam.PTransform):
    """The split's data files, checked, as serialized tf.Examples typed by the curated schema, a
    record per element (TFX's contract for GetInputSourceToExamplePTransform)."""

    def __init__(self, exec_properties: Dict[str, Any], split_pattern: str):
        self._blocks = TypedBlocks(exec_properties, split_pattern)

    def expand(self, pipeline: beam.Pipeline) -> beam.pvalue.PCollection:
        blocks = pipeline | "Blocks" >> self._blocks
        return blocks[0] | "Records" >> beam.FlatMap(lambda block: block)


class TypedBlocks(beam.PTransform):
    """The split's data files, checked, as blocks (lists) of serialized tf.Examples typed by the
    curated schema: a tuple of PCollections, one per output split of `splitter` (None: one)."""

    def __init__(self, exec_properties: Dict[str, Any], split_pattern: str,
                 splitter: Optional[outputs.Splitter] = None):
        self._splitter = splitter
        self._pattern = os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern)
        self._kinds = schema_kinds(exec_properties)
        self._domains = schema_domains(exec_properties)
        self._delimiter = settings(exec_properties).get(DELIMITER_KEY) or csv_structure.DELIMITER
        self._format = settings(exec_properties).get(FORMAT_KEY) or None
        self._missing = tuple(settings(exec_properties).get(MISSING_KEY) or ())
        self._reading_uri = exec_properties.get(_READING_URI)
        self._rules, self._slice_keys = rules_and_slices(exec_properties)
        self._part = outputs.part_name(split_pattern)

    def expand(self, pipeline: beam.Pipeline):
        found = inputs.data_files(self._pattern)
        if not found:
            raise csv_structure.CsvInputError(f"{self._pattern}: no data file matches")
        files = list(found)
        with inputs.open_files(files, self._delimiter, self._format, self._missing) as source:
            source.check()  # every record of every file, before the graph is built
            names = list(source.columns)
        keys = inputs.partition_columns(found, names, list(self._kinds))
        added = {f: [found[f].get(k, "") for k in keys] for f in files}
        names += keys
        csv_structure.check_columns(files[0], names, list(self._kinds))
        read = lambda counted=True: inputs.ReadRows(self._delimiter, added, self._format, self._missing, counted)
        batches = (pipeline | "CreateFileList" >> beam.Create([files])
                   | "ReadBatches" >> beam.ParDo(inputs.ReadBatches(self._delimiter, added, self._format, self._missing,
                                                                    _BATCH)))
        if any(n not in self._kinds for n in names):  # infer the columns the schema does not know
            # A reading of its own: the inferred types are a side input of the conversion, and
            # from the same reading, Beam's in-memory runner would hold every row until they are.
            inferred = (
                pipeline
                | "CreateFilenamesToInfer" >> beam.Create(files)
                | "ReadRowsToInfer" >> beam.ParDo(read(counted=False))
                | "AsCells" >> beam.Map(lambda row: [field.encode("utf-8") for field in row[2]])
                | "InferColumnTypes" >> beam.CombineGlobally(csv_decoder.ColumnTypeInferrer(names, skip_blank_lines=True))
            )
        else:
            inferred = pipeline | "NothingToInfer" >> beam.Create([None])
        tags = [split_tag(i) for i in range(len(self._splitter) if self._splitter else 1)]
        converted = (
            batches
            | "ToTFExample" >> beam.ParDo(
                _RowsToExamples(names, self._kinds, self._rules, self._slice_keys, self._domains, self._splitter),
                beam.pvalue.AsSingleton(inferred))
            .with_outputs("reading", "quarantine", "profile", *tags[1:], main=tags[0])
        )
        if self._reading_uri:
            _ = (
                converted.quarantine
                | "CollectQuarantine" >> beam.combiners.ToList()  # the rows left out: few, and sorted for people
                | "WriteQuarantine" >> beam.Map(
                    outputs.write_quarantine,
                    os.path.join(self._reading_uri, outputs.QUARANTINE_FOLDER, f"{self._part}.csv"), names)
            )
            _ = (
                converted.reading
                | "MergeReadingReports" >> beam.CombineGlobally(outputs.Merge(reading.ReadingReport))
                | "WriteReadingReport" >> beam.Map(
                    outputs.write_report, os.path.join(self._reading_uri, outputs.READING_PARTS), self._part)
            )
            _ = (
                converted.profile
                | "MergeProfiles" >> beam.CombineGlobally(outputs.Merge(profile_lib.Profile, profile_lib.merge_all))
                | "WriteProfile" >> beam.Map(
                    outputs.write_profile, os.path.join(self._reading_uri, outputs.PROFILE_PARTS), self._part)
            )
        return tuple(converted[tag] for tag in tags)


class Executor(csv_executor.Executor):
    """CsvExampleGen's executor; see the module docstring for what it adds."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _TypedCsvToExample

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        """TFX's (base_example_gen_executor.py), writing each split with outputs.WriteSplit; then the
        reading reports and profiles of the input splits, merged."""
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
        output_config = example_gen_pb2.Output()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY], output_config)
        examples.split_names = artifact_utils.encode_split_names(
            example_gen_utils.generate_output_split_names(input_config, output_config))
        with self._make_beam_pipeline() as pipeline:
            splits = _blocks_by_split(pipeline, dict(exec_properties, **{_READING_URI: examples.uri}),
                                      input_config, output_config)
            for split, blocks in splits.items():
                _ = blocks | f"WriteSplit[{split}]" >> outputs.WriteSplit(artifact_utils.get_split_uri([examples], split))
        payload_format = exec_properties.get(standard_component_specs.OUTPUT_DATA_FORMAT_KEY)
        if payload_format:
            examples_utils.set_payload_format(examples, payload_format)
        file_format = exec_properties.get(standard_component_specs.OUTPUT_FILE_FORMAT_KEY)
        if file_format:
            examples_utils.set_file_format(examples, write_split.to_file_format_str(file_format))
        split_of_part = {outputs.part_name(split.pattern): split.name for split in input_config.splits}
        outputs.record_reading(examples, split_of_part)
        outputs.record_profile(examples, split_of_part)


def _blocks_by_split(pipeline, exec_properties, input_config, output_config) -> Dict[str, beam.PCollection]:
    """{output split: its blocks of records}, as TFX's GenerateExamplesByBeam splits
    (base_example_gen_executor.py): with output splits, the one input split partitioned into
    them by hash buckets; without, each input split is an output split."""
    names = example_gen_utils.generate_output_split_names(input_config, output_config)
    if output_config.split_config.splits:
        assert len(input_config.splits) == 1, "input must have only one split when output split is specified."
        buckets = [sum(s.hash_buckets for s in output_config.split_config.splits[:i + 1])
                   for i in range(len(output_config.split_config.splits))]
        splitter = outputs.Splitter(buckets, output_config.split_config)
        blocks = pipeline | "InputToRecord" >> TypedBlocks(exec_properties, input_config.splits[0].pattern, splitter)
        return dict(zip(names, blocks))
    return {name: (pipeline | f"InputToRecord[{split.name}]" >> TypedBlocks(exec_properties, split.pattern))[0]
            for name, split in zip(names, input_config.splits)}


class CheckedCsvExampleGen(example_gen_component.FileBasedExampleGen):
    """TFX's CsvExampleGen (its driver: span resolution, caching on the input fingerprint) with
    the checked, schema-typed executor above; `custom_config=custom_config(schema_text)` gives it
    the curated schema (without one, every column is inferred as CsvExampleGen infers it)."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, input_base: str, input_config=None, output_config=None, range_config=None,
                 custom_config: Optional[example_gen_pb2.CustomConfig] = None):
        super().__init__(input_base=input_base, input_config=input_config, output_config=output_config,
                         range_config=range_config, custom_config=custom_config)
