"""Your own data: `tfxgate init` on real datasets other than taxi (tests/datasets.py), then
`tfxgate validate --project` on their clean spans (they pass) and on defects injected into their
real rows (each blocks on the feature it damaged). The pipeline end to end on the same projects
is tests/test_own_data_pipeline.py."""

import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

from core.common import evaluation
from core.common import names
from core.common import project as project_lib
from core.settings import schema_files
from tests import datasets
from tests.paths import PROJECT_ROOT
from tfxgate.command import cli, project_files

pytestmark = pytest.mark.component

DATASETS = {d.name: d for d in (datasets.PENGUINS, datasets.SEATTLE)}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """{dataset: (data root, project folder, init's stdout)} of each dataset, made once."""
    found = {}
    for name, dataset in DATASETS.items():
        base = tmp_path_factory.mktemp(name)
        root = dataset.build(base)
        project = base / "project"
        proc = _tfxgate("init", str(project), "--data", str(root), "--label", dataset.label)
        assert proc.returncode == 0, proc.stderr
        found[name] = (root, project, proc.stdout)
    return found


def _tfxgate(*args, cwd=PROJECT_ROOT):
    return subprocess.run([sys.executable, "-m", "tfxgate.command.cli", *args], capture_output=True, text=True, cwd=cwd)


def _validate(project, data, environment, baseline, out: pathlib.Path):
    """tfxgate validate --project in this process (TFDV loads once): (exit code, its JSON)."""
    code = cli.main(["validate", "--project", str(project), "--data", str(data), "--environment", environment,
                     "--baseline", str(baseline), "--format", "json", "--out", str(out)])
    return code, json.loads(out.read_text())


# ---- what init decides ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, task, inputs, left_out", [
    ("penguins", "binary", {"bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "species", "island"},
     {"year": "period"}),
    ("seattle", "multiclass", {"precipitation", "temp_max", "temp_min", "wind"}, {"date": "period"}),
])
def test_init_finds_the_task_the_inputs_and_what_it_leaves_out(made, name, task, inputs, left_out):
    root, project, stdout = made[name]
    label = DATASETS[name].label
    assert f"task: {task} (inferred: " in stdout
    for feature, role in left_out.items():
        assert f"left out of the model: {feature} ({role}: " in stdout
    loaded = project_lib.load(project)
    assert (loaded.name, loaded.label, loaded.task, loaded.data_root) == ("project", label, task, root.resolve())
    schema = schema_files.load(str(project / "schema" / "v1" / names.SCHEMA_FILE))
    features = {f.name: f for f in schema.feature}
    assert set(features) == set(datasets.read_rows(next((root / "train").glob("span-1/*.csv")))[0])
    assert names.SERVING in features[label].not_in_environment
    assert label not in schema_files.features_in(schema, names.SERVING)
    for feature in inputs:  # every model input is checked between spans and against serving
        comparator = features[feature].skew_comparator
        threshold = comparator.jensen_shannon_divergence.threshold or comparator.infinity_norm.threshold
        assert 0.05 <= threshold <= 1.0, (feature, threshold)
    for feature in left_out:  # a period marker gets no domain: every new span brings new values
        assert not features[feature].HasField("domain") and not features[feature].HasField("int_domain")
        assert f"role:{left_out[feature]}" in features[feature].annotation.tag
    spec = {}
    exec(compile((project / "models" / "features.py").read_text(), "features.py", "exec"), spec)
    chosen = set(spec["NUMERIC_FEATURE_KEYS"]) | set(spec["INT_CATEGORY_RANGES"]) | set(spec["VOCAB_FEATURE_KEYS"])
    assert chosen == inputs and spec["TASK"] == task and spec["LABEL_KEY"] == label
    settings = evaluation.parse((project / "schema" / "evaluation.yaml").read_text())
    assert settings.label == f"{label}_xf" and any(g.floor is not None for g in settings.metrics)
    slices = yaml.safe_load((project / "schema" / "v1" / names.CHECKS_FILE).read_text())["slices"]
    assert all(s["feature"] != label for s in slices)


def test_the_trivial_model_is_the_live_floor_and_the_drop_is_sized_for_the_eval_split(made):
    root, project, stdout = made["seattle"]
    [line] = [x for x in stdout.splitlines() if x.startswith("the trivial model: ")]
    share = float(line.rsplit("accuracy of ", 1)[1].split()[0])
    [gate] = evaluation.parse((project / "schema" / "evaluation.yaml").read_text()).metrics
    smallest = min(len(datasets.read_rows(span / "data.csv")) for span in (root / "train").iterdir())
    assert gate.name == "sparse_categorical_accuracy" and gate.floor == round(share, 2)
    assert gate.drop == project_files.allowed_drop(smallest) > 0.05  # 365 rows a year: about 73 eval rows


@pytest.mark.parametrize("rows, drop", [(100, 0.23), (365, 0.12), (5_000, 0.05), (2_000_000, 0.05)])
def test_the_allowed_drop_follows_the_eval_splits_noise(rows, drop):
    assert project_files.allowed_drop(rows) == drop


def test_a_numeric_label_with_many_values_is_a_regression(tmp_path, made):
    root, _, _ = made["penguins"]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train").symlink_to(root / "train")  # no serving batch: it lacks `sex`, an input now
    proc = _tfxgate("init", str(tmp_path / "mass"), "--data", str(tmp_path / "data"), "--label", "body_mass_g")
    assert proc.returncode == 0, proc.stderr
    assert "task: regression (inferred: body_mass_g holds " in proc.stdout
    [gate] = evaluation.parse((tmp_path / "mass" / "schema" / "evaluation.yaml").read_text()).metrics
    assert gate.name == "mean_absolute_error" and gate.ceiling > 0 and gate.rise > 0
    assert "sex" in (tmp_path / "mass" / "models" / "features.py").read_text()  # the old label is an input now


# ---- clean spans pass, defects block on their feature ----------------------------------------------

@pytest.mark.parametrize("name", sorted(DATASETS))
def test_clean_spans_and_the_serving_batch_pass(made, name, tmp_path):
    root, project, _ = made[name]
    spans = sorted((root / "train").iterdir())
    for i, span in enumerate(spans):  # each span against the one before: natural change between periods
        code, result = _validate(project, span, names.TRAINING, spans[i - 1] if i else "none", tmp_path / "out.json")
        assert code == 0 and result["result"] in ("pass", "warn"), (span.name, result["anomalies"])
        assert not [a for a in result["anomalies"] if a["severity"] == "block"]
    code, result = _validate(project, root / "serving", names.SERVING, spans[-1], tmp_path / "out.json")
    assert code == 0 and result["result"] in ("pass", "warn"), result["anomalies"]


CASES = [(name, defect) for name in sorted(DATASETS) for defect in datasets.DEFECTS[name]]


@pytest.mark.parametrize("name, defect", CASES, ids=[f"{n}-{d.name}" for n, d in CASES])
def test_a_defect_in_real_rows_blocks_on_the_feature_it_damaged(made, name, defect, tmp_path):
    root, project, _ = made[name]
    spans = sorted((root / "train").iterdir())
    source = root / "serving" / "data.csv" if defect.environment == names.SERVING else spans[-1] / "data.csv"
    bad = datasets.write_rows(tmp_path / f"{defect.name}.csv", defect.damage(datasets.read_rows(source)))
    baseline = spans[-1] if defect.environment == names.SERVING else spans[-2]
    code, result = _validate(project, bad, defect.environment, baseline, tmp_path / "out.json")
    blocking = [a for a in result["anomalies"] if a["severity"] == "block"]
    assert code == 1 and result["result"] == "block"
    assert {a["feature"] for a in blocking} == {defect.feature}, blocking


# ---- bad input: one line, exit 2, nothing written ------------------------------------------------

def _spans_with_other_columns(root: pathlib.Path, base: pathlib.Path) -> pathlib.Path:
    copy = base / "differ"
    for span in sorted((root / "train").iterdir()):
        rows = datasets.read_rows(span / "data.csv")
        if span.name == "span-2":
            rows = [{k: v for k, v in r.items() if k != "island"} for r in rows]
        datasets.write_rows(copy / "train" / span.name / "data.csv", rows)
    return copy


def _label_mostly_missing(root: pathlib.Path, base: pathlib.Path) -> pathlib.Path:
    copy = base / "unlabelled"
    for span in sorted((root / "train").iterdir()):
        rows = datasets.read_rows(span / "data.csv")
        datasets.write_rows(copy / "train" / span.name / "data.csv",
                            [dict(r, sex="" if i % 4 else r["sex"]) for i, r in enumerate(rows)])
    return copy


def _label_constant(root: pathlib.Path, base: pathlib.Path) -> pathlib.Path:
    copy = base / "constant"
    for span in sorted((root / "train").iterdir()):
        datasets.write_rows(copy / "train" / span.name / "data.csv",
                            datasets.constant(datasets.read_rows(span / "data.csv"), "sex"))
    return copy


@pytest.mark.parametrize("case, make_data, label, message", [
    ("no such data root", lambda root, base: base / "nowhere", "sex", "no such folder (expected DATA_ROOT/train/span-N"),
    ("no spans", lambda root, base: (base / "empty" / "train").mkdir(parents=True) or base / "empty", "sex",
     "train/ has no span-N folder"),
    ("spans with different columns", _spans_with_other_columns, "sex", "train/span-2: its columns differ from span-1's: it lacks island"),
    ("a label not in the data", lambda root, base: root, "sexe", "--label sexe: no such column in the training spans (did you mean sex?)"),
    ("a label mostly missing", _label_mostly_missing, "sex", "--label sex: missing in "),
    ("a constant label", _label_constant, "sex", "a constant label cannot be learned"),
])
def test_init_refuses_bad_input_in_one_line_and_writes_nothing(made, tmp_path, case, make_data, label, message):
    root, _, _ = made["penguins"]
    data = make_data(root, tmp_path)
    target = tmp_path / "projects" / "new"
    proc = _tfxgate("init", str(target), "--data", str(data), "--label", label)
    assert proc.returncode == 2, (case, proc.stdout, proc.stderr)
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("tfxgate init: error: ") and message in line, line
    assert not target.exists()
    assert not list(target.parent.glob(".new.init-*")) if target.parent.exists() else True


def test_an_existing_project_is_refused_and_force_keeps_its_accepted_schema(made, tmp_path):
    root, _, _ = made["penguins"]
    project = tmp_path / "p"
    assert _tfxgate("init", str(project), "--data", str(root), "--label", "sex").returncode == 0
    reviewed = project / "schema" / "v1" / names.SCHEMA_FILE
    reviewed.write_text("# reviewed by a person\n" + reviewed.read_text())
    before = reviewed.read_bytes()
    again = _tfxgate("init", str(project), "--data", str(root), "--label", "sex")
    assert again.returncode == 2 and "already exists; say --force" in again.stderr
    forced = _tfxgate("init", str(project), "--data", str(root), "--label", "sex", "--force")
    assert forced.returncode == 0, forced.stderr
    assert reviewed.read_bytes() == before  # an accepted version is never overwritten
    assert (project / "schema" / "drafts" / "v2" / names.SCHEMA_FILE).is_file()
    assert "the inferred schema is the draft" in forced.stdout
    assert not list(tmp_path.glob(".p.init-*"))


# ---- which project a command means --------------------------------------------------------------

def test_a_command_uses_the_project_it_stands_in_else_the_shipped_example(made, tmp_path):
    _, project, _ = made["penguins"]
    assert project_lib.resolve(cwd=str(project)).root == project.resolve()
    assert project_lib.resolve(cwd=str(tmp_path)).is_shipped
    assert project_lib.resolve(str(project)).name == "project"
    # validate from inside the project: its schema, not taxi's
    serving = project_lib.load(project).data_root / "serving"
    proc = _tfxgate("validate", "--data", str(serving), "--baseline", "none", "--format", "json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["schema"] == str(project / "schema" / "v1" / names.SCHEMA_FILE)


def test_a_folder_without_tfxgate_yaml_is_refused_in_one_line(tmp_path):
    proc = _tfxgate("validate", "--project", str(tmp_path), "--data", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"tfxgate validate: error: --project {tmp_path}: no tfxgate.yaml in it (make a "
                                   "project with `tfxgate init DIR --data DATA_ROOT --label COLUMN`)")


def test_the_shipped_example_is_a_project():
    shipped = project_lib.load(PROJECT_ROOT)
    assert shipped.is_shipped and shipped.label == "tips" and shipped.data_root == PROJECT_ROOT / "data"
    assert os.path.isfile(shipped.policy_path) and os.path.isfile(shipped.evaluation_path)


# ---- the same project on Kubeflow ---------------------------------------------------------------

def test_kubeflow_compiles_the_projects_schema_settings_and_module_code(made, tmp_path):
    """The spec names the project's pipeline, its schema version under the image's project folder
    (the Dockerfile init writes puts it there) and its module code as the image's top-level
    modules; the gate's policy and the model gate's settings are the project's."""
    import runner_kubeflow
    from pipeline import kubeflow

    _, project, _ = made["seattle"]
    output = tmp_path / "spec.yaml"
    code = runner_kubeflow.main(["--project", str(project), "--data-root", "gs://bucket/seattle", "--pipeline-root",
                                 "gs://bucket/root", "--serving-model-dir", "gs://bucket/serving",
                                 "--image", "registry/seattle@sha256:" + "0" * 64, "--output", str(output)])
    assert code == 0
    text = output.read_text()
    spec = yaml.safe_load(text)
    assert spec["pipelineInfo"]["name"] == "project"
    assert "preprocessing.preprocessing_fn" in text and "model.run_fn" in text and "models.model.run_fn" not in text
    assert f"{kubeflow.IMAGE_OWN_PROJECT}/schema" in text and "weather_xf" in text  # evaluation.yaml's label
    dockerfile = (project / "Dockerfile").read_text()
    assert f"COPY schema/ {kubeflow.IMAGE_OWN_PROJECT}/schema/" in dockerfile
    assert f"ENV PYTHONPATH={kubeflow.IMAGE_OWN_PROJECT}/models" in dockerfile


def test_kubeflow_needs_the_data_root_of_a_project_of_ones_own(made, capsys):
    import runner_kubeflow

    _, project, _ = made["penguins"]
    assert runner_kubeflow.main(["--project", str(project)]) == 2
    assert "--data-root: where the tasks read project's spans" in capsys.readouterr().err
