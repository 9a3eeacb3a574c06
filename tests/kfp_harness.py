"""A double of the open-source KFP 2 backend (kubeflow/pipelines backend/src/v2, 2.5.0) that runs
a compiled PipelineSpec on this machine, each task's own container command as a local process,
handing it what the real driver and launcher hand it, not what the happy path would.

From the backend's sources (the file and function each behaviour comes from):
- Input artifacts are read back from MLMD (a real ml-metadata store here) and handed over as
  `metadata/converter.go` `toRuntimeArtifact` and `client.go` `ToRuntimeArtifact` make them:
  `name` the MLMD id, `type: {instanceSchema: ""}` (the type is lost), the uri, and `metadata` from
  the MLMD properties, numbers as doubles, lists and dicts still wrapped ({"list": …}, {"struct": …}),
  plus the `display_name` and `store_session_info` the launcher added when it recorded them.
- Outputs (`driver.go` `provisionOutputs`): uri `<root>/<pipeline>/<run id>/<task>/<uuid>/<key>`,
  type copied from the component's outputDefinitions, no name (2.5.0 to 2.14); with publish-logs on,
  as the default manifests set it, an extra `executor-logs` output of type `system.Artifact`, a
  file the launcher fills with the task's stdout and stderr. The output file is the pod's
  `/tmp/kfp_outputs/output_metadata.json` (a folder of this task's own here).
- The launcher (`launcher_v2.go`): `{{$}}` replaced as a plain substring by the ExecutorInput's
  protojson, default parameter values added; on exit 0 the output file is parsed strictly, only
  each output's `uri` and `metadata` are merged, and every output is recorded in MLMD as
  `StructValueToMLMDValue` converts (string, number as double, bool as int, list/dict wrapped in a
  struct, null an error); on a non-zero exit nothing is recorded.
- Argo (the compiled workflow, `argocompiler/dag.go`, Argo 3.5 `executeDAG`): every ready task
  starts at once; a failed task's descendants are omitted (each depends on `<upstream>.Succeeded`),
  while tasks already running continue and independent ready tasks still start.
- The cache (`cacheutils/cache.go` `GenerateCacheKey`): input artifact names (MLMD ids), input
  parameter values, output artifact specs without their uris (executor-logs included), output
  parameter types, image, and the raw command and args, as sorted JSON hashed with SHA-256; a hit
  reuses the cached execution's artifacts (the same MLMD ids) and starts no process.

What is not exercised: the image (the commands run in this environment, which installs the same
lock and project as the Dockerfile) and object storage transfers (the root is a local folder,
which the launcher would leave to the executor: not a recognized storage URI).
"""

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from typing import Dict, List, Optional

import yaml

PLACEHOLDER = "{{$}}"
EXECUTOR_LOGS = "executor-logs"
LOGS_TYPE = {"schemaTitle": "system.Artifact"}
SESSION_INFO = json.dumps({"Provider": "minio", "Params": {"accessKeyKey": "accesskey", "disableSSL": "true",
                                                           "endpoint": "minio-service.kubeflow:9000", "fromEnv": "false",
                                                           "region": "minio", "secretKeyKey": "secretkey",
                                                           "secretName": "mlpipeline-minio-artifact"}},
                          separators=(",", ":"))

SUCCEEDED, FAILED, CACHED, OMITTED = "Succeeded", "Failed", "Cached", "Omitted"


@dataclasses.dataclass
class TaskResult:
    name: str
    code: Optional[int]  # None when cached
    seconds: float
    log: str
    state: str = SUCCEEDED
    fingerprint: str = ""


@dataclasses.dataclass
class RunResult:
    run_id: str
    results: Dict[str, TaskResult]  # the tasks that ran or were cached
    omitted: List[str]  # never started: an upstream task failed
    outputs: Dict[str, Dict[str, int]]  # task -> output key -> MLMD artifact id
    executor_inputs: Dict[str, dict]  # task -> the ExecutorInput it was handed


class Backend:
    """One backend: its MLMD store and its cache outlive runs, as a deployment's do."""

    def __init__(self, workdir: str, cwd: str, env: Optional[Dict[str, str]] = None, publish_logs: bool = True):
        from ml_metadata.metadata_store import metadata_store
        from ml_metadata.proto import metadata_store_pb2

        os.makedirs(workdir, exist_ok=True)
        self.workdir, self.cwd, self.env, self.publish_logs = workdir, cwd, env or {}, publish_logs
        config = metadata_store_pb2.ConnectionConfig()
        config.sqlite.filename_uri = os.path.join(workdir, "kfp-mlmd.sqlite")
        config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
        self.store = metadata_store.MetadataStore(config)
        self._pb = metadata_store_pb2
        self._cache: Dict[str, int] = {}  # "pipeline/<name>" + fingerprint -> execution id

    # -- the driver ------------------------------------------------------------------------

    def input_artifact(self, artifact_id: int) -> dict:
        """What the driver hands a consumer for MLMD artifact `artifact_id` (converter.go)."""
        [artifact] = self.store.get_artifacts_by_id([artifact_id])
        metadata = {}
        for properties in (artifact.properties, artifact.custom_properties):
            for key, value in properties.items():
                metadata[key] = _from_mlmd(value)
        return {"name": str(artifact.id), "type": {"instanceSchema": ""}, "uri": artifact.uri, "metadata": metadata}

    def _executor_input(self, spec: dict, name: str, root: str, run_id: str, outputs: Dict[str, Dict[str, int]],
                        parameters: Dict[str, object], salt: str, pod_tmp: str) -> dict:
        task = spec["root"]["dag"]["tasks"][name]
        component = spec["components"][task["componentRef"]["name"]]
        values = {}
        for key, value in task.get("inputs", {}).get("parameters", {}).items():
            if "runtimeValue" in value:
                values[key] = value["runtimeValue"]["constant"]
            elif "componentInputParameter" in value:
                values[key] = parameters[value["componentInputParameter"]]
            else:
                raise ValueError(f"task {name}: parameter {key}: only constants and pipeline parameters are handled")
        artifacts = {}
        for key, value in task.get("inputs", {}).get("artifacts", {}).items():
            source = value["taskOutputArtifact"]
            artifacts[key] = {"artifacts": [self.input_artifact(outputs[source["producerTask"]][source["outputArtifactKey"]])]}
        declared = dict(component.get("outputDefinitions", {}).get("artifacts", {}))
        if self.publish_logs:
            declared[EXECUTOR_LOGS] = {"artifactType": LOGS_TYPE}
        out = {}
        prefix = f"{root.rstrip('/')}/{spec['pipelineInfo']['name']}/{run_id}/{name}/{salt}"
        for key, definition in declared.items():
            artifact = {"type": definition["artifactType"], "uri": f"{prefix}/{key}"}
            if definition.get("metadata"):
                artifact["metadata"] = definition["metadata"]
            out[key] = {"artifacts": [artifact]}
        executor_input = {"inputs": {"parameterValues": values, "artifacts": artifacts},
                          "outputs": {"artifacts": out, "outputFile": os.path.join(pod_tmp, "kfp_outputs", "output_metadata.json")}}
        _parse_strictly(executor_input, "ExecutorInput")  # what the driver builds is a valid ExecutorInput
        return executor_input

    def fingerprint(self, spec: dict, name: str, executor_input: dict) -> str:
        """cacheutils/cache.go GenerateCacheKey and GenerateFingerPrint."""
        component = spec["components"][spec["root"]["dag"]["tasks"][name]["componentRef"]["name"]]
        container = spec["deploymentSpec"]["executors"][component["executorLabel"]]["container"]
        key = {
            "inputArtifactNames": {k: {"artifactNames": [a["name"] for a in v["artifacts"]]}
                                   for k, v in executor_input["inputs"]["artifacts"].items()},
            "inputParameterValues": executor_input["inputs"]["parameterValues"],
            "outputArtifactsSpec": {k: {kk: vv for kk, vv in v["artifacts"][0].items() if kk != "uri"}
                                    for k, v in executor_input["outputs"]["artifacts"].items()},
            "outputParametersSpec": {k: v.get("parameterType", "")
                                     for k, v in component.get("outputDefinitions", {}).get("parameters", {}).items()},
            "containerSpec": {"image": container["image"], "cmdArgs": container["command"] + container.get("args", [])},
        }
        return hashlib.sha256(json.dumps(key, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    # -- the launcher ----------------------------------------------------------------------

    def _start(self, spec: dict, name: str, executor_input: dict, pod: str):
        component = spec["components"][spec["root"]["dag"]["tasks"][name]["componentRef"]["name"]]
        container = spec["deploymentSpec"]["executors"][component["executorLabel"]]["container"]
        with_defaults = json.loads(json.dumps(executor_input))
        for key, definition in component.get("inputDefinitions", {}).get("parameters", {}).items():
            if key not in with_defaults["inputs"]["parameterValues"] and "defaultValue" in definition:
                with_defaults["inputs"]["parameterValues"][key] = definition["defaultValue"]
        text = json.dumps(with_defaults)
        args = [a.replace(PLACEHOLDER, text) for a in container.get("args", [])]
        command = [sys.executable if c == "python" else c for c in container["command"]]
        for artifact_list in executor_input["outputs"]["artifacts"].values():
            uri = artifact_list["artifacts"][0]["uri"]
            os.makedirs(os.path.dirname(uri), exist_ok=True)  # prepareOutputFolders: the parent only
        log = open(os.path.join(pod, "log.txt"), "w+")
        proc = subprocess.Popen(command + args, stdout=log, stderr=subprocess.STDOUT, text=True, cwd=self.cwd,
                                env=dict(os.environ, **self.env))
        return proc, log

    def _record(self, spec: dict, name: str, executor_input: dict, log_text: str):
        """After exit 0: the output file parsed strictly, uri and metadata merged, every output
        recorded in MLMD as the launcher records it. Returns ({key: artifact id}, execution id)."""
        output_file = executor_input["outputs"]["outputFile"]
        reported = {}
        if os.path.exists(output_file):
            with open(output_file) as f:
                reported = _parse_strictly(json.load(f), "ExecutorOutput").get("artifacts", {})
        execution = self._pb.Execution(type_id=self._type_id("system.ContainerExecution", execution=True),
                                       last_known_state=self._pb.Execution.COMPLETE)
        execution.custom_properties["task_name"].string_value = name
        artifacts, keys = [], []
        for key, artifact_list in executor_input["outputs"]["artifacts"].items():
            artifact = dict(artifact_list["artifacts"][0])
            got = (reported.get(key) or {}).get("artifacts") or [{}]
            if got[0].get("uri"):
                artifact["uri"] = got[0]["uri"]
            metadata = dict(artifact.get("metadata") or {}, **(got[0].get("metadata") or {}))
            if key == EXECUTOR_LOGS:
                with open(artifact["uri"], "w") as f:
                    f.write(log_text)
            recorded = self._pb.Artifact(type_id=self._type_id(_title(artifact["type"])), uri=artifact["uri"],
                                         state=self._pb.Artifact.LIVE)
            for k, v in metadata.items():
                recorded.custom_properties[k].CopyFrom(_to_mlmd(v, self._pb, f"task {name} output {key} metadata {k}"))
            if "display_name" not in recorded.custom_properties:
                recorded.custom_properties["display_name"].string_value = key
            if "store_session_info" not in recorded.custom_properties:
                recorded.custom_properties["store_session_info"].string_value = SESSION_INFO
            artifacts.append(recorded)
            keys.append(key)
        events = [self._pb.Event(type=self._pb.Event.OUTPUT,
                                 path=self._pb.Event.Path(steps=[self._pb.Event.Path.Step(key=k)])) for k in keys]
        execution_id, ids, _ = self.store.put_execution(execution, list(zip(artifacts, events)), [])
        return dict(zip(keys, ids)), execution_id

    def _type_id(self, title: str, execution: bool = False) -> int:
        if execution:
            return self.store.put_execution_type(self._pb.ExecutionType(name=title))
        return self.store.put_artifact_type(self._pb.ArtifactType(name=title))

    # -- Argo ------------------------------------------------------------------------------

    @staticmethod
    def _ready(tasks: dict, state: Dict[str, str]) -> List[str]:
        """Marks Omitted every task below a failed or omitted one (each depends on
        `<upstream>.Succeeded`); returns the tasks whose upstream tasks all succeeded."""
        changed = True
        while changed:
            changed = False
            for name in tasks:
                if name not in state and any(state.get(u) in (FAILED, OMITTED) for u in tasks[name].get("dependentTasks", [])):
                    state[name] = OMITTED
                    changed = True
        return [n for n in sorted(tasks) if n not in state
                and all(state.get(u) in (SUCCEEDED, CACHED) for u in tasks[n].get("dependentTasks", []))]

    def run(self, spec: dict, root: str, parameters: Optional[Dict[str, object]] = None) -> RunResult:
        """One run of `spec` with its outputs under `root`; `parameters` override the spec's
        pipeline parameter defaults."""
        tasks = spec["root"]["dag"]["tasks"]
        values = {k: d.get("defaultValue") for k, d in spec["root"].get("inputDefinitions", {}).get("parameters", {}).items()}
        values.update(parameters or {})
        run_id = str(uuid.uuid4())
        state: Dict[str, str] = {}
        results: Dict[str, TaskResult] = {}
        outputs: Dict[str, Dict[str, int]] = {}
        inputs: Dict[str, dict] = {}
        running = {}
        scope = "pipeline/" + spec["pipelineInfo"]["name"]
        while True:
            ready = self._ready(tasks, state)
            for name in ready:
                salt = str(uuid.uuid4())
                pod = os.path.join(self.workdir, "pods", f"{name}-{salt[:8]}")
                os.makedirs(os.path.join(pod, "tmp"))
                executor_input = self._executor_input(spec, name, root, run_id, outputs, values, salt,
                                                      os.path.join(pod, "tmp"))
                inputs[name] = executor_input
                fingerprint = self.fingerprint(spec, name, executor_input)
                hit = self._cache.get(scope + fingerprint) if tasks[name].get("cachingOptions", {}).get("enableCache") else None
                if hit is not None:
                    events = self.store.get_events_by_execution_ids([hit])
                    outputs[name] = {e.path.steps[0].key: e.artifact_id for e in events if e.type == e.OUTPUT}
                    state[name] = CACHED
                    results[name] = TaskResult(name, None, 0.0, "", CACHED, fingerprint)
                    continue
                proc, log = self._start(spec, name, executor_input, pod)
                running[name] = (proc, log, time.monotonic(), executor_input, fingerprint)
                state[name] = "Running"
            if not running and not self._ready(tasks, state):
                break
            time.sleep(0.2)
            for name, (proc, log, started, executor_input, fingerprint) in list(running.items()):
                if proc.poll() is None:
                    continue
                del running[name]
                log.seek(0)
                text = log.read()
                log.close()
                result = TaskResult(name, proc.returncode, time.monotonic() - started, text[-6000:], FAILED, fingerprint)
                if proc.returncode == 0:
                    try:
                        outputs[name], execution_id = self._record(spec, name, executor_input, text)
                        result.state = SUCCEEDED
                        if tasks[name].get("cachingOptions", {}).get("enableCache"):
                            self._cache[scope + fingerprint] = execution_id
                    except ValueError as e:  # the launcher fails the task it cannot record
                        result.log += f"\nlauncher: {e}"
                state[name] = result.state
                results[name] = result
        return RunResult(run_id, results, sorted(n for n, s in state.items() if s == OMITTED), outputs, inputs)


def _title(artifact_type: dict) -> str:
    """launcher_v2.go getArtifactSchema + SchemaToArtifactType: the MLMD type name."""
    if artifact_type.get("schemaTitle"):
        return artifact_type["schemaTitle"]
    title = (yaml.safe_load(artifact_type.get("instanceSchema") or "") or {}).get("title")
    if not title:
        raise ValueError(f"an output type without a title: {artifact_type}")
    return title


def _to_mlmd(value, pb, where: str):
    """converter.go StructValueToMLMDValue."""
    if isinstance(value, bool):
        return pb.Value(int_value=int(value))
    if isinstance(value, str):
        return pb.Value(string_value=value)
    if isinstance(value, (int, float)):
        return pb.Value(double_value=float(value))
    if isinstance(value, (list, dict)):
        from google.protobuf import struct_pb2

        wrapped = struct_pb2.Struct()
        wrapped.update({"list" if isinstance(value, list) else "struct": value})
        return pb.Value(struct_value=wrapped)
    raise ValueError(f"{where}: unknown/unsupported value type {type(value).__name__}")


def _from_mlmd(value):
    """converter.go toRuntimeArtifact's propertiesToMetadata."""
    from google.protobuf import json_format

    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind in ("double_value", "int_value"):
        return float(getattr(value, kind))
    if kind == "struct_value":
        return json_format.MessageToDict(value.struct_value)
    raise ValueError(f"unknown property type in MLMD artifact: {kind}")


def _parse_strictly(message: dict, kind: str) -> dict:
    """protojson.Unmarshal: an unknown field is an error."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    try:
        json_format.ParseDict(message, getattr(pipeline_spec_pb2, kind)(), ignore_unknown_fields=False)
    except json_format.ParseError as e:
        raise ValueError(f"not a valid {kind}: {e}") from None
    return message
