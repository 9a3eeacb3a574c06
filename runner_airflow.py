"""Writes a project's pipeline as an Airflow DAG: one task per stage, each run in the project's own
Python (this one, by default) while Airflow runs in its own environment (`make airflow`).

    python runner_airflow.py --project DIR [--dags-folder DIR] [--train-steps N] [--retries N] ...

The DAG file (pipeline/airflow_dag.py with the project's settings written in) imports Airflow and
the standard library only. Its tasks (pipeline/stages.py): `check` (the run's settings and input
files, before any stage), `validate` (up to the data gate), `train` (Transform, Trainer), `push`
(the model gate and Pusher). A DAG run's parameters: `span`, `train_steps`, `schema_version`.

Exit status: 0 written, 2 bad arguments or settings.
"""

import os
import sys

from core.common import project as project_lib
from core.common.errors import UserError
from pipeline import airflow_export
from tfxgate.command.args import OneLineParser, positive_int

EXIT_USAGE = 2


def parse_args(argv):
    parser = OneLineParser(prog="runner_airflow.py", description="Write a project's pipeline as an Airflow DAG.",
                           epilog="exit status: 0 written, 2 bad arguments or settings")
    parser.add_argument("--project", help="the project folder (default: the folder you stand in when it holds "
                        "tfxgate.yaml, else the shipped example)")
    parser.add_argument("--dags-folder", help="Airflow's DAGs folder (default: $AIRFLOW_HOME/dags, else "
                        "~/airflow/dags)")
    parser.add_argument("--python", default=sys.executable,
                        help="the project's Python that runs each stage (default: this one)")
    parser.add_argument("--train-steps", type=positive_int, default=1000,
                        help="the DAG's default training budget (a DAG run's `train_steps` overrides it)")
    parser.add_argument("--retries", type=int, default=2, help="tries after a stage crashes (default: 2); "
                        "a blocked gate or a refused model is never retried")
    parser.add_argument("--retry-delay", type=int, default=60, help="seconds before a retry (default: 60)")
    return parser.parse_args(argv)


def _dags_folder(given) -> str:
    if given:
        return given
    home = os.environ.get("AIRFLOW_HOME") or os.path.join(os.path.expanduser("~"), "airflow")
    return os.path.join(home, "dags")


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        project = project_lib.resolve(args.project)
        runner = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runner_local.py")
        settings = airflow_export.settings(project, args.python, runner, args.train_steps, args.retries,
                                           args.retry_delay)
        path = airflow_export.write(settings, _dags_folder(args.dags_folder))
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    dag = settings["dag_id"]
    print(f"tfxgate: wrote DAG {dag} of the project at {project.root} to {path}")
    print(f"  run it once here:  airflow dags test {dag} --conf '{{\"span\": 1}}'")
    print(f"  or, with a scheduler running:  airflow dags unpause {dag} && airflow dags trigger {dag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
