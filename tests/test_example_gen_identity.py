"""The pipeline's ExampleGen writes the same bytes it wrote before it was made faster: for each
case, the records of every split in order, profile.json, typed_reading.json and the quarantine
are compared by sha256 (the run's folder in a file name read as `<work>`) with tests/golden/example_gen_digests.json, written by the executor as it
was before (`python -m tests.test_example_gen_identity` writes it anew: only when a change of
output is meant). One byte changed anywhere fails the case.

The cases are the shipped spans (one file; three files in one span, so batches of 4096 rows cross
a file's end) and real rows with defects from the corpus (tests/defects.py: text in a FLOAT
feature, hours that disagree with their timestamps), so rows are quarantined and rules broken, in
the forms whose sources hand out blocks differently (CSV, gzipped CSV, Parquet in row groups of
300, gzipped TFRecord, `key=value/` partition folders), with a missing-value marker, with columns
the schema does not know (inferred), and split by a feature (`partition_feature_name`).
"""

import csv
import gzip
import hashlib
import json
import pathlib
import shutil
import sys

import pytest
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from components import span_example_gen
from components.csv_example_gen import custom_config
from core.common import names
from core.settings import schema_files
from pipeline import config as config_lib
from tests import binary_forms, defects, forms
from tests.paths import DATA_ROOT

pytestmark = pytest.mark.component

GOLDEN = pathlib.Path(__file__).parent / "golden" / "example_gen_digests.json"
SPAN = 7


def _defect_rows():
    rows, _ = defects.DEFECTS["string_in_fare"]()
    return defects._every(rows, 0.03, defects._shift_hour)


def _shipped(span_dir: pathlib.Path, spans=(3,)) -> None:
    for span in spans:
        shutil.copy(DATA_ROOT / "train" / f"span-{span}" / "data.csv", span_dir / f"part-{span}.csv")


def _form(form):
    def write(span_dir: pathlib.Path) -> None:
        writer = binary_forms if form in binary_forms.FORMS else forms
        written = writer.write(span_dir.parent / f"written-{form}", form, _defect_rows())
        shutil.copy(written, span_dir / written.name)
    return write


def _partitioned(span_dir: pathlib.Path) -> None:
    """The defect rows in `trip_start_month=<month>/` folders, the month no column of the files."""
    rows = _defect_rows()
    columns = [c for c in rows[0] if c != "trip_start_month"]
    for month in sorted({r["trip_start_month"] for r in rows}, key=int):
        defects.write_rows(span_dir / f"trip_start_month={month}" / "part-0.csv",
                           [r for r in rows if r["trip_start_month"] == month], columns)


def _unknown_columns(span_dir: pathlib.Path) -> None:
    """The defect rows with two columns the schema does not know: copies of a text and an integer column."""
    rows = [dict(r, payment_type_as_written=r["payment_type"], seconds_as_written=r["trip_seconds"])
            for r in _defect_rows()]
    defects.write_rows(span_dir / "data.csv", rows)


# name -> (writes the span's files, custom_config's missing markers, partition feature)
CASES = {
    "shipped_span_3": (_shipped, (), ""),
    "shipped_spans_1_2_3_in_one_span": (lambda d: _shipped(d, (1, 2, 3)), (), ""),
    "defects_csv": (_form("csv"), (), ""),
    "defects_csv_gz": (_form("csv.gz"), (), ""),
    "defects_parquet": (_form("parquet"), (), ""),
    "defects_tfrecord_gz": (_form("tfrecord.gz"), (), ""),
    "defects_partition_folders": (_partitioned, (), ""),
    "defects_missing_marker": (_form("csv"), ("n/a",), ""),
    "defects_unknown_columns": (_unknown_columns, (), ""),
    "shipped_span_3_by_payment_type": (_shipped, (), "payment_type"),
}


def _properties(input_base, missing, feature):
    texts = schema_files.read_version(config_lib.default_schema_path())
    split = example_gen_pb2.SplitConfig.Split
    output = example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(
        splits=[split(name=names.TRAIN_SPLIT, hash_buckets=4), split(name=names.EVAL_SPLIT, hash_buckets=1)],
        **({"partition_feature_name": feature} if feature else {})))  # a oneof: set, even empty, it splits by it
    return {
        "input_base": str(input_base), "range_config": None,
        "input_config": proto_utils.proto_to_json(example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name="single_split", pattern=names.SPAN_PATTERN)])),
        "output_config": proto_utils.proto_to_json(output),
        "custom_config": proto_utils.proto_to_json(custom_config(
            texts["schema_text"], ",", texts["constraints_text"], texts["checks_text"], missing=missing)),
        "output_data_format": example_gen_pb2.FORMAT_TF_EXAMPLE,
        "output_file_format": example_gen_pb2.FORMAT_TFRECORDS_GZIP,
        span_example_gen.REQUESTED_SPAN: SPAN, span_example_gen.SCHEMA_DIR: "", span_example_gen.SCHEMA_VERSION: "",
    }


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _payload(path: pathlib.Path) -> bytes:
    """A gzipped TFRecord file's records, each with its length (the framing's CRCs left out)."""
    data, out, at = gzip.open(path).read(), [], 0
    while at < len(data):
        length = int.from_bytes(data[at:at + 8], "little")
        out.append(data[at:at + 8] + data[at + 12:at + 12 + length])
        at += 12 + length + 4
    return b"".join(out)


def digests(name: str, work: pathlib.Path) -> dict:
    """The case's ExampleGen run in `work`: sha256 of each output, and counts to read a failure by."""
    write, missing, feature = CASES[name]
    span_dir = work / "input" / f"span-{SPAN}"
    span_dir.mkdir(parents=True)
    write(span_dir)
    examples = standard_artifacts.Examples()
    examples.uri = str(work / "examples")
    context = base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=list(config_lib.beam_args_for(())))
    span_example_gen.Executor(context).Do({}, {"examples": [examples]}, _properties(work / "input", missing, feature))
    root = pathlib.Path(examples.uri)
    found = {}
    for split in (names.TRAIN_SPLIT, names.EVAL_SPLIT):
        payload = b"".join(_payload(f) for f in sorted((root / f"Split-{split}").glob("*.gz")))
        found[f"Split-{split}"] = _sha(payload)
    for file in ["profile.json", "typed_reading.json"] + sorted(
            str(p.relative_to(root)) for p in root.glob(f"{names.QUARANTINE_FOLDER}/*.csv")):
        found[file] = _sha((root / file).read_bytes().replace(str(work).encode(), b"<work>"))  # files are named
    with open(next(root.glob(f"{names.QUARANTINE_FOLDER}/*.csv")), newline="") as f:
        found["quarantined_rows"] = sum(1 for _ in csv.DictReader(f))
    return found


@pytest.mark.parametrize("name", list(CASES))
def test_example_gen_writes_the_bytes_it_wrote_before(name, tmp_path):
    expected = json.loads(GOLDEN.read_text())[name]
    assert digests(name, tmp_path) == expected


def test_the_defect_cases_quarantine_rows_and_break_rules():
    golden = json.loads(GOLDEN.read_text())
    assert all(golden[n]["quarantined_rows"] > 10 for n in CASES if n.startswith("defects_"))


def main(argv) -> int:
    """Writes the golden digests of every case (run on the executor whose bytes are the reference)."""
    import tempfile

    golden = {}
    for name in CASES:
        with tempfile.TemporaryDirectory() as work:
            golden[name] = digests(name, pathlib.Path(work))
            print(name, golden[name], flush=True)
    GOLDEN.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
