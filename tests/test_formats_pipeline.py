"""The same rows in other forms through a real pipeline run: the shipped span 3 written as a
Spark output folder of Parquet part files, and the shipped serving batch as gzipped JSON lines,
judged up to the data gate (`--stage validate`), give what the session's run of the same rows as
CSV recorded (tests/conftest.py `runs`, cold): the same rows read and left out, the same findings
of every validator, the same gate decision. Each format's own rules and refusals are tested in
tests/test_source_*.py and tests/test_compressed_input.py."""

import gzip
import json
import uuid

import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from core.common import names
from mlmd import query, runs as runs_lib
from tests import forms
from tests.conftest import _run_pipeline
from tests.paths import DATA_ROOT

pytestmark = pytest.mark.pipeline


def _table(path):
    """A CSV as a typed table, as an exporter holds it (an empty number cell is a null)."""
    return pa_csv.read_csv(path)


def _spark_folder(table, folder):
    """Two Parquet part files as Spark writes them, with its marker and checksum files."""
    folder.mkdir(parents=True)
    half = table.num_rows // 2
    job = uuid.UUID(int=3)
    for part, rows in enumerate([table.slice(0, half), table.slice(half)]):
        name = f"part-{part:05d}-{job}-c000.snappy.parquet"
        pq.write_table(rows, folder / name, compression="snappy", row_group_size=4096)
        (folder / f".{name}.crc").write_bytes(b"crc")
    (folder / "_SUCCESS").write_bytes(b"")


def _json_lines(table, path):
    """One JSON object per row, nulls as null, gzipped as an export job writes them."""
    path.parent.mkdir(parents=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for row in table.to_pylist():
            f.write(json.dumps(row) + "\n")


@pytest.fixture(scope="module")
def forms_run(runs, tmp_path_factory):
    root = tmp_path_factory.mktemp("forms-data")
    _spark_folder(_table(DATA_ROOT / "train" / "span-3" / "data.csv"), root / "train" / "span-3")
    _json_lines(_table(DATA_ROOT / "serving" / "data.csv"), root / "serving" / "part-00000.jsonl.gz")
    outputs = tmp_path_factory.mktemp("forms-outputs")
    proc, _ = _run_pipeline(outputs, "--data-root", str(root), "--span", "3", "--stage", "validate",
                            "--run-id", "forms")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    store = query.sqlite_store(str(outputs / "metadata.sqlite"))
    csv_run = runs_lib.load_run(runs["store"], runs["first_runs"][0])
    return csv_run, runs_lib.load_run(store, runs_lib.run_contexts(store)[-1])


def _read(examples):
    return [(e["span"], e["quarantined_rows"], forms.unplaced(e["typed_reading"])) for e in examples]


def _findings(run):
    found = {}
    for validation in run.validations:
        found[validation.node] = sorted(
            (v.dataset.split("[")[0], v.finding.feature, v.finding.check, tuple(v.finding.types), v.severity,
             v.finding.fraction) for v in validation.verdicts)
    return found


def test_parquet_span_and_json_lines_serving_read_as_the_csv_rows(forms_run):
    csv_run, other = forms_run
    assert _read(other.examples) == _read(csv_run.examples)
    assert _read(other.serving_examples) == _read(csv_run.serving_examples)


def test_parquet_span_and_json_lines_serving_give_the_csv_findings_and_decision(forms_run):
    csv_run, other = forms_run
    assert set(_findings(other)) >= set(names.VALIDATORS) and _findings(other) == _findings(csv_run)
    assert other.gate["decision"] == csv_run.gate["decision"]
