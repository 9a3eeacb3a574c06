"""JSON lines as a source (core/reading/sources/jsonl.py): real rows written as an exporter writes
them (tests/forms.py), read as the CSV of the same rows is read; a line that is not one JSON
object is one line naming the file and the line, exit 2."""

import gzip
import json

import pytest

from core.common.errors import InputError
from core.reading import cells
from core.reading import source as source_lib
from core.reading.sources import jsonl
from tests import defects, forms
from tfxgate.command import cli

pytestmark = pytest.mark.unit


def _write(tmp_path, name: str, lines, compress=None):
    path = tmp_path / name
    data = "".join(line + "\n" for line in lines).encode()
    path.write_bytes(compress(data) if compress else data)
    return path


def _real_lines(n: int = 50):
    return forms.json_lines(defects.base_rows(n=n)).splitlines()


def test_the_rows_are_the_csv_rows_cell_for_cell(tmp_path):
    """Every cell the text CSV holds, once an exporter's typed numbers are read back by the schema's
    rules: the same text where the number was written alike, and every record where CSV's is."""
    rows = defects.base_rows(n=300)
    path = forms.write(tmp_path, "jsonl", rows)
    with source_lib.open_batch(str(path)) as source:
        assert (source.format, source.unit) == ("jsonl", "line")
        assert source.columns == list(rows[0])
        records = list(source.records(source.files[0]))
        blocks = list(source.blocks(source.files[0]))
        assert source.locate(source.files[0], [0, 299]) == {0: 1, 299: 300}
    assert [line for line, _ in records] == list(range(1, 301))
    exported = [json.loads(line) for line in path.read_text().splitlines()]
    for (_, fields), row, obj in zip(records, rows, exported):
        for name, field in zip(rows[0], fields):
            value = obj[name]
            if value is None:
                assert field == "" == row[name]
            elif isinstance(value, str):
                assert field == row[name]
            else:
                assert float(field) == float(row[name])  # `8.0` for `8`: pandas' floats
    table = blocks[0]
    assert all(t == "string" for t in map(str, table.schema.types))
    assert table.to_pylist() == [dict(zip(rows[0], fields)) for _, fields in records]


def test_cells_are_texts_as_written(tmp_path):
    """A number as its token, a numeric string as itself, true/false, null and a missing key as
    missing, an object or a list as NESTED_CELL; a key first seen late is a column."""
    row = defects.base_rows(n=1)[0]
    first = json.dumps({"fare": json.loads(row["fare"]), "company": row["company"]})
    later = ('{"fare": 1e3, "company": null, "tips": "' + row["tips"] + '"}',
             '{"fare": [1, 2], "company": {"name": "' + row["company"] + '"}, "paid": true}',
             '{"fare": 8.0, "paid": false, "trip_seconds": 8}')
    path = _write(tmp_path, "data.jsonl", [first, "", *later])
    with source_lib.open_batch(str(path)) as source:
        assert source.columns == ["fare", "company", "tips", "paid", "trip_seconds"]
        records = list(source.records(source.files[0]))
        assert source.has_rows(source.files[0])
    assert records == [
        (1, [row["fare"], row["company"], "", "", ""]),
        (3, ["1e3", "", row["tips"], "", ""]),
        (4, [cells.NESTED_CELL, cells.NESTED_CELL, "", "true", ""]),
        (5, ["8.0", "", "", "false", "8"]),
    ]


def test_blocks_are_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonl, "BLOCK_ROWS", 64)
    path = forms.write(tmp_path, "jsonl.gz", defects.base_rows(n=200))
    with source_lib.open_batch(str(path)) as source:
        sizes = [b.num_rows for b in source.blocks(source.files[0], ["fare", "company"])]
        assert [b.schema.names for b in source.blocks(source.files[0], ["fare", "company"])][0] == ["fare", "company"]
    assert sizes == [64, 64, 64, 8]


def test_a_list_where_one_value_belongs_is_a_nested_finding(tmp_path, capfd):
    """The same real rows, one in fifty with its fare a list: a `nested` finding on fare, those rows left out."""
    lines = _real_lines(500)
    for i in range(0, len(lines), 50):
        obj = json.loads(lines[i])
        obj["fare"] = [obj["fare"], obj["fare"]]
        lines[i] = json.dumps(obj)
    path = _write(tmp_path, "fare_as_a_list.jsonl", lines)
    code = cli.main(["validate", "--data", str(path), "--baseline", "none", "--format", "json"])
    out, err = capfd.readouterr()
    assert code == 1, err
    report = json.loads(out)
    assert report["left_out"]["by_reason"] == {"fare": {cells.NESTED: 10}}
    [fare] = [a for a in report["anomalies"] if a["feature"] == "fare"]
    assert "fare_as_a_list.jsonl line 1)" in fare["description"]


def _array_line(lines):
    lines[6] = json.dumps(list(json.loads(lines[6]).values()))
    return "line 7: an array, not a JSON object"


def _broken_json(lines):
    lines[11] = lines[11][:-1]
    return "line 12: malformed JSON"


def _a_number(lines):
    lines[3] = "8"
    return "line 4: a number, not a JSON object"


BAD = {"array_on_line_7": _array_line, "broken_json_on_line_12": _broken_json, "number_on_line_4": _a_number}


@pytest.mark.parametrize("name", sorted(BAD))
@pytest.mark.parametrize("compress", [None, gzip.compress], ids=["plain", "gzip"])
def test_a_line_that_is_not_an_object_is_one_line_and_exit_2(tmp_path, capfd, name, compress):
    lines = _real_lines()
    words = BAD[name](lines)
    path = _write(tmp_path, f"{name}.jsonl" + (".gz" if compress else ""), lines, compress)
    code = cli.main(["validate", "--data", str(path), "--baseline", "none"])
    out, err = capfd.readouterr()
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert f"{path}: {words}" in err, err


def test_bad_utf8_names_the_line(tmp_path):
    lines = [line.encode() for line in _real_lines()]
    lines[8] = lines[8].replace(b'"company": "', b'"company": "\xe9', 1)
    path = tmp_path / "latin1_on_line_9.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(InputError, match=r"latin1_on_line_9.jsonl: line 9: not UTF-8 text \(byte 0xe9"):
        with source_lib.open_batch(str(path)) as source:
            source.check()


@pytest.mark.parametrize("lines", [["{}", "", "  "], ["", " "]], ids=["empty_objects", "blank_lines"])
def test_no_column_is_refused(tmp_path, lines):
    path = _write(tmp_path, "nothing.jsonl", lines)
    with pytest.raises(InputError, match="nothing.jsonl: no JSON object with a key in it"):
        source_lib.open_batch(str(path))
