"""The one reader (core/reading/source.py): `tfxgate validate` opens a batch's file once in Python
and once in pyarrow's native reader (which must not read through a Python handle: its read-ahead
thread needs the GIL), whatever it needs from it (format, header, structure, typed blocks, statistics, the quarantine's lines)."""

import builtins
import os

import pyarrow.csv as pa_csv
import pytest

from tests import defects
from tfxgate.command import cli

pytestmark = pytest.mark.unit


@pytest.fixture
def opens(monkeypatch):
    """{path: times opened} through Python's `open` and pyarrow's CSV reader (a path given to
    pyarrow is opened by pyarrow itself), from the test's `opens.clear()` on."""
    counted = {}
    real_open, real_open_csv = builtins.open, pa_csv.open_csv

    def count(target):
        if isinstance(target, (str, os.PathLike)):
            key = os.path.realpath(target)
            counted[key] = counted.get(key, 0) + 1

    def counting_open(file, *args, **kwargs):
        count(file)
        return real_open(file, *args, **kwargs)

    def counting_open_csv(source, *args, **kwargs):
        count(source)
        return real_open_csv(source, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    monkeypatch.setattr(pa_csv, "open_csv", counting_open_csv)
    return counted


def _validate(path, rows, capfd):
    code = cli.main(["validate", "--data", str(path), "--environment", "TRAINING", "--baseline", "none",
                     "--format", "json", "--rows", str(rows)])
    _, err = capfd.readouterr()
    return code, err


@pytest.mark.parametrize("defect", ["string_in_fare", "hour_disagrees_with_timestamp_span"])
def test_validate_opens_the_batch_file_once_in_python_and_once_in_pyarrow(defect, tmp_path, opens, capfd):
    """A file whose left-out rows are located by line (unreadable cells, a broken rule). Measured
    before the one reader: the same command opened it 7 times (its header, its first block, the
    scan for its longest line, pyarrow's reader, the examples' lines, the quarantine's lines...)."""
    path = defects.write(tmp_path / "data", defect)
    opens.clear()
    code, err = _validate(path, tmp_path / "rows.csv", capfd)
    assert code == 1, err  # the defect is found, and its rows written with their lines
    assert (tmp_path / "rows.csv").read_text().count("\n") > 1
    assert opens.get(os.path.realpath(path)) == 2


def test_validate_opens_each_file_of_a_folder_once_in_python_and_once_in_pyarrow(tmp_path, opens, capfd):
    """Measured before the one reader: 5 and 4 times."""
    rows = defects.base_rows()
    folder = tmp_path / "data"
    first = defects.write_rows(folder / "a.csv", rows[: len(rows) // 2])
    second = defects.write_rows(folder / "b.csv", rows[len(rows) // 2:])
    opens.clear()
    code, err = _validate(folder, tmp_path / "rows.csv", capfd)
    assert code in (0, 1), err
    assert [opens.get(os.path.realpath(p)) for p in (first, second)] == [2, 2]
