"""A clean run's time under Airflow beside the local runner's, on the same small real project.

    python -m benchmarks.airflow_side_by_side [--train-steps 150] [--work DIR]

Builds the penguins project of tests/datasets.py twice (a fresh store each), runs span 1 through
`runner_local.py`, then through the project's DAG with `airflow dags test` (Airflow's own
environment, `make airflow`, a fresh Airflow home), one after the other, and prints both wall
times and each Airflow task's. Figures only: nothing is asserted. Not part of `make bench`.
"""

import argparse
import json
import os
import pathlib
import shutil
import sqlite3
import subprocess
import sys
import time

from pipeline.config import PROJECT_ROOT
from tests import datasets

AIRFLOW = PROJECT_ROOT / ".venv-airflow" / "bin" / "airflow"


def _project(base: pathlib.Path) -> pathlib.Path:
    root = datasets.PENGUINS.build(base)
    subprocess.run([sys.executable, "-m", "tfxgate.command.cli", "init", str(base / "project"), "--data", str(root),
                    "--label", datasets.PENGUINS.label], check=True, capture_output=True, cwd=PROJECT_ROOT)
    return base / "project"


def _timed(command, env=None) -> tuple:
    started = time.monotonic()
    proc = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, env=env)
    return time.monotonic() - started, proc


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-steps", type=int, default=150)
    parser.add_argument("--work", default=str(PROJECT_ROOT / "outputs" / "bench" / "airflow"))
    args = parser.parse_args(argv)
    work = pathlib.Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    if not AIRFLOW.exists():
        subprocess.run(["make", "airflow"], check=True, cwd=PROJECT_ROOT)

    local = _project(work / "local")
    local_s, proc = _timed([sys.executable, "runner_local.py", "--project", str(local), "--span", "1",
                            "--train-steps", str(args.train_steps)])
    assert proc.returncode == 0, proc.stderr[-2000:]

    home = work / "airflow-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
               AIRFLOW__CORE__LOAD_EXAMPLES="False")
    subprocess.run([str(AIRFLOW), "db", "migrate"], check=True, capture_output=True, env=env)
    staged = _project(work / "staged")
    subprocess.run([sys.executable, "runner_airflow.py", "--project", str(staged), "--dags-folder",
                    str(home / "dags"), "--train-steps", str(args.train_steps)], check=True, capture_output=True,
                   cwd=PROJECT_ROOT)
    dag_id = next((home / "dags").glob("tfxgate_*.py")).stem
    airflow_s, proc = _timed([str(AIRFLOW), "dags", "test", dag_id, "--conf", json.dumps({"span": 1})], env=env)
    assert proc.returncode == 0, proc.stdout[-3000:]
    with sqlite3.connect(home / "airflow.db") as db:
        tasks = db.execute("SELECT task_id, (julianday(end_date) - julianday(start_date)) * 86400 "
                           "FROM task_instance ORDER BY start_date").fetchall()
    print(f"clean run of span 1, {args.train_steps} training steps (penguins):")
    print(f"  runner_local.py           {local_s:7.1f} s")
    print(f"  Airflow (airflow dags test) {airflow_s:5.1f} s  ({airflow_s / local_s:.2f}x)")
    for task, seconds in tasks:
        print(f"    task {task:<10} {seconds:7.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
