"""Commands that only read MLMD never write it (issue 29, item 8).

`report`, `lineage`, `history`, `validate --baseline auto` and `schema propose` open the store
read-only: a file that is not an MLMD store (another SQLite database, an empty file, a file that
is not SQLite at all) is refused in one line, exit 2, and its bytes are unchanged afterwards; a
real MLMD store is read and left byte for byte as it was.
"""

import csv
import hashlib
import shutil
import sqlite3

import pytest

from tests.conftest import DATA_ROOT, PROJECT_ROOT
from tfxgate.command import cli

pytestmark = pytest.mark.unit

SAMPLE = DATA_ROOT / "train" / "span-3" / "data.csv"


def _foreign_sqlite_database(path):
    """Someone else's SQLite database: the sample's trips as a table of their own."""
    with open(SAMPLE, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE trips ({', '.join(f'{name!r} TEXT' for name in header)})")
        db.executemany(f"INSERT INTO trips VALUES ({', '.join('?' * len(header))})", body)
    db.close()


def _empty_file(path):
    path.write_bytes(b"")


def _a_csv_file_not_sqlite(path):
    shutil.copyfile(SAMPLE, path)


NOT_A_STORE = {
    "foreign_sqlite_database": (_foreign_sqlite_database, "a database whose tables, trips, are not MLMD's"),
    "empty_file": (_empty_file, "an empty file"),
    "csv_file_not_sqlite": (_a_csv_file_not_sqlite, "not a SQLite database at all"),
}


def _read_only_commands(tmp_path):
    schema_dir = tmp_path / "schema"
    if not schema_dir.exists():
        shutil.copytree(PROJECT_ROOT / "schema", schema_dir)
    return {
        "report": ["report", "--out", str(tmp_path / "report.html")],
        "report_of_a_run": ["report", "--run", "some-run", "--out", str(tmp_path / "report.html")],
        "lineage": ["lineage"],
        "lineage_of_a_span": ["lineage", "--span", "3"],
        "history": ["history"],
        "validate_baseline_auto": ["validate", "--data", str(DATA_ROOT / "serving"), "--baseline", "auto"],
        "schema_propose": ["schema", "propose", "--schema-dir", str(schema_dir)],
    }


COMMANDS = ["report", "report_of_a_run", "lineage", "lineage_of_a_span", "history", "validate_baseline_auto",
            "schema_propose"]


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("kind", sorted(NOT_A_STORE))
@pytest.mark.parametrize("command", COMMANDS)
def test_read_only_commands_refuse_a_file_that_is_not_an_mlmd_store_and_leave_its_bytes(tmp_path, capfd, command,
                                                                                          kind):
    make, why = NOT_A_STORE[kind]
    store = tmp_path / "metadata.sqlite"
    make(store)
    before, size = _sha256(store), store.stat().st_size
    argv = _read_only_commands(tmp_path)[command] + ["--metadata", str(store)]
    code = cli.main(argv)
    out, err = capfd.readouterr()
    assert code == 2, out + err
    [line] = err.strip().splitlines()
    assert f"{store}: not an MLMD store ({why})" in line and "nothing was written to it" in line
    assert "CREATE TABLE" not in line and "query" not in line  # none of MLMD's SQL
    assert _sha256(store) == before and store.stat().st_size == size
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metadata.sqlite", "schema"]  # no journal, report or draft


@pytest.mark.parametrize("command", COMMANDS)
def test_read_only_commands_leave_a_real_mlmd_store_byte_for_byte(tmp_path, capfd, command):
    from mlmd import query

    store = tmp_path / "metadata.sqlite"
    query.sqlite_store(str(store), must_exist=False)  # MLMD's own tables, as the pipeline creates them
    before = _sha256(store)
    argv = _read_only_commands(tmp_path)[command] + ["--metadata", str(store)]
    code = cli.main(argv)
    out, err = capfd.readouterr()
    assert "not an MLMD store" not in err and "internal error" not in err, err
    assert code in (0, 2), out + err  # 2: nothing recorded yet (no run, no span), said in one line
    assert len(err.strip().splitlines()) <= 1
    assert _sha256(store) == before


def test_a_store_missing_some_of_mlmds_tables_is_named_incomplete(tmp_path, capfd):
    from mlmd import query

    store = tmp_path / "metadata.sqlite"
    query.sqlite_store(str(store), must_exist=False)
    with sqlite3.connect(store) as db:
        db.execute("DROP TABLE Event")
    db.close()
    before = _sha256(store)
    code = cli.main(["history", "--metadata", str(store)])
    _, err = capfd.readouterr()
    assert code == 2 and "an incomplete MLMD store (no Event table)" in err
    assert _sha256(store) == before


def test_the_pipeline_side_still_creates_the_store(tmp_path):
    """must_exist=False (the run about to write) is the one way that creates MLMD's tables."""
    from mlmd import store as store_lib

    path = tmp_path / "metadata.sqlite"
    store_lib.StoreSettings(sqlite_path=str(path)).open(must_exist=False)
    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.close()
    assert store_lib.MLMD_TABLES <= tables
