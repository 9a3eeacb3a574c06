"""TFRecord files of tf.train.Example as a source (core/reading/sources/tfrecord.py): the same real
rows as CSV and as Examples (plain, and gzipped as TFX's ExampleGen names them) are judged alike;
the types the Examples carry are checked against the schema through their text; a broken file is
one line naming the record, exit 2. The Examples are written by TensorFlow's own writer."""

import csv
import json

import numpy as np
import pytest

from core.reading import cells
from tests import defects
from tfxgate.command import cli

pytestmark = pytest.mark.unit

GZ_NAME = "data_tfrecord-00000-of-00001.gz"  # what TFX's ExampleGen writes in each split's folder


def _kinds():
    from core.reading import report
    from core.settings import schema_files
    from pipeline import config as config_lib

    return report.schema_kinds(schema_files.load(config_lib.default_schema_path()))


def _feature(feature, values):
    """`values` into the feature's list of their own type (int, float or bytes)."""
    if isinstance(values[0], bytes):
        feature.bytes_list.value.extend(values)
    elif isinstance(values[0], float):
        feature.float_list.value.extend(values)
    else:
        feature.int64_list.value.extend(values)


def _example(row, kinds, carried=None):
    """A CSV row as the tf.Example a typed writer makes of it: each cell in the list of its schema
    type when its text is one (cells.read_cell), as bytes otherwise; an empty cell absent.
    carried: {feature: [values]} carried as they are, whatever the schema says."""
    import tensorflow as tf

    example = tf.train.Example()
    for name, text in row.items():
        if name in (carried or {}):
            if carried[name]:
                _feature(example.features.feature[name], carried[name])
            continue
        if text == "":
            continue
        kind = kinds.get(name, cells.BYTES)
        value, reason = cells.read_cell(text, kind)
        if kind != cells.BYTES and reason is None:
            _feature(example.features.feature[name], [value if kind == cells.INT else float(value)])
        else:
            _feature(example.features.feature[name], [text.encode()])
    return example.SerializeToString()


def _write(path, rows, kinds, gzip=False, carried=None):
    import tensorflow as tf

    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path), options="GZIP" if gzip else None) as writer:
        for i, row in enumerate(rows):
            writer.write(_example(row, kinds, (carried or {}).get(i)))
    return path


def _csv_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _validate(capfd, path):
    code = cli.main(["validate", "--data", str(path), "--environment", "TRAINING", "--baseline", "none",
                     "--format", "json"])
    out, err = capfd.readouterr()
    return code, out, err


def _findings(report):
    return sorted((a["feature"], tuple(a["types"]), a["severity"], a.get("check")) for a in report["anomalies"])


def _same_rows_three_ways(tmp_path, name):
    """(CSV, TFRecord, gzipped TFRecord in an ExampleGen split folder) of one defect's rows."""
    data = defects.write(tmp_path / "csv", name)
    rows, kinds = _csv_rows(data), _kinds()
    plain = _write(tmp_path / f"{name}.tfrecord", rows, kinds)
    gz = _write(tmp_path / "Split-train" / GZ_NAME, rows, kinds, gzip=True)
    return data, plain, gz.parent


@pytest.mark.parametrize("name", ["clean_training", "string_in_fare", "hour_out_of_domain",
                                  "dropoff_fill_drop"])
def test_the_same_rows_as_csv_and_as_examples_give_the_same_findings(tmp_path, capfd, name):
    reports = []
    for path in _same_rows_three_ways(tmp_path, name):
        code, out, err = _validate(capfd, path)
        assert code in (0, 1), err
        report = json.loads(out)
        reports.append((code, report["rows"], report["result"], _findings(report), report["left_out"],
                        _rows_of(report["outside_domain"], 1 if path.suffix == ".csv" else 0)))
    assert reports[0] == reports[1] == reports[2]
    if name != "clean_training":
        assert reports[0][3], "the defect is found in every format"


def test_the_reading_reports_are_the_same(tmp_path):
    """The rows left out and the values outside their domain, counted and located alike: a CSV
    row's line counts its header, a record's number does not."""
    import dataclasses

    from core.batch import batch_stats

    kinds, reports = _kinds(), []
    for path in _same_rows_three_ways(tmp_path, "string_in_fare"):
        batch = batch_stats.read(str(path), kinds)
        assert batch.rows == len(defects.base_rows())
        reports.append(_rows_of(dataclasses.asdict(batch.report), 1 if path.suffix == ".csv" else 0))
    assert reports[0]["problems"] and reports[0] == reports[1] == reports[2]


def _rows_of(found, header_lines):
    """`found` with every example's (file, line) as the 1-based row it names."""
    if isinstance(found, dict):
        if "line" in found and "file" in found:
            found = {**{k: v for k, v in found.items() if k != "file"}, "line": found["line"] - header_lines}
        return {k: _rows_of(v, header_lines) for k, v in found.items()}
    if isinstance(found, list):
        return [_rows_of(v, header_lines) for v in found]
    return found


def test_an_int_feature_carried_as_a_fraction_is_not_int(tmp_path, capfd):
    rows, kinds = defects.base_rows(), _kinds()
    feature = next(n for n, k in kinds.items() if k == cells.INT and rows[0].get(n))
    carried = {i: {feature: [float(rows[i][feature]) + 0.5]} for i in range(0, len(rows), 50) if rows[i][feature]}
    code, out, err = _validate(capfd, _write(tmp_path / "fraction.tfrecord", rows, kinds, carried=carried))
    assert (feature, ("INT_TYPE_NOT_INT_STRING",)) in [f[:2] for f in _findings(json.loads(out))], err


def test_an_int_carried_for_a_float_feature_is_read(tmp_path, capfd):
    rows, kinds = defects.base_rows(), _kinds()
    feature = next(n for n, k in kinds.items() if k == cells.FLOAT and rows[0].get(n))
    carried = {i: {feature: [int(float(rows[i][feature]))]} for i in range(len(rows)) if rows[i][feature]}
    code, out, err = _validate(capfd, _write(tmp_path / "whole_floats.tfrecord", rows, kinds, carried=carried))
    assert feature not in [f[0] for f in _findings(json.loads(out)) if f[3] == "typed_reading"], err


def test_a_feature_with_more_than_one_value_is_nested(tmp_path, capfd):
    rows, kinds = defects.base_rows(), _kinds()
    feature = next(n for n, k in kinds.items() if k == cells.BYTES and rows[0].get(n))
    carried = {i: {feature: [rows[i][feature].encode(), rows[i + 1][feature].encode()]}
               for i in range(0, len(rows) - 1, 40) if rows[i][feature] and rows[i + 1][feature]}
    code, out, err = _validate(capfd, _write(tmp_path / "two_values.tfrecord", rows, kinds, carried=carried))
    assert (feature, ("FEATURE_TYPE_HIGH_NUMBER_VALUES",)) in [f[:2] for f in _findings(json.loads(out))], err


def test_cells_as_text(tmp_path):
    """Each value's text; a float's the shortest that reads back as the same float32; records
    numbered from 1; blocks bounded."""
    from core.reading.sources import tfrecord

    rows, kinds = defects.base_rows(n=300), _kinds()
    floats = [n for n, k in kinds.items() if k == cells.FLOAT]
    carried = {3: {floats[0]: []}, 4: {floats[0]: [1.5, 2.5]}}
    path = _write(tmp_path / "rows.tfrecord", rows, kinds, carried=carried)
    with tfrecord.TFRecordSource([str(path)]) as source:
        source.check()
        assert set(source.columns) == {n for r in rows for n, v in r.items() if v}
        records = list(source.records(str(path)))
        assert [n for n, _ in records] == list(range(1, len(rows) + 1))
        for (_, fields), row in zip(records[5:], rows[5:]):
            for name, text in zip(source.columns, fields):
                if kinds.get(name) == cells.FLOAT and row[name]:
                    assert np.float32(text) == np.float32(row[name]) and len(text) <= len(repr(np.float32(row[name])))
                elif kinds.get(name) == cells.INT and row[name]:
                    assert int(text) == int(float(row[name]))
                else:
                    assert text == row[name]
        column = source.columns.index(floats[0])
        assert (records[3][1][column], records[4][1][column]) == ("", cells.NESTED_CELL)
        assert source.locate(str(path), [0, 299, 300]) == {0: 1, 299: 300}
        tfrecord.BLOCK_ROWS, saved = 64, tfrecord.BLOCK_ROWS
        try:
            sizes = [b.num_rows for b in source.blocks(str(path), [floats[0]])]
        finally:
            tfrecord.BLOCK_ROWS = saved
        assert max(sizes) == 64 and sum(sizes) == len(rows)


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x20]) + data[at + 1:]


def _record_start(data: bytes, number: int) -> int:
    """The offset of the 1-based record `number` in a plain TFRecord file."""
    import struct

    pos = 0
    for _ in range(number - 1):
        pos += 12 + struct.unpack_from("<Q", data, pos)[0] + 4
    return pos


BROKEN = {
    # name -> (the file's bytes from a good file's, words the error must say)
    "bad_checksum_in_record_13": (lambda d: _flip(d, _record_start(d, 13) + 20), "record 13: its checksum does not match"),
    "bad_length_checksum_in_record_7": (lambda d: _flip(d, _record_start(d, 7) + 1), "record 7: its length's checksum"),
    "truncated_in_record_40": (lambda d: d[:_record_start(d, 40) + 30], "record 40: the file ends inside it"),
    "empty": (lambda d: b"", "no data rows"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_file_is_one_line_and_exit_2(tmp_path, capfd, name):
    good = _write(tmp_path / "good.tfrecord", defects.base_rows(n=60), _kinds()).read_bytes()
    change, words = BROKEN[name]
    path = tmp_path / f"{name}.tfrecord"
    path.write_bytes(change(good))
    code, out, err = _validate(capfd, path)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and words in err and str(path) in err, err


def test_a_truncated_gzip_file_is_one_line_and_exit_2(tmp_path, capfd):
    good = _write(tmp_path / "good" / GZ_NAME, defects.base_rows(n=300), _kinds(), gzip=True).read_bytes()
    path = tmp_path / "truncated" / GZ_NAME
    path.parent.mkdir()
    path.write_bytes(good[: len(good) * 2 // 3])
    code, out, err = _validate(capfd, path)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and str(path) in err and "record " in err, err


def test_bytes_that_are_not_utf8_are_one_line_naming_record_and_feature(tmp_path, capfd):
    rows, kinds = defects.base_rows(n=60), _kinds()
    feature = next(n for n, k in kinds.items() if k == cells.BYTES and rows[9].get(n))
    latin1 = rows[9][feature].encode() + "é".encode("latin-1")
    path = _write(tmp_path / "latin1.tfrecord", rows, kinds, carried={9: {feature: [latin1]}})
    code, out, err = _validate(capfd, path)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"record 10: feature '{feature}' is not UTF-8 text" in err and str(path) in err


def test_records_that_are_not_examples_are_one_line_and_exit_2(tmp_path, capfd):
    """CSV lines written as TFRecord records: framed well, each no tf.Example."""
    import tensorflow as tf

    path = tmp_path / "csv_lines_as_records.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for line in defects.write(tmp_path, "clean_training").read_bytes().splitlines()[:50]:
            writer.write(line)
    code, out, err = _validate(capfd, path)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{path}: record 1: not a tf.Example" in err


def test_the_columns_are_every_files_features_even_one_first_met_in_a_last_record(tmp_path):
    from core.reading.sources import tfrecord

    rows, kinds = defects.base_rows(n=200), _kinds()
    late = next(n for n in rows[0] if rows[-1][n])
    first = _write(tmp_path / "part-00000.tfrecord", [{k: v for k, v in r.items() if k != late} for r in rows], kinds)
    second = _write(tmp_path / "part-00001.tfrecord",
                    [{k: v for k, v in r.items() if k != late or i == len(rows) - 1} for i, r in enumerate(rows)], kinds)
    with tfrecord.TFRecordSource([str(first), str(second)]) as source:
        assert late in source.columns
        [texts] = [b.column(0).to_pylist() for b in source.blocks(str(second), [late])]
        assert set(texts[:-1]) == {""} and texts[-1] != ""
        assert {t for b in source.blocks(str(first), [late]) for t in b.column(0).to_pylist()} == {""}


def test_reading_examples_loads_no_tensorflow(tmp_path):
    """tfx_bsl's decoder and google_crc32c: a TFRecord batch is read without TensorFlow's import."""
    import subprocess
    import sys

    from tests.paths import PROJECT_ROOT

    path = _write(tmp_path / "rows.tfrecord", defects.base_rows(n=50), _kinds(), gzip=True)
    code = ("import sys; from core.reading import source; s = source.open_batch(sys.argv[1]); s.check(); "
            "n = sum(b.num_rows for b in s.blocks(s.files[0])); print(n, s.format, 'tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, str(path)], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert done.stdout.split() == ["50", "tfrecord", "False"], done.stderr


def test_examples_written_by_tfx_own_example_gen_are_read(capfd):
    """TFX's CsvExampleGen output of Chicago taxi trips, shipped in TFX's package: twelve gzipped
    shards, features given without a value or a type (an empty census tract)."""
    import pathlib

    import tensorflow as tf
    import tfx

    split = pathlib.Path(tfx.__file__).parent / "components" / "testdata" / "csv_example_gen" / "Split-train"
    shards = sorted(str(p) for p in split.glob("data_tfrecord-*.gz"))
    assert len(shards) == 12
    code, out, err = _validate(capfd, split)
    assert code in (0, 1), err
    assert json.loads(out)["rows"] == sum(1 for _ in tf.data.TFRecordDataset(shards, compression_type="GZIP"))
