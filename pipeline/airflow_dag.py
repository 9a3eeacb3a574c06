"""A tfxgate project's pipeline as an Airflow DAG (written by runner_airflow.py).

This file runs in Airflow's own environment (`make airflow`): it imports Airflow and the standard
library only, never TensorFlow, TFX or tfxgate's packages, so the DAG processor loads it in well
under a second. Each task runs one stage (pipeline/stages.py) in the project's own Python:
`runner_local.py --stage S --run-id R`, a partial run of tfxgate's LocalDagRunner, so MLMD, the
cache, the run lock, crash recovery, the console lines and MLflow logging are the local runner's.
Every stage of a DAG run shares one MLMD run id: `airflow-` and the DAG run's id.

What a task's end means (the runner's exit status):
- 0: the stage is done;
- 3: the data gate blocked the span: the task fails with the gate's one-line reason, is not
  retried, and the later stages are `upstream_failed`;
- 5: the model gate refused the model: the push task is `skipped` with the reasons (the DAG run
  succeeds: the model was not pushed, the serving model is unchanged; not a crash);
- 2: bad settings or input files: fails without a retry (the `check` task says so before any
  stage has run);
- anything else (a crash, a killed process): fails and is retried; the retry resumes the same
  run, each node the stage already finished skipped, the rest from the cache where it can.

runner_airflow.py copies this file into the DAGs folder with `SETTINGS` filled in; here, in the
package, `SETTINGS` is None and nothing is built.
"""

import datetime
import os
import subprocess

SETTINGS = None  # runner_airflow.py writes the project's settings here (a dict literal)

EXIT_USAGE, EXIT_BLOCKED, EXIT_NOT_BLESSED = 2, 3, 5
RUN_ID_PREFIX = "airflow-"  # MLMD's run id of a DAG run: this and the DAG run's id
# The environment of Airflow's own Python, not the project's: left out of a stage's environment.
_AIRFLOW_ONLY = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")


def mlmd_run_id(dag_run_id: str) -> str:
    """The MLMD run id every stage of one DAG run shares."""
    return RUN_ID_PREFIX + dag_run_id


def stage_command(settings: dict, stage: str, run_id: str, params: dict) -> list:
    """The argv of one stage: the project's Python on runner_local.py (no shell in between)."""
    argv = [settings["python"], settings["runner"], "--project", settings["project"], "--stage", stage,
            "--run-id", run_id, "--train-steps", str(params["train_steps"])]
    if params.get("span") is not None:
        argv += ["--span", str(params["span"])]
    if params.get("schema_version"):
        argv += ["--schema-version", str(params["schema_version"])]
    return argv + list(settings.get("extra_args", []))


def run_stage(argv: list, cwd: str) -> tuple:
    """Runs a stage, each line of its output into the task's log; (exit status, the line that
    says why it stopped: the runner's `error: ...` or `tfxgate: model not pushed: ...`)."""
    env = {k: v for k, v in os.environ.items() if k not in _AIRFLOW_ONLY}
    reason = ""
    with subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          bufsize=1) as proc:
        try:
            for line in proc.stdout:
                print(line.rstrip("\n"), flush=True)
                if line.startswith(("error: ", "tfxgate: model not pushed")):
                    reason = line.strip()
            status = proc.wait()
        except BaseException:  # the task itself is stopped: the stage with it
            proc.kill()
            raise
    return status, reason


def outcome(stage: str, status: int, reason: str):
    """The Airflow exception a stage's exit status means (None: the stage is done)."""
    from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

    if status == 0:
        return None
    if status == EXIT_NOT_BLESSED:
        return AirflowSkipException(reason or "tfxgate: model not pushed")
    if status == EXIT_BLOCKED:
        return AirflowFailException(reason or "the data gate stopped the run")
    if status == EXIT_USAGE:
        return AirflowFailException(reason or f"stage {stage}: bad settings or input")
    return AirflowException(f"stage {stage} ended with exit status {status}" + (f": {reason}" if reason else ""))


def build(settings: dict):
    """The DAG: check, then each stage, one after the other."""
    from airflow.sdk import DAG, Param, task

    def stage_task(stage: str):
        @task(task_id=stage, retries=0 if stage == "check" else settings["retries"],
              retry_delay=datetime.timedelta(seconds=settings["retry_delay_s"]))
        def _stage(params=None, dag_run=None):
            argv = stage_command(settings, stage, mlmd_run_id(dag_run.run_id), params)
            print("tfxgate: " + " ".join(argv), flush=True)
            failure = outcome(stage, *run_stage(argv, settings["cwd"]))
            if failure is not None:
                raise failure

        return _stage()

    with DAG(
        dag_id=settings["dag_id"],
        description=f"tfxgate pipeline of the project at {settings['project']}",
        schedule=None,
        start_date=datetime.datetime(2024, 1, 1),
        catchup=False,
        max_active_runs=1,  # one run of a project at a time (its run lock would make a second wait)
        tags=["tfxgate"],
        params={
            "span": Param(None, type=["null", "integer"], minimum=1,
                          description="the training span to ingest (null: the latest)"),
            "train_steps": Param(settings["train_steps"], type="integer", minimum=1,
                                 description="the training budget in steps"),
            "schema_version": Param("", type="string", pattern=r"^(v[0-9]+)?$",
                                    description="the schema version v<N> ('' : the newest)"),
        },
        doc_md=__doc__,
    ) as dag:
        previous = None
        for stage in settings["stages"]:
            current = stage_task(stage)
            if previous is not None:
                previous >> current
            previous = current
    return dag


if SETTINGS:
    dag = build(SETTINGS)
