"""The stages an Airflow DAG runs (pipeline/stages.py) on the real compiled pipeline, the partial
run each marks (pipeline/run.py), and the runners' one-line refusals of a stage or DAG they
cannot run. tests/test_airflow.py runs the stages under Airflow."""

import subprocess
import sys

import pytest

from core.common import names
from core.common import project as project_lib
from pipeline import stages
from tests.paths import PROJECT_ROOT

pytestmark = pytest.mark.component


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """The shipped example's pipeline as LocalDagRunner compiles it."""
    from tfx.dsl.compiler import compiler

    from pipeline import config as config_lib
    from pipeline.pipeline import create_pipeline

    project = project_lib.resolve(None, cwd=str(tmp_path_factory.mktemp("elsewhere")))
    outputs = tmp_path_factory.mktemp("outputs")
    config = config_lib.local_config(project=project, data_root=str(project.data_root), outputs=str(outputs))
    return compiler.Compiler().compile(create_pipeline(config))


def _upstream(ir) -> dict:
    return {n.pipeline_node.node_info.id: list(n.pipeline_node.upstream_nodes) for n in ir.nodes}


def test_every_node_lands_in_one_stage_and_the_gate_ends_validate(compiled):
    upstream = _upstream(compiled)
    parts = stages.partition(upstream)
    assert list(parts) == list(stages.STAGES) and parts[stages.CHECK] == []
    placed = [n for stage in stages.STAGES for n in parts[stage]]
    assert sorted(placed) == sorted(upstream)  # each node once
    assert parts[stages.VALIDATE][-1] == names.GATE
    # Leaves beside the gate (TFX's validator, the inferred schema) are validated with it.
    assert {names.EXAMPLE_VALIDATOR, names.INFERRED_SCHEMA, names.EXAMPLE_GEN} <= set(parts[stages.VALIDATE])
    assert parts[stages.TRAIN] == [names.TRANSFORM, names.TRAINER]
    assert set(parts[stages.PUSH]) == {names.LATEST_BLESSED_MODEL, names.EVALUATOR, names.PUSHER}
    # A stage needs nothing from a later one.
    order = {n: stages.STAGES.index(s) for s in stages.STAGES for n in parts[s]}
    assert all(order[up] <= order[n] for n, ups in upstream.items() for up in ups)


@pytest.mark.parametrize("finished", [set(), {names.TRANSFORM}, {names.TRANSFORM, names.TRAINER}])
def test_a_stage_runs_its_unfinished_nodes_and_snapshots_nothing(compiled, finished):
    from tfx.proto.orchestration import pipeline_pb2

    from pipeline.run import _mark_stage

    ir = pipeline_pb2.Pipeline()
    ir.CopyFrom(compiled)
    _mark_stage(ir, stages.TRAIN, finished)
    ran = [n.pipeline_node.node_info.id for n in ir.nodes if not n.pipeline_node.execution_options.HasField("skip")]
    assert ran == [n for n in (names.TRANSFORM, names.TRAINER) if n not in finished]
    assert not any(n.pipeline_node.execution_options.run.perform_snapshot for n in ir.nodes
                   if n.pipeline_node.execution_options.HasField("run"))


def test_a_stage_without_the_run_id_or_two_schemas_is_one_line(tmp_path):
    for args, message in ((["--stage", "train"], "--stage train needs --run-id"),
                          (["--schema-version", "v99"], "schema version v99: no "),
                          (["--schema-version", "v1", "--schema", "schema/v1/schema.pbtxt"], "not both")):
        proc = subprocess.run([sys.executable, "runner_local.py", "--outputs", str(tmp_path), *args],
                              capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.count("\n") == 1 and message in proc.stderr, (args, proc.stderr)


def test_runner_airflow_refuses_a_python_that_cannot_run_a_stage(tmp_path):
    proc = subprocess.run([sys.executable, "runner_airflow.py", "--dags-folder", str(tmp_path),
                           "--python", str(tmp_path / "nowhere" / "python")],
                          capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "not an executable file" in proc.stderr
    assert list(tmp_path.iterdir()) == []  # no DAG written


def test_the_dag_file_written_holds_the_projects_settings(tmp_path):
    """The file Airflow reads: the template's code, with the settings as a literal (no imports of ours)."""
    import ast

    proc = subprocess.run([sys.executable, "runner_airflow.py", "--dags-folder", str(tmp_path), "--train-steps", "7"],
                          capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    [written] = tmp_path.glob("tfxgate_*.py")
    tree = ast.parse(written.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"datetime", "os", "subprocess", "airflow"}, imported
    [settings] = [ast.literal_eval(n.value) for n in tree.body
                  if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "SETTINGS"]
    assert settings["python"] == sys.executable and settings["train_steps"] == 7
    assert settings["stages"] == list(stages.STAGES) and settings["dag_id"] == written.stem
    assert settings["runner"] == str(PROJECT_ROOT / "runner_local.py")
