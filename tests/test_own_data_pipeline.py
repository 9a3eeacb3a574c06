"""Your own data through the whole pipeline: `tfxgate init` on a real dataset other than taxi
(tests/datasets.py), then `runner_local.py --project` over its last two spans in time order. Clean spans
pass the data gate (natural change between periods warns at most), train a model that beats the
trivial one, and push it; then each defect of tests/datasets.py that `_through_the_pipeline`
chooses, injected into real rows (the serving batch, or a new training span), stops the run at the gate (exit 3) with its blocking
findings on the feature it damaged, as MLMD records them.

Self-contained (its own projects, stores and outputs); in the main pytest process of `make test`."""

import shutil
import subprocess
import sys

import pytest

from core.common import names
from core.common import project as project_lib
from mlmd import runs as runs_lib, store as store_lib
from tests import datasets
from tests.paths import PROJECT_ROOT

pytestmark = pytest.mark.pipeline

TRAIN_STEPS = "100"  # small data learns in few steps; the model gate's floor checks it did
# The clean runs: the last two spans, in time order. The first has no model before it; the second
# is judged against the first's (drift against the span before, the model gate's baseline), which
# is everything a third clean run would show again, at a pipeline run's cost.
CLEAN_RUNS = 2
EXIT_BLOCKED = 3


def _through_the_pipeline(dataset) -> list:
    """The defects run through the whole pipeline: every one of penguins'; of seattle's, those of
    the serving batch that read (one run: the multiclass project's gate). Each of seattle's blocks
    on its feature through `tfxgate validate` (tests/test_own_data.py), whose judging is the
    pipeline's (tests/test_typed_reading.py runs the same files through both); three more runner
    processes here would add about five minutes to `make test`."""
    every = datasets.DEFECTS[dataset.name]
    if dataset.name == "penguins":
        return every
    return [d for d in every if d.environment == names.SERVING and not d.unreadable]


def _run(project, *args):
    return subprocess.run([sys.executable, "runner_local.py", "--project", str(project), "--train-steps", TRAIN_STEPS,
                           *args], capture_output=True, text=True, cwd=PROJECT_ROOT)


def _latest(project):
    store = store_lib.StoreSettings(sqlite_path=str(project_lib.load(project).metadata_path)).open()
    return runs_lib.find_run(store, "latest")


def _majority_share(spans) -> float:
    """The trivial model's accuracy: the most common label's share of the training rows."""
    import collections

    return 0.0 if not spans else max(collections.Counter(spans).values()) / len(spans)


def _damaged(defects, rows):
    for defect in defects:
        rows = defect.damage(rows)
    return rows


@pytest.fixture(scope="module", params=["penguins", "seattle"])
def journey(request, tmp_path_factory):
    """Every run of one dataset's project, in order: {"clean": [(proc, run)], "defects": [(defects, proc, run)]}.

    The spans run in time order; the serving batch (the period after the last span) is there only
    for the last one, as it would be: it did not exist when the earlier spans were current. Then
    the defects, grouped by `_groups` into as few runs as keep each one's finding its own: those of
    the serving batch together (each damages its own column, so each must block on its own
    feature; one whose cells cannot be read has a run of its own, since its rows are left out),
    those of training in a new span of the last span's rows, joining such a run when no defect
    there damages the same feature. The suite's time stays small (the training side of a
    serving-only run comes from the cache)."""
    dataset = {"penguins": datasets.PENGUINS, "seattle": datasets.SEATTLE}[request.param]
    base = tmp_path_factory.mktemp(f"journey-{dataset.name}")
    root = dataset.build(base)
    project = base / "project"
    made = subprocess.run([sys.executable, "-m", "tfxgate.command.cli", "init", str(project), "--data", str(root), "--label",
                           dataset.label], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert made.returncode == 0, made.stderr
    spans = sorted((root / "train").iterdir(), key=lambda p: int(p.name.split("-")[1]))
    found = {"dataset": dataset, "root": root, "project": project, "clean": [], "defects": []}
    serving, later = root / "serving", base / "serving-not-yet"
    serving.rename(later)
    run_spans = spans[-CLEAN_RUNS:]
    for i, span in enumerate(run_spans):
        if i == len(run_spans) - 1:
            later.rename(serving)
        proc = _run(project, "--span", span.name.split("-")[1])
        found["clean"].append((proc, _latest(project)))
    # The trivial model as `tfxgate init` scores it for the floor: the majority share over every span.
    labels = [r[dataset.label] for span in spans for r in datasets.read_rows(span / "data.csv")]
    found["trivial"] = _majority_share(labels)
    latest = len(spans)
    batch = serving / "data.csv"
    clean_serving = batch.read_bytes()
    for group in _groups(_through_the_pipeline(dataset)):
        serving_side = [d for d in group if d.environment == names.SERVING]
        training_side = [d for d in group if d.environment == names.TRAINING]
        if serving_side:
            datasets.write_rows(batch, _damaged(serving_side, datasets.read_rows(batch)))
        folder = root / "train" / f"span-{latest + 1}"
        if training_side:
            datasets.write_rows(folder / "data.csv", _damaged(training_side, datasets.read_rows(spans[-1] / "data.csv")))
        proc = _run(project, "--span", str(latest + 1 if training_side else latest))
        batch.write_bytes(clean_serving)
        shutil.rmtree(folder, ignore_errors=True)
        found["defects"].append((group, proc, _latest(project)))
    return found


def _groups(chosen) -> list:
    """The defects' runs: those of the serving batch whose cells read together in one (each
    damages its own column); each unreadable one in a run of its own (its rows are left out, so
    another defect in them would go unseen); each defect of training in a new span of the last
    span's rows, joining the first of those runs in which no defect damages its feature (each
    batch is validated on its own; seattle's two of training both damage the label, so never
    together). Each run must block on the features of its defects, nothing else."""
    in_serving = [d for d in chosen if d.environment == names.SERVING]
    groups = [g for g in ([d for d in in_serving if not d.unreadable], *([d] for d in in_serving if d.unreadable)) if g]
    for defect in (d for d in chosen if d.environment == names.TRAINING):
        room = [g for g in groups if defect.feature not in {d.feature for d in g}]
        if room:
            room[0].append(defect)
        else:
            groups.append([defect])
    return groups


def test_clean_spans_in_time_order_pass_the_gate_and_push_a_model_that_beats_the_trivial_one(journey):
    for proc, run in journey["clean"]:
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert run.gate["decision"] in (names.PASS, names.WARN), run.gate
        blocking = [v for val in run.validations for v in val.verdicts if v.severity == names.BLOCK]
        assert not blocking, [v.line() for v in blocking]
        assert run.evaluation["blessed"] is True and run.evaluation["pushed"] is True, run.evaluation
        assert run.pushed_model and run.pushed_model["pushed"]
        accuracy = next(v["candidate"] for k, v in run.evaluation["metrics"].items() if k.endswith("accuracy"))
        assert accuracy > journey["trivial"], (accuracy, journey["trivial"])
        assert "pushed model: " + str(journey["project"] / "outputs" / "serving_model") in proc.stdout
    later = journey["clean"][1:]
    assert all(run.evaluation["baseline_model"] is not None for _, run in later)  # judged against the previous model


def test_the_project_keeps_its_outputs_and_pipeline_name_to_itself(journey):
    project = project_lib.load(journey["project"])
    _, run = journey["clean"][0]
    assert run.pipeline == project.name != "tfxgate"
    assert project.metadata_path.is_file() and (project.outputs / "serving_model").is_dir()
    assert not (PROJECT_ROOT / "outputs" / "serving_model" / project.name).exists()


def test_each_defect_stops_the_run_at_the_gate_on_the_feature_it_damaged(journey):
    for defects, proc, run in journey["defects"]:
        said = [d.name for d in defects]
        assert proc.returncode == EXIT_BLOCKED, (said, proc.stdout[-1500:], proc.stderr[-1500:])
        assert "the data gate stopped the run; nothing was trained or pushed." in proc.stderr
        assert "Traceback" not in proc.stderr
        assert run.gate["decision"] == names.BLOCK, (said, run.gate)
        blocking = {v.finding.feature for val in run.validations for v in val.verdicts if v.severity == names.BLOCK}
        assert blocking == {d.feature for d in defects}, (said, blocking)  # each on its own feature, nothing else
        assert run.evaluation is None and not (run.pushed_model or {}).get("pushed")
        assert f"--project {journey['project']}" in proc.stderr  # the next steps name the project
    judged = sorted(d.name for defects, _, _ in journey["defects"] for d in defects)
    assert judged == sorted(d.name for d in _through_the_pipeline(journey["dataset"]))
