"""What `runner_kubeflow.py --submit` gives a run: its parameters' values, read from the command
line as the compiled spec types them, and the drift baseline and baseline model found through the
run history.

On Kubeflow no Resolver can pick the drift baseline (the open-source backend cannot run one), so
the spec takes it as the `drift_baseline` parameter: the URI of an earlier run's gate `decision`
output, whose decision.json records the statistics and Examples that gate accepted. `auto` asks
the backend for the experiment's runs, newest first, and takes the first whose gate accepted its
data; the decision is found where the backend put it, under
`<pipeline root>/<pipeline>/<run id>/<gate task>/<uuid>/decision` (driver.go provisionOutputs).

The baseline model the Evaluator compares a new model with is the `baseline_model` parameter for
the same reason (locally a Resolver finds the latest blessed model): an earlier run's Trainer
`model` URI, '' for floors only. `auto` takes the newest run of the experiment whose Evaluator
blessed its model: TFX's Evaluator writes a `BLESSED` file into its `blessing` output, and that
run's Trainer wrote the model it judged, both where the backend put them.
"""

import os
from typing import Dict, Iterable, List, Optional, Tuple

from core.settings import layout
from core.common import names
from core.settings import schema_files
from core.common.errors import ConfigError, InputError, UserError, network_reason
from pipeline import config as config_lib

AUTO, NONE = "auto", "none"  # drift_baseline and baseline_model values --submit resolves
_TYPES = {"NUMBER_INTEGER": int, "STRING": str, "NUMBER_DOUBLE": float}


def run_arguments(spec: dict, texts: Iterable[str], schema_dir: str = str(config_lib.SCHEMA_DIR)) -> Dict[str, object]:
    """{parameter: value} from `NAME=VALUE` texts, each typed as the spec's pipeline parameter;
    ConfigError in one line for an unknown name, a value of the wrong type, a span below -1, steps
    below 1, or a schema version the project (and so the image) does not have."""
    definitions = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    values = {}
    for text in texts:
        name, sep, raw = text.partition("=")
        name = name.strip()
        if not sep or name not in definitions:
            known = ", ".join(sorted(definitions)) or "none"
            raise ConfigError(f"--param {text!r}: expected NAME=VALUE with NAME one of the spec's parameters ({known})")
        kind = _TYPES.get(definitions[name]["parameterType"], str)
        try:
            values[name] = kind(raw)
        except ValueError:
            raise ConfigError(f"--param {text!r}: {name} takes {'a whole number' if kind is int else 'a number'}") from None
    if values.get(names.PARAM_SPAN, -1) < -1:
        raise ConfigError(f"--param span={values[names.PARAM_SPAN]}: a span number (0 or more), or -1 for the latest")
    if values.get(names.PARAM_TRAIN_STEPS, 1) < 1:
        raise ConfigError(f"--param train_steps={values[names.PARAM_TRAIN_STEPS]}: at least 1")
    if names.PARAM_SCHEMA_VERSION in values:
        schema_files.version_path(schema_dir, values[names.PARAM_SCHEMA_VERSION])
    return values


_PARAMETER_TYPES = {int: "NUMBER_INTEGER", float: "NUMBER_DOUBLE", str: "STRING"}


def check_arguments(config: config_lib.PipelineConfig, texts: Iterable[str]) -> Dict[str, object]:
    """`run_arguments` against the run parameters the spec of `config` declares, known before it
    is compiled (pipeline.run_parameters, the one list the compiler reads too): a bad --param is
    refused before any work."""
    from pipeline.pipeline import run_parameters

    declared = {name: {"parameterType": _PARAMETER_TYPES[parameter.ptype]}
                for name, parameter in run_parameters(config).items()}
    return run_arguments({"root": {"inputDefinitions": {"parameters": declared}}}, texts)


def decision_uris(pipeline_root: str, pipeline_name: str, run_id: str) -> List[str]:
    """The gate `decision` outputs a run wrote (one, or none when the gate blocked or never ran)."""
    from tfx.dsl.io import fileio

    pattern = "/".join([pipeline_root.rstrip("/"), pipeline_name, run_id, names.GATE, "*", "decision",
                        names.DECISION_FILE])
    return sorted(os.path.dirname(path) for path in fileio.glob(pattern))


def accepted_decision(run_ids: Iterable[str], pipeline_root: str, pipeline_name: str) -> Optional[str]:
    """The decision URI of the first run in `run_ids` (newest first) whose gate accepted its
    data (pass or warn, with what it accepted recorded); None when there is none."""
    for run_id in run_ids:
        for uri in decision_uris(pipeline_root, pipeline_name, run_id):
            try:
                document = layout.read_decision(uri)
            except InputError:
                continue
            if document.get("decision") in (names.PASS, names.WARN) and document.get("accepted"):
                return uri
    return None


def blessed_model(run_ids: Iterable[str], pipeline_root: str, pipeline_name: str) -> Optional[str]:
    """The Trainer `model` URI of the first run in `run_ids` (newest first) whose Evaluator
    blessed that model; None when there is none. A run whose Evaluator or Trainer came from the
    cache wrote neither under its own id: an earlier run in the list holds them."""
    from tfx.components.evaluator import constants
    from tfx.dsl.io import fileio
    from tfx.types import standard_component_specs as keys

    root = pipeline_root.rstrip("/")
    for run_id in run_ids:
        run = "/".join([root, pipeline_name, run_id])
        if not fileio.glob("/".join([run, names.EVALUATOR, "*", keys.BLESSING_KEY, constants.BLESSED_FILE_NAME])):
            continue
        models = sorted(fileio.glob("/".join([run, names.TRAINER, "*", keys.MODEL_KEY])))
        if len(models) == 1:
            return models[0]
    return None


def check_model(uri: str) -> str:
    """`uri` when it holds a Trainer's `model` output (its serving SavedModel); InputError in one
    line otherwise."""
    from tfx.dsl.io import fileio
    from tfx.utils import path_utils

    saved_model = "/".join([path_utils.serving_model_dir(uri.rstrip("/")), "saved_model.pb"])
    if not fileio.exists(saved_model):
        raise InputError(f"baseline_model {uri}: no {saved_model} (not the `model` output of a tfxgate Trainer)")
    return uri


def history(client, experiment: str, limit: int = 100) -> List[str]:
    """The run ids of `experiment` on the backend `client` talks to, newest first ([] when the
    experiment does not exist yet)."""
    try:
        found = client.get_experiment(experiment_name=experiment)
    except ValueError:  # the client's way of saying there is no experiment of that name
        return []
    response = client.list_runs(experiment_id=found.experiment_id, sort_by="created_at desc", page_size=limit)
    return [run.run_id for run in (response.runs or [])]


class SubmitError(Exception):
    """The backend refused or could not be reached; one line (exit 1, not a user's setting)."""


def drift_baseline(value: object, client, experiment: str, pipeline_root: str, pipeline_name: str) -> Tuple[str, str]:
    """(the drift_baseline argument of a run, one line saying where it came from): `auto` looks
    through the experiment's runs, `none` (or '') checks no drift, anything else is taken as the
    URI of a gate decision and checked to be one."""
    text = str(value).strip()
    if text.lower() in ("", NONE):
        return "", "no drift check (drift_baseline none)"
    if text.lower() != AUTO:
        validated = layout.read_decision(text)  # a one-line InputError when it is none
        return text, f"drift against the decision at {text} ({validated.get('decision')})"
    found = accepted_decision(history(client, experiment), pipeline_root, pipeline_name)
    if found is None:
        return "", f"no earlier run of experiment {experiment} passed its gate: no drift check this run"
    return found, f"drift against the newest accepted run's decision, {found}"


def baseline_model(value: object, client, experiment: str, pipeline_root: str, pipeline_name: str) -> Tuple[str, str]:
    """(the baseline_model argument of a run, one line saying where it came from): `auto` looks
    through the experiment's runs for the newest blessed model, `none` (or '') judges the model by
    the floors only, anything else is taken as a Model URI and checked to be one."""
    text = str(value).strip()
    if text.lower() in ("", NONE):
        return "", "model judged by floors only (baseline_model none)"
    if text.lower() != AUTO:
        return check_model(text), f"model compared with the baseline model at {text}"
    found = blessed_model(history(client, experiment), pipeline_root, pipeline_name)
    if found is None:
        return "", f"no earlier run of experiment {experiment} has a blessed model: judged by floors only this run"
    return found, f"model compared with the newest blessed model, {found}"


def submit(package: str, host: str, experiment: str, pipeline_root: str, params: Iterable[str]) -> Tuple[str, List[str]]:
    """Uploads the compiled spec and starts a run with these parameter values; returns (run id,
    lines to show). ConfigError for a bad value (before the backend is contacted); SubmitError,
    one line, for what the backend or the network refused."""
    import kfp
    import yaml

    from core.common import storage

    with open(package) as f:
        spec = next(yaml.safe_load_all(f))
    arguments = run_arguments(spec, params)
    pipeline_name = spec["pipelineInfo"]["name"]
    try:
        client = kfp.Client(host=host)
        lines = []
        declared = spec["root"].get("inputDefinitions", {}).get("parameters", {})
        found_by = {names.PARAM_DRIFT_BASELINE: drift_baseline, names.PARAM_BASELINE_MODEL: baseline_model}
        found_by = {name: find for name, find in found_by.items() if name in declared}
        if found_by:
            storage.prepare([pipeline_root] + [str(arguments.get(name, "")) for name in found_by])  # a URI given, too
        for name, find in found_by.items():
            arguments[name], line = find(arguments.get(name, AUTO), client, experiment, pipeline_root, pipeline_name)
            lines.append(line)
        run = client.create_run_from_pipeline_package(package, arguments=arguments, experiment_name=experiment,
                                                      pipeline_root=pipeline_root)
    except UserError:
        raise
    except Exception as e:  # the kfp client raises many kinds; each is one line for the user
        unreachable = network_reason(e)
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if unreachable is not None:
            reason = f"no KFP API server answers there ({unreachable})"
        raise SubmitError(f"submitting to {host} failed: {reason}") from None
    shown = ", ".join(f"{k}={v!r}" for k, v in sorted(arguments.items()))
    return run.run_id, lines + [f"parameters: {shown or 'the defaults'}"]
