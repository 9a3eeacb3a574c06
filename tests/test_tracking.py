"""What a run logs to MLflow (tfxgate/experiments/tracking.py), without a server: keys, params, metrics, tags
and status from hand-built runs; and without the option, no MLflow at all."""

import os
import subprocess
import sys

import pytest

from core.common import names
from core.common.findings import Finding
from core.judging.policy import Verdict
from mlmd import runs
from tfxgate.experiments import tracking
from tests.paths import PROJECT_ROOT

pytestmark = pytest.mark.unit

ALLOWED = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-. :/")


@pytest.mark.parametrize("raw, key", [
    ("distance/serving/serving/skew/L_INFTY/fare", "distance/serving/serving/skew/L_INFTY/fare"),
    ("distance/training/train/psi/PSI/fare/company=Flash Cab", "distance/training/train/psi/PSI/fare/company_Flash Cab"),
    ("eval.auc@0.5", "eval.auc_0.5"),
    ("../x//y/./z", "_/x/_/y/_/z"),
    ("/leading", "_/leading"),
    ("naïve→ü", "na_ve__"),
])
def test_a_key_is_sanitized_to_what_mlflow_accepts(raw, key):
    assert tracking.sanitize(raw) == key
    assert set(key) <= ALLOWED and not key.startswith(("/", "."))


def test_keys_that_would_collide_stay_unique_and_do_not_depend_on_order():
    raws = ["distance/a/b=c", "distance/a/b_c", "distance/a/b c", "x" * 300]
    keys = tracking.metric_keys(raws)
    assert len(set(keys.values())) == len(raws)
    assert keys["distance/a/b c"] == "distance/a/b c"  # nothing to clean, nothing shared: as it is
    assert keys["distance/a/b=c"].startswith("distance/a/b_c-") and keys["distance/a/b_c"].startswith("distance/a/b_c-")
    assert all(len(k) <= tracking.MAX_KEY for k in keys.values())
    assert tracking.metric_keys(reversed(raws)) == keys


def _validation(environment, split, findings, verdicts, distances):
    return runs.Validation(
        node=names.TRAIN_VALIDATOR if environment == names.TRAINING else names.SERVING_VALIDATOR,
        environment=environment, schema_version="v1", span=3, artifact_id=7, uri="/a", statistics_uri="/s",
        drift_baseline_span=None,
        splits={split: {"environment": environment, "num_examples": 1000, "findings": findings,
                        "distances": distances}},
        verdicts=verdicts)


def _run(decision="pass", evaluation=None):
    bad = Finding(feature="payment_type", types=["ENUM_TYPE_UNEXPECTED_STRING_VALUES"], check="schema",
                  description="new values", fraction=0.1)
    verdicts = [Verdict("training[train]", bad, names.BLOCK, "default")] if decision == names.BLOCK else []
    run = runs.Run(
        run_id="2026-01-02T03:04:05.000006", context_id=42, pipeline="taxi", created_ms=1, states={},
        examples=[{"span": 3}], schema_version="v2", schema_file=None, inferred_schema_uri=None,
        validations=[
            _validation(names.TRAINING, "train", [], verdicts, []),
            _validation(names.SERVING, "serving", [], [], [
                {"check": "skew", "feature": "fare", "type": "JENSEN_SHANNON_DIVERGENCE", "value": 0.13,
                 "threshold": 0.25},
                {"check": "psi", "feature": "fare", "type": "PSI", "value": 0.02, "threshold": 0.2,
                 "slice": "company=Flash Cab"}]),
        ],
        gate={"decision": decision, "summary": "blocked by training: payment_type ..." if decision == "block" else ""},
        pushed_model=None, policy_digest="abc123")
    if evaluation is not None:
        run.evaluation = evaluation  # the field the model gate's change adds to mlmd.runs.Run
    return run


def test_a_clean_run_logs_its_params_gate_distances_and_mlmd_ids():
    logged = tracking.content(_run(), {"DataGate": 11, "Pusher": 14}, '{"version": 3, "rules": []}', "SQLite /m.sqlite")
    assert logged.status == tracking.FINISHED and logged.experiment == "taxi"
    assert logged.run_name == "2026-01-02T03:04:05.000006"
    assert logged.params == {"pipeline": "taxi", "span": "3", "schema_version": "v2", "policy_version": "3",
                             "policy_digest": "abc123"}
    assert logged.metrics["gate.decision"] == 0 and logged.metrics["gate.blocking"] == 0
    assert logged.metrics["distance/serving/serving/skew/JENSEN_SHANNON_DIVERGENCE/fare"] == 0.13
    assert logged.metrics["distance/serving/serving/psi/PSI/fare/company_Flash Cab"] == 0.02
    assert logged.tags["gate.decision"] == "pass" and "gate.reasons" not in logged.tags
    assert logged.tags["mlmd.pipeline_run.id"] == "42"
    assert logged.tags["mlmd.pipeline_run.name"] == "2026-01-02T03:04:05.000006"
    assert logged.tags["mlmd.execution_id.DataGate"] == "11" and logged.tags["mlmd.execution_id.Pusher"] == "14"
    assert logged.tags["mlmd.store"] == "SQLite /m.sqlite"
    assert not any(k.startswith("eval.") for k in list(logged.metrics) + list(logged.tags))


def test_a_blocked_run_fails_with_its_reasons():
    logged = tracking.content(_run(decision=names.BLOCK), {}, None, "s")
    assert logged.status == tracking.FAILED
    assert logged.metrics["gate.decision"] == 2 and logged.metrics["gate.blocking"] == 1
    assert logged.tags["gate.decision"] == "block"
    assert "payment_type ENUM_TYPE_UNEXPECTED_STRING_VALUES" in logged.tags["gate.reasons"]
    assert "policy_version" not in logged.params


EVALUATION = {
    "artifact_id": 20, "blessing_id": 21, "blessed": False,
    "metrics": {"auc": {"candidate": 0.71, "baseline": 0.74}, "binary_accuracy": {"candidate": 0.8, "baseline": None}},
    "reasons": ["AUC 0.71 < baseline 0.74 - 0.01"], "baseline_model": {"artifact_id": 9, "uri": "/m"}, "pushed": False,
}


def test_a_model_the_evaluator_refused_finishes_with_blessing_0_and_its_reason():
    logged = tracking.content(_run(evaluation=EVALUATION), {}, None, "s")
    assert logged.status == tracking.FINISHED
    assert logged.metrics["eval.auc"] == 0.71 and logged.metrics["eval.baseline.auc"] == 0.74
    assert logged.metrics["eval.binary_accuracy"] == 0.8 and "eval.baseline.binary_accuracy" not in logged.metrics
    assert logged.metrics["eval.blessed"] == 0
    assert logged.tags["eval.reasons"] == "AUC 0.71 < baseline 0.74 - 0.01" and logged.tags["eval.pushed"] == "false"


def test_a_blessed_model_and_a_first_model_without_baseline():
    first = dict(EVALUATION, blessed=True, reasons=[], baseline_model=None, pushed=True,
                 metrics={"auc": {"candidate": 0.7, "baseline": None}})
    logged = tracking.content(_run(evaluation=first), {}, None, "s")
    assert logged.metrics["eval.blessed"] == 1 and logged.metrics["eval.auc"] == 0.7
    assert "eval.baseline.auc" not in logged.metrics and "eval.reasons" not in logged.tags


def _python(code: str, env=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in (env or os.environ).items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120,
                          env=env)


def test_without_a_tracking_uri_nothing_of_mlflow_is_imported():
    """The runner's argument path and its tracking step, and the tracking module itself."""
    proc = _python("import sys, runner_local, tfxgate.experiments.tracking\n"
                   "args = runner_local.parse_args(['--outputs', '/nonexistent'])\n"
                   "runner_local._track(None, 'a run', args.mlflow_tracking_uri)\n"
                   "print(args.mlflow_tracking_uri, sorted(m for m in sys.modules if m.split('.')[0] == 'mlflow'))")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "None []"


def test_the_tracking_uri_comes_from_the_flag_or_the_environment():
    proc = _python("import runner_local\n"
                   "print(runner_local.parse_args([]).mlflow_tracking_uri, "
                   "runner_local.parse_args(['--mlflow-tracking-uri', 'http://b']).mlflow_tracking_uri)",
                   env=dict(os.environ, MLFLOW_TRACKING_URI="http://a"))
    assert proc.stdout.split() == ["None", "http://b"]  # _python drops the variable: check it apart
    proc = subprocess.run([sys.executable, "-c", "import runner_local; print(runner_local.parse_args([]).mlflow_tracking_uri)"],
                          capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120,
                          env=dict(os.environ, MLFLOW_TRACKING_URI="http://a"))
    assert proc.stdout.strip() == "http://a"
