"""The notebook API's read-back of a project's runs (tfxgate/notebook/history.py): `tfxgate.runs`,
`tfxgate.run`, `tfxgate.history`, on a project with two real runs (tests/notebook_store.py: span 3
passed up to the gate, span 5 blocked for a new payment type); its store never written; what a
caller gets wrong is one `tfxgate.ProjectError` line."""

import hashlib
import shutil
import subprocess
import sys

import pandas as pd
import pytest

import tfxgate
from tests import notebook_store
from tests.conftest import DATA_ROOT, PROJECT_ROOT


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return notebook_store.make_project(tmp_path_factory.mktemp("notebook") / "project")


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_line(error: pytest.ExceptionInfo) -> str:
    text = str(error.value)
    assert text and "\n" not in text, text
    assert error.value.__context__ is None or error.value.__suppress_context__  # no error of ours beneath it
    assert error.value._render_traceback_() == [f"tfxgate.ProjectError: {text}"]  # what IPython shows
    return text


@pytest.mark.pipeline
def test_runs_are_a_table_of_each_run_and_its_gate(project):
    table = tfxgate.runs(str(project))
    assert list(table.columns) == ["time", "run_id", "span", "decision", "reasons", "model_gate", "pushed_model"]
    assert list(table.run_id) == [notebook_store.PASSED_RUN, notebook_store.BLOCKED_RUN]
    assert list(table.span) == [3, 5] and list(table.decision) == ["pass", "block"]
    assert table.reasons[0] == [] and "payment_type ENUM_TYPE_UNEXPECTED_STRING_VALUES" in " ".join(table.reasons[1])
    assert table.model_gate.isna().all() and table.pushed_model.isna().all()  # neither run trained a model
    assert str(table.time.dt.tz) == "UTC" and table.time.is_monotonic_increasing


@pytest.mark.pipeline
def test_the_project_is_the_folder_the_notebook_stands_in(project, monkeypatch):
    monkeypatch.chdir(project)
    assert list(tfxgate.runs().run_id) == [notebook_store.PASSED_RUN, notebook_store.BLOCKED_RUN]


@pytest.mark.pipeline
def test_a_run_shows_inline_as_the_report_shows_it(project, tmp_path):
    latest = tfxgate.run("latest", str(project))
    assert latest.run_id == notebook_store.BLOCKED_RUN and latest.decision == "block" and latest.spans == [5]
    blocking = latest.verdicts[latest.verdicts.severity == "block"]
    assert ("payment_type", "ENUM_TYPE_UNEXPECTED_STRING_VALUES") in {
        (row.feature, t) for row in blocking.itertuples() for t in row.types.split(", ")}
    assert {"TrainExampleGen", "TrainValidator"} <= set(latest.artifacts.node)
    shown = latest._repr_html_()
    assert shown.startswith('<div class="tfxgate-report"><style>') and 'id="verdict"' in shown
    assert "body{" not in shown and "div.tfxgate-report table{" in shown  # its styles kept to itself
    assert 'class="figure evidence-figure"' in shown and '<svg class="lineage"' in shown
    assert shown.index('id="verdict"') < shown.index('<div class="evidence reason-block"')
    page = latest.save_html(tmp_path / "report.html")
    text = (tmp_path / "report.html").read_text()
    assert page == str(tmp_path / "report.html") and "default-src 'none'" in text and latest.run_id in text
    passed = tfxgate.run(notebook_store.PASSED_RUN, project=str(project))
    assert passed.decision == "pass" and passed.verdicts.severity.isin(["block"]).sum() == 0
    assert "PASS" in passed._repr_html_() and notebook_store.PASSED_RUN in repr(passed)


@pytest.mark.pipeline
def test_a_features_history_is_a_table_and_its_figure(project):
    history = tfxgate.history("payment_type", str(project))
    drift = history[(history.check == "drift") & (history.type == "L_INFTY") & history.slice.isna()]
    # Span 3 ran first: nothing to drift from. Span 5 against it, in each split: the new payment
    # type's share is the largest move of any category's.
    assert list(drift.span) == [5, 5] and set(drift.against) == {"span 3"} and set(drift.split) == {"train", "eval"}
    assert all(abs(value - 1 / notebook_store.NEW_PAYMENT_SHARE) < 0.01 for value in drift.value)
    assert list(history.over) == list(history.value >= history.threshold)
    assert set(history.run_id) <= {notebook_store.PASSED_RUN, notebook_store.BLOCKED_RUN}
    shown = history._repr_html_()
    assert shown.startswith('<svg class="figure history"') and "payment_type" in shown and "<table" in shown
    assert type(history[history.over]) is pd.DataFrame  # a part of it is a plain table


@pytest.mark.pipeline
def test_reading_never_writes_the_store(project):
    store = project / "outputs" / "metadata.sqlite"
    before = _sha256(store)
    tfxgate.runs(str(project))
    tfxgate.run("latest", str(project))._repr_html_()
    tfxgate.history("fare", str(project))
    with pytest.raises(tfxgate.ProjectError):
        tfxgate.run("no-such-run", str(project))
    assert _sha256(store) == before


@pytest.mark.pipeline
def test_a_run_or_feature_that_is_not_there_is_one_line(project):
    with pytest.raises(tfxgate.ProjectError) as error:
        tfxgate.run("no-such-run", str(project))
    assert "no run 'no-such-run'" in _one_line(error) and notebook_store.BLOCKED_RUN in str(error.value)
    with pytest.raises(tfxgate.ProjectError) as error:
        tfxgate.history("no_such_feature", str(project))
    assert "'no_such_feature': never measured" in _one_line(error) and "payment_type" in str(error.value)


@pytest.mark.unit
def test_an_unknown_project_is_one_line(tmp_path):
    with pytest.raises(tfxgate.ProjectError) as error:
        tfxgate.runs(str(tmp_path / "nowhere"))
    assert "nowhere: no such folder" in _one_line(error)
    with pytest.raises(tfxgate.ProjectError) as error:
        tfxgate.run("latest", str(tmp_path))
    assert "no tfxgate.yaml in it" in _one_line(error)


@pytest.mark.unit
def test_a_project_without_a_store_or_with_a_foreign_one_is_one_line(tmp_path):
    shutil.copy(PROJECT_ROOT / "tfxgate.yaml", tmp_path / "tfxgate.yaml")
    with pytest.raises(tfxgate.ProjectError) as error:
        tfxgate.history("fare", str(tmp_path))
    assert "metadata.sqlite: no MLMD store there (run the pipeline first)" in _one_line(error)
    store = tmp_path / "outputs" / "metadata.sqlite"
    store.parent.mkdir()
    shutil.copyfile(DATA_ROOT / "serving" / "data.csv", store)  # not SQLite at all
    before = _sha256(store)
    with pytest.raises(tfxgate.ProjectError) as error:
        tfxgate.runs(str(tmp_path))
    assert "not an MLMD store" in _one_line(error) and _sha256(store) == before


@pytest.mark.unit
def test_importing_the_api_loads_nothing_heavy():
    code = ("import sys, time; started = time.monotonic(); import tfxgate; seconds = time.monotonic() - started; "
            "import tfxgate.notebook.history; tfxgate.runs, tfxgate.run, tfxgate.history, tfxgate.ProjectError; "
            "heavy = [m for m in ('tensorflow', 'tfx', 'apache_beam', 'tensorflow_data_validation', 'ml_metadata', "
            "'pandas') if m in sys.modules]; print(heavy, seconds)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    heavy, seconds = proc.stdout.rsplit(" ", 1)
    assert heavy == "[]" and float(seconds) < 1.0, proc.stdout
