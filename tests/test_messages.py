"""One line of ours when MLflow or KFP cannot be reached, and the runners' arguments checked
before any work (issue 29, items 10 to 12).

Each case runs as a whole process, as a person runs it: what reaches the terminal is exactly one
line naming what failed and where; the libraries' warnings (urllib3's retries, MLflow's notices)
are in the log instead.
"""

import subprocess
import sys

import pytest

from tests.paths import PROJECT_ROOT
from tests.ports import free_port

pytestmark = pytest.mark.unit

GOLDEN = PROJECT_ROOT / "tests" / "golden" / "tfxgate_pipeline.yaml"


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300)


# The runner's tracking step, its read-back from MLMD replaced by test_tracking's run (that
# read-back is tests/test_mlflow.py's): what reaches the terminal when MLflow fails.
_TRACK = """
import sys, types
import runner_local
from tfxgate.experiments import tracking
from tests.test_tracking import _run
run = _run()
tracking.read = lambda store, run_id, where, pipeline='': (run, tracking.content(run, {{}}, None, where), '<html/>', {{}})
config = types.SimpleNamespace(store=types.SimpleNamespace(open=lambda: None, describe=lambda: 'SQLite /m.sqlite'),
                               pipeline_name='taxi')
runner_local._track(config, run.run_id, {uri!r}, {log!r})
"""


def test_mlflow_file_store_in_a_folder_that_does_not_exist_is_one_line_naming_it(tmp_path):
    folder = tmp_path / "nonexistent" / "dir"
    uri = f"file://{folder}"
    proc = _python(_TRACK.format(uri=uri, log=str(tmp_path / "run.log")))
    assert proc.returncode == 0, proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"tfxgate: MLflow logging to {uri} failed: ")
    assert f"the folder {folder}, which does not exist" in line
    assert "maintenance mode" not in proc.stderr  # MLflow's own notice is not shown


def test_an_unreachable_mlflow_server_is_one_line_and_urllib3_retries_go_to_the_log(tmp_path):
    uri = f"http://127.0.0.1:{free_port()}"
    log = tmp_path / "run.log"
    proc = _python(_TRACK.format(uri=uri, log=str(log)))
    assert proc.returncode == 0, proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line == f"tfxgate: MLflow logging to {uri} failed: no tracking server answers there (Connection refused)"
    assert "Retrying" in log.read_text()  # urllib3's warnings, kept for whoever needs them


def test_an_unreachable_kfp_host_is_one_line_and_urllib3_retries_go_to_the_log():
    host = f"http://127.0.0.1:{free_port()}"
    proc = _python("import logging, sys, types, runner_kubeflow\n"
                   "logging.basicConfig()  # as TFX leaves it after compiling: a root handler on stderr\n"
                   f"args = types.SimpleNamespace(output={str(GOLDEN)!r}, host={host!r}, experiment='tfxgate', "
                   "pipeline_root='/tmp/unused-root', param=[])\n"
                   "sys.exit(runner_kubeflow.submit(args))")
    assert proc.returncode == 1, proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line == f"error: submitting to {host} failed: no KFP API server answers there (Connection refused)"


def _kubeflow(capfd, *argv):
    """runner_kubeflow.main in this process (its imports paid once): (exit status, stdout, stderr)."""
    import runner_kubeflow

    code = runner_kubeflow.main(list(argv))
    out, err = capfd.readouterr()
    return code, out, err


@pytest.mark.parametrize("value, message", [
    ("Trainer=nan/nan,1/2", "every figure must be a finite number (not nan or inf)"),
    ("Trainer=1/inf,1/2", "every figure must be a finite number (not nan or inf)"),
    ("Trainer=1/2,8/1e9", "memory 1e+09 GB is outside 0.001 to 32768 GB"),
    ("Trainer=1/1e6,8/16", "CPU 1e+06 cores is outside 0.001 to 1024 cores"),
    ("Trainer=0.00001/1,8/16", "CPU 1e-05 cores is outside 0.001 to 1024 cores"),
])
def test_kubeflow_resources_are_finite_and_plausible(tmp_path, capfd, value, message):
    out = tmp_path / "spec" / "tfxgate_pipeline.yaml"
    code, stdout, stderr = _kubeflow(capfd, "--output", str(out), "--resources", value)
    assert code == 2, stdout + stderr
    [line] = stderr.strip().splitlines()
    assert message in line and line.startswith("error: --resources")
    assert not out.parent.exists()  # refused before anything compiled or was written


@pytest.mark.parametrize("param, message", [
    ("span=abc", "--param 'span=abc': span takes a whole number"),
    ("train_steps=0", "--param train_steps=0: at least 1"),
    ("schema_version=v99", "schema version v99: no"),
    ("spn=3", "expected NAME=VALUE with NAME one of the spec's parameters"),
])
def test_kubeflow_submit_checks_every_param_before_compiling_or_writing(tmp_path, capfd, monkeypatch, param, message):
    from pipeline import kubeflow

    compiled = []
    monkeypatch.setattr(kubeflow, "compile_spec", lambda *a, **k: compiled.append(a))
    out = tmp_path / "spec" / "tfxgate_pipeline.yaml"
    code, stdout, stderr = _kubeflow(capfd, "--output", str(out), "--submit", "--host",
                                     f"http://127.0.0.1:{free_port()}", "--param", param)
    assert code == 2, stdout + stderr
    [line] = stderr.strip().splitlines()
    assert message in line
    assert compiled == [] and not out.parent.exists() and "wrote" not in stdout  # nothing compiled, nothing written


def test_the_params_known_before_compiling_are_the_compiled_specs():
    """check_arguments reads the parameters from the list the compiler reads: the golden spec
    declares exactly those, with the same types."""
    import yaml

    from pipeline import kfp_runs, kubeflow
    from pipeline.pipeline import run_parameters

    with open(GOLDEN) as f:
        declared = next(yaml.safe_load_all(f))["root"]["inputDefinitions"]["parameters"]
    config = kubeflow.kubeflow_config("gs://r/root", "/data", "gs://r/serving")
    known = {name: {"parameterType": kfp_runs._PARAMETER_TYPES[p.ptype]} for name, p in run_parameters(config).items()}
    assert known == {name: {"parameterType": d["parameterType"]} for name, d in declared.items()}
