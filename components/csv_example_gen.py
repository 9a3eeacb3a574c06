"""CsvExampleGen's executor with the input checked first: one-line errors, BOM, large fields.

TFX's CsvExampleGen reads the header with `line.split(',')` (a byte-order mark stays in the first
column's name; a quoted name is cut at its comma), fails inside Beam on a ragged row with a
message naming neither file nor line, and stops at the csv module's 128 KiB field limit. This
executor runs `csv_input.check_files` over the split's files before building the Beam graph, so
a broken file fails the execution with `<file>: line N: <problem>` before anything is written,
then builds CsvExampleGen's own graph with the checked header. Its Examples are CsvExampleGen's.
"""

import apache_beam as beam
from tfx.components.example_gen.csv_example_gen import component as csv_component
from tfx.components.example_gen.csv_example_gen import executor as csv_executor
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx_bsl.coders import csv_decoder

from core import csv_input


class _ReadCsvRecords(csv_executor._ReadCsvRecordsFromTextFile):
    """TFX's record reader, in a worker whose csv module accepts fields up to FIELD_LIMIT."""

    def setup(self):
        csv_input.allow_large_fields()


class _CheckedCsvToExample(csv_executor._CsvToExample):
    def expand(self, pipeline: beam.Pipeline) -> beam.pvalue.PCollection:
        files = sorted(fileio.glob(self._csv_pattern))
        if not files:
            raise csv_input.CsvInputError(f"{self._csv_pattern}: no CSV file matches")
        column_names = csv_input.check_files(files, opener=lambda path: fileio.open(path, "rb"))
        parsed_csv_lines = (
            pipeline
            | "CreateFilenames" >> beam.Create(files)
            | "ReadFromText" >> beam.ParDo(_ReadCsvRecords())
            | "ParseCSVLine" >> beam.ParDo(csv_decoder.ParseCSVLine(delimiter=","))
            | "ExtractParsedCSVLines" >> beam.Keys()
        )
        column_infos = beam.pvalue.AsSingleton(
            parsed_csv_lines
            | "InferColumnTypes" >> beam.CombineGlobally(
                csv_decoder.ColumnTypeInferrer(column_names, skip_blank_lines=True)
            )
        )
        return parsed_csv_lines | "ToTFExample" >> beam.ParDo(csv_executor._ParsedCsvToTfExample(), column_infos)


class Executor(csv_executor.Executor):
    """CsvExampleGen's executor; see the module docstring for what it adds."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _CheckedCsvToExample


class CheckedCsvExampleGen(csv_component.CsvExampleGen):
    """TFX's CsvExampleGen (driver, span resolution, caching on the input fingerprint) with the
    checked executor above."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
