"""The input's format diagnosed before it is judged: one line saying what a file looks like,
through `tfxgate validate` and through the runner, instead of one anomaly per column. Every file
is made from real sample rows, named for what it is."""

import bz2
import csv
import gzip
import io
import subprocess
import sys
import zipfile

import pytest

from tests import defects
from tests.conftest import DATA_ROOT, PROJECT_ROOT
from tfxgate.command import cli

pytestmark = pytest.mark.unit


def _csv_text(delimiter=",", rows=None) -> str:
    rows = rows or defects.base_rows(n=200)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, list(rows[0]), delimiter=delimiter, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _zip(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.csv", text)
    return buffer.getvalue()


# name -> (the file's bytes, words the one-line error must say)
REFUSED = {
    "semicolon_delimited": (lambda: _csv_text(";").encode(), ["one column containing ';'", "--delimiter ';'"]),
    "tab_delimited": (lambda: _csv_text("\t").encode(), ["tab-delimited", "--delimiter"]),
    "zip_named_csv": (lambda: _zip(_csv_text()), ["zip archive", "by its content", "many files"]),
    "utf16_with_bom": (lambda: _csv_text().encode("utf-16"), ["UTF-16 (little-endian)", "save it as UTF-8"]),
    "utf16_without_bom": (lambda: _csv_text().encode("utf-16-le"), ["UTF-16", "save it as UTF-8"]),
    "no_column_of_the_schema": (
        lambda: _csv_text(rows=[{f"col{i}": v for i, v in enumerate(r.values())} for r in defects.base_rows(n=50)]).encode(),
        ["none of its", "is a feature of the schema"]),
}


def _with_nul() -> bytes:
    """Real rows with a NUL byte inside one company name (line 7 of the file)."""
    lines = _csv_text().split("\n")
    lines[6] = lines[6].replace(",", ",\x00", 1)
    return "\n".join(lines).encode()


REFUSED["nul_byte_in_a_field"] = (_with_nul, ["line 7: a NUL byte", "binary data"])
def _latin1_in_a_row() -> bytes:
    """Real rows with one Latin-1 byte (an é) in a company name on line 16."""
    lines = _csv_text().encode().split(b"\n")
    lines[15] = lines[15].replace(b",", b",\xe9", 1)
    return b"\n".join(lines)


REFUSED["blank_first_line"] = (lambda: ("\n" + _csv_text()).encode(), ["line 1 is blank", "header"])
REFUSED["latin1_byte_in_a_row"] = (_latin1_in_a_row, ["line 16: not UTF-8 text (byte 0xe9 at column"])
REFUSED["cr_only_line_ends"] = (lambda: _csv_text().replace("\n", "\r").encode(),
                                ["carriage return alone", "LF or CRLF"])


def _write(folder, name) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "data.csv"
    path.write_bytes(REFUSED[name][0]())
    return str(path)


def _one_line(err: str, words):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err[-2000:]
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_validate_says_what_the_file_looks_like(tmp_path, capfd, name):
    path = _write(tmp_path / name, name)
    code = cli.main(["validate", "--data", path, "--baseline", "none"])
    _, err = capfd.readouterr()
    assert code == 2
    _one_line(err, REFUSED[name][1])


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_the_pipelines_own_check_says_the_same_line(tmp_path, name):
    """ExampleGen's executor and the runner's pre-check use core.reading.sources.csv_structure.check_file: the same
    one line as validate, for every refused file."""
    from core.reading.sources import csv_structure

    path = _write(tmp_path / name, name)
    with pytest.raises(csv_structure.CsvInputError) as raised:
        csv_structure.check_columns(path, csv_structure.check_file(path), list(defects.base_rows(n=1)[0]))
    _one_line(str(raised.value), REFUSED[name][1])


# Compressed by gzip or bzip2 (by content, whatever the name): read as a stream, not refused.
COMPRESSED = {"gzip_named_csv": gzip.compress, "bzip2_named_csv": bz2.compress}


@pytest.mark.parametrize("name", sorted(COMPRESSED))
def test_a_compressed_csv_is_read_by_both_paths_as_the_plain_one(tmp_path, capfd, name):
    from core.reading.sources import csv_structure

    plain = tmp_path / "plain" / "data.csv"
    plain.parent.mkdir()
    plain.write_text(_csv_text())
    packed = tmp_path / name / "data.csv"
    packed.parent.mkdir()
    packed.write_bytes(COMPRESSED[name](_csv_text().encode()))
    assert csv_structure.check_file(str(packed)) == csv_structure.check_file(str(plain))  # the pipeline's check
    reports = []
    for path in (plain, packed):
        code = cli.main(["validate", "--data", str(path), "--baseline", "none", "--format", "json"])
        out, err = capfd.readouterr()
        assert code in (0, 1), err
        reports.append(dict(__import__("json").loads(out), data=None))
    assert reports[0] == reports[1] and reports[0]["rows"] == 200


def test_a_20_mb_field_is_read_by_both_paths(tmp_path, capfd):
    """A field far over pyarrow's block size: validate reads it as the pipeline does."""
    from core.reading.sources import csv_structure

    rows = defects.base_rows(n=200)
    rows[7] = dict(rows[7], company="X" * (20 << 20))
    path = tmp_path / "big" / "data.csv"
    path.parent.mkdir()
    path.write_text(_csv_text(rows=rows))
    assert csv_structure.check_file(str(path))  # the pipeline's reader
    code = cli.main(["validate", "--data", str(path), "--environment", "TRAINING", "--baseline", "none",
                     "--format", "json"])
    out, err = capfd.readouterr()
    assert code in (0, 1), err
    report = __import__("json").loads(out)
    assert report["rows"] == 200
    assert any(a["feature"] == "company" and "ENUM_TYPE_UNEXPECTED_STRING_VALUES" in a["types"] for a in report["anomalies"])


@pytest.mark.parametrize("name", ["semicolon_delimited", "zip_named_csv", "utf16_with_bom", "no_column_of_the_schema",
                                  "nul_byte_in_a_field", "cr_only_line_ends"])
def test_runner_says_it_before_anything_runs(tmp_path, name):
    import shutil

    root = tmp_path / "data"
    shutil.copytree(DATA_ROOT / "train" / "span-3", root / "train" / "span-3")
    _write(root / "serving", name)
    proc = subprocess.run([sys.executable, str(PROJECT_ROOT / "runner_local.py"), "--data-root", str(root),
                           "--outputs", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    _one_line(proc.stderr, REFUSED[name][1])
    assert not (tmp_path / "out" / "metadata.sqlite").exists()


def test_delimiter_reads_a_semicolon_file_as_the_comma_one(tmp_path, capfd):
    semicolon = tmp_path / "semi" / "data.csv"
    semicolon.parent.mkdir()
    semicolon.write_text(_csv_text(";"))
    comma = tmp_path / "comma" / "data.csv"
    comma.parent.mkdir()
    comma.write_text(_csv_text(","))
    results = []
    for path, extra in ((semicolon, ["--delimiter", ";"]), (comma, [])):
        code = cli.main(["validate", "--data", str(path), "--environment", "TRAINING", "--baseline", "none",
                         "--format", "json", *extra])
        out, _ = capfd.readouterr()
        assert code == 0
        results.append(out.replace(str(path), "DATA"))
    assert results[0] == results[1]


def test_a_bad_delimiter_is_refused(capfd):
    assert cli.main(["validate", "--data", str(DATA_ROOT / "serving"), "--delimiter", '"']) == 2
    _one_line(capfd.readouterr()[1], ["--delimiter"])


def test_a_data_folder_can_declare_its_delimiter(tmp_path, capfd):
    folder = tmp_path / "semi"
    folder.mkdir()
    (folder / "data.csv").write_text(_csv_text(";"))
    (folder / "tfxgate-input.yaml").write_text('delimiter: ";"\n')
    assert cli.main(["validate", "--data", str(folder), "--environment", "TRAINING", "--baseline", "none"]) == 0
    assert "result: pass" in capfd.readouterr()[0]
    (folder / "tfxgate-input.yaml").write_text("separator: x\n")
    assert cli.main(["validate", "--data", str(folder), "--baseline", "none"]) == 2
    _one_line(capfd.readouterr()[1], ["unknown settings", "tfxgate-input.yaml"])


def test_a_column_name_with_spaces_around_it_is_shown_quoted(tmp_path, capfd):
    rows = [{(" fare " if k == "fare" else k): v for k, v in r.items()} for r in defects.base_rows(n=100)]
    path = tmp_path / "spaces" / "data.csv"
    path.parent.mkdir()
    path.write_text(_csv_text(rows=rows))
    assert cli.main(["validate", "--data", str(path), "--environment", "TRAINING", "--baseline", "none"]) == 1
    out = capfd.readouterr()[0]
    assert "' fare ' SCHEMA_NEW_COLUMN" in out and "BLOCK  fare SCHEMA_MISSING_COLUMN" in out
