"""The real pipeline on the shipped sample, run twice through runner_local.py; MLMD is checked."""

import csv
import subprocess
import sys
import time

import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv
from ml_metadata.proto import metadata_store_pb2

from pipeline import config as config_lib
from pipeline import pipeline as pipeline_lib
from tests.conftest import DATA_ROOT, PROJECT_ROOT
from tfxgate import metadata

NODES = [
    pipeline_lib.EXAMPLE_GEN,
    pipeline_lib.STATISTICS_GEN,
    pipeline_lib.INFERRED_SCHEMA,
    pipeline_lib.CURATED_SCHEMA,
    pipeline_lib.EXAMPLE_VALIDATOR,
    pipeline_lib.TRANSFORM,
    pipeline_lib.TRAINER,
    pipeline_lib.PUSHER,
]


def _run_pipeline(outputs):
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "runner_local.py"), "--outputs", str(outputs), "--train-steps", "100"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )
    return proc, time.monotonic() - started


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    outputs = tmp_path_factory.mktemp("outputs")
    cold, cold_seconds = _run_pipeline(outputs)
    assert cold.returncode == 0, cold.stdout + cold.stderr
    cached, cached_seconds = _run_pipeline(outputs)
    assert cached.returncode == 0, cached.stdout + cached.stderr
    return {
        "outputs": outputs,
        "cold": cold,
        "cached": cached,
        "cold_seconds": cold_seconds,
        "cached_seconds": cached_seconds,
        "store": metadata.sqlite_store(str(outputs / "metadata.sqlite")),
    }


def _executions_by_node(store):
    by_node = {}
    for execution in store.get_executions():
        by_node.setdefault(metadata.node_id_of(store, execution.id), []).append(execution)
    return by_node


def test_console_shows_each_component_and_where_outputs_went(runs):
    out = runs["cold"].stdout
    for node in NODES:
        assert f"{node}" in out and "done in" in out
    assert f"MLMD store:   {runs['outputs'] / 'metadata.sqlite'}" in out
    assert "pushed model: " + str(runs["outputs"] / "serving_model") in out
    assert "Traceback" not in out + runs["cold"].stderr


def test_every_component_completed_in_mlmd(runs):
    by_node = _executions_by_node(runs["store"])
    for node in NODES:
        states = [e.last_known_state for e in by_node.get(node, [])]
        assert metadata_store_pb2.Execution.COMPLETE in states, (node, states)


def test_every_artifact_kind_is_recorded(runs):
    store = runs["store"]
    counts = {t: len(store.get_artifacts_by_type(t)) for t in
              ["Examples", "ExampleStatistics", "Schema", "ExampleAnomalies", "TransformGraph", "Model", "PushedModel"]}
    assert all(n >= 1 for n in counts.values()), counts
    schema_producers = {
        metadata.node_id_of(store, metadata.producer_execution(store, a.id))
        for a in store.get_artifacts_by_type("Schema")
    }
    assert {pipeline_lib.INFERRED_SCHEMA, pipeline_lib.CURATED_SCHEMA} <= schema_producers
    # The training Examples carry the span they were read from: the latest, span-3.
    examples = [a for a in store.get_artifacts_by_type("Examples") if metadata.custom_value(a, "span") is not None]
    assert {metadata.custom_value(a, "span") for a in examples} == {3}


def test_model_lineage_leads_back_to_the_examples_and_curated_schema(runs):
    store = runs["store"]
    model = store.get_artifacts_by_type("Model")[-1]
    upstream = metadata.upstream_artifacts(store, model.id)
    kinds = {metadata.type_name(store, a) for a in upstream}
    assert {"Examples", "TransformGraph", "Schema"} <= kinds
    raw_examples = [a for a in upstream if metadata.custom_value(a, "span") == 3]
    assert raw_examples, "the model does not trace back to span-3 examples"
    producer = metadata.producer_execution(store, raw_examples[0].id)
    assert metadata.node_id_of(store, producer) == pipeline_lib.EXAMPLE_GEN
    schema_uris = [a.uri for a in upstream if metadata.type_name(store, a) == "Schema"]
    assert any(metadata.node_id_of(store, metadata.producer_execution(store, a.id)) == pipeline_lib.CURATED_SCHEMA
               for a in upstream if a.uri in schema_uris)


def test_second_run_is_served_from_the_cache(runs):
    by_node = _executions_by_node(runs["store"])
    for node in NODES:
        states = [e.last_known_state for e in by_node[node]]
        assert states.count(metadata_store_pb2.Execution.CACHED) == 1, (node, states)
    assert "cached in" in runs["cached"].stdout
    print(f"cold run {runs['cold_seconds']:.1f} s, cached run {runs['cached_seconds']:.1f} s")
    assert runs["cached_seconds"] < 0.75 * runs["cold_seconds"], (runs["cached_seconds"], runs["cold_seconds"])


def _serving_examples(n):
    schema = tfdv.load_schema_text(config_lib.latest_schema_path())
    types = {f.name: f.type for f in schema.feature}
    examples = []
    with open(DATA_ROOT / "serving" / "data.csv", newline="") as f:
        for row in list(csv.DictReader(f))[:n]:
            feature = {}
            for name, value in row.items():
                if value == "":
                    continue
                kind = types[name]
                if kind == 2:  # INT
                    feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
                elif kind == 3:  # FLOAT
                    feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))
                else:
                    feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
            examples.append(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return examples


def test_pushed_model_predicts_on_raw_serving_rows(runs):
    pushed = metadata.latest_pushed_destination(runs["store"])
    assert pushed and pushed.startswith(str(runs["outputs"] / "serving_model"))
    loaded = tf.saved_model.load(pushed)
    predict = loaded.signatures["serving_default"]
    batch = _serving_examples(50)
    assert "tips" not in tf.train.Example.FromString(batch[0]).features.feature
    probabilities = predict(examples=tf.constant(batch))["big_tip_probability"].numpy()
    assert probabilities.shape == (50, 1)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    assert probabilities.std() > 0  # not a constant output
