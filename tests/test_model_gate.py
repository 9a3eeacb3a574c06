"""The model gate end to end on one MLMD store (the session's runs, tests/conftest.py): the first
run's model is judged by the floors alone and pushed; a model trained one step on the same span
is evaluated against it, refused and not pushed (exit 5), and MLMD, the console, `tfxgate
lineage` and the report say why; the next span's model is judged against the latest blessed one."""

import json
import subprocess
import sys

import pytest
from ml_metadata.proto import metadata_store_pb2

from core.common import names as p
from mlmd import query, runs as runs_lib
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.pipeline


def _node_outputs(store, context, node, type_name):
    [execution] = query.executions_per_node(store, context.id)[node]
    return execution, query.outputs_of_type(store, execution.id, type_name)


def _tfxgate(*args):
    return subprocess.run([sys.executable, "-m", "tfxgate.command.cli", *args], capture_output=True, text=True, cwd=PROJECT_ROOT)


def test_the_first_model_is_judged_by_the_floors_only_and_pushed(runs):
    store, [first, _] = runs["store"], runs["first_runs"]
    _, [blessing] = _node_outputs(store, first, p.EVALUATOR, p.MODEL_BLESSING_TYPE)
    assert query.custom_value(blessing, p.BLESSED) == 1
    assert query.custom_value(blessing, p.EVAL_HAS_BASELINE) == 0
    metrics = json.loads(query.custom_value(blessing, p.EVAL_METRICS))
    assert {"auc", "binary_accuracy", "calibration", "example_count"} <= set(metrics["overall"])
    assert all("baseline" not in v for v in metrics["overall"].values())
    assert {row["slice"].split("=")[0] for row in metrics["slices"]} >= {"company", "payment_type"}
    _, [pushed] = _node_outputs(store, first, p.PUSHER, p.PUSHED_MODEL_TYPE)
    assert query.custom_value(pushed, p.PUSHED) == 1
    run = runs_lib.load_run(store, first)
    assert run.evaluation["blessed"] is True and run.evaluation["baseline_model"] is None
    assert run.evaluation["pushed"] is True and run.evaluation["reasons"] == []
    assert "model gate:   blessed; AUC " in runs["cold"].stdout
    assert "no baseline model yet: floors only" in runs["cold"].stdout


def test_a_worse_model_is_evaluated_refused_and_not_pushed_and_mlmd_says_why(runs):
    proc, store, context = runs["refused"], runs["store"], runs["refused_run"]
    assert proc.returncode == 5, proc.stdout + proc.stderr  # not 3: the data gate passed
    assert "data gate:    pass" in proc.stdout
    assert "model gate:   NOT blessed" in proc.stdout and "pushed model: None" in proc.stdout
    [line] = [x for x in proc.stderr.splitlines() if x.startswith("tfxgate: model not pushed: ")]
    assert " < baseline " in line or " < floor " in line, line
    assert "Traceback" not in proc.stderr
    _, [blessing] = _node_outputs(store, context, p.EVALUATOR, p.MODEL_BLESSING_TYPE)
    assert query.custom_value(blessing, p.BLESSED) == 0
    reasons = json.loads(query.custom_value(blessing, p.EVAL_REASONS))
    assert reasons and line.endswith("; ".join(reasons))
    # Against the first run's model, which the Resolver found as the latest blessed one.
    _, [first_model] = _node_outputs(store, runs["first_runs"][0], p.TRAINER, p.MODEL_TYPE)
    assert query.custom_value(blessing, p.EVAL_HAS_BASELINE) == 1
    assert query.custom_value(blessing, p.BLESSING_BASELINE_ID) == first_model.id
    overall = json.loads(query.custom_value(blessing, p.EVAL_METRICS))["overall"]
    assert overall["auc"]["candidate"] < overall["auc"]["baseline"]
    pusher, [pushed] = _node_outputs(store, context, p.PUSHER, p.PUSHED_MODEL_TYPE)
    assert pusher.last_known_state == metadata_store_pb2.Execution.COMPLETE  # the run completed
    assert query.custom_value(pushed, p.PUSHED) == 0
    run = runs_lib.load_run(store, context)
    assert run.evaluation["blessed"] is False and run.evaluation["pushed"] is False
    assert run.evaluation["baseline_model"]["run_id"] == runs["first_runs"][0].name  # the run that trained it


def test_lineage_and_the_report_show_the_refusal_beside_the_data_gate(runs, tmp_path):
    store_path, context = str(runs["outputs"] / "metadata.sqlite"), runs["refused_run"]
    _, [model] = _node_outputs(runs["store"], context, p.TRAINER, p.MODEL_TYPE)
    proc = _tfxgate("lineage", "--metadata", store_path, "--model", str(model.id))
    assert proc.returncode == 0, proc.stderr
    assert "model gate: NOT blessed" in proc.stdout and "      refused: " in proc.stdout
    assert "gate pass" in proc.stdout and "not pushed; evaluation" in proc.stdout
    data = json.loads(_tfxgate("lineage", "--metadata", store_path, "--model", str(model.id), "--format", "json").stdout)
    assert data["run"]["evaluation"]["blessed"] is False and data["run"]["evaluation"]["reasons"]
    out = tmp_path / "refused.html"
    proc = _tfxgate("report", "--metadata", store_path, "--run", context.name, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    page = out.read_text()
    assert 'id="model-gate"' in page and "refused: not pushed" in page
    for reason in runs_lib.load_run(runs["store"], context).evaluation["reasons"]:
        assert reason.replace("<", "&lt;").replace(">", "&gt;") in page
    assert runs["first_runs"][0].name in page  # the baseline model's run
    assert 'data-node="Evaluator" data-status="blocked"' in page  # the lineage diagram's box


def test_the_next_span_is_judged_against_the_latest_blessed_model(runs):
    store = runs["store"]
    warn_run = query.run_contexts(store)[-2]
    run = runs_lib.load_run(store, warn_run)
    assert run.evaluation["baseline_model"] is not None
    assert {"candidate", "baseline"} <= set(run.evaluation["metrics"]["auc"])
    # A blessed model is pushed and a refused one is not: never one without the other.
    assert run.evaluation["pushed"] == run.evaluation["blessed"]
    blocked = runs_lib.load_run(store, query.run_contexts(store)[-1])
    assert blocked.evaluation is None  # the data gate stopped it before any model
