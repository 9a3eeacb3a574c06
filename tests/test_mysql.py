"""MLMD on a real MariaDB server (what Kubeflow's metadata service runs on MySQL).

A module fixture installs MariaDB from Debian's packages when it is missing, starts it on
127.0.0.1 in a temporary folder, creates a user with a random password, and stops the server
at the end. Two pipelines (their own names and roots, spans 3 and 2) run against one database
at the same time; lineage is read back through `tfxgate`; the password is checked for in every
output, log and report, and a password flag is refused.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import DATA_ROOT, PROJECT_ROOT
from tests.mariadb import MariaDB

pytestmark = [pytest.mark.pipeline, pytest.mark.services]

DATABASE = "tfxgate_mlmd"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = MariaDB.start(str(tmp_path_factory.mktemp("mariadb")))
    yield db
    db.stop()
    assert db.process.poll() is not None


def _env(server, **overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TFXGATE_MYSQL_")}
    env.update(server.env(DATABASE))
    env.update(overrides)
    return env


def _tfxgate(server, *args, **env):
    return subprocess.run([sys.executable, "-m", "tfxgate.command.cli", *args], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, env=_env(server, **env), timeout=300)


@pytest.fixture(scope="module")
def pipelines(server, tmp_path_factory):
    runs = {}
    for name, span in (("taxi-a", 3), ("taxi-b", 2)):
        outputs = tmp_path_factory.mktemp(name)
        command = [sys.executable, str(PROJECT_ROOT / "runner_local.py"), "--pipeline-name", name,
                   "--outputs", str(outputs), "--span", str(span), "--train-steps", "100"]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=PROJECT_ROOT, env=_env(server))
        runs[name] = {"outputs": outputs, "span": span, "proc": proc}
    for run in runs.values():
        run["stdout"], run["stderr"] = run["proc"].communicate(timeout=1200)
        run["code"] = run["proc"].returncode
    return runs


def test_two_pipelines_run_at_once_against_one_mariadb(server, pipelines):
    for name, run in pipelines.items():
        assert run["code"] == 0, run["stdout"] + run["stderr"]
        assert f"MLMD at mysql://tfxgate@127.0.0.1:{server.port}/{DATABASE}" in run["stdout"]
        assert "pushed model: " + str(run["outputs"]) in run["stdout"]
    from pipeline import config as config_lib
    from pipeline.pipeline import create_components

    nodes = len(create_components(config_lib.local_config(data_root=str(DATA_ROOT), outputs="unused")))
    executions = server.sql(f"SELECT COUNT(*) FROM {DATABASE}.Execution")
    assert int(executions.strip()) >= len(pipelines) * nodes  # every node of both pipelines is in MariaDB


def test_lineage_reads_each_pipeline_back(server, pipelines):
    for name, run in pipelines.items():
        proc = _tfxgate(server, "lineage", "--span", str(run["span"]), "--format", "json")
        assert proc.returncode == 0, proc.stderr
        models = json.loads(proc.stdout)
        assert models and all(m["uri"].startswith(str(run["outputs"])) for m in models), models
        model_id = str(models[-1]["artifact_id"])
        proc = _tfxgate(server, "lineage", "--model", model_id, "--format", "json")
        assert proc.returncode == 0, proc.stderr
        lineage = json.loads(proc.stdout)
        assert [e["span"] for e in lineage["examples"]] == [run["span"]]
        assert all(e["uri"].startswith(str(run["outputs"])) for e in lineage["examples"])
        assert lineage["trainer"]["state"] == "COMPLETE"
        assert lineage["run"]["gate"]["decision"] in ("pass", "warn")
        text = json.dumps(lineage)
        other = [r for n, r in pipelines.items() if n != name][0]
        assert str(other["outputs"]) not in text  # nothing of the other pipeline leaks in


def test_report_and_history_read_from_mariadb(server, pipelines, tmp_path):
    out = tmp_path / "report.html"
    # "The latest" of a store shared by two pipelines could be either's: the command asks which.
    proc = _tfxgate(server, "report", "--out", str(out))
    assert proc.returncode == 2 and "say which with --pipeline-name" in proc.stderr and not out.exists()
    for latest in (("lineage",), ("validate", "--data", str(DATA_ROOT / "serving"))):
        refused = _tfxgate(server, *latest)
        assert refused.returncode == 2 and "taxi-a, taxi-b" in refused.stderr, refused.stderr
    proc = _tfxgate(server, "report", "--out", str(out), "--pipeline-name", "taxi-a")
    assert proc.returncode == 0, proc.stderr
    html = out.read_text()
    assert f"mysql://tfxgate@127.0.0.1:{server.port}/{DATABASE}" in html
    assert server.password not in html
    history = _tfxgate(server, "history", "--format", "json")
    assert history.returncode == 0, history.stderr


def test_the_password_is_in_no_output_no_log_and_no_file_written(server, pipelines):
    secret = server.password.encode()
    for run in pipelines.values():
        assert server.password not in run["stdout"] + run["stderr"]
        written = [p for p in run["outputs"].rglob("*") if p.is_file()]
        assert len(written) > 50  # artifacts, .system folders, logs, the pushed model
        assert [str(p) for p in written if secret in p.read_bytes()] == []
        logs = list((run["outputs"] / "logs").glob("*.log"))
        assert logs
        text = "".join(p.read_text(errors="replace") for p in logs)
        assert server.password not in text
        # TFX logs its connection config at INFO; the field is there, its value redacted
        assert "password: <redacted>" in text


def test_a_wrong_password_is_one_line_without_the_password(server):
    proc = _tfxgate(server, "history", TFXGATE_MYSQL_PASSWORD="not-the-password-123")
    assert proc.returncode == 2
    [line] = [l for l in proc.stderr.splitlines() if l.strip()]
    assert "cannot open the MLMD store" in line and f"127.0.0.1:{server.port}" in line
    assert "not-the-password-123" not in proc.stderr + proc.stdout


@pytest.mark.parametrize("program", ["runner", "cli"])
def test_a_password_flag_is_refused(server, program, tmp_path):
    secret = "pw-on-the-command-line"
    if program == "runner":
        argv = [sys.executable, str(PROJECT_ROOT / "runner_local.py"), "--outputs", str(tmp_path), "--mysql-password", secret]
    else:
        argv = [sys.executable, "-m", "tfxgate.command.cli", "history", "--mysql-password", secret]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=PROJECT_ROOT, env=_env(server), timeout=120)
    assert proc.returncode == 2
    assert "--mysql-password is not accepted" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "logs").exists()


def test_the_password_can_come_from_a_file(server, tmp_path):
    secret_file = tmp_path / "mysql-password"
    secret_file.write_text(server.password + "\n")
    env = _env(server)
    del env["TFXGATE_MYSQL_PASSWORD"]
    proc = subprocess.run([sys.executable, "-m", "tfxgate.command.cli", "history", "--mysql-password-file", str(secret_file),
                           "--format", "json"], capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_the_notebook_reads_its_run_from_mariadb(server, pipelines, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(str(PROJECT_ROOT / "notebooks" / "anomaly_report.ipynb"), as_version=4)
    for key, value in server.env(DATABASE).items():
        monkeypatch.setenv(key, value)  # the kernel inherits them
    project = tmp_path / "project"  # a project with no SQLite store: the runs are on MariaDB
    project.mkdir()
    # The project is one of the two pipelines the store holds: its runs, and its accepted baseline.
    text = (PROJECT_ROOT / "tfxgate.yaml").read_text()
    (project / "tfxgate.yaml").write_text(text.replace("\nname: tfxgate\n", "\nname: taxi-a\n"))
    assert "name: taxi-a" in (project / "tfxgate.yaml").read_text()
    shutil.copytree(PROJECT_ROOT / "schema", project / "schema")
    monkeypatch.setenv("TFXGATE_PROJECT", str(project))
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(PROJECT_ROOT / "notebooks")}}).execute()
    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "\n".join(str(o.get("text", "")) + json.dumps(o.get("data", {})) for o in outputs)
    assert "schema v1" in text and "run_id" in text  # tfxgate.runs() read the runs from MariaDB
    assert server.password not in text
    assert not (project / "outputs").exists()


def test_many_processes_can_create_the_store_in_an_empty_database_at_once(server):
    """MLMD creates its tables on first connection; racing processes get 'retry' or a MySQL
    deadlock from it. tfxgate retries both, so every process opens the store."""
    opener = ("import sys; from mlmd import store; "
              "store.from_environment('unused.sqlite').open(must_exist=False).get_artifact_types(); print('ok')")
    for round_ in range(3):
        database = f"tfxgate_race_{round_}"
        procs = [subprocess.Popen([sys.executable, "-c", opener], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, cwd=PROJECT_ROOT, env=_env(server, TFXGATE_MYSQL_DATABASE=database))
                 for _ in range(6)]
        results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
        assert all(code == 0 and out.strip() == "ok" for out, _, code in results), [e[-500:] for _, e, _ in results]


def _foreign_database(server, database: str) -> None:
    """Someone else's database on the same server: the sample's first trips as a table of their own."""
    import csv

    with open(DATA_ROOT / "train" / "span-3" / "data.csv", newline="") as f:
        rows = list(csv.reader(f))[:21]
    header, body = rows[0], rows[1:]
    quoted = lambda text: "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"  # noqa: E731
    values = ", ".join("(" + ", ".join(quoted(cell) for cell in row) + ")" for row in body)
    server.sql(f"CREATE DATABASE {database}; "
               f"CREATE TABLE {database}.trips ({', '.join(f'`{name}` TEXT' for name in header)}); "
               f"INSERT INTO {database}.trips VALUES {values};")


def test_read_only_commands_create_no_table_in_a_foreign_database(server, tmp_path):
    """Issue 29, item 8 on MySQL: MLMD would create its tables in any database it connects to;
    a command that only reads refuses one without them and leaves it as it was."""
    database = "someone_elses"
    _foreign_database(server, database)
    tables = f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{database}'"
    before = (server.sql(tables), server.sql(f"CHECKSUM TABLE {database}.trips"))
    for command in (("history",), ("lineage",), ("report", "--out", str(tmp_path / "report.html")),
                    ("validate", "--data", str(DATA_ROOT / "serving"), "--baseline", "auto")):
        proc = _tfxgate(server, *command, TFXGATE_MYSQL_DATABASE=database)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        [line] = [l for l in proc.stderr.splitlines() if l.strip()]
        assert f"mysql://tfxgate@127.0.0.1:{server.port}/{database}: not an MLMD store" in line, line
        assert (server.sql(tables), server.sql(f"CHECKSUM TABLE {database}.trips")) == before
    # A database that does not exist is not created either.
    proc = _tfxgate(server, "history", TFXGATE_MYSQL_DATABASE="no_such_database")
    assert proc.returncode == 2 and "no such database" in proc.stderr
    assert "no_such_database" not in server.sql("SHOW DATABASES")
