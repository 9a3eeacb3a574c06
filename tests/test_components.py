"""The component tier (the tfx-addons pattern): tfxgate's executors called directly on small
artifacts in a temporary folder, the drift baseline's rule, and a small LocalDagRunner pipeline
on SQLite whose MLMD records are asserted. Data: real sample rows, named for their defect."""

import json
import shutil

import pytest
from tfx.types import artifact_utils, standard_artifacts

from components.artifacts import GateDecision
from components.gate import executor as gate_executor
from components.model_resolver import latest_blessed
from components.span_resolver import baseline_decision
from components.validator import executor as validator_executor
from core.common import baseline
from core.batch import batch_stats
from core.settings import layout
from core.common import names
from pipeline import config as config_lib
from tests import defects

pytestmark = pytest.mark.component


def _statistics_artifact(folder, csv_path, splits=(names.TRAIN_SPLIT,)):
    """An ExampleStatistics artifact whose splits hold the statistics of `csv_path`."""
    statistics, _ = batch_stats.statistics(str(csv_path))
    artifact = standard_artifacts.ExampleStatistics()
    artifact.uri = str(folder)
    artifact.split_names = artifact_utils.encode_split_names(list(splits))
    for split in splits:
        path = layout.statistics_path(str(folder), split)
        (folder / f"Split-{split}").mkdir(parents=True)
        with open(path, "wb") as f:
            f.write(statistics.SerializeToString())
    return artifact


def _schema_artifact(folder):
    folder.mkdir(parents=True)
    shutil.copy(config_lib.default_schema_path(), folder / names.SCHEMA_FILE)
    artifact = standard_artifacts.Schema()
    artifact.uri = str(folder)
    return artifact


def _examples(span):
    examples = standard_artifacts.Examples()
    examples.set_int_custom_property(names.SPAN, span)
    return examples


def _validate(tmp_path, defect, environment=names.TRAINING, span=3, drift_baseline=None, **inputs):
    data = defects.write(tmp_path / "data", defect)
    output = standard_artifacts.ExampleAnomalies()
    output.uri = str(tmp_path / "anomalies" / defect)
    input_dict = {
        "statistics": [_statistics_artifact(tmp_path / "statistics" / defect, data)],
        "schema": [_schema_artifact(tmp_path / "schema" / defect)],
        "examples": [_examples(span)],
        **inputs,
    }
    validator_executor.Executor().Do(input_dict, {"anomalies": [output]},
                                     {"environment": environment, "schema_version": "v1",
                                      "drift_baseline": drift_baseline})
    return output


def test_validator_executor_writes_findings_and_records_them(tmp_path):
    output = _validate(tmp_path, "new_payment_type")
    [document] = layout.read_findings(output.uri, [names.TRAIN_SPLIT]).values()
    assert document["environment"] == names.TRAINING and document["schema_version"] == "v1"
    found = {(f["feature"], f["check"]) for f in document["findings"]}
    assert found == {("payment_type", "schema")}
    assert output.get_string_custom_property(names.ENVIRONMENT) == names.TRAINING
    assert output.get_int_custom_property("anomaly_count") == 1
    assert output.get_string_custom_property("anomalous_features") == "payment_type"
    assert output.span == 3
    assert layout.exists(layout.anomalies_path(output.uri, names.TRAIN_SPLIT))


def test_validator_executor_measures_drift_against_the_decision_it_is_given(tmp_path):
    accepted = _statistics_artifact(tmp_path / "accepted", defects.write(tmp_path / "base", "clean_training"))
    decision = GateDecision()
    decision.id = 7
    decision.set_int_custom_property(names.SPAN, 2)
    decision.set_string_custom_property(names.TRAINING_STATISTICS_URI, accepted.uri)
    decision.set_string_custom_property(names.TRAINING_STATISTICS_SPLITS, accepted.split_names)
    output = _validate(tmp_path, "miles_in_km_span", previous_decisions=[decision])
    assert output.get_int_custom_property(names.DRIFT_BASELINE_SPAN) == 2
    [document] = layout.read_findings(output.uri, [names.TRAIN_SPLIT]).values()
    assert {(f["feature"], f["check"], f.get("rule")) for f in document["findings"]} == {
        ("trip_miles", "drift", "scale_shift")}
    distances = json.loads(output.get_string_custom_property(names.DISTANCES))
    assert {d["check"] for d in distances} == {"drift"} and len(distances) > 3


def test_gate_executor_records_what_it_accepted(tmp_path):
    anomalies = _validate(tmp_path, "rare_new_payment_type")
    anomalies.set_string_custom_property(names.STATISTICS_URI, str(tmp_path / "statistics"))
    anomalies.set_string_custom_property(names.STATISTICS_SPLITS, '["train"]')
    decision = GateDecision()
    decision.uri = str(tmp_path / "decision")
    policy = config_lib.read_policy()
    gate_executor.Executor().Do({"training_anomalies": [anomalies]}, {"decision": [decision]},
                                {names.POLICY: policy})
    assert decision.get_string_custom_property(names.DECISION) == names.WARN
    assert decision.get_int_custom_property(names.SPAN) == 3
    assert decision.get_string_custom_property(names.TRAINING_STATISTICS_URI) == str(tmp_path / "statistics")
    with open(layout.decision_path(decision.uri)) as f:
        verdicts = json.load(f)["verdicts"]
    assert [(v["feature"], v["severity"]) for v in verdicts] == [("payment_type", names.WARN)]


def test_gate_executor_blocks_with_the_reasons(tmp_path):
    anomalies = _validate(tmp_path, "hour_out_of_domain")
    decision = GateDecision()
    decision.uri = str(tmp_path / "decision")
    with pytest.raises(gate_executor.GateBlocked, match="blocked by training: trip_start_hour"):
        gate_executor.Executor().Do({"training_anomalies": [anomalies]}, {"decision": [decision]},
                                    {names.POLICY: config_lib.read_policy()})
    assert not layout.exists(layout.decision_path(decision.uri))


def _decision(artifact_id, span):
    decision = GateDecision()
    decision.id = artifact_id
    decision.set_int_custom_property(names.SPAN, span)
    return decision


def test_drift_baseline_is_the_newest_decision_of_the_largest_earlier_span():
    decisions = [_decision(1, 1), _decision(2, 2), _decision(3, 4), _decision(4, 2), _decision(5, 3)]
    assert baseline_decision(3, decisions).id == 4  # span 2, its re-run
    assert baseline_decision(5, decisions).id == 3
    assert baseline_decision(1, decisions) is None
    assert baseline_decision(None, decisions) is None
    newest = baseline.accepted_baseline(decisions, lambda d: d.get_int_custom_property(names.SPAN),
                                        lambda d: d.id, any_span=True)
    assert newest.id == 5


def _model(artifact_id):
    model = standard_artifacts.Model()
    model.id = artifact_id
    return model


def _blessing(artifact_id, model_id, blessed):
    blessing = standard_artifacts.ModelBlessing()
    blessing.id = artifact_id
    blessing.set_int_custom_property("current_model_id", model_id)
    blessing.set_int_custom_property(names.BLESSED, int(blessed))
    return blessing


def test_baseline_model_is_the_newest_blessed_one_but_never_the_candidate():
    models = [_model(10), _model(20), _model(30)]
    blessings = [_blessing(11, 10, True), _blessing(21, 20, True), _blessing(31, 30, False)]
    # Model 30 was refused: the newest blessed is 20, also for 30 itself.
    assert [a.id for a in latest_blessed(models, blessings, excluding={30})] == [20, 21]
    # A cached re-run of the run that trained 20: its own model is not its baseline.
    assert [a.id for a in latest_blessed(models, blessings, excluding={20})] == [10, 11]
    # The first model has none; nor has a model when no other was ever blessed.
    assert latest_blessed(models[:1], blessings[:1], excluding={10}) is None
    assert latest_blessed([], [], excluding=set()) is None
    # A model blessed again later (a re-evaluation) keeps its newest blessing.
    again = blessings + [_blessing(41, 10, True)]
    assert [a.id for a in latest_blessed(models, again, excluding={20})] == [10, 41]


@pytest.fixture(scope="module")
def small_pipeline(tmp_path_factory):
    """ExampleGen (tfxgate's checked executor), StatisticsGen, the curated schema and a SERVING
    DataValidator, run by LocalDagRunner with MLMD on SQLite."""
    from tfx import v1 as tfx

    from components.csv_example_gen import CheckedCsvExampleGen, custom_config
    from components.validator.component import DataValidator
    from mlmd import query

    root = tmp_path_factory.mktemp("small")
    data = root / "serving"
    rows, _ = defects.DEFECTS["new_payment_type"]()
    defects.write_rows(data / "new_payment_type.csv", rows, defects.SERVING_COLUMNS)
    schema_text = config_lib.read_schema_text(config_lib.default_schema_path())
    example_gen = CheckedCsvExampleGen(input_base=str(data), custom_config=custom_config(schema_text)).with_id(
        names.SERVING_EXAMPLE_GEN)
    statistics = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"]).with_id(
        names.SERVING_STATISTICS_GEN)
    schema = tfx.components.ImportSchemaGen(schema_file=config_lib.default_schema_path()).with_id(names.CURATED_SCHEMA)
    validator = DataValidator(statistics=statistics.outputs["statistics"], schema=schema.outputs["schema"],
                              environment=names.SERVING, schema_version="v1",
                              examples=example_gen.outputs["examples"]).with_id(names.SERVING_VALIDATOR)
    store_path = root / "metadata.sqlite"
    pipeline = tfx.dsl.Pipeline(
        pipeline_name="small", pipeline_root=str(root / "pipeline"),
        components=[example_gen, statistics, schema, validator], enable_cache=False,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(str(store_path)),
        beam_pipeline_args=list(config_lib.beam_args_for(())),
    )
    tfx.orchestration.LocalDagRunner().run(pipeline)
    return query.sqlite_store(str(store_path))


def test_small_pipeline_records_the_validation_in_mlmd(small_pipeline):
    from mlmd import query

    store = small_pipeline
    [run] = query.run_contexts(store, "small")
    by_node = query.executions_by_node(store, run.id)
    assert set(by_node) == {names.SERVING_EXAMPLE_GEN, names.SERVING_STATISTICS_GEN, names.CURATED_SCHEMA,
                            names.SERVING_VALIDATOR}
    assert {query.state_name(e.last_known_state) for e in by_node.values()} == {"COMPLETE"}
    [anomalies] = query.outputs_of_type(store, by_node[names.SERVING_VALIDATOR].id, names.ANOMALIES_TYPE)
    assert query.custom_value(anomalies, names.ENVIRONMENT) == names.SERVING
    assert query.custom_value(anomalies, names.SCHEMA_VERSION) == "v1"
    assert query.custom_value(anomalies, "anomalous_features") == "payment_type"
    splits = layout.decode_splits(anomalies.properties["split_names"].string_value)
    documents = layout.read_findings(anomalies.uri, splits)
    assert {f["feature"] for doc in documents.values() for f in doc["findings"]} == {"payment_type"}
    # Lineage: the anomalies come from the statistics of the Examples ExampleGen wrote.
    upstream = {query.type_name(store, a) for a in query.upstream_artifacts(store, anomalies.id)}
    assert {names.STATISTICS_TYPE, names.EXAMPLES_TYPE, names.SCHEMA_TYPE} <= upstream
