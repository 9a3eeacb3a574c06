"""Shared fixtures. `import tfxgate` first: it selects Keras 2 before TensorFlow is imported.

`runs` (session-scoped) runs the real pipeline five times on one MLMD store, for the end-to-end,
report, model gate, MLflow and glob tests: (1) the sample (read from a data root named `batch [1]`),
cold; (2) the same again, from the cache; a one-step model the model gate refuses; (3) span 4, whose
payment mix drifted from span 3 (Credit Card up to ~56 %) and which has a new payment type in
0.4 % of rows: the gate warns and the run completes; (4) span 5, a new payment type in 10 % of
rows and no label: the gate stops the run before Transform. When tests/test_mlflow.py is
collected, (2) and (4) log to its MLflow server: it needs no pipeline run of its own.
"""

import ast
import functools
import os
import pathlib
import shutil
import subprocess
import sys
import time

import pytest

import core  # noqa: F401  (Keras 2 before TensorFlow is imported)
from mlmd import query
from tests import defects
from tests.paths import DATA_ROOT, PROJECT_ROOT  # noqa: F401  (imported from here by the tests)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# The tiers (`make test-fast` runs unit and component): each test module declares its tier with
# `pytestmark`; a test that uses a fixture running the whole pipeline is in the pipeline tier too.
_PIPELINE_FIXTURES = {"runs", "chain", "pipelines"}
TIERS = ("unit", "component", "pipeline", "kubeflow", "services")


# Rooms: a test module that imports a room of core/ (docs/ARCHITECTURE.md) is marked with it, so a
# change to one room runs its tests: `make test-room ROOM=reading` (`pytest -m room_reading`).
ROOMS = sorted(p.name for p in (PROJECT_ROOT / "core").iterdir() if (p / "__init__.py").is_file())


def pytest_configure(config):
    for room in ROOMS:
        config.addinivalue_line("markers", f"room_{room}: the test module imports core.{room}")


@functools.lru_cache(maxsize=None)
def rooms_of(path: str) -> frozenset:
    """The rooms of core/ the test module at `path` imports, at any depth of its code."""
    found = set()
    for node in ast.walk(ast.parse(pathlib.Path(path).read_text(), filename=path)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        else:
            continue
        found.update(m.split(".")[1] for m in modules if m.startswith("core.") and m.split(".")[1] in ROOMS)
    return frozenset(found)


def pytest_collection_modifyitems(items):
    for item in items:
        for room in rooms_of(str(item.path)):
            item.add_marker(getattr(pytest.mark, f"room_{room}"))
        if _PIPELINE_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.pipeline)
        if not any(item.get_closest_marker(tier) for tier in TIERS):
            raise pytest.UsageError(f"{item.nodeid}: no tier marker (one of {', '.join(TIERS)}; see pytest.ini)")


def _steps(args) -> list:
    """100 training steps unless the run asks for its own number."""
    return [] if "--train-steps" in args else ["--train-steps", "100"]


def _run_pipeline(outputs, *args, env=None):
    """Runs the runner; its $TMPDIR is <outputs>/../tmpdir, which must stay empty (no leak)."""
    started = time.monotonic()
    tmpdir = outputs.parent / f"{outputs.name}-tmpdir"
    tmpdir.mkdir(exist_ok=True)
    proc = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "runner_local.py"), "--outputs", str(outputs), *_steps(args), *args],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env=dict(env or os.environ, TMPDIR=str(tmpdir)),
    )
    return proc, time.monotonic() - started


def _drifted_payment_mix(rows, credit_share):
    """Turns evenly spread Cash trips into Credit Card ones until Credit Card has `credit_share`."""
    cash = [i for i, r in enumerate(rows) if r["payment_type"] == "Cash"]
    needed = int(credit_share * len(rows)) - sum(r["payment_type"] == "Credit Card" for r in rows)
    chosen = set(cash[:: max(1, len(cash) // max(needed, 1))][:needed])
    return [dict(r, payment_type="Credit Card") if i in chosen else r for i, r in enumerate(rows)]


QUARANTINED_IN_SPAN_4 = 3  # rows whose fare is "N/A": under 0.1 % of the span, quarantined with a warning
BAD_SECONDS_SHARE_IN_SPAN_5 = 0.02  # rows whose trip_seconds is a fraction: enough to block


def _extra_spans(root):
    """A data root with span 3 as shipped; span 4, drifted (warn only), a new payment type in
    0.4 % of rows and a handful of fares that are not numbers (quarantined); span 5, corrupted:
    a new payment type in 10 % of rows, no label, and fractional trip_seconds in 2 % of rows."""
    shutil.copytree(DATA_ROOT / "serving", root / "serving")
    shutil.copytree(DATA_ROOT / "train" / "span-3", root / "train" / "span-3")
    span3 = defects.base_rows(n=10**6)
    drifted = _drifted_payment_mix(span3, 0.565)
    rare = [dict(r, payment_type="Bitcoin") if i % 250 == 0 else r for i, r in enumerate(drifted)]
    step = len(rare) // QUARANTINED_IN_SPAN_4
    unreadable = [dict(r, fare="N/A") if i % step == step // 2 and i // step < QUARANTINED_IN_SPAN_4 else r
                  for i, r in enumerate(rare)]
    defects.write_rows(root / "train" / "span-4" / "data.csv", unreadable)
    corrupt = [dict(r, payment_type="Bitcoin") if i % 10 == 0 else r for i, r in enumerate(span3)]
    every = round(1 / BAD_SECONDS_SHARE_IN_SPAN_5)
    corrupt = [dict(r, trip_seconds=f"{r['trip_seconds']}.5") if i % every == 1 and r["trip_seconds"] else r
               for i, r in enumerate(corrupt)]
    defects.write_rows(root / "train" / "span-5" / "data.csv", corrupt, defects.SERVING_COLUMNS)


GLOB_DATA_ROOT = "batch [1]"  # the sample's data root is copied under this name: glob characters are literal


def _wants_mlflow(session) -> bool:
    """Whether a collected test reads the MLflow runs (tests/test_mlflow.py's `tracked`)."""
    return any("tracked" in getattr(item, "fixturenames", ()) for item in session.items)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    from tests.mlflow_server import MLflowServer

    started = MLflowServer.start(str(tmp_path_factory.mktemp("mlflow-server")))  # fails, never skips, if it cannot
    yield started
    started.stop()


@pytest.fixture(scope="session")
def runs(request, tmp_path_factory):
    outputs = tmp_path_factory.mktemp("outputs")
    # Artifacts elsewhere than the default <outputs>/pipeline: logs and the pushed model must
    # still follow --outputs, and artifacts only --pipeline-root.
    root = outputs.parent / f"{outputs.name}-artifacts"
    # The sample read from a data root whose name has glob characters (`batch [1]`): the pre-check,
    # ExampleGen's driver and executor must take it literally (tests/test_bad_input.py).
    data_root = tmp_path_factory.mktemp("sample") / GLOB_DATA_ROOT
    shutil.copytree(DATA_ROOT, data_root)
    # When tests/test_mlflow.py runs, the cached run logs to its MLflow server through
    # --mlflow-tracking-uri and the blocked run through $MLFLOW_TRACKING_URI (no other run logs):
    # those two runs are the ones it reads back, with no pipeline run of its own.
    server = request.getfixturevalue("mlflow_server") if _wants_mlflow(request.session) else None
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    result = {"outputs": outputs, "pipeline_root": root, "data_root": data_root, "mlflow": server}
    for name, args in [("cold", ()), ("cached", ("--mlflow-tracking-uri", server.uri) if server else ())]:
        result[name], result[f"{name}_seconds"] = _run_pipeline(
            outputs, "--pipeline-root", str(root), "--data-root", str(data_root), *args, env=env)
        assert result[name].returncode == 0, result[name].stdout + result[name].stderr
    result["store"] = query.sqlite_store(str(outputs / "metadata.sqlite"))
    result["first_runs"] = query.run_contexts(result["store"])
    # The same span with a model trained one step: the data gate passes, the model gate refuses it
    # against the first run's blessed model (exit 5, nothing pushed). Everything before Trainer
    # comes from the cache.
    result["refused"], _ = _run_pipeline(outputs, "--pipeline-root", str(root), "--data-root", str(data_root),
                                         "--train-steps", "1", env=env)
    result["refused_run"] = query.run_contexts(result["store"])[-1]
    extra = tmp_path_factory.mktemp("data")
    _extra_spans(extra)
    result["extra_data"] = extra
    result["warn"], _ = _run_pipeline(outputs, "--pipeline-root", str(root), "--data-root", str(extra), "--span", "4",
                                      env=env)
    result["blocked"], _ = _run_pipeline(outputs, "--pipeline-root", str(root), "--data-root", str(extra), "--span", "5",
                                         env=dict(env, MLFLOW_TRACKING_URI=server.uri) if server else env)
    return result


# tensorflow-io 0.37.1 aborts at exit (status 134) any process that used its S3 file system, even
# after every test passed (core/common/storage.py): once it is loaded, the session's own status leaves
# through os._exit, after every other plugin has finished (trylast).
def pytest_sessionfinish(session, exitstatus):
    session.config._tfxgate_exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    status = getattr(config, "_tfxgate_exit_status", None)
    if status is not None and "tensorflow_io" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
