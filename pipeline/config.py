"""The pipeline's configuration: one frozen, typed object built by a runner and passed down."""

import dataclasses
import os
import pathlib
import re
from typing import List, Optional, Tuple

from tfxgate.store import MySQLSettings, StoreSettings

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
PIPELINE_NAME = "tfxgate"
DEFAULT_OUTPUTS = PROJECT_ROOT / "outputs"
SCHEMA_DIR = PROJECT_ROOT / "schema"
POLICY_PATH = SCHEMA_DIR / "policy.yaml"
MODELS_DIR = PROJECT_ROOT / "models"

# A curated schema version lives in schema/v<N>/schema.pbtxt and is never edited in place.
_SCHEMA_VERSION_DIR = re.compile(r"^v(\d+)$")


class ConfigError(ValueError):
    """A setting a user gave cannot work; the message says which and why, in one line."""


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Every path, budget and switch the pipeline needs; `create_pipeline` reads nothing else."""

    pipeline_root: str
    data_root: str
    schema_path: str
    serving_model_dir: str
    metadata_path: Optional[str] = None  # SQLite MLMD file, unless `mysql` is set
    mysql: Optional[MySQLSettings] = None  # MLMD on a MySQL/MariaDB server (its password never in a repr)
    pipeline_name: str = PIPELINE_NAME
    # Module files are packaged by TFX as wheels (their hash is part of the cache key). Where the
    # project is installed instead (the Kubeflow image), dotted function paths replace them.
    transform_module: str = str(MODELS_DIR / "preprocessing.py")
    trainer_module: str = str(MODELS_DIR / "model.py")
    installed_functions: bool = False
    train_steps: int = 1000
    eval_steps: int = 100
    span: Optional[int] = None
    beam_pipeline_args: Tuple[str, ...] = ()
    enable_cache: bool = True
    # The gate policy's content (canonical JSON of schema/policy.yaml): an edit re-runs the gate.
    policy_json: str = ""
    # Validate data_root/serving in SERVING, with skew against the training statistics.
    validate_serving: bool = True
    # Drift against earlier spans needs a Resolver node, which Kubeflow's backend cannot run.
    drift_against_previous_span: bool = True
    # ExampleGen resolving its span in its executor: Kubeflow's backend calls no driver.
    example_gen_without_driver: bool = False

    @property
    def train_data(self) -> str:
        return os.path.join(self.data_root, "train")

    @property
    def serving_data(self) -> str:
        return os.path.join(self.data_root, "serving")

    @property
    def store_settings(self) -> Optional[StoreSettings]:
        """The MLMD store of a local run; None where the orchestrator brings its own (Kubeflow)."""
        if self.mysql:
            return StoreSettings(mysql=self.mysql)
        return StoreSettings(sqlite_path=self.metadata_path) if self.metadata_path else None

    @property
    def schema_version(self) -> str:
        return schema_version_of(self.schema_path)


def schema_version_of(schema_path: str) -> str:
    """'v3' for '.../schema/v3/schema.pbtxt'; the folder name is the version."""
    folder = pathlib.Path(schema_path).parent.name
    if not _SCHEMA_VERSION_DIR.match(folder):
        raise ConfigError(f"schema {schema_path}: its folder must be named v<N> (the schema version)")
    return folder


def latest_schema_path(schema_dir: pathlib.Path = SCHEMA_DIR) -> str:
    """The newest curated schema: schema/v<N>/schema.pbtxt with the largest N."""
    versions = []
    for child in schema_dir.iterdir() if schema_dir.is_dir() else ():
        match = _SCHEMA_VERSION_DIR.match(child.name)
        if match and (child / "schema.pbtxt").is_file():
            versions.append((int(match.group(1)), child / "schema.pbtxt"))
    if not versions:
        raise ConfigError(f"{schema_dir}: no curated schema (expected v<N>/schema.pbtxt)")
    return str(max(versions)[1])


def beam_args_for(extra: Tuple[str, ...]) -> Tuple[str, ...]:
    """Beam's DirectRunner, in memory, unless the user's own arguments choose otherwise."""
    defaults = {
        "--runner": "DirectRunner",
        "--direct_running_mode": "in_memory",
        "--direct_num_workers": "1",
    }
    chosen = {arg.split("=", 1)[0] for arg in extra}
    return tuple(f"{k}={v}" for k, v in defaults.items() if k not in chosen) + tuple(extra)


def read_policy(path: str = str(POLICY_PATH)) -> str:
    """The policy file as canonical JSON for the gate; a bad policy is a ConfigError."""
    from components.gate import policy as policy_lib

    try:
        with open(path) as f:
            return policy_lib.to_json_text(f.read())
    except OSError as e:
        raise ConfigError(f"--policy {path}: cannot read it ({e.strerror})") from None
    except policy_lib.PolicyError as e:
        raise ConfigError(str(e)) from None


def input_folders(config: PipelineConfig) -> List[str]:
    """The folders of CSV files a local run reads: its training span (the latest unless set) and
    the serving batch, where there is one."""
    spans = {int(m.group(1)): d for d in os.listdir(config.train_data) if (m := re.fullmatch(r"span-(\d+)", d))}
    span = config.span if config.span is not None else max(spans)
    if span not in spans:
        raise ConfigError(f"--span {span}: no folder {os.path.join(config.train_data, f'span-{span}')}")
    folders = [os.path.join(config.train_data, spans[span])]
    return folders + [config.serving_data] if config.validate_serving else folders


def local_config(
    data_root: str,
    outputs: str = str(DEFAULT_OUTPUTS),
    pipeline_root: Optional[str] = None,
    metadata_path: Optional[str] = None,
    schema_path: Optional[str] = None,
    policy_path: Optional[str] = None,
    beam_args: Tuple[str, ...] = (),
    **overrides,
) -> PipelineConfig:
    """The config of a local run, every output under `outputs` unless overridden; checks the inputs."""
    train = os.path.join(data_root, "train")
    if not os.path.isdir(train):
        raise ConfigError(f"--data-root {data_root}: no train/ folder (expected train/span-N/*.csv)")
    if not any(re.fullmatch(r"span-\d+", d) for d in os.listdir(train)):
        raise ConfigError(f"--data-root {data_root}: train/ has no span-N folder")
    schema_path = schema_path or latest_schema_path()
    if not os.path.isfile(schema_path):
        raise ConfigError(f"--schema {schema_path}: no such file")
    schema_version_of(schema_path)
    return PipelineConfig(
        pipeline_root=pipeline_root or os.path.join(outputs, "pipeline"),
        data_root=os.path.abspath(data_root),
        schema_path=os.path.abspath(schema_path),
        serving_model_dir=os.path.join(outputs, "serving_model"),
        metadata_path=metadata_path or os.path.join(outputs, "metadata.sqlite"),
        beam_pipeline_args=beam_args_for(beam_args),
        policy_json=read_policy(policy_path or str(POLICY_PATH)),
        validate_serving=os.path.isdir(os.path.join(data_root, "serving")),  # serving/ with no CSV: an error
        **overrides,
    )
