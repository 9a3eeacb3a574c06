"""The real pipeline through runner_local.py, checked in MLMD (the runs: see conftest.py)."""

import csv
import json
import re
import shutil

import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv
from ml_metadata.proto import metadata_store_pb2

from pipeline import config as config_lib
from core import rules as rules_lib
from core.settings import schema_files
from core.common import names as p
from core.common.errors import InputError
from tests.conftest import DATA_ROOT, PROJECT_ROOT
from mlmd import query
from tfxgate.command import schema_versions

pytestmark = pytest.mark.pipeline

NODES = [
    p.EXAMPLE_GEN, p.STATISTICS_GEN, p.INFERRED_SCHEMA, p.CURATED_SCHEMA, p.EXAMPLE_VALIDATOR,
    p.PREVIOUS_DECISIONS, p.TRAIN_VALIDATOR, p.SERVING_EXAMPLE_GEN, p.SERVING_STATISTICS_GEN,
    p.SERVING_VALIDATOR, p.GATE, p.TRANSFORM, p.TRAINER, p.LATEST_BLESSED_MODEL, p.EVALUATOR, p.PUSHER,
]


def _by_node(store, run):
    return query.executions_per_node(store, run.id)


def _outputs(store, execution, type_name):
    return query.outputs_of_type(store, execution.id, type_name)


def test_console_shows_each_component_and_where_outputs_went(runs):
    out = runs["cold"].stdout
    for node in NODES:
        assert f"  {node}" in out, node
    assert "data gate:    pass" in out
    assert f"MLMD store:   {runs['outputs'] / 'metadata.sqlite'}" in out
    assert "pushed model: " + str(runs["outputs"] / "serving_model") in out
    assert "Traceback" not in out + runs["cold"].stderr


def test_runs_leave_nothing_in_tmpdir(runs):
    """TFX builds the module code into a wheel in a temporary folder on every uncached run; the
    runner puts its temporary files under <outputs>/tmp/ and removes them: $TMPDIR stays empty."""
    tmpdir = runs["outputs"].parent / f"{runs['outputs'].name}-tmpdir"
    assert tmpdir.is_dir() and list(tmpdir.iterdir()) == []
    assert not list((runs["outputs"] / "tmp").glob("run-*"))


def test_logs_and_pushed_model_follow_outputs_and_artifacts_follow_pipeline_root(runs):
    outputs, root = runs["outputs"], runs["pipeline_root"]
    assert not (outputs / "pipeline").exists()
    for node in (p.EXAMPLE_GEN, p.STATISTICS_GEN, p.TRANSFORM, p.TRAINER, p.PUSHER):
        assert (root / node).is_dir(), node
    pushed = [p for p in (outputs / "serving_model").iterdir() if (p / "saved_model.pb").is_file()]
    assert pushed
    logs = sorted((outputs / "logs").glob("run-*.log"))
    assert len(logs) >= 4  # one per run of the session's runs
    assert f"log:          {outputs / 'logs'}" in runs["cold"].stdout
    store = runs["store"]
    uris = [a.uri for a in store.get_artifacts()]
    assert uris and all(u.startswith(str(root)) or u.startswith(str(outputs / "serving_model")) for u in uris), uris


def test_every_component_completed_in_mlmd(runs):
    store = runs["store"]
    by_node = _by_node(store, runs["first_runs"][0])
    for node in NODES:
        states = [e.last_known_state for e in by_node.get(node, [])]
        assert states == [metadata_store_pb2.Execution.COMPLETE], (node, states)


def test_every_artifact_kind_is_recorded(runs):
    store = runs["store"]
    kinds = ["Examples", "ExampleStatistics", "Schema", "ExampleAnomalies", "TransformGraph", "Model",
             "PushedModel", "tfxgate.GateDecision"]
    counts = {t: len(store.get_artifacts_by_type(t)) for t in kinds}
    assert all(n >= 1 for n in counts.values()), counts
    producers = {query.node_id_of(store, query.producer_execution(store, a.id))
                 for a in store.get_artifacts_by_type("Schema")}
    assert {p.INFERRED_SCHEMA, p.CURATED_SCHEMA} <= producers
    spans = {query.custom_value(a, "span") for a in store.get_artifacts_by_type("Examples")
             if query.custom_value(a, "span") is not None}
    assert {3, 4, 5} <= spans


def test_validators_record_environment_version_count_and_every_distance(runs):
    store = runs["store"]
    by_node = _by_node(store, runs["first_runs"][0])
    [train] = _outputs(store, by_node[p.TRAIN_VALIDATOR][0], "ExampleAnomalies")
    [serving] = _outputs(store, by_node[p.SERVING_VALIDATOR][0], "ExampleAnomalies")
    assert query.custom_value(train, "environment") == "TRAINING"
    assert query.custom_value(serving, "environment") == "SERVING"
    for artifact in (train, serving):
        assert query.custom_value(artifact, "schema_version") == "v1"
        assert query.custom_value(artifact, "anomaly_count") == 0
    assert train.properties["span"].int_value == 3
    # The first run has no earlier span: no drift, and that is not an error.
    assert json.loads(query.custom_value(train, "distances")) == []
    distances = json.loads(query.custom_value(serving, "distances"))
    skew = {(d["feature"], d["type"]) for d in distances if d["check"] == "skew"}
    assert {("fare", "JENSEN_SHANNON_DIVERGENCE"), ("payment_type", "L_INFTY"), ("fare", "scale_shift"),
            ("fare", "TAILS"), ("fare", "WASSERSTEIN"), ("fare", "PSI"), ("fare", "PRECISION")} <= skew
    # The whole batch's comparators under threshold, recorded all the same; any measurement over
    # its threshold is within its noise (no finding: anomaly_count is 0 above).
    whole = [d for d in distances if not d.get("slice") and d["type"] in ("L_INFTY", "JENSEN_SHANNON_DIVERGENCE")]
    assert whole and all(d["value"] < d["threshold"] for d in whole)
    assert any(d.get("slice", "").startswith("company=") for d in distances)
    assert not any(d["feature"] == "tips" for d in distances)  # the label is not served


def test_model_lineage_leads_back_to_the_examples_and_schema_version(runs):
    store = runs["store"]
    model = store.get_artifacts_by_type("Model")[0]
    upstream = query.upstream_artifacts(store, model.id)
    assert {"Examples", "TransformGraph", "Schema"} <= {query.type_name(store, a) for a in upstream}
    raw = [a for a in upstream if query.custom_value(a, "span") == 3]
    assert raw and query.node_id_of(store, query.producer_execution(store, raw[0].id)) == p.EXAMPLE_GEN
    assert query.schema_version_of(store, model.id) == "v1"
    pushed = store.get_artifacts_by_type("PushedModel")[0]
    assert query.schema_version_of(store, pushed.id) == "v1"


def test_second_run_is_served_from_the_cache(runs):
    store = runs["store"]
    by_node = _by_node(store, runs["first_runs"][1])
    # Every node but the Resolvers (which run every time) is cached, the Evaluator and Pusher too:
    # the model the first run blessed is this run's own, never its baseline, so the Evaluator's
    # inputs are the first run's and it does not judge the model against itself.
    for node in set(NODES) - {p.PREVIOUS_DECISIONS, p.LATEST_BLESSED_MODEL}:
        states = [e.last_known_state for e in by_node.get(node, [])]
        assert states == [metadata_store_pb2.Execution.CACHED], (node, states)
    [first_blessing] = _outputs(store, _by_node(store, runs["first_runs"][0])[p.EVALUATOR][0], "ModelBlessing")
    [blessing] = _outputs(store, by_node[p.EVALUATOR][0], "ModelBlessing")
    assert blessing.id == first_blessing.id and query.custom_value(blessing, p.EVAL_HAS_BASELINE) == 0
    [first_push] = _outputs(store, _by_node(store, runs["first_runs"][0])[p.PUSHER][0], "PushedModel")
    [push] = _outputs(store, by_node[p.PUSHER][0], "PushedModel")
    assert push.id == first_push.id  # not pushed a second time
    assert "cached in" in runs["cached"].stdout
    print(f"cold run {runs['cold_seconds']:.1f} s, cached run {runs['cached_seconds']:.1f} s")


def test_warn_only_run_completes_and_says_what_it_warned_about(runs):
    proc = runs["warn"]
    # The data gate warns and lets the run train; the model gate then judges the model on its own
    # terms (tests/test_model_gate.py): exit 0 when it was blessed, 5 when it was refused.
    blessed = "model gate:   blessed" in proc.stdout
    assert proc.returncode == (0 if blessed else 5), proc.stdout + proc.stderr
    assert "data gate:    warn: warnings: training: payment_type ENUM_TYPE_UNEXPECTED_STRING_VALUES" in proc.stdout
    assert "training: payment_type COMPARATOR_L_INFTY_HIGH (drift" in proc.stdout
    store = runs["store"]
    run = query.run_contexts(store)[-2]
    by_node = _by_node(store, run)
    assert [e.last_known_state for e in by_node[p.PUSHER]] == [metadata_store_pb2.Execution.COMPLETE]
    [decision] = _outputs(store, by_node[p.GATE][0], "tfxgate.GateDecision")
    assert query.custom_value(decision, "decision") == "warn"
    assert query.custom_value(decision, "span") == 4
    verdicts = json.loads(query.custom_value(decision, "verdicts"))
    assert {(v["feature"], v["check"], v["severity"]) for v in verdicts} == {
        ("payment_type", "schema", "warn"), ("payment_type", "drift", "warn"), ("fare", "schema", "warn")}
    # Drift is measured against span 3, the newest earlier span that passed the gate.
    [anomalies] = _outputs(store, by_node[p.TRAIN_VALIDATOR][0], "ExampleAnomalies")
    assert query.custom_value(anomalies, "drift_baseline_span") == 3
    drift = json.loads(query.custom_value(anomalies, "distances"))
    assert {d["feature"] for d in drift if d["check"] == "drift"} >= {"fare", "tips", "payment_type"}
    # ...and against span 3's profile, which its gate decision recorded: the checks beyond TFDV's ran.
    assert {d["type"] for d in drift if d["check"] == "drift"} >= {"TAILS", "PRECISION", "WASSERSTEIN"}
    assert any(d.get("slice", "").startswith("company=") for d in drift)


def test_a_handful_of_unreadable_rows_is_quarantined_and_never_trained_on(runs):
    """Span 4 has QUARANTINED_IN_SPAN_4 fares that are not numbers: ExampleGen leaves those rows
    out (quarantine, with file, line and reason), the gate warns, the model trains on the rest."""
    import glob

    from components.example_gen_outputs import QUARANTINE_FOLDER, QUARANTINED_ROWS
    from tests.conftest import QUARANTINED_IN_SPAN_4

    assert "fare FLOAT_TYPE_STRING_NOT_FLOAT (typed_reading" in runs["warn"].stdout
    store = runs["store"]
    by_node = _by_node(store, query.run_contexts(store)[-2])
    [examples] = _outputs(store, by_node[p.EXAMPLE_GEN][0], "Examples")
    assert query.custom_value(examples, "span") == 4
    assert query.custom_value(examples, QUARANTINED_ROWS) == QUARANTINED_IN_SPAN_4
    [quarantine] = glob.glob(f"{examples.uri}/{QUARANTINE_FOLDER}/*.csv")
    with open(quarantine, newline="") as f:
        rows = list(csv.DictReader(f))
    with open(runs["extra_data"] / "train" / "span-4" / "data.csv", newline="") as f:
        data = list(csv.DictReader(f))
    bad_lines = [str(i + 2) for i, row in enumerate(data) if row["fare"] == "N/A"]
    assert [(r["line"], r["reasons"], r["fare"]) for r in rows] == [(line, "fare: not_float", "N/A") for line in bad_lines]
    # Transform and the Trainer read the splits: exactly the other rows are there.
    files = [f for split in ("train", "eval") for f in glob.glob(f"{examples.uri}/Split-{split}/*.gz")]
    written = sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))
    assert written == len(data) - QUARANTINED_IN_SPAN_4
    [transform] = by_node[p.TRANSFORM]
    assert transform.last_known_state == metadata_store_pb2.Execution.COMPLETE


def test_gate_stops_a_corrupted_span_before_training(runs):
    proc = runs["blocked"]
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "the data gate stopped the run" in proc.stderr
    # 10 % of the rows read; a little more of those left once the bad trip_seconds rows are out.
    assert re.search(r"payment_type ENUM_TYPE_UNEXPECTED_STRING_VALUES \(schema, in 10\.\d% of rows\)", proc.stderr)
    assert "tips SCHEMA_MISSING_COLUMN" in proc.stderr
    assert "trip_seconds INT_TYPE_NOT_INT_STRING (typed_reading, in " in proc.stderr
    # What to do next: the report of this very run, the schema proposal, the policy.
    report_line = next(line for line in proc.stderr.splitlines() if "tfxgate report" in line)
    assert "schema propose" in proc.stderr and "policy.yaml" in proc.stderr
    run_id = report_line.split("--run ", 1)[1].split()[0]
    assert query.run_contexts(runs["store"])[-1].name == run_id
    assert "Traceback" not in proc.stderr
    store = runs["store"]
    by_node = _by_node(store, query.run_contexts(store)[-1])
    [gate] = by_node[p.GATE]
    assert gate.last_known_state == metadata_store_pb2.Execution.FAILED
    result = json.loads(query.custom_value(gate, "__execution_result__"))
    assert result["code"] == 3 and "tips SCHEMA_MISSING_COLUMN" in result["resultMessage"]
    assert not _outputs(store, gate, "tfxgate.GateDecision")
    for node in (p.TRANSFORM, p.TRAINER, p.PUSHER):
        assert node not in by_node, f"{node} ran after the gate blocked"


def test_schema_propose_drafts_the_next_version_from_the_latest_run(runs, tmp_path):
    schema_dir = tmp_path / "schema"
    shutil.copytree(PROJECT_ROOT / "schema", schema_dir)
    before = (schema_dir / "v1" / "schema.pbtxt").read_text()
    text = schema_versions.propose(str(runs["outputs"] / "metadata.sqlite"), str(schema_dir))
    assert "~ payment_type: domain values +['Bitcoin']" in text
    assert (schema_dir / "v1" / "schema.pbtxt").read_text() == before  # never edits a version
    draft = schema_dir / "drafts" / "v2"
    stub = (draft / "CHANGELOG.stub.md").read_text()
    assert "`tips` was missing: unchanged" in stub and "met no anomaly" not in stub
    proposed = tfdv.load_schema_text(str(draft / "schema.pbtxt"))
    assert "Bitcoin" in list(tfdv.get_domain(proposed, "payment_type").value)
    # The reviewed rules are carried over as they are; mined candidates go apart, never applied.
    for name in ("constraints.yaml", "checks.yaml"):
        assert (draft / name).read_text() == (schema_dir / "v1" / name).read_text()
    assert "rules across columns:" in stub and "not mined" not in stub
    candidates = draft / "constraints.proposed.yaml"
    if candidates.exists():  # mined but not applied: never one constraints.yaml holds already
        reviewed = {r.expect for r in rules_lib.load(str(schema_dir / "v1" / "constraints.yaml"))}
        assert not {r.expect for r in rules_lib.load(str(candidates))} & reviewed
    # A draft is used by nothing: the newest version is still v1 until a person accepts it.
    assert schema_files.latest_path(schema_dir).endswith("v1/schema.pbtxt")
    with pytest.raises(InputError, match="never overwrites a draft"):
        schema_versions.propose(str(runs["outputs"] / "metadata.sqlite"), str(schema_dir))
    assert "accepted" in schema_versions.accept(str(schema_dir))
    assert schema_files.latest_path(schema_dir).endswith("v2/schema.pbtxt") and not draft.exists()
    with pytest.raises(InputError, match="no draft"):
        schema_versions.accept(str(schema_dir))


def _serving_examples(n):
    schema = tfdv.load_schema_text(config_lib.default_schema_path())
    types = {f.name: f.type for f in schema.feature}
    examples = []
    with open(DATA_ROOT / "serving" / "data.csv", newline="") as f:
        for row in list(csv.DictReader(f))[:n]:
            feature = {}
            for name, value in row.items():
                if value == "":
                    continue
                if types[name] == 2:  # INT
                    feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
                elif types[name] == 3:  # FLOAT
                    feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))
                else:
                    feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
            examples.append(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return examples


def test_pushed_model_predicts_on_raw_serving_rows(runs):
    store = runs["store"]
    pushed = [a for a in store.get_artifacts_by_type("PushedModel") if query.custom_value(a, "pushed") == 1]
    destination = query.custom_value(pushed[0], "pushed_destination")
    assert destination.startswith(str(runs["outputs"] / "serving_model"))
    predict = tf.saved_model.load(destination).signatures["serving_default"]
    batch = _serving_examples(50)
    assert "tips" not in tf.train.Example.FromString(batch[0]).features.feature
    probabilities = predict(examples=tf.constant(batch))["big_tip_probability"].numpy()
    assert probabilities.shape == (50, 1)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    assert probabilities.std() > 0  # not a constant output
