"""Broken input, each case named for its defect, through `tfxgate validate` and `runner_local.py`.

Every case gets a correct result or a one-line error that names the file and the problem, with
a non-zero exit and no traceback. For the runner, a refused input leaves no MLMD execution at
all; an input that ExampleGen itself refuses (the pre-check skipped) leaves a FAILED execution
with no output artifact. BOM with CRLF line ends, a 1 MB field and a mixed column are data, not
errors: they run, and validation says what is wrong with them (the pipeline's run on such data,
trained and pushed, is in test_resilience.py, whose runs use it).
"""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest
from ml_metadata.proto import metadata_store_pb2

from tests import defects
from tests.conftest import DATA_ROOT, PROJECT_ROOT
from mlmd import query
from tfxgate.command import cli

pytestmark = pytest.mark.component

ROWS = 300
ONE_MB = 1 << 20


def _rows(n=ROWS):
    return defects.base_rows(n=n)


def _write_text(path: pathlib.Path, text: str, encoding="utf-8", newline="\n") -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding=encoding, newline=newline) as f:
        f.write(text)
    return path


def _csv_text(rows, columns=None, line_end="\n") -> str:
    columns = columns or list(rows[0])
    lines = [",".join(columns)]
    for row in rows:
        cells = [row[c] for c in columns]
        lines.append(",".join(f'"{c}"' if ("," in c or '"' in c) else c for c in cells))
    return line_end.join(lines) + line_end


def header_only(folder):
    return _write_text(folder / "data.csv", ",".join(_rows(1)[0]) + "\n")


def ragged_rows(folder):
    text = _csv_text(_rows()).splitlines()
    text[41] = text[41].rsplit(",", 2)[0]  # line 42 loses its last two fields
    return _write_text(folder / "data.csv", "\n".join(text) + "\n")


def unterminated_quote(folder):
    text = _csv_text(_rows()).splitlines()
    text[100] = text[100].replace(",", ',"', 1)  # a quote opened on line 101 and never closed
    return _write_text(folder / "data.csv", "\n".join(text) + "\n")


def not_utf8(folder):
    rows = _rows()
    rows[7] = dict(rows[7], company="Taxi Affiliation Services Zürich")
    path = folder / "data.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_csv_text(rows).encode("latin-1"))  # ü as the single byte 0xfc
    return path


def duplicate_columns(folder):
    rows = _rows()
    columns = list(rows[0])
    text = _csv_text(rows, columns).splitlines()
    text[0] = text[0].replace("trip_miles", "fare")  # two columns named fare
    return _write_text(folder / "data.csv", "\n".join(text) + "\n")


def no_csv_file(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.txt").write_text("not a csv\n")
    return folder


# name -> (writer, words the one-line error must contain)
REFUSED = {
    "header_only": (header_only, "no data rows"),
    "ragged_rows": (ragged_rows, "line 42"),
    "unterminated_quote": (unterminated_quote, "line 101"),
    "not_utf8": (not_utf8, "not UTF-8"),
    "duplicate_columns": (duplicate_columns, "duplicate column name 'fare'"),
    "no_csv_file": (no_csv_file, "no data file"),
}


def windows_export(folder, rows=ROWS, big_field=False):
    """A Windows export: a UTF-8 byte-order mark, CRLF line ends, optionally a 1 MB company name."""
    rows = _rows(rows)
    if big_field:
        rows[5] = dict(rows[5], company="Z" * ONE_MB)
    return _write_text(folder / "data.csv", "\ufeff" + _csv_text(rows, line_end="\r\n"), newline="")


def one_mb_field(folder):
    rows = _rows()
    rows[5] = dict(rows[5], company="Z" * ONE_MB)
    return defects.write_rows(folder / "data.csv", rows)


def mixed_numbers_and_strings(folder):
    rows = [dict(r, fare="unknown") if i % 20 == 0 else r for i, r in enumerate(_rows())]
    return defects.write_rows(folder / "data.csv", rows)


def _validate(capfd, data, *extra):
    code = cli.main(["validate", "--data", str(data), "--environment", "TRAINING", "--baseline", "none", *extra])
    out, err = capfd.readouterr()
    return code, out, err


def _one_line_error(err: str, *words: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err[-3000:]
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_validate_refuses_broken_input_in_one_line(tmp_path, capfd, name):
    writer, words = REFUSED[name]
    path = writer(tmp_path / name)
    code, out, err = _validate(capfd, path)
    assert code == 2
    _one_line_error(err, str(path), words)
    assert out == ""


def test_validate_refuses_a_missing_path(tmp_path, capfd):
    missing = tmp_path / "nowhere.csv"
    code, _, err = _validate(capfd, missing)
    assert code == 2
    _one_line_error(err, str(missing), "no such file")


def test_validate_reads_bom_and_crlf_like_plain_csv(tmp_path, capfd):
    plain = defects.write_rows(tmp_path / "plain" / "data.csv", _rows())
    windows = windows_export(tmp_path / "windows")
    assert windows.read_bytes().startswith(b"\xef\xbb\xbf") and b"\r\n" in windows.read_bytes()
    results = [_validate(capfd, path, "--format", "json") for path in (plain, windows)]
    assert [code for code, _, _ in results] == [0, 0]
    import json

    plain_report, windows_report = (json.loads(out) for _, out, _ in results)
    assert windows_report["rows"] == plain_report["rows"] == ROWS
    assert windows_report["anomalies"] == plain_report["anomalies"] == []


def test_validate_reads_a_one_mb_field_and_flags_the_new_value_briefly(tmp_path, capfd):
    path = one_mb_field(tmp_path / "big")
    code, out, err = _validate(capfd, path)
    assert code == 0, err
    assert "company" in out and "ENUM_TYPE_UNEXPECTED_STRING_VALUES" in out
    assert len(out) < 20_000  # the value is named, not printed whole


def test_validate_names_a_mixed_column_as_a_type_anomaly(tmp_path, capfd):
    path = mixed_numbers_and_strings(tmp_path / "mixed")
    code, out, _ = _validate(capfd, path)
    assert code == 1
    fare_lines = [line for line in out.splitlines() if " fare " in line and "BLOCK" in line]
    assert fare_lines and any("TYPE" in line for line in fare_lines), out


def test_validate_broken_input_in_a_fresh_process_prints_no_traceback(tmp_path):
    path = ragged_rows(tmp_path / "ragged")
    proc = subprocess.run(
        [sys.executable, "-m", "tfxgate.command.cli", "validate", "--data", str(path), "--baseline", "none"],
        capture_output=True, text=True, cwd=PROJECT_ROOT,
    )
    assert proc.returncode == 2
    _one_line_error(proc.stderr, str(path), "line 42")


# --- runner_local.py ------------------------------------------------------------------------


def _data_root(tmp_path, writer=None, where="train"):
    """The shipped data (span 3 and serving) with `writer`'s file as the training span or serving."""
    root = tmp_path / "data"
    shutil.copytree(DATA_ROOT / "serving", root / "serving")
    shutil.copytree(DATA_ROOT / "train" / "span-3", root / "train" / "span-3")
    if writer:
        target = root / "train" / "span-3" if where == "train" else root / "serving"
        shutil.rmtree(target)
        written = writer(target)
        return root, written
    return root, None


def _runner(tmp_path, *args, timeout=900):
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "runner_local.py"), "--outputs", str(tmp_path / "outputs"),
         "--train-steps", "100", *args],  # the steps the model gate's floors expect (schema/evaluation.yaml)
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=timeout,
    )


def _executions(store_path):
    if not os.path.exists(store_path):
        return []
    return query.sqlite_store(str(store_path)).get_executions()


@pytest.mark.parametrize("name", sorted(REFUSED))
@pytest.mark.parametrize("where", ["train", "serving"])
def test_runner_refuses_broken_input_before_anything_runs(tmp_path, name, where):
    writer, words = REFUSED[name]
    root, path = _data_root(tmp_path, writer, where)
    proc = _runner(tmp_path, "--data-root", str(root))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    _one_line_error(proc.stderr, str(path), words)
    assert _executions(tmp_path / "outputs" / "metadata.sqlite") == []


def test_runner_refuses_a_missing_data_root(tmp_path):
    proc = _runner(tmp_path, "--data-root", str(tmp_path / "nowhere"))
    assert proc.returncode == 2
    _one_line_error(proc.stderr, str(tmp_path / "nowhere"), "no train/ folder")


@pytest.mark.pipeline
def test_example_gen_itself_refuses_broken_input_and_mlmd_records_no_output(tmp_path):
    """Past the runner's pre-check (--skip-input-check, or a pipeline run by another runner),
    the ExampleGen executor refuses the file in one line; its execution is FAILED, with no
    artifact registered, and nothing downstream ran."""
    root, path = _data_root(tmp_path, ragged_rows, "serving")
    proc = _runner(tmp_path, "--data-root", str(root), "--skip-input-check")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    line = _one_line_error(proc.stderr, "ServingExampleGen failed", str(path), "line 42")
    assert "Traceback" not in proc.stdout + proc.stderr, line
    store = query.sqlite_store(str(tmp_path / "outputs" / "metadata.sqlite"))
    failed = [e for e in store.get_executions() if e.last_known_state == metadata_store_pb2.Execution.FAILED]
    assert [query.node_id_of(store, e.id) for e in failed] == ["ServingExampleGen"]
    outputs = [ev for ev in store.get_events_by_execution_ids([failed[0].id])
               if ev.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.PENDING_OUTPUT)]
    assert outputs == []
    assert not store.get_artifacts_by_type("Examples") or all(
        query.producer_execution(store, a.id) != failed[0].id for a in store.get_artifacts_by_type("Examples"))
    assert not any(query.node_id_of(store, e.id) in ("Transform", "Trainer", "DataGate") for e in store.get_executions())


HOSTILE_VALUE = "<script>alert('value')</script>"
HOSTILE_COLUMN = '<img src=x onerror="alert(1)">'


@pytest.mark.pipeline
def test_runner_blocks_a_mixed_column_by_name_and_the_report_escapes_the_data(tmp_path, capfd):
    """Fare with strings in 5 % of rows, a payment type that is markup, a column named in markup:
    the gate blocks naming fare; the HTML report shows the markup as text."""

    def hostile(folder):
        rows = [dict(r, payment_type=HOSTILE_VALUE) if i % 25 == 0 else r for i, r in enumerate(_rows(1000))]
        rows = [dict(r, fare="unknown") if i % 20 == 0 else r for i, r in enumerate(rows)]
        rows = [dict(r, **{HOSTILE_COLUMN: "1"}) for r in rows]
        return defects.write_rows(folder / "data.csv", rows)

    root, _ = _data_root(tmp_path, hostile, "train")
    proc = _runner(tmp_path, "--data-root", str(root))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "fare" in proc.stderr and "Traceback" not in proc.stderr
    store_path = tmp_path / "outputs" / "metadata.sqlite"
    store = query.sqlite_store(str(store_path))
    assert not store.get_artifacts_by_type("Model")

    out = tmp_path / "report.html"
    assert cli.main(["report", "--metadata", str(store_path), "--out", str(out)]) == 0
    capfd.readouterr()
    document = out.read_text()
    assert "<script>" not in document and "onerror=\"" not in document
    assert "&lt;script&gt;alert(" in document  # the value, as text
    assert "&lt;img src=x onerror=" in document  # the column name, as text


def test_a_data_root_with_glob_characters_runs(runs):
    """`batch [1]`: glob characters in the data root are literal, for the pre-check, ExampleGen's
    driver and executor alike (the runner reads it through a link with a plain name). The session's
    first run (tests/conftest.py, `runs`) reads the sample from a data root of that name."""
    assert runs["data_root"].name == "batch [1]" and (runs["data_root"] / "train" / "span-3").is_dir()
    proc = runs["cold"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pushed model: " in proc.stdout and "pushed model: None" not in proc.stdout
