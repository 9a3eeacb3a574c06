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

- Object storage (`launcher_v2.go` `LocalPathForURI`, `downloadArtifacts`, `prepareOutputFolders`,
  `getLogWriter`, `uploadOutputArtifacts`), for an `s3://` root: every input artifact is
  downloaded to the pod's local path (`/s3/<bucket>/<key>`, a folder of the task's own here)
  before the command runs; the parents of the outputs' local paths are made; the task's stdout
  and stderr go to executor-logs' local path, uploaded to its uri after exit 0 with every output
  whose local path exists (a missing one is only a warning, since the executor wrote to the
  bucket itself). The launcher reaches the bucket as the kfp-launcher ConfigMap's
  `providers.s3` says (`s3_provider`: endpoint, SSL, region, a secret reference).
- The pod's environment (`driver.go` `initPodSpecPatch`): the container's `env` from the spec,
  then each `secretAsEnv` of the package's platform spec resolved from the namespace's secrets
  (`secrets`, name -> key -> value); a missing secret or key keeps the pod from starting (the task
  fails, nothing runs). Nothing else of this process's `AWS_*` or `S3_*` variables reaches a task.

What is not exercised: the image (the commands run in this environment, which installs the same
lock and project as the Dockerfile), MinIO itself (the S3 server is moto, tests/s3.py, which
speaks the same API), and for a local root the launcher's refusal of an unrecognized storage
URI (the harness makes its output folders instead).
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
S3 = "s3://"
# What a pod never inherits from this process: object storage settings come from the spec.
POD_STRIPPED_PREFIXES = ("AWS_", "S3_")


@dataclasses.dataclass
class TaskResult:
    name: str
    code: Optional[int]  # None when cached or never started
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

    def __init__(self, workdir: str, cwd: str, env: Optional[Dict[str, str]] = None, publish_logs: bool = True,
                 secrets: Optional[Dict[str, Dict[str, str]]] = None, s3_provider: Optional[dict] = None):
        """`env`: added to every task's environment (not from the spec: for the test's own settings).
        `secrets`: the namespace's Kubernetes secrets. `s3_provider`: the kfp-launcher ConfigMap's
        `providers.s3.default` ({"endpoint": "host:port", "disableSSL": bool, "region": …,
        "credentials": {"fromEnv": false, "secretRef": {"secretName", "accessKeyKey", "secretKeyKey"}}})."""
        from ml_metadata.metadata_store import metadata_store
        from ml_metadata.proto import metadata_store_pb2

        os.makedirs(workdir, exist_ok=True)
        self.workdir, self.cwd, self.env, self.publish_logs = workdir, cwd, env or {}, publish_logs
        self.secrets, self.s3_provider = secrets or {}, s3_provider
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

    def _pod_env(self, container: dict, label: str, platform: Optional[dict]) -> Dict[str, str]:
        """driver.go initPodSpecPatch: the container's env, then each secretAsEnv's keys from the
        namespace's secrets; this process's AWS_* and S3_* variables are not the pod's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(POD_STRIPPED_PREFIXES)}
        env.update(self.env)
        env.update({e["name"]: e.get("value", "") for e in container.get("env", [])})
        config = ((platform or {}).get("platforms", {}).get("kubernetes", {}).get("deploymentSpec", {})
                  .get("executors", {}).get(label, {}))
        for entry in config.get("secretAsEnv", []):
            secret = entry.get("secretNameParameter", {}).get("runtimeValue", {}).get("constant") or entry.get("secretName")
            for mapping in entry.get("keyToEnv", []):
                data = self.secrets.get(secret)
                if data is None or mapping["secretKey"] not in data:
                    raise PodError(f"CreateContainerConfigError: secret {secret!r} or its key {mapping['secretKey']!r} not found")
                env[mapping["envVar"]] = data[mapping["secretKey"]]
        return env

    def _bucket(self):
        """The launcher's S3 client, as the kfp-launcher ConfigMap's providers.s3 configures it."""
        import boto3

        if self.s3_provider is None:
            raise PodError("an s3:// uri, but the launcher has no providers.s3 configuration")
        provider = self.s3_provider
        reference = provider["credentials"]["secretRef"]
        data = self.secrets.get(reference["secretName"], {})
        return boto3.client("s3", endpoint_url=("http://" if provider.get("disableSSL") else "https://") + provider["endpoint"],
                            region_name=provider.get("region") or "us-east-1",
                            aws_access_key_id=data.get(reference["accessKeyKey"]),
                            aws_secret_access_key=data.get(reference["secretKeyKey"]))

    def _download_inputs(self, executor_input: dict, pod: str) -> None:
        """downloadArtifacts: each input's first artifact, every object under its key, to the
        pod's local path (a file or a folder alike)."""
        for artifact_list in executor_input["inputs"]["artifacts"].values():
            uri = artifact_list["artifacts"][0]["uri"] if artifact_list["artifacts"] else ""
            if not uri.startswith(S3):
                continue
            bucket, key = _split(uri)
            client, local = self._bucket(), local_path(pod, uri)
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
            for item in (o for page in pages for o in page.get("Contents", [])):
                target = os.path.join(local, os.path.relpath(item["Key"], key)) if item["Key"] != key else local
                os.makedirs(os.path.dirname(target), exist_ok=True)
                client.download_file(bucket, item["Key"], target)

    def _upload_outputs(self, executor_input: dict, pod: str) -> None:
        """uploadOutputArtifacts: each output's local path, a file or a folder, to its uri; a
        missing local path is skipped with a warning (the executor may write to the bucket itself)."""
        for artifact_list in executor_input["outputs"]["artifacts"].values():
            uri = artifact_list["artifacts"][0]["uri"]
            local = local_path(pod, uri) if uri.startswith(S3) else None
            if not local or not os.path.exists(local):
                continue
            bucket, key = _split(uri)
            client = self._bucket()
            files = [local] if os.path.isfile(local) else [os.path.join(d, f) for d, _, fs in os.walk(local) for f in fs]
            for path in files:
                client.upload_file(path, bucket, key if path == local else f"{key}/{os.path.relpath(path, local)}")

    def _start(self, spec: dict, name: str, executor_input: dict, pod: str, platform: Optional[dict] = None):
        component = spec["components"][spec["root"]["dag"]["tasks"][name]["componentRef"]["name"]]
        container = spec["deploymentSpec"]["executors"][component["executorLabel"]]["container"]
        env = self._pod_env(container, component["executorLabel"], platform)
        _transfer(self._download_inputs, executor_input, pod)
        with_defaults = json.loads(json.dumps(executor_input))
        for key, definition in component.get("inputDefinitions", {}).get("parameters", {}).items():
            if key not in with_defaults["inputs"]["parameterValues"] and "defaultValue" in definition:
                with_defaults["inputs"]["parameterValues"][key] = definition["defaultValue"]
        text = json.dumps(with_defaults)
        args = [a.replace(PLACEHOLDER, text) for a in container.get("args", [])]
        command = [sys.executable if c == "python" else c for c in container["command"]]
        for artifact_list in executor_input["outputs"]["artifacts"].values():
            uri = artifact_list["artifacts"][0]["uri"]
            local = local_path(pod, uri) if uri.startswith(S3) else uri
            os.makedirs(os.path.dirname(local), exist_ok=True)  # prepareOutputFolders: the parent only
        log = open(os.path.join(pod, "log.txt"), "w+")
        proc = subprocess.Popen(command + args, stdout=log, stderr=subprocess.STDOUT, text=True, cwd=self.cwd, env=env)
        return proc, log

    def _record(self, spec: dict, name: str, executor_input: dict, log_text: str, pod: str):
        """After exit 0: the output file parsed strictly, the outputs uploaded, uri and metadata
        merged, every output recorded in MLMD as the launcher records it. Returns ({key: artifact
        id}, execution id)."""
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
            if key == EXECUTOR_LOGS:  # getLogWriter: the task's output, at the local path
                with open(local_path(pod, artifact["uri"]) if artifact["uri"].startswith(S3) else artifact["uri"], "w") as f:
                    f.write(log_text)
            recorded = self._pb.Artifact(type_id=self._type_id(_title(artifact["type"])), uri=artifact["uri"],
                                         state=self._pb.Artifact.LIVE)
            for k, v in metadata.items():
                recorded.custom_properties[k].CopyFrom(_to_mlmd(v, self._pb, f"task {name} output {key} metadata {k}"))
            if "display_name" not in recorded.custom_properties:
                recorded.custom_properties["display_name"].string_value = key
            if "store_session_info" not in recorded.custom_properties:
                recorded.custom_properties["store_session_info"].string_value = (
                    self._s3_session_info() if artifact["uri"].startswith(S3) else SESSION_INFO)
            artifacts.append(recorded)
            keys.append(key)
        _transfer(self._upload_outputs, executor_input, pod)
        events = [self._pb.Event(type=self._pb.Event.OUTPUT,
                                 path=self._pb.Event.Path(steps=[self._pb.Event.Path.Step(key=k)])) for k in keys]
        execution_id, ids, _ = self.store.put_execution(execution, list(zip(artifacts, events)), [])
        return dict(zip(keys, ids)), execution_id

    def _s3_session_info(self) -> str:
        """config/s3.go ProvideSessionInfo for the provider's default."""
        provider = self.s3_provider or {}
        reference = provider.get("credentials", {}).get("secretRef", {})
        params = {"endpoint": provider.get("endpoint", ""), "region": provider.get("region", ""),
                  "disableSSL": str(bool(provider.get("disableSSL"))).lower(), "forcePathStyle": "true",
                  "fromEnv": "false", "secretName": reference.get("secretName", ""),
                  "accessKeyKey": reference.get("accessKeyKey", ""), "secretKeyKey": reference.get("secretKeyKey", "")}
        return json.dumps({"Provider": "s3", "Params": params}, separators=(",", ":"))

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

    def run(self, spec: dict, root: str, parameters: Optional[Dict[str, object]] = None,
            platform: Optional[dict] = None) -> RunResult:
        """One run of `spec` with its outputs under `root`; `parameters` override the spec's
        pipeline parameter defaults; `platform` is the package's platform spec (its second YAML
        document), if any."""
        tasks = spec["root"]["dag"]["tasks"]
        values = run_parameters(spec, parameters or {})
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
                try:
                    proc, log = self._start(spec, name, executor_input, pod, platform)
                except PodError as e:  # the pod never ran its command
                    state[name] = FAILED
                    results[name] = TaskResult(name, None, 0.0, f"launcher: {e}", FAILED, fingerprint)
                    continue
                running[name] = (proc, log, time.monotonic(), executor_input, fingerprint, pod)
                state[name] = "Running"
            if not running and not self._ready(tasks, state):
                break
            time.sleep(0.2)
            for name, (proc, log, started, executor_input, fingerprint, pod) in list(running.items()):
                if proc.poll() is None:
                    continue
                del running[name]
                log.seek(0)
                text = log.read()
                log.close()
                result = TaskResult(name, proc.returncode, time.monotonic() - started, text[-6000:], FAILED, fingerprint)
                if proc.returncode == 0:
                    try:
                        outputs[name], execution_id = self._record(spec, name, executor_input, text, pod)
                        result.state = SUCCEEDED
                        if tasks[name].get("cachingOptions", {}).get("enableCache"):
                            self._cache[scope + fingerprint] = execution_id
                    except (ValueError, PodError) as e:  # the launcher fails the task it cannot record
                        result.log += f"\nlauncher: {e}"
                state[name] = result.state
                results[name] = result
        return RunResult(run_id, results, sorted(n for n, s in state.items() if s == OMITTED), outputs, inputs)


class PodError(RuntimeError):
    """The pod cannot start its command, or the launcher cannot move its artifacts."""


def local_path(pod: str, uri: str) -> str:
    """launcher_v2.go LocalPathForURI, under the task's own folder: s3://b/k -> <pod>/s3/b/k."""
    return os.path.join(pod, "s3", uri[len(S3):])


def _transfer(move, executor_input: dict, pod: str) -> None:
    """A transfer the launcher fails the task on when the bucket refuses it."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        move(executor_input, pod)
    except (BotoCoreError, ClientError) as e:
        raise PodError(f"object storage: {e}") from None


def _split(uri: str):
    bucket, _, key = uri[len(S3):].partition("/")
    return bucket, key.rstrip("/")


def run_parameters(spec: dict, given: Dict[str, object]) -> Dict[str, object]:
    """A run's parameter values as the API server takes them (apiserver/template/v2_template.go:
    a parameter neither optional nor with a default must be given; a number parameter takes only
    a number) and the compiled workflow fills them (argocompiler/argo.go: missing values from
    defaultValue, an optional one without a default as null). ValueError: the run is refused."""
    definitions = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    values = {}
    for name, definition in definitions.items():
        if name in given:
            value = given[name]
            number = definition.get("parameterType") in ("NUMBER_INTEGER", "NUMBER_DOUBLE")
            if number and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ValueError(f"input parameter {name} requires type double or integer, "
                                 "but the parameter value is not of number value type")
            values[name] = value
        elif "defaultValue" in definition:
            values[name] = definition["defaultValue"]
        elif definition.get("isOptional"):
            values[name] = None
        else:
            raise ValueError(f"parameter {name} is not optional, yet has neither default value nor user provided value")
    return values


def visualizations(backend: "Backend", run: "RunResult") -> Dict[tuple, dict]:
    """{(task, output key): {type, uri}} of the run's outputs KFP's UI renders on the run's page:
    MLMD type system.HTML or system.Markdown, with a display_name (frontend
    MetricsVisualizations.tsx getVertifiedHtmlArtifacts / getVertifiedMarkdownArtifacts); the UI
    reads the object at the uri as the page."""
    shown = {}
    for task, keys in run.outputs.items():
        for key, artifact_id in keys.items():
            [artifact] = backend.store.get_artifacts_by_id([artifact_id])
            [kind] = backend.store.get_artifact_types_by_id([artifact.type_id])
            named = "display_name" in artifact.custom_properties and artifact.custom_properties["display_name"].string_value
            if kind.name in ("system.HTML", "system.Markdown") and named:
                shown[(task, key)] = {"type": kind.name, "uri": artifact.uri}
    return shown


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
