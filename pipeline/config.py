"""The pipeline's configuration: one frozen, typed object built by a runner and passed down."""

import dataclasses
import os
import pathlib
import re
from typing import List, Optional, Tuple

from core.common import names
from core.judging import policy as policy_lib
from core.common import project as project_lib
from core.settings import schema_files
from core.common.errors import ConfigError  # noqa: F401  (the error of every setting here)
from mlmd.store import StoreSettings

# The shipped example project (core/common/project.py): its folder is the repository's top level.
PROJECT_ROOT = project_lib.SHIPPED
PIPELINE_NAME = "tfxgate"
DEFAULT_OUTPUTS = PROJECT_ROOT / project_lib.OUTPUTS_FOLDER
DEFAULT_METADATA = DEFAULT_OUTPUTS / project_lib.METADATA_FILE
SCHEMA_DIR = PROJECT_ROOT / project_lib.SCHEMA_FOLDER
POLICY_PATH = SCHEMA_DIR / project_lib.POLICY_FILE
EVALUATION_PATH = SCHEMA_DIR / project_lib.EVALUATION_FILE
MODELS_DIR = PROJECT_ROOT / project_lib.MODELS_FOLDER
METADATA_FILE = project_lib.METADATA_FILE  # the SQLite MLMD store's name under --outputs


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Every path, budget and switch the pipeline needs; `create_pipeline` reads nothing else."""

    pipeline_root: str
    data_root: str
    schema_path: str
    serving_model_dir: str
    # The MLMD store of a local run (SQLite or MySQL; the password never in a repr); None where
    # the orchestrator brings its own (Kubeflow).
    store: Optional[StoreSettings] = None
    pipeline_name: str = PIPELINE_NAME
    # Module files are packaged by TFX as wheels (their hash is part of the cache key). Where the
    # project is installed instead (the Kubeflow image, or a runner other than the DirectRunner,
    # whose workers get no staged wheel), dotted function paths replace them.
    transform_module: str = str(MODELS_DIR / "preprocessing.py")
    trainer_module: str = str(MODELS_DIR / "model.py")
    installed_functions: bool = False
    # Where the project is installed: the package its module files are in ('models', the shipped
    # example's), or '' where they are top-level modules (a project of one's own, whose models/
    # folder is on the image's PYTHONPATH; see the Dockerfile).
    module_package: str = "models"
    train_steps: int = 1000
    eval_steps: int = 100
    span: Optional[int] = None
    beam_pipeline_args: Tuple[str, ...] = ()
    enable_cache: bool = True
    # The gate policy's content (canonical JSON of schema/policy.yaml): an edit re-runs the gate.
    policy_json: str = ""
    # The model gate's settings (schema/evaluation.yaml's text): the Evaluator's thresholds, and
    # the words of its reasons; '' runs no Evaluator (Pusher then pushes unblessed, as before).
    evaluation_text: str = ""
    # The curated schema's text: ExampleGen reads every cell as its type, and an edit re-runs it.
    schema_text: str = ""
    # constraints.yaml and checks.yaml beside the schema ('' where there is none): ExampleGen
    # leaves out rows breaking a rule and profiles the slices; the validators judge the slices.
    constraints_text: str = ""
    checks_text: str = ""
    # The input files' field delimiter.
    delimiter: str = ","
    # Cell texts the input files write for a missing value (`missing:` in tfxgate-input.yaml, --missing).
    missing: Tuple[str, ...] = ()
    # The input files' format (`format:` in tfxgate-input.yaml, --format-in); None: each file's content says.
    input_format: Optional[str] = None
    # Validate data_root/serving in SERVING, with skew against the training statistics.
    validate_serving: bool = True
    # Drift against earlier spans needs a Resolver node, which Kubeflow's backend cannot run.
    drift_against_previous_span: bool = True
    # ExampleGen resolving its span in its executor: Kubeflow's backend calls no driver.
    example_gen_without_driver: bool = False
    # Span, training steps, schema version and drift baseline as Kubeflow pipeline parameters
    # (RuntimeParameters whose defaults are this config's values); the tasks then read the schema
    # version's files at run time from `schema_dir` (the image's schema/ folder).
    run_parameters: bool = False
    schema_dir: str = ""

    @property
    def train_data(self) -> str:
        return os.path.join(self.data_root, names.TRAIN_FOLDER)

    @property
    def serving_data(self) -> str:
        return os.path.join(self.data_root, names.SERVING_FOLDER)

    @property
    def schema_version(self) -> str:
        return schema_files.version_of(self.schema_path)


def default_schema_path(schema_dir=SCHEMA_DIR) -> str:
    """The newest curated schema version in `schema_dir` (default: the shipped example's)."""
    return schema_files.latest_path(schema_dir)


# Beam's DirectRunner settings of a local run: in memory, one worker. Other runners never get them.
DIRECT_RUNNER = "DirectRunner"
DIRECT_RUNNER_DEFAULTS = {"--direct_running_mode": "in_memory", "--direct_num_workers": "1"}
# Every other runner: Beam's PortableRunner (and Flink, Spark and Prism, built on it) uses
# `--job_server_timeout` (default 60 s) as the deadline of the job's whole state stream
# (portable_runner.py `JobServiceHandle.run`), so a job running longer than a minute fails with
# DEADLINE_EXCEEDED while it is still running. A day, unless the user says otherwise; a job
# service that does not answer is caught before the run (`job_service.check`), not by this wait.
JOB_SERVER_TIMEOUT_FLAG = "--job_server_timeout"
JOB_SERVER_TIMEOUT_S = 24 * 3600
# The DirectRunner's workers are this process (or its children, on the same interpreter): they have
# every package already. Without a dependency flag, TFX's Beam executors copy TFX's installation
# (about 40 MB) into a temporary folder that TFX never deletes (the local runner removes its own
# temporary files; a task or a direct call of an executor leaves it) and build an sdist of it
# there, for each Beam component of each run (`dependency_utils.make_beam_dependency_flags`: 3 to 5 s). Naming
# tfxgate's own setup.py is TFX's documented way to say the workers' dependencies are provided;
# the DirectRunner stages nothing, so it never reads the file. A flag of the user's wins.
DEPENDENCY_FLAGS = ("--setup_file", "--extra_package", "--extra_packages", "--requirements_file",
                    "--sdk_container_image", "--worker_harness_container_image")
SETUP_FILE = str(PROJECT_ROOT / "setup.py")


def beam_args_for(extra: Tuple[str, ...], setup_file: str = SETUP_FILE) -> Tuple[str, ...]:
    """The Beam arguments of a run: `extra` (the user's own, last, so they win), after defaults for
    what they leave unsaid: the DirectRunner, and where the runner is a DirectRunner (the default,
    or named in `extra`), in memory on one worker, its dependencies `setup_file` (tfxgate's, where
    the run's process has it) unless `extra` names any (DEPENDENCY_FLAGS); any other runner, a
    job-service deadline of a day (JOB_SERVER_TIMEOUT_S) instead of Beam's minute.

    Raises:
        ConfigError: `extra` names `--runner` without a value.
    """
    runner = beam_runner(extra)
    defaults = {"--runner": DIRECT_RUNNER} if runner is None else {}
    chosen = {arg.split("=", 1)[0] for arg in extra}
    if is_direct_runner(runner):
        defaults.update(DIRECT_RUNNER_DEFAULTS)
        if not chosen & set(DEPENDENCY_FLAGS):
            defaults["--setup_file"] = setup_file
    else:
        defaults[JOB_SERVER_TIMEOUT_FLAG] = str(JOB_SERVER_TIMEOUT_S)
    return tuple(f"{k}={v}" for k, v in defaults.items() if k not in chosen) + tuple(extra)


def beam_runner(beam_args: Tuple[str, ...]) -> Optional[str]:
    """The runner `beam_args` choose, read as Beam reads it (`--runner=X`, `--runner X`, or an
    abbreviation such as `--runn=X`); None when they choose none (Beam's default, the DirectRunner).
    Beam is imported only when an argument can name the runner."""
    if not any(len(name) > 2 and "--runner".startswith(name) for name in (a.split("=", 1)[0] for a in beam_args)):
        return None
    import contextlib
    import io

    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    usage = io.StringIO()
    try:
        with contextlib.redirect_stderr(usage):
            return PipelineOptions(list(beam_args)).view_as(StandardOptions).runner
    except SystemExit:  # argparse's way of refusing, e.g. `--runner` with no value
        message = usage.getvalue().strip().splitlines()[-1:] or ["cannot be read"]
        raise ConfigError(f"--beam-arg {' '.join(beam_args)}: {message[0].split('error: ', 1)[-1]}") from None


def is_direct_runner(runner: Optional[str]) -> bool:
    """Whether `runner` (a `--runner` value; None: Beam's default) is one of Beam's DirectRunners,
    under any name Beam takes for it: `DirectRunner`, `Direct`, `direct`, the dotted class path,
    `SwitchingDirectRunner`, `BundleBasedDirectRunner`, `TestDirectRunner`."""
    if runner is None:
        return True
    name = runner.rsplit(".", 1)[-1].lower()
    return name.removesuffix("runner").endswith("direct")


def uses_direct_runner(beam_args: Tuple[str, ...]) -> bool:
    """Whether a run with these Beam arguments (the user's, or all of them) runs on a DirectRunner."""
    return is_direct_runner(beam_runner(beam_args))


def read_policy(path: str = str(POLICY_PATH)) -> str:
    """The policy file as canonical JSON for the gate; a bad policy is a ConfigError."""
    try:
        with open(path) as f:
            return policy_lib.to_json_text(f.read())
    except OSError as e:
        raise ConfigError(f"--policy {path}: cannot read it ({e.strerror})") from None


def read_evaluation(path: str = str(EVALUATION_PATH)) -> str:
    """The model gate's settings file, checked to parse (a one-line error if not)."""
    from core.common import evaluation

    return evaluation.read(path)


def check_delimiter(delimiter: str) -> str:
    """One character that can separate CSV fields (a quote or a line end cannot)."""
    if len(delimiter) != 1 or delimiter in "\"\r\n":
        raise ConfigError(f"--delimiter {delimiter!r}: one character other than a quote or a line end")
    return delimiter


def input_settings(data_root: str, delimiter: Optional[str] = None, missing=None, input_format=None) -> dict:
    """{delimiter, missing, input_format} of a run's input files: the command line's where it names them, else
    the data root's tfxgate-input.yaml's (core/reading/input_settings.py), else ','."""
    from core.reading import input_settings as declared
    from core.reading.sources import missing as markers

    settings = declared.of_folder(data_root).overridden(delimiter, input_format, markers.checked(missing or ()))
    return {"delimiter": check_delimiter(settings.delimiter or ","), "missing": markers.checked(settings.missing),
            "input_format": settings.format}


def read_schema_text(path: str) -> str:
    """The curated schema file's text, checked to be a schema (a one-line error if not)."""
    schema_files.load(path)
    with open(path, encoding="utf-8") as f:
        return f.read()


def read_beside_schema(schema_path: str) -> dict:
    """{constraints_text, checks_text}: the files beside a schema version, checked to parse (a
    one-line error if not); '' for a file that is not there."""
    texts = schema_files.read_version(schema_path)
    return {k: texts[k] for k in ("constraints_text", "checks_text")}


def input_folders(config: PipelineConfig) -> List[str]:
    """The folders of CSV files a local run reads: its training span (the latest unless set) and
    the serving batch, where there is one."""
    spans = {int(m.group(1)): d for d in os.listdir(config.train_data)
             if (m := re.fullmatch(names.SPAN_FOLDER_PATTERN, d))}
    span = config.span if config.span is not None else max(spans)
    if span not in spans:
        raise ConfigError(f"--span {span}: no folder {os.path.join(config.train_data, f'span-{span}')}")
    folders = [os.path.join(config.train_data, spans[span])]
    return folders + [config.serving_data] if config.validate_serving else folders


_GLOB = set("*?[]")


def glob_safe(path: str, outputs: str) -> str:
    """`path`, or where it contains glob characters (`batch [1]`), a symlink to it under
    <outputs>/inputs/: TFX's ExampleGen driver matches `<input_base>/<pattern>` as a glob, so
    `[1]` would be a character class and the folder would hold "no file". The link's name is
    derived from the path, so a re-run uses the same link and its cache."""
    if not _GLOB & set(path):
        return path
    import hashlib

    link = os.path.join(os.path.abspath(outputs), "inputs", "data-" + hashlib.sha256(path.encode()).hexdigest()[:12])
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if os.path.islink(link) and os.readlink(link) != path:
        os.unlink(link)
    if not os.path.islink(link):
        os.symlink(path, link)
    return link


def local_config(
    data_root: str,
    outputs: str = str(DEFAULT_OUTPUTS),
    pipeline_root: Optional[str] = None,
    store: Optional[StoreSettings] = None,
    schema_path: Optional[str] = None,
    policy_path: Optional[str] = None,
    evaluation_path: Optional[str] = None,
    beam_args: Tuple[str, ...] = (),
    project: Optional[project_lib.Project] = None,
    **overrides,
) -> PipelineConfig:
    """The config of a local run, every output under `outputs` unless overridden; checks the inputs.

    `store`: the MLMD store; a SQLite file `<outputs>/metadata.sqlite` when it names none.
    `project`: where the schema versions, policy, model gate settings and module code are, and
    the pipeline's name (default: the shipped example)."""
    for flag, path in (("--pipeline-root", pipeline_root), ("--data-root", data_root)):
        if path and "://" in path:
            raise ConfigError(f"{flag} {path}: a local run keeps this on this machine (its run lock, crash recovery "
                              "and input checks need a folder); object storage is for Kubeflow (runner_kubeflow.py)")
    train = os.path.join(data_root, names.TRAIN_FOLDER)
    if not os.path.isdir(train):
        raise ConfigError(f"--data-root {data_root}: no train/ folder (expected train/span-N/ holding data files)")
    if not any(re.fullmatch(names.SPAN_FOLDER_PATTERN, d) for d in os.listdir(train)):
        raise ConfigError(f"--data-root {data_root}: train/ has no span-N folder")
    if project is not None and not project.is_shipped:
        overrides.setdefault("pipeline_name", project.name)
        overrides.setdefault("module_package", "")
        overrides.setdefault("transform_module", str(project.models_dir / project_lib.TRANSFORM_MODULE))
        overrides.setdefault("trainer_module", str(project.models_dir / project_lib.TRAINER_MODULE))
    schema_path = schema_path or default_schema_path(project.schema_dir if project is not None else SCHEMA_DIR)
    if not os.path.isfile(schema_path):
        raise ConfigError(f"--schema {schema_path}: no such file")
    schema_files.version_of(schema_path)
    if store is None or (not store.is_mysql and not store.sqlite_path):
        store = StoreSettings(sqlite_path=os.path.join(outputs, METADATA_FILE))
    # Beyond the DirectRunner, Beam's workers unpickle Transform's preprocessing_fn by reference
    # (tf.Transform traces it there), and an external worker pool installs no staged wheel: name
    # the installed project's functions, which such workers have (ExampleGen's DoFns need it too).
    overrides.setdefault("installed_functions", not uses_direct_runner(beam_args))
    return PipelineConfig(
        pipeline_root=pipeline_root or os.path.join(outputs, "pipeline"),
        data_root=glob_safe(os.path.abspath(data_root), outputs),
        schema_path=os.path.abspath(schema_path),
        serving_model_dir=os.path.join(outputs, "serving_model"),
        store=store,
        beam_pipeline_args=beam_args_for(beam_args),
        policy_json=read_policy(policy_path or str(project.policy_path if project is not None else POLICY_PATH)),
        evaluation_text=read_evaluation(evaluation_path
                                        or str(project.evaluation_path if project is not None else EVALUATION_PATH)),
        **schema_files.read_version(schema_path),  # the schema's text and the files beside it, read once
        validate_serving=os.path.isdir(os.path.join(data_root, names.SERVING_FOLDER)),  # serving/ with no CSV: an error
        **overrides,
    )
