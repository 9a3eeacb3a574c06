"""Kubeflow run parameters (span, training steps, schema version, drift baseline, baseline model):
compiled as the spec's pipeline parameters with defaults, and each one changing what its task
does, proven by calling the tasks' executors as a run would with the parameter set. The whole spec
run with parameters on the backend double is in tests/test_kubeflow_harness.py."""

import json
import shutil

import pytest
import yaml
from tfx.proto import example_gen_pb2, trainer_pb2
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from components import evaluator, schema_importer, span_example_gen, trainer
from components.artifacts import GateDecision
from components.csv_example_gen import custom_config
from components.gate import executor as gate_executor
from components.validator import executor as validator_executor
from core.settings import layout
from core.common import names as p
from core.settings import schema_files
from core.common.errors import ConfigError, InputError, UserError
from pipeline import config as config_lib, kfp_checks, kubeflow
from tests import defects
from tests.conftest import DATA_ROOT, PROJECT_ROOT
from tests.test_components import _statistics_artifact, _validate

pytestmark = pytest.mark.kubeflow

PARAMETERS = {p.PARAM_SPAN: "NUMBER_INTEGER", p.PARAM_TRAIN_STEPS: "NUMBER_INTEGER",
              p.PARAM_SCHEMA_VERSION: "STRING", p.PARAM_DRIFT_BASELINE: "STRING", p.PARAM_BASELINE_MODEL: "STRING"}


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    out = tmp_path_factory.mktemp("kfp-parameters") / "spec.yaml"
    config = kubeflow.kubeflow_config("gs://tfxgate-test/root", "/pipeline/data", "gs://tfxgate-test/serving",
                                      train_steps=300)
    kubeflow.compile_spec(config, "registry.example/tfxgate@sha256:" + "0" * 64, str(out))
    return yaml.safe_load(out.read_text())


def _readers(spec) -> dict:
    """{pipeline parameter: {task: its input parameter key}}."""
    found = {}
    for name, task in spec["root"]["dag"]["tasks"].items():
        for key, value in task.get("inputs", {}).get("parameters", {}).items():
            if "componentInputParameter" in value:
                found.setdefault(value["componentInputParameter"], {})[name] = key
    return found


def test_the_spec_has_the_five_run_parameters_with_defaults_and_the_tasks_read_them(spec):
    definitions = spec["root"]["inputDefinitions"]["parameters"]
    assert {name: d["parameterType"] for name, d in definitions.items()} == PARAMETERS
    defaults = {name: d["defaultValue"] for name, d in definitions.items()}
    latest = schema_files.version_of(config_lib.default_schema_path())
    assert defaults == {p.PARAM_SPAN: -1, p.PARAM_TRAIN_STEPS: 300, p.PARAM_SCHEMA_VERSION: latest,
                        p.PARAM_DRIFT_BASELINE: "", p.PARAM_BASELINE_MODEL: ""}
    readers = _readers(spec)
    assert readers[p.PARAM_SPAN] == {p.EXAMPLE_GEN: span_example_gen.REQUESTED_SPAN}
    assert readers[p.PARAM_TRAIN_STEPS] == {p.TRAINER: trainer.TRAIN_STEPS}
    assert readers[p.PARAM_DRIFT_BASELINE] == {p.TRAIN_VALIDATOR: "drift_baseline"}
    assert readers[p.PARAM_BASELINE_MODEL] == {p.EVALUATOR: evaluator.BASELINE_MODEL_URI}
    assert set(readers[p.PARAM_SCHEMA_VERSION]) == {p.EXAMPLE_GEN, p.SERVING_EXAMPLE_GEN, p.CURATED_SCHEMA,
                                                    p.TRAIN_VALIDATOR, p.SERVING_VALIDATOR}


def test_a_parameter_without_a_default_or_an_unknown_one_is_refused(spec):
    broken = json.loads(json.dumps(spec))
    del broken["root"]["inputDefinitions"]["parameters"][p.PARAM_SPAN]["defaultValue"]
    del broken["root"]["inputDefinitions"]["parameters"][p.PARAM_SPAN]["isOptional"]
    with pytest.raises(kfp_checks.SpecError, match="pipeline parameter span: no default value"):
        kfp_checks.check_spec(broken)
    broken = json.loads(json.dumps(spec))
    broken["root"]["dag"]["tasks"][p.TRAINER]["inputs"]["parameters"][trainer.TRAIN_STEPS] = {
        "componentInputParameter": "steps"}
    with pytest.raises(kfp_checks.SpecError, match="Trainer: parameter train_steps reads unknown pipeline parameter 'steps'"):
        kfp_checks.check_spec(broken)


def _example_gen_properties(input_base, requested_span, schema_dir="", schema_version=""):
    schema_path = config_lib.default_schema_path()
    texts = schema_files.read_version(schema_path)
    input_config = example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name="single_split", pattern=p.SPAN_PATTERN)])
    output_config = example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
        example_gen_pb2.SplitConfig.Split(name=p.TRAIN_SPLIT, hash_buckets=4),
        example_gen_pb2.SplitConfig.Split(name=p.EVAL_SPLIT, hash_buckets=1)]))
    return {
        "input_base": str(input_base), "input_config": proto_utils.proto_to_json(input_config),
        "output_config": proto_utils.proto_to_json(output_config), "range_config": None,
        "custom_config": proto_utils.proto_to_json(custom_config(texts["schema_text"], ",", texts["constraints_text"],
                                                                  texts["checks_text"])),
        "output_data_format": example_gen_pb2.FORMAT_TF_EXAMPLE,
        "output_file_format": example_gen_pb2.FORMAT_TFRECORDS_GZIP,
        span_example_gen.REQUESTED_SPAN: requested_span, span_example_gen.SCHEMA_DIR: schema_dir,
        span_example_gen.SCHEMA_VERSION: schema_version,
    }


def _run_example_gen(tmp_path, name, properties):
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples" / name)
    span_example_gen.Executor().Do({}, {"examples": [examples]}, properties)
    return examples


def test_example_gen_reads_the_span_and_the_schema_version_a_run_names(tmp_path):
    """Two spans of real rows; schema v2 is v1 with one more rule, which Cash trips break. The run
    naming span 1 and v1 reads span 1 and leaves nothing out; the run naming the latest span and
    v2 reads span 2 and leaves out exactly its Cash rows."""
    for span in (1, 2):
        defects.write_rows(tmp_path / "train" / f"span-{span}" / "data.csv", defects.base_rows(span=span, n=300))
    schema_dir = tmp_path / "schema"
    shutil.copytree(PROJECT_ROOT / "schema" / "v1", schema_dir / "v1")
    shutil.copytree(PROJECT_ROOT / "schema" / "v1", schema_dir / "v2")
    rule = ('  - name: no_cash_trips\n    when: "payment_type == \'Cash\'"\n    expect: "tips < 0"\n')
    with open(schema_dir / "v2" / p.CONSTRAINTS_FILE, "a") as f:
        f.write(rule)
    first = _run_example_gen(tmp_path, "first", _example_gen_properties(tmp_path / "train", 1, str(schema_dir), "v1"))
    assert first.get_int_custom_property(p.SPAN) == 1
    assert first.get_int_custom_property(p.QUARANTINED_ROWS) == 0
    latest = _run_example_gen(tmp_path, "latest", _example_gen_properties(tmp_path / "train", -1, str(schema_dir), "v2"))
    assert latest.get_int_custom_property(p.SPAN) == 2
    cash = sum(row["payment_type"] == "Cash" for row in defects.base_rows(span=2, n=300))
    assert cash > 0 and latest.get_int_custom_property(p.QUARANTINED_ROWS) == cash


@pytest.mark.parametrize("requested, version, message", [
    (-2, "", "span -2: a span number (0 or more), or -1 for the latest"),
    (-1, "v9", "schema version v9: no "),
    (-1, "latest", "schema version 'latest': expected v<N>"),
])
def test_a_span_or_schema_version_that_cannot_be_read_is_one_line(requested, version, message):
    properties = _example_gen_properties(DATA_ROOT / "train", requested, str(PROJECT_ROOT / "schema"), version)
    with pytest.raises(ConfigError) as e:
        span_example_gen.with_run_parameters(properties)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)
    if version == "v9":
        assert "(the versions there: v1)" in str(e.value)


def test_the_schema_importer_imports_the_version_a_run_names(tmp_path):
    schema = standard_artifacts.Schema()
    schema.uri = str(tmp_path / "schema")
    schema_importer.Executor().Do({}, {"schema": [schema]},
                                  {"schema_dir": str(PROJECT_ROOT / "schema"), "schema_version": "v1"})
    assert layout.read_schema(schema.uri) == schema_files.load(str(PROJECT_ROOT / "schema" / "v1" / p.SCHEMA_FILE))
    assert schema.get_string_custom_property(p.SCHEMA_VERSION) == "v1"
    with pytest.raises(ConfigError, match=r"schema version v2: no .*\(the versions there: v1\)"):
        schema_importer.Executor().Do({}, {"schema": [schema]},
                                      {"schema_dir": str(PROJECT_ROOT / "schema"), "schema_version": "v2"})


def test_train_steps_replace_the_compiled_number_of_steps():
    properties = {"train_args": proto_utils.proto_to_json(trainer_pb2.TrainArgs(num_steps=1000))}
    replaced = trainer.with_train_steps(dict(properties, train_steps=40))
    assert proto_utils.json_to_proto(replaced["train_args"], trainer_pb2.TrainArgs()).num_steps == 40
    assert trainer.with_train_steps(dict(properties, train_steps=None)) == dict(properties, train_steps=None)
    with pytest.raises(ConfigError, match="train_steps 0: at least 1"):
        trainer.with_train_steps(dict(properties, train_steps=0))


def test_a_drift_baseline_named_by_uri_is_the_decision_it_names(tmp_path):
    """The gate's decision.json records what it accepted; the validator given that folder's URI
    measures drift against those statistics, as against the Resolver's choice locally."""
    accepted = _statistics_artifact(tmp_path / "accepted", defects.write(tmp_path / "base", "clean_training"))
    anomalies = _validate(tmp_path / "earlier", "clean_training", span=2)
    anomalies.set_string_custom_property(p.STATISTICS_URI, accepted.uri)
    anomalies.set_string_custom_property(p.STATISTICS_SPLITS, accepted.split_names)
    decision = GateDecision()
    decision.uri = str(tmp_path / "decision")
    gate_executor.Executor().Do({"training_anomalies": [anomalies]}, {"decision": [decision]},
                                {p.POLICY: config_lib.read_policy()})
    output = _validate(tmp_path, "miles_in_km_span", drift_baseline=decision.uri)
    assert output.get_int_custom_property(p.DRIFT_BASELINE_SPAN) == 2
    assert output.get_string_custom_property(p.DRIFT_BASELINE_URI) == accepted.uri
    [document] = layout.read_findings(output.uri, [p.TRAIN_SPLIT]).values()
    assert {(f["feature"], f["check"], f.get("rule")) for f in document["findings"]} == {
        ("trip_miles", "drift", "scale_shift")}


def test_a_drift_baseline_that_is_no_accepted_decision_is_one_line(tmp_path):
    (tmp_path / "not-a-decision").mkdir()
    with pytest.raises(InputError) as e:
        validator_executor.decision_at(str(tmp_path / "not-a-decision"))
    assert "no decision.json (not the `decision` output of a tfxgate gate)" in str(e.value)
    assert isinstance(e.value, UserError) and "\n" not in str(e.value)


class _FakeKfpClient:
    """kfp.Client's surface that --submit uses, recording what it is asked; no KFP API server
    can run here. The runs it lists are folders a gate wrote under the pipeline root."""

    runs: list = []
    created: list = []

    def __init__(self, host):
        self.host = host

    def get_experiment(self, experiment_name=None, **_):
        if experiment_name != "tfxgate":
            raise ValueError(f"No experiment is found with name {experiment_name}.")
        return type("Experiment", (), {"experiment_id": "exp-1"})()

    def list_runs(self, experiment_id=None, sort_by="", page_size=10, **_):
        assert experiment_id == "exp-1" and sort_by == "created_at desc"
        return type("Runs", (), {"runs": [type("Run", (), {"run_id": r})() for r in self.runs]})()

    def create_run_from_pipeline_package(self, package, arguments=None, experiment_name=None, pipeline_root=None, **_):
        self.created.append({"package": package, "arguments": arguments, "experiment": experiment_name,
                             "pipeline_root": pipeline_root})
        return type("Result", (), {"run_id": "run-new"})()


def _gate_decision_under(root, run_id, tmp_path, defect):
    """A gate's real decision where the backend puts it: <root>/tfxgate/<run>/DataGate/<uuid>/decision."""
    accepted = _statistics_artifact(tmp_path / run_id / "accepted", defects.write(tmp_path / run_id / "base", defect))
    anomalies = _validate(tmp_path / run_id, defect, span=2)
    anomalies.set_string_custom_property(p.STATISTICS_URI, accepted.uri)
    anomalies.set_string_custom_property(p.STATISTICS_SPLITS, accepted.split_names)
    decision = GateDecision()
    decision.uri = str(root / "tfxgate" / run_id / p.GATE / "0f3a-uuid" / "decision")
    try:
        gate_executor.Executor().Do({"training_anomalies": [anomalies]}, {"decision": [decision]},
                                    {p.POLICY: config_lib.read_policy()})
    except gate_executor.GateBlocked:
        pass  # a blocked gate writes no decision, as on the backend
    return decision.uri


def test_submit_sets_the_parameters_and_finds_the_drift_baseline_in_the_run_history(tmp_path, monkeypatch, capsys):
    import kfp

    import runner_kubeflow

    root = tmp_path / "root"
    accepted = _gate_decision_under(root, "run-older", tmp_path, "clean_training")
    _gate_decision_under(root, "run-blocked", tmp_path, "hour_out_of_domain")
    monkeypatch.setattr(kfp, "Client", _FakeKfpClient)
    _FakeKfpClient.runs, _FakeKfpClient.created = ["run-newest-no-gate", "run-blocked", "run-older"], []
    args = ["--image", "registry.example/tfxgate@sha256:" + "0" * 64, "--pipeline-root", str(root),
            "--serving-model-dir", str(tmp_path / "serving"), "--output", str(tmp_path / "spec.yaml"),
            "--submit", "--host", "http://kfp.test"]
    assert runner_kubeflow.main(args + ["--param", "span=2", "--param", "train_steps=40"]) == 0
    [created] = _FakeKfpClient.created
    assert created["arguments"] == {p.PARAM_SPAN: 2, p.PARAM_TRAIN_STEPS: 40, p.PARAM_DRIFT_BASELINE: accepted,
                                    p.PARAM_BASELINE_MODEL: ""}  # no run blessed a model: floors only
    assert created["pipeline_root"] == str(root) and created["experiment"] == "tfxgate"
    out = capsys.readouterr().out
    assert f"drift against the newest accepted run's decision, {accepted}" in out and "started run run-new" in out

    _FakeKfpClient.created = []
    assert runner_kubeflow.main(args + ["--param", "drift_baseline=none", "--param", "schema_version=v1"]) == 0
    assert _FakeKfpClient.created[0]["arguments"] == {p.PARAM_DRIFT_BASELINE: "", p.PARAM_SCHEMA_VERSION: "v1",
                                                      p.PARAM_BASELINE_MODEL: ""}
    _FakeKfpClient.runs, _FakeKfpClient.created = ["run-blocked"], []
    assert runner_kubeflow.main(args) == 0
    assert _FakeKfpClient.created[0]["arguments"] == {p.PARAM_DRIFT_BASELINE: "", p.PARAM_BASELINE_MODEL: ""}
    assert "no earlier run of experiment tfxgate passed its gate: no drift check this run" in capsys.readouterr().out


def _model_under(root, run_id, blessed: bool) -> str:
    """A run's Trainer model and its Evaluator's verdict file where the backend puts them:
    <root>/tfxgate/<run>/Trainer/<uuid>/model and .../Evaluator/<uuid>/blessing/BLESSED (or NOT_BLESSED)."""
    from tfx.components.evaluator import constants

    model = root / "tfxgate" / run_id / p.TRAINER / "5c1e-uuid" / "model"
    (model / "Format-Serving").mkdir(parents=True)
    (model / "Format-Serving" / "saved_model.pb").write_bytes(b"")
    blessing = root / "tfxgate" / run_id / p.EVALUATOR / "9d2b-uuid" / "blessing"
    blessing.mkdir(parents=True)
    (blessing / (constants.BLESSED_FILE_NAME if blessed else constants.NOT_BLESSED_FILE_NAME)).write_text("")
    return str(model)


def test_submit_finds_the_baseline_model_in_the_run_history(tmp_path, monkeypatch, capsys):
    """`auto` (the default): the model of the newest run whose Evaluator blessed it; a refused
    model, or a run without an Evaluator, is passed over. `none` judges by the floors only, and a
    Model URI given is taken when it holds a serving model."""
    import kfp

    import runner_kubeflow

    root = tmp_path / "root"
    _model_under(root, "run-refused", blessed=False)
    blessed = _model_under(root, "run-blessed", blessed=True)
    older = _model_under(root, "run-older-blessed", blessed=True)
    monkeypatch.setattr(kfp, "Client", _FakeKfpClient)
    _FakeKfpClient.runs = ["run-blocked-no-evaluator", "run-refused", "run-blessed", "run-older-blessed"]
    _FakeKfpClient.created = []
    args = ["--image", "registry.example/tfxgate@sha256:" + "0" * 64, "--pipeline-root", str(root),
            "--serving-model-dir", str(tmp_path / "serving"), "--output", str(tmp_path / "spec.yaml"),
            "--submit", "--host", "http://kfp.test"]
    assert runner_kubeflow.main(args) == 0
    assert _FakeKfpClient.created[-1]["arguments"][p.PARAM_BASELINE_MODEL] == blessed
    assert f"model compared with the newest blessed model, {blessed}" in capsys.readouterr().out

    assert runner_kubeflow.main(args + ["--param", f"baseline_model={older}"]) == 0
    assert _FakeKfpClient.created[-1]["arguments"][p.PARAM_BASELINE_MODEL] == older
    assert runner_kubeflow.main(args + ["--param", "baseline_model=none"]) == 0
    assert _FakeKfpClient.created[-1]["arguments"][p.PARAM_BASELINE_MODEL] == ""
    _FakeKfpClient.runs = ["run-refused"]
    assert runner_kubeflow.main(args) == 0
    assert _FakeKfpClient.created[-1]["arguments"][p.PARAM_BASELINE_MODEL] == ""
    assert "no earlier run of experiment tfxgate has a blessed model: judged by floors only this run" in capsys.readouterr().out


@pytest.mark.parametrize("params, message", [
    (["span=x"], "--param 'span=x': span takes a whole number"),
    (["span=-3"], "--param span=-3: a span number (0 or more), or -1 for the latest"),
    (["train_steps=0"], "--param train_steps=0: at least 1"),
    (["schema_version=v9"], "schema version v9: no "),
    (["colour=red"], "--param 'colour=red': expected NAME=VALUE with NAME one of the spec's parameters "
                     "(baseline_model, drift_baseline, schema_version, span, train_steps)"),
    (["drift_baseline=/nonexistent/decision"], "/nonexistent/decision: no decision.json"),
    (["baseline_model=/nonexistent/model"], "baseline_model /nonexistent/model: no /nonexistent/model/Format-Serving/"
                                            "saved_model.pb (not the `model` output of a tfxgate Trainer)"),
])
def test_a_run_parameter_that_cannot_work_is_one_line_before_a_run_starts(tmp_path, monkeypatch, capsys, params, message):
    import kfp

    import runner_kubeflow

    monkeypatch.setattr(kfp, "Client", _FakeKfpClient)
    _FakeKfpClient.runs, _FakeKfpClient.created = [], []
    args = ["--pipeline-root", str(tmp_path / "root"), "--output", str(tmp_path / "spec.yaml"),
            "--submit", "--host", "http://kfp.test"]
    assert runner_kubeflow.main(args + [a for param in params for a in ("--param", param)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("warning: --image")]
    assert len(err) == 1 and err[0].startswith(f"error: {message}")
    assert _FakeKfpClient.created == []


def test_param_without_submit_is_refused(tmp_path, capsys):
    import runner_kubeflow

    assert runner_kubeflow.main(["--output", str(tmp_path / "spec.yaml"), "--param", "span=1"]) == 2
    assert capsys.readouterr().err == "error: --param needs --submit (a compiled spec takes parameter values per run)\n"
