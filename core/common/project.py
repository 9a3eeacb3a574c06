"""A project: a folder holding `tfxgate.yaml` and everything the pipeline needs to run on one
dataset. The shipped taxi example is one; `tfxgate init` makes others.

    <project>/
      tfxgate.yaml            name, data root, label, task (below)
      schema/vN/              schema.pbtxt, checks.yaml, constraints.yaml (reviewed versions)
      schema/policy.yaml      the data gate's policy
      schema/evaluation.yaml  the model gate's settings
      models/                 Transform's and Trainer's module code
      outputs/                everything a run writes: MLMD, artifacts, pushed models, logs

`tfxgate.yaml`:

    version: 1
    name: penguins            # the pipeline's name in MLMD (letters, digits, '-', '_')
    data: data                # the data root, relative to the project or absolute
    label: species            # the column the model predicts
    task: multiclass          # binary | multiclass | regression

Which project a command means (`resolve`): `--project DIR`; else the folder it stands in when
that holds `tfxgate.yaml`; else the shipped example.
"""

import dataclasses
import os
import pathlib
import re
from typing import Optional

import yaml

from core.common.errors import ConfigError

FILE = "tfxgate.yaml"
SHIPPED = pathlib.Path(__file__).resolve().parents[2]  # the shipped example's folder
TASKS = ("binary", "multiclass", "regression")
SCHEMA_FOLDER = "schema"
MODELS_FOLDER = "models"
OUTPUTS_FOLDER = "outputs"
POLICY_FILE = "policy.yaml"
EVALUATION_FILE = "evaluation.yaml"
METADATA_FILE = "metadata.sqlite"  # the SQLite MLMD store under outputs/
TRANSFORM_MODULE = "preprocessing.py"
TRAINER_MODULE = "model.py"
_NAME = r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}"
_KEYS = ("version", "name", "data", "label", "task")


@dataclasses.dataclass(frozen=True)
class Project:
    """Where a project's files are; every path absolute."""

    root: pathlib.Path
    name: str
    data_root: pathlib.Path
    label: str
    task: str

    @property
    def schema_dir(self) -> pathlib.Path:
        return self.root / SCHEMA_FOLDER

    @property
    def policy_path(self) -> pathlib.Path:
        return self.schema_dir / POLICY_FILE

    @property
    def evaluation_path(self) -> pathlib.Path:
        return self.schema_dir / EVALUATION_FILE

    @property
    def models_dir(self) -> pathlib.Path:
        return self.root / MODELS_FOLDER

    @property
    def outputs(self) -> pathlib.Path:
        return self.root / OUTPUTS_FOLDER

    @property
    def metadata_path(self) -> pathlib.Path:
        return self.outputs / METADATA_FILE

    @property
    def is_shipped(self) -> bool:
        return self.root == SHIPPED


def parse(text: str, root: pathlib.Path, source: str = FILE) -> Project:
    """The project `text` (a tfxgate.yaml) describes, its paths resolved against `root`.

    Raises:
        ConfigError: the text is not such a file (one line naming what is wrong).
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{source}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with {', '.join(_KEYS)}")
    unknown = sorted(set(map(str, data)) - set(_KEYS))
    if unknown:
        raise ConfigError(f"{source}: unknown key {unknown[0]!r} (expected {', '.join(_KEYS)})")
    for key in ("name", "data", "label", "task"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise ConfigError(f"{source}: '{key}' must be a non-empty text")
    if not re.fullmatch(_NAME, data["name"]):
        raise ConfigError(f"{source}: name {data['name']!r}: letters, digits, '-' and '_' only (it names the "
                          "pipeline in MLMD)")
    if data["task"] not in TASKS:
        raise ConfigError(f"{source}: task {data['task']!r}: one of {', '.join(TASKS)}")
    data_root = pathlib.Path(os.path.expanduser(data["data"]))
    return Project(root=root, name=data["name"], data_root=(root / data_root).resolve() if not data_root.is_absolute()
                   else data_root, label=data["label"], task=data["task"])


def load(folder) -> Project:
    """The project in `folder`.

    Raises:
        ConfigError: no such folder, no tfxgate.yaml in it, or a file that does not parse.
    """
    root = pathlib.Path(folder).expanduser().resolve()
    path = root / FILE
    if not root.is_dir():
        raise ConfigError(f"--project {folder}: no such folder")
    if not path.is_file():
        raise ConfigError(f"--project {folder}: no {FILE} in it (make a project with `tfxgate init DIR --data "
                          "DATA_ROOT --label COLUMN`)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read it ({getattr(e, 'strerror', None) or e})") from None
    return parse(text, root, str(path))


def resolve(given: Optional[str] = None, cwd: Optional[str] = None) -> Project:
    """The project a command means: `given` (--project); else the working folder when it holds
    tfxgate.yaml; else the shipped example."""
    if given:
        return load(given)
    here = pathlib.Path(cwd or os.getcwd())
    if (here / FILE).is_file():
        return load(here)
    return load(SHIPPED)


def to_yaml(name: str, data_root: str, label: str, task: str, header: str = "") -> str:
    """The text of a tfxgate.yaml; `parse` reads it back to the same project."""
    body = yaml.safe_dump({"version": 1, "name": name, "data": data_root, "label": label, "task": task},
                          sort_keys=False, allow_unicode=True)
    return header + body
