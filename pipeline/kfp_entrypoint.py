"""Every Kubeflow task's entrypoint: TFX's own `kubeflow_v2_run_executor`, given what it needs on
the open-source KFP 2 backend as that backend behaves (kubeflow/pipelines backend/src/v2, 2.5.0
and later), and changed in nothing else.

    python -m pipeline.kfp_entrypoint --tfxgate_declared_outputs '["examples"]' <TFX's arguments>

What the backend hands a task, and what TFX 1.16's entrypoint does with it unwrapped:
- Each input artifact is read back from MLMD by the driver (`metadata/client.go`
  `GetOutputArtifactsByExecutionId`, `ToRuntimeArtifact`) with `type: {instanceSchema: ""}`, or
  no type at all when it comes through a DAG input: TFX's `_retrieve_class_path` fails
  (AttributeError / UnboundLocalError). The task's own container arguments carry its inputs spec
  (`--json_serialized_inputs_spec_args`, each input's artifactType): the type comes back from it.
- With PUBLISH_LOGS (on in the default manifests since 2.5.0) the driver adds an output
  `executor-logs` of type `system.Artifact` to every task, which TFX cannot import (ImportError).
  The launcher itself writes and records it; the executor never should. Outputs the component
  does not declare (the list the compiler wrote into `--tfxgate_declared_outputs`) are removed
  before TFX sees them.

Object storage: when the task's artifacts or parameters name an `s3://` URI (the pipeline root,
the serving model directory), `core.common.storage.prepare` readies TensorFlow and Beam for it from the
`AWS_*` variables (the endpoint from the spec's container env, the credentials from the
Kubernetes secret the spec references) before TFX runs, and the process leaves through
`core.common.storage.run_and_exit` (tensorflow-io would otherwise abort it at exit).

Exit status: TFX's; 2 with one line when the arguments or the storage settings are unusable.
"""

import json
import os
import re
import sys
from typing import List, Optional, Tuple

from core.common import storage

DECLARED_OUTPUTS_FLAG = "--tfxgate_declared_outputs"
INVOCATION_FLAG = "--json_serialized_invocation_args"
INPUTS_SPEC_FLAG = "--json_serialized_inputs_spec_args"
TFX_ENTRYPOINT = "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"


class EntrypointError(ValueError):
    """The task's arguments cannot be made into what TFX's entrypoint takes; one line."""


def _untyped(artifact_type: Optional[dict]) -> bool:
    """True for the driver's `{instanceSchema: ""}`, an empty type, or none."""
    if not artifact_type:
        return True
    return not any(artifact_type.get(k) for k in ("instanceSchema", "schemaTitle", "schemaUri"))


def restore(executor_input: dict, inputs_spec: dict, declared_outputs: Optional[List[str]]) -> Tuple[dict, List[str]]:
    """(the ExecutorInput TFX's entrypoint can take, what was changed: one line each).

    Input artifacts without a type get their key's artifactType from `inputs_spec`; outputs not in
    `declared_outputs` are removed (without the list: outputs of a `system.*` type, which no TFX
    component declares). Everything else is returned as it came."""
    changes = []
    spec_artifacts = (inputs_spec or {}).get("artifacts", {})
    for key, artifact_list in executor_input.get("inputs", {}).get("artifacts", {}).items():
        for artifact in artifact_list.get("artifacts", []):
            if not _untyped(artifact.get("type")):
                continue
            declared = spec_artifacts.get(key, {}).get("artifactType")
            if _untyped(declared):
                raise EntrypointError(f"input artifact {key!r} has no type and the task's inputs spec gives none")
            artifact["type"] = declared
            changes.append(f"input {key}: type restored from the task's inputs spec")
    outputs = executor_input.get("outputs", {}).get("artifacts", {})
    for key in list(outputs):
        if declared_outputs is not None:
            keep = key in declared_outputs
        else:
            types = [a.get("type") or {} for a in outputs[key].get("artifacts", [])]
            keep = not any(str(t.get("schemaTitle", "")).startswith("system.") for t in types)
        if not keep:
            del outputs[key]
            changes.append(f"output {key}: not declared by the component, left to the launcher")
    return executor_input, changes


def _take(argv: List[str], flag: str) -> Tuple[Optional[str], List[str]]:
    """(the value of `flag`, argv without it); `--flag value` or `--flag=value`."""
    rest, value, i = [], None, 0
    while i < len(argv):
        arg = argv[i]
        if arg == flag:
            if i + 1 >= len(argv):
                raise EntrypointError(f"{flag} needs a value")
            value, i = argv[i + 1], i + 2
            continue
        if arg.startswith(flag + "="):
            value = arg[len(flag) + 1:]
        else:
            rest.append(arg)
        i += 1
    return value, rest


def _json(text: Optional[str], flag: str):
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError as e:
        raise EntrypointError(f"{flag}: not JSON ({e.msg} at character {e.pos})") from None


def prepare(argv: List[str]) -> Tuple[List[str], List[str]]:
    """(TFX's entrypoint arguments, the changes made) from this entrypoint's arguments."""
    declared_text, argv = _take(argv, DECLARED_OUTPUTS_FLAG)
    declared = _json(declared_text, DECLARED_OUTPUTS_FLAG)
    invocation_text, rest = _take(argv, INVOCATION_FLAG)
    if invocation_text is None:
        raise EntrypointError(f"no {INVOCATION_FLAG}: not a KFP task's arguments")
    inputs_spec_text, _ = _take(rest, INPUTS_SPEC_FLAG)
    executor_input, changes = restore(_json(invocation_text, INVOCATION_FLAG), _json(inputs_spec_text, INPUTS_SPEC_FLAG),
                                      declared)
    return [INVOCATION_FLAG, json.dumps(executor_input)] + rest, changes


def storage_uris(tfx_argv: List[str]) -> List[str]:
    """Every URI with a scheme of object storage in the task's ExecutorInput: artifact uris and
    parameters alike (Pusher's destination is a JSON text holding one)."""
    text = tfx_argv[tfx_argv.index(INVOCATION_FLAG) + 1]
    schemes = "|".join(re.escape(s) for s in (storage.S3_SCHEME,) + storage.REFUSED_SCHEMES)
    return re.findall(rf'(?:{schemes})[^"\\\s]*', text)


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        tfx_argv, changes = prepare(argv)
        on_s3 = storage.prepare(storage_uris(tfx_argv))
    except (EntrypointError, storage.StorageError) as e:
        print(f"error: tfxgate entrypoint: {e}", file=sys.stderr)
        return 2
    for change in changes:
        print(f"tfxgate entrypoint: {change}", file=sys.stderr)
    if on_s3:
        print(f"tfxgate entrypoint: s3:// storage at {os.environ[storage.ENDPOINT]}", file=sys.stderr)
    from absl import app
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor

    app.run(kubeflow_v2_run_executor.main, argv=[TFX_ENTRYPOINT] + tfx_argv,
            flags_parser=kubeflow_v2_run_executor._parse_flags)  # pylint: disable=protected-access
    return 0


if __name__ == "__main__":
    storage.run_and_exit(main)
