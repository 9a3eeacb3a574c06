"""Compressed text input: the same real rows as CSV, as CSV compressed by gzip, bzip2, xz or zstd
(by content, read as a stream), and as JSON lines (plain and gzipped) give the same findings
through `tfxgate validate` and the same reading report; a truncated or corrupt stream is one line
naming the file and where it broke, exit 2."""

import json
import re

import pytest

from tests import defects, forms
from tfxgate.command import cli

pytestmark = pytest.mark.unit

DEFECTS = ["clean_serving", "string_in_fare", "hour_disagrees_with_timestamp_span", "hour_out_of_domain"]
_WHERE = re.compile(r"\(data\.[a-z0-9.]+ line (\d+)\)")


def _header_lines(form: str) -> int:
    """Lines before the first row: CSV's header; JSON lines have none."""
    return 1 if form.startswith("csv") else 0


def _validate(path, capfd, *extra):
    code = cli.main(["validate", "--data", str(path), "--baseline", "none", "--format", "json", *extra])
    out, err = capfd.readouterr()
    return code, out, err


def _findings(report: dict, form: str) -> dict:
    """The report without the file's name, every line given as the row's (the header's line
    taken off CSV's line numbers)."""
    shift = _header_lines(form)
    row = lambda m: f"(row {int(m.group(1)) - shift})"
    anomalies = [dict(a, description=_WHERE.sub(row, a["description"])) for a in report["anomalies"]]
    return dict(report, data=None, anomalies=anomalies)


@pytest.mark.parametrize("defect", DEFECTS)
def test_every_form_gives_the_same_findings(tmp_path, capfd, defect):
    rows, columns = defects.DEFECTS[defect]()
    results = {}
    for form in forms.FORMS:
        path = forms.write(tmp_path / form, form, rows, columns)
        code, out, err = _validate(path, capfd)
        assert code in (0, 1), (form, err)
        results[form] = (code, _findings(json.loads(out), form))
    expected = results["csv"]
    assert expected[1]["rows"] == len(rows)
    for form, result in results.items():
        assert result == expected, form
    if defect != "clean_serving":
        assert expected[0] == 1 and expected[1]["anomalies"], "the defect is found"


def _report(path, kinds):
    from core.batch import batch_stats

    batch = batch_stats.read(str(path), kinds)
    return batch.rows, batch.report, batch.statistics


@pytest.mark.parametrize("defect", ["clean_training", "string_in_fare", "dropoff_fill_drop"])
def test_every_form_gives_the_same_reading_report_and_statistics(tmp_path, defect):
    from core.reading import report as reading
    from core.settings import schema_files
    from pipeline import config as config_lib

    schema = schema_files.load(config_lib.default_schema_path())
    kinds = reading.schema_kinds(schema)
    rows, columns = defects.DEFECTS[defect]()
    found = {}
    for form in forms.FORMS:
        count, report, statistics = _report(forms.write(tmp_path / form, form, rows, columns), kinds)
        assert count == report.rows == len(rows)
        assert bool(report.examples()) == (defect == "string_in_fare"), "the unreadable rows are in the report"
        for example in report.examples():  # as the row it is, whatever the file's name and header
            example["line"] -= _header_lines(form)
            example.pop("file", None)
        found[form] = (json.dumps(report.to_json(), sort_keys=True), statistics.SerializeToString())
    for form in forms.FORMS:
        assert found[form] == found["csv"], form


def _truncated_gzip(tmp_path):
    rows = defects.base_rows()
    data = forms.COMPRESSORS["gz"](forms.csv_text(rows).encode())
    path = tmp_path / "partial_copy.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    return path, "the gzip stream is truncated after line"


def _corrupt_bzip2(tmp_path):
    rows = defects.base_rows()
    data = bytearray(forms.COMPRESSORS["bz2"](forms.csv_text(rows).encode()))
    middle = len(data) // 2
    data[middle: middle + 64] = bytes(b ^ 0xFF for b in data[middle: middle + 64])
    path = tmp_path / "flipped_bytes.csv.bz2"
    path.write_bytes(bytes(data))
    return path, "the bzip2 stream is corrupt"


def _truncated_xz_json_lines(tmp_path):
    data = forms.COMPRESSORS["xz"](forms.json_lines(defects.base_rows()).encode())
    path = tmp_path / "partial_copy.jsonl.xz"
    path.write_bytes(data[: len(data) * 2 // 3])
    return path, "the xz stream is truncated after line"


def _zip_archive(tmp_path):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.csv", forms.csv_text(defects.base_rows(n=100)))
    path = tmp_path / "archive.csv"
    path.write_bytes(buffer.getvalue())
    return path, "a zip archive"


@pytest.mark.parametrize("make", [_truncated_gzip, _corrupt_bzip2, _truncated_xz_json_lines, _zip_archive])
def test_a_broken_stream_is_one_line_naming_the_file_and_where(tmp_path, capfd, make):
    path, words = make(tmp_path)
    code, out, err = _validate(path, capfd)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and out == "", err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert str(path) in lines[0] and words in lines[0], lines[0]
    if "line" in words:
        line = int(re.search(r"after line (\d+)", lines[0]).group(1))
        assert 1 < line < 1000, lines[0]


def test_the_line_a_truncated_stream_broke_after_is_the_last_whole_line(tmp_path):
    """A gzip stream cut right after its first 400 lines (flushed there, no end marker): the
    line named is the 400th, the last one decoded whole."""
    import zlib

    from core.common.errors import InputError
    from core.reading import source as source_lib

    lines = forms.csv_text(defects.base_rows()).encode().splitlines(keepends=True)
    packer = zlib.compressobj(wbits=31)
    path = tmp_path / "cut_after_line_400.csv.gz"
    path.write_bytes(packer.compress(b"".join(lines[:400])) + packer.flush(zlib.Z_FULL_FLUSH))
    with pytest.raises(InputError, match=r"cut_after_line_400.csv.gz: the gzip stream is truncated after line 400 "):
        with source_lib.open_batch(str(path)) as source:
            source.check()


@pytest.mark.parametrize("form", ["csv.gz", "csv.bz2", "csv.xz", "csv.zst", "jsonl.gz"])
def test_a_compressed_file_is_never_decompressed_to_disk(tmp_path, capfd, form):
    folder = tmp_path / "data"
    path = forms.write(folder, form, defects.base_rows(n=200))
    code, _, err = _validate(path, capfd)
    assert code in (0, 1), err
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [path.name]
