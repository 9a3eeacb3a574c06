"""Nothing read from data, statistics, schemas or report paths is evaluated or unpickled, and no
secret reaches a compiled Kubeflow spec or a log line.

The source scan walks the syntax tree of every module the product ships (not the tests): a new
`eval`, `pickle.load` or `yaml.load` without a safe loader fails it, with the file and line.
"""

import ast
import logging
import pathlib
import pickle
import subprocess
import sys

import pytest

from tests.conftest import DATA_ROOT, PROJECT_ROOT
from mlmd import store

pytestmark = pytest.mark.unit

SHIPPED = ["core", "mlmd", "pipeline", "components", "models", "tfxgate", "benchmarks", "scripts", "runner_local.py", "runner_kubeflow.py"]

# (module or None for a builtin, function name)
FORBIDDEN_CALLS = {
    (None, "eval"), (None, "exec"), (None, "compile"), (None, "__import__"),
    ("pickle", "load"), ("pickle", "loads"), ("pickle", "Unpickler"), ("cloudpickle", "load"), ("cloudpickle", "loads"),
    ("dill", "load"), ("dill", "loads"), ("marshal", "load"), ("marshal", "loads"), ("shelve", "open"),
    ("yaml", "unsafe_load"), ("yaml", "full_load"), ("pd", "read_pickle"), ("pandas", "read_pickle"),
    ("torch", "load"), ("joblib", "load"), ("os", "system"), ("os", "popen"),
}


def _shipped_files():
    for entry in SHIPPED:
        path = PROJECT_ROOT / entry
        yield from ([path] if path.is_file() else sorted(path.rglob("*.py")))


def _violations(path: pathlib.Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    where = path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path.name
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func, keywords = node.func, {k.arg: k.value for k in node.keywords}
        name = (None, func.id) if isinstance(func, ast.Name) else (
            (func.value.id if isinstance(func.value, ast.Name) else "?", func.attr) if isinstance(func, ast.Attribute) else None)
        if name in FORBIDDEN_CALLS:
            yield f"{where}:{node.lineno}: {name[0] + '.' if name[0] else ''}{name[1]}"
        if name == ("yaml", "load") and "Safe" not in ast.unparse(keywords.get("Loader", ast.Constant(""))):
            yield f"{where}:{node.lineno}: yaml.load without a safe loader"
        if name and name[1] == "load" and isinstance(keywords.get("allow_pickle"), ast.Constant) and keywords["allow_pickle"].value:
            yield f"{where}:{node.lineno}: load(allow_pickle=True)"
        if keywords.get("shell") is not None and isinstance(keywords["shell"], ast.Constant) and keywords["shell"].value:
            yield f"{where}:{node.lineno}: subprocess with shell=True"


def test_the_scan_sees_what_it_forbids(tmp_path):
    bad = tmp_path / "_scan_probe.py"
    bad.write_text("import pickle, yaml\nx = pickle.loads(b'')\ny = yaml.load('a')\nz = eval('1')\n")
    found = list(_violations(bad))
    assert [f.split(": ", 1)[1] for f in found] == ["pickle.loads", "yaml.load without a safe loader", "eval"]


def test_no_shipped_module_evaluates_or_unpickles():
    files = list(_shipped_files())
    assert len(files) > 30
    found = [v for path in files for v in _violations(path)]
    assert found == []


class _Boom:
    """Unpickling this creates a file: proof that something unpickled it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


@pytest.mark.parametrize("flag", ["--baseline", "--schema"])
def test_a_pickle_given_as_statistics_or_schema_is_refused_not_loaded(tmp_path, flag):
    marker = tmp_path / "unpickled"
    evil = tmp_path / "stats.pb"
    evil.write_bytes(pickle.dumps(_Boom(str(marker))))
    proc = subprocess.run(
        [sys.executable, "-m", "tfxgate.command.cli", "validate", "--data", str(DATA_ROOT / "serving"), flag, str(evil)],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    [line] = [l for l in proc.stderr.splitlines() if l.strip()]
    assert str(evil) in line
    assert not marker.exists()


@pytest.mark.kubeflow
def test_a_compiled_kubeflow_spec_holds_no_secret(tmp_path):
    secret, token = "s3cret-mysql-pw-41", "ya29.token-that-must-not-leak"
    env = {"TFXGATE_MYSQL_PASSWORD": secret, "TFXGATE_MYSQL_HOST": "db.example", "TFXGATE_MYSQL_USER": "u",
           "TFXGATE_MYSQL_DATABASE": "d", "KFP_TOKEN": token, "GOOGLE_OAUTH_ACCESS_TOKEN": token}
    import os

    spec = tmp_path / "spec.yaml"
    proc = subprocess.run([sys.executable, str(PROJECT_ROOT / "runner_kubeflow.py"), "--output", str(spec)],
                          capture_output=True, text=True, cwd=PROJECT_ROOT, env=dict(os.environ, **env), timeout=600)
    assert proc.returncode == 0, proc.stderr
    text = spec.read_text()
    assert "pipelineInfo" in text
    for value in (secret, token, "TFXGATE_MYSQL_PASSWORD"):
        assert value not in text and value not in proc.stdout + proc.stderr


def test_log_lines_lose_passwords(caplog):
    settings = store.StoreSettings(mysql=store.MySQLSettings("127.0.0.1", 3306, "d", "u", "hunter2-secret"))
    store._SECRETS.add("hunter2-secret")
    assert "hunter2-secret" not in repr(settings)
    store.install_log_redaction()
    logger = logging.getLogger("absl")
    with caplog.at_level(logging.INFO, logger="absl"):
        logger.info("Using connection config:\n %s", settings.connection_config())
        logger.info('retrying with {"password": "other-pw"} and the secret hunter2-secret again')
    text = caplog.text
    assert "hunter2-secret" not in text and "other-pw" not in text
    assert "password: <redacted>" in text
