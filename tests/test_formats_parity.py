"""The same real rows, each form a tool writes them in, through the pipeline's ExampleGen executor:
CSV, compressed CSV, JSON lines, Parquet (pyarrow, pandas with nullable Int64), a Spark output
folder, TFRecord (plain and gzipped) all give the same Examples (byte for byte, in the same
splits), the same rows left out for the same reasons, and the same reading report. The rows hold
defects from the corpus (tests/defects.py): text in a FLOAT feature (left out as unreadable) and
hours that disagree with their timestamps (left out by a rule across columns).

The whole pipeline on other forms: tests/test_formats_pipeline.py; each format's own rules and
refusals: tests/test_source_*.py, tests/test_compressed_input.py."""

import csv
import gzip
import json
import shutil

import pytest
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from components import span_example_gen
from components.csv_example_gen import custom_config
from core.common import names
from core.settings import schema_files
from pipeline import config as config_lib
from tests import binary_forms, defects, forms

pytestmark = pytest.mark.component

FORMS = ["csv.gz", "csv.xz", "jsonl.gz", "parquet", "parquet-pandas", "spark-parquet", "tfrecord.gz"]


def _rows():
    rows, _ = defects.DEFECTS["string_in_fare"]()
    return defects._every(rows, 0.03, defects._shift_hour)


def _properties(input_base):
    texts = schema_files.read_version(config_lib.default_schema_path())
    splits = [example_gen_pb2.Input.Split(name="single_split", pattern=names.SPAN_PATTERN)]
    output = example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
        example_gen_pb2.SplitConfig.Split(name=names.TRAIN_SPLIT, hash_buckets=4),
        example_gen_pb2.SplitConfig.Split(name=names.EVAL_SPLIT, hash_buckets=1)]))
    return {
        "input_base": str(input_base),
        "input_config": proto_utils.proto_to_json(example_gen_pb2.Input(splits=splits)),
        "output_config": proto_utils.proto_to_json(output), "range_config": None,
        "custom_config": proto_utils.proto_to_json(custom_config(texts["schema_text"], ",", texts["constraints_text"],
                                                                  texts["checks_text"])),
        "output_data_format": example_gen_pb2.FORMAT_TF_EXAMPLE,
        "output_file_format": example_gen_pb2.FORMAT_TFRECORDS_GZIP,
        span_example_gen.REQUESTED_SPAN: 3, span_example_gen.SCHEMA_DIR: "", span_example_gen.SCHEMA_VERSION: "",
    }


def _records(path):
    """Every record of a gzipped TFRecord file (its framing read plainly: length, crc, data, crc)."""
    data, records, at = gzip.open(path).read(), [], 0
    while at < len(data):
        length = int.from_bytes(data[at:at + 8], "little")
        records.append(data[at + 12:at + 12 + length])
        at += 12 + length + 4
    return records


def _example_gen(tmp_path, form):
    written = binary_forms.write(tmp_path / "written", form, _rows())
    span = tmp_path / "input" / "span-3"
    if written.is_dir():
        shutil.copytree(written, span)
    else:
        span.mkdir(parents=True)
        shutil.copy(written, span / written.name)
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    span_example_gen.Executor().Do({}, {"examples": [examples]}, _properties(tmp_path / "input"))
    splits = {split: sorted(r for f in sorted((tmp_path / "examples" / f"Split-{split}").glob("*.gz"))
                            for r in _records(f))
              for split in (names.TRAIN_SPLIT, names.EVAL_SPLIT)}
    with open(next((tmp_path / "examples").rglob("Quarantine/*.csv")), newline="") as f:
        # The reasons of each row left out (its cells are kept as the file wrote them: `6` in CSV
        # is `6.0` in a pandas export, both INT 6).
        left_out = sorted(row["reasons"] for row in csv.DictReader(f))
    return {
        "quarantined": examples.get_int_custom_property(names.QUARANTINED_ROWS),
        "reading": forms.unplaced(json.loads(examples.get_string_custom_property(names.TYPED_READING))),
        "splits": splits, "left_out": left_out,
    }


@pytest.fixture(scope="module")
def from_csv(tmp_path_factory):
    return _example_gen(tmp_path_factory.mktemp("csv"), "csv")


@pytest.mark.parametrize("form", FORMS)
def test_every_form_gives_the_csvs_examples_and_rows_left_out(from_csv, tmp_path, form):
    assert from_csv["quarantined"] > 10 and len(from_csv["left_out"]) == from_csv["quarantined"]
    assert any("fare" in reasons for reasons in from_csv["left_out"])
    assert any("rule hour_of_start_timestamp" in reasons for reasons in from_csv["left_out"])
    found = _example_gen(tmp_path, form)
    assert found["quarantined"] == from_csv["quarantined"]
    assert found["reading"] == from_csv["reading"]
    assert found["left_out"] == from_csv["left_out"]
    if form.startswith("tfrecord"):
        # A tf.Example cannot hold a feature with no value: a column empty in every row (the real
        # rows' pickup_census_tract) is absent from every record, so the Examples differ by that
        # empty feature, and TFX splits a record by its bytes. The same Examples otherwise.
        assert _without_empty(found["splits"]) == _without_empty(from_csv["splits"])
    else:
        assert found["splits"] == from_csv["splits"]


def _without_empty(splits):
    import tensorflow as tf

    kept = []
    for records in splits.values():
        for record in records:
            example = tf.train.Example.FromString(record)
            for name in [n for n, f in example.features.feature.items() if not f.ListFields()[0][1].value]:
                del example.features.feature[name]
            kept.append(example.SerializeToString(deterministic=True))
    return sorted(kept)


def test_a_folder_of_two_formats_is_one_line_naming_both(tmp_path, capfd):
    from tfxgate.command import cli

    rows = _rows()
    binary_forms.write(tmp_path / "mixed", "csv", rows)
    binary_forms.write(tmp_path / "mixed", "parquet", rows)
    code = cli.main(["validate", "--data", str(tmp_path / "mixed"), "--baseline", "none"])
    out, err = capfd.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and out == "" and len(lines) == 1, err
    assert "more than one format" in lines[0] and "csv: " in lines[0] and "parquet: " in lines[0]
