"""A project's DAG file for Airflow: pipeline/airflow_dag.py with the project's settings written in
(runner_airflow.py). The file it writes imports nothing of ours, so it reads its settings from
itself: which Python (the project's `.venv`), which runner, which project, the stages."""

import os
import pathlib
import pprint
import re

from core.common.errors import ConfigError
from pipeline import stages

TEMPLATE = pathlib.Path(__file__).with_name("airflow_dag.py")
_SETTINGS_LINE = re.compile(r"^SETTINGS = None\b.*$", re.MULTILINE)


def dag_id(project_name: str) -> str:
    """`tfxgate_<project name>`, with what Airflow refuses in an id made `_`."""
    return "tfxgate_" + re.sub(r"[^A-Za-z0-9_.-]", "_", project_name)


def settings(project, python: str, runner: str, train_steps: int, retries: int, retry_delay_s: int) -> dict:
    """What the DAG file needs, checked: a DAG with a wrong Python fails every task at run time."""
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        raise ConfigError(f"--python {python}: not an executable file")
    if retries < 0 or retry_delay_s < 0:
        raise ConfigError("--retries and --retry-delay must be 0 or more")
    return {
        "dag_id": dag_id(project.name),
        "project": str(project.root),
        "python": os.path.abspath(python),
        "runner": os.path.abspath(runner),
        "cwd": os.path.dirname(os.path.abspath(runner)),
        "stages": list(stages.STAGES),
        "train_steps": train_steps,
        "retries": retries,
        "retry_delay_s": retry_delay_s,
    }


def dag_source(values: dict) -> str:
    """The DAG file's text: the template with `SETTINGS = {...}`."""
    text = TEMPLATE.read_text()
    literal = "SETTINGS = " + pprint.pformat(values, width=100, sort_dicts=False) + "  # written by runner_airflow.py"
    source, count = _SETTINGS_LINE.subn(lambda _: literal, text, count=1)
    if count != 1:
        raise RuntimeError(f"{TEMPLATE}: no `SETTINGS = None` line to fill in")
    return source


def write(values: dict, dags_folder: str) -> str:
    """Writes <dags_folder>/<dag id>.py whole (a DAG processor never reads half a file)."""
    try:
        os.makedirs(dags_folder, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--dags-folder {dags_folder}: {e.strerror}") from None
    path = os.path.join(dags_folder, values["dag_id"] + ".py")
    partial = path + ".partial"  # not *.py: the DAG processor skips it
    try:
        with open(partial, "w") as f:
            f.write(dag_source(values))
        os.replace(partial, path)
    except OSError as e:
        raise ConfigError(f"--dags-folder {dags_folder}: {e.strerror}") from None
    return path
