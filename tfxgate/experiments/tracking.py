"""A local run logged to MLflow tracking (`runner_local.py --mlflow-tracking-uri URI`, or
`MLFLOW_TRACKING_URI`), read back from MLMD by its run id like the runner's summary.

One MLflow run per pipeline run, in the experiment named after the pipeline:

- params: pipeline, span(s), schema version, policy version and digest;
- metrics: the gate decision (0 pass, 1 warn, 2 block; the word is the tag `gate.decision`), the
  number of blocking findings and of warnings, every distance the validators recorded
  (`distance/<environment>/<split>/<check>/<type>/<feature>[/<slice>]`), and when an Evaluator
  ran, each of its metrics (`eval.<name>`, `eval.baseline.<name>`) and `eval.blessed` (0 or 1);
- artifacts: `report.html` (the page `tfxgate report` renders) and `anomalies.json` (the gate,
  and every validator's verdicts and distances);
- tags: the MLMD run (`mlmd.pipeline_run.id`, `.name`), each node's execution id
  (`mlmd.execution_id.<node>`), the store (`mlmd.store`), the reasons of a blocked run
  (`gate.reasons`) and of a refused model (`eval.reasons`).

A run the data gate blocked ends FAILED; every other one FINISHED (a model the Evaluator did not
bless included: `eval.blessed` is 0). `mlflow` (the `mlflow-skinny` client) is imported only
when a run is logged. What is logged is computed by pure functions (`content`, `metric_keys`),
tested without a server.
"""

import dataclasses
import hashlib
import json
import os
import re
import time
from typing import Dict, Iterable, Optional, Tuple

from core.common import names
from mlmd import query, runs
from tfxgate.reports import report, verdict

GATE_CODES = {names.PASS: 0, names.WARN: 1, names.BLOCK: 2}
FINISHED, FAILED = "FINISHED", "FAILED"
REPORT_FILE, ANOMALIES_FILE = "report.html", "anomalies.json"
MAX_KEY = 250  # MLflow's longest metric, param or tag key
MAX_TAG = 8000  # and value of a tag (a param's is shorter: its values here are short)

_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_\-. :/]")  # what MLflow allows in a metric key


@dataclasses.dataclass
class Content:
    """Everything logged for one pipeline run, the files aside."""

    run_name: str
    experiment: str
    status: str  # FINISHED | FAILED
    params: Dict[str, str]
    metrics: Dict[str, float]
    tags: Dict[str, str]


def sanitize(raw: str) -> str:
    """`raw` as an MLflow key: characters MLflow refuses become `_`, and so do empty, `.` and
    `..` path segments (MLflow refuses a key that is not a normalised relative path)."""
    key = _NOT_ALLOWED.sub("_", raw)
    key = "/".join(part if part not in ("", ".", "..") else "_" for part in key.split("/"))
    return "_" + key[1:] if key.startswith(".") else key


def _suffixed(key: str, raw: str) -> str:
    digest = hashlib.sha1(raw.encode("utf-8")).hexdigest()[:8]
    return f"{key[:MAX_KEY - 9]}-{digest}"


def metric_keys(raws: Iterable[str]) -> Dict[str, str]:
    """{raw name: its MLflow key}: sanitized, and unique. A raw name whose key another raw name
    shares, or that is too long, gets `-<8 hex digits of its SHA-1>`: the same names give the
    same keys whatever their order."""
    raws = list(dict.fromkeys(raws))
    sanitized = {raw: sanitize(raw) for raw in raws}
    shared: Dict[str, int] = {}
    for key in sanitized.values():
        shared[key] = shared.get(key, 0) + 1
    keys = {raw: _suffixed(key, raw) if shared[key] > 1 or len(key) > MAX_KEY else key
            for raw, key in sanitized.items()}
    taken = set()
    for raw, key in keys.items():  # a suffixed key equal to another raw name's plain key
        if key in taken:
            keys[raw] = key = _suffixed(key, raw + "\0")
        taken.add(key)
    return keys


def _distances(run: runs.Run) -> Dict[str, float]:
    found = {}
    for validation in run.validations:
        for d in validation.distances:
            parts = ["distance", validation.environment.lower(), d["split"], d["check"], d.get("type") or "value",
                     d["feature"]]
            if d.get("slice"):
                parts.append(d["slice"])
            found["/".join(str(p) for p in parts)] = float(d["value"])
    return found


def _evaluation(evaluation: Optional[dict]) -> Dict[str, float]:
    if not evaluation:
        return {}
    found = {}
    for name, values in (evaluation.get("metrics") or {}).items():
        if values.get("candidate") is not None:
            found[f"eval.{name}"] = float(values["candidate"])
        if values.get("baseline") is not None:
            found[f"eval.baseline.{name}"] = float(values["baseline"])
    if evaluation.get("blessed") is not None:
        found["eval.blessed"] = 1.0 if evaluation["blessed"] else 0.0
    return found


def _policy_version(policy_text: Optional[str]) -> Optional[str]:
    """The `version:` of the policy file the gate judged with (its parameter holds the policy
    as JSON)."""
    if not policy_text:
        return None
    try:
        version = json.loads(policy_text).get("version")
    except (ValueError, AttributeError):
        import yaml

        version = (yaml.safe_load(policy_text) or {}).get("version")
    return None if version is None else str(version)


def _clip(text: str, limit: int = MAX_TAG) -> str:
    return text if len(text) <= limit else text[:limit - 20] + " ... (cut; see report)"


def content(run: runs.Run, executions: Dict[str, int], policy_text: Optional[str], store_description: str,
            pipeline_name: str = "") -> Content:
    """What is logged for `run`: `executions` is {node: execution id}, `policy_text` the policy the
    gate judged with (its execution parameter), `store_description` where MLMD is, `pipeline_name`
    the experiment when MLMD names no pipeline (a run that recorded no execution)."""
    headline = verdict.of_run(run)
    decision = run.gate.get("decision") or names.NOT_REACHED
    spans = [e["span"] for e in run.examples if e.get("span") is not None]
    params = {
        "pipeline": run.pipeline,
        "span": ",".join(str(s) for s in spans),
        "schema_version": run.schema_version,
        "policy_version": _policy_version(policy_text),
        "policy_digest": run.policy_digest,
    }
    metrics = {"gate.blocking": float(headline.blocking), "gate.warnings": float(headline.warnings)}
    if decision in GATE_CODES:
        metrics["gate.decision"] = float(GATE_CODES[decision])
    metrics.update(_distances(run))
    evaluation = getattr(run, "evaluation", None)  # added to mlmd.runs.Run by the model gate's change
    metrics.update(_evaluation(evaluation))
    keys = metric_keys(metrics)
    tags = {
        "gate.decision": decision,
        "mlmd.pipeline_run.id": str(run.context_id),
        "mlmd.pipeline_run.name": run.run_id,
        "mlmd.store": store_description,
        **{f"mlmd.execution_id.{sanitize(node)}": str(i) for node, i in sorted(executions.items())},
    }
    blocking = [v.line() for v, _ in headline.reasons if v.severity == names.BLOCK]
    if decision == names.BLOCK:
        tags["gate.reasons"] = _clip("\n".join(blocking) or run.gate.get("summary") or "blocked")
    if evaluation:
        if evaluation.get("reasons"):
            tags["eval.reasons"] = _clip("\n".join(evaluation["reasons"]))
        tags["eval.pushed"] = str(bool(evaluation.get("pushed"))).lower()
    return Content(
        run_name=run.run_id,
        experiment=run.pipeline or pipeline_name,
        status=FINISHED if decision in (names.PASS, names.WARN) else FAILED,
        params={k: str(v) for k, v in params.items() if v not in (None, "")},
        metrics={keys[raw]: value for raw, value in metrics.items()},
        tags=tags,
    )


def anomalies(run: runs.Run) -> dict:
    """The anomalies artifact: the gate's decision and every validator's verdicts and distances."""
    return {"run_id": run.run_id, "gate": run.gate, "validations": [v.to_json() for v in run.validations]}


def read(store, run_id: str, store_description: str, pipeline_name: str = "") -> Tuple[runs.Run, Content, str, dict]:
    """The run `run_id` in `store`, what is logged of it, its report page and anomalies document."""
    run = runs.find_run_by_id(store, run_id)
    if run is None:
        raise runs.RunNotFound(f"no run {run_id!r} in MLMD at {store_description}")
    by_node = query.executions_by_node(store, run.context_id)
    gate = by_node.get(names.GATE)
    policy_text = query.custom_value(gate, names.POLICY) if gate is not None else None
    logged = content(run, {node: e.id for node, e in by_node.items()}, policy_text, store_description,
                     pipeline_name)
    return run, logged, report.page_of(store, run, store_description), anomalies(run)


def _experiment_id(client, name: str) -> str:
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    try:
        return client.create_experiment(name)
    except MlflowException:  # another run created it meanwhile
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id


def log(tracking_uri: str, logged: Content, page: str, anomalies_doc: dict, started_ms: Optional[int] = None) -> str:
    """Logs one run to the MLflow tracking server at `tracking_uri`; returns its MLflow run id.
    A failure part-way ends the MLflow run FAILED (when the server still answers) and raises."""
    # A server that does not answer fails in seconds, not after MLflow's default of 7 retries
    # with a growing backoff (minutes); a user's own settings win.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiment_id = _experiment_id(client, logged.experiment)
    mlflow_run = client.create_run(experiment_id, start_time=started_ms, tags=logged.tags, run_name=logged.run_name)
    run_id = mlflow_run.info.run_id
    try:
        now = int(time.time() * 1000)
        client.log_batch(run_id,
                         metrics=[Metric(k, v, now, 0) for k, v in sorted(logged.metrics.items())],
                         params=[Param(k, v) for k, v in sorted(logged.params.items())])
        client.log_text(run_id, page, REPORT_FILE)
        client.log_dict(run_id, anomalies_doc, ANOMALIES_FILE)
    except BaseException:
        try:
            client.set_terminated(run_id, FAILED)
        except Exception:  # noqa: BLE001  (the first error is the one to report)
            pass
        raise
    client.set_terminated(run_id, logged.status)
    return run_id


def log_run(store, run_id: str, store_description: str, tracking_uri: str, pipeline_name: str = "") -> str:
    """Reads run `run_id` from `store` and logs it to `tracking_uri`; returns the MLflow run id."""
    run, logged, page, anomalies_doc = read(store, run_id, store_description, pipeline_name)
    return log(tracking_uri, logged, page, anomalies_doc, started_ms=run.created_ms)


def failure(error: BaseException, tracking_uri: str) -> str:
    """What went wrong logging to `tracking_uri`, in words of ours, one line: where, and why."""
    from urllib.parse import unquote, urlparse

    from core.common.errors import network_reason

    text = " ".join(str(error).split())
    parsed = urlparse(tracking_uri)
    if parsed.scheme in ("", "file"):
        folder = unquote(parsed.path) if parsed.scheme else tracking_uri
        state = "" if os.path.isdir(folder) else ", which does not exist"
        if "maintenance mode" in text or "MLFLOW_ALLOW_FILE_STORE" in text:
            return (f"MLflow logging to {tracking_uri} failed: MLflow no longer writes a file store (the folder "
                    f"{folder}{state}); give an http(s) tracking server, or set MLFLOW_ALLOW_FILE_STORE=true")
        if isinstance(error, OSError):
            return f"MLflow logging to {tracking_uri} failed: cannot write {error.filename or folder} ({error.strerror})"
    reason = network_reason(error)
    if reason is not None:
        return f"MLflow logging to {tracking_uri} failed: no tracking server answers there ({reason})"
    first = text.split(". ")[0]
    return f"MLflow logging to {tracking_uri} failed: {type(error).__name__}: {first if len(first) <= 300 else first[:300] + '...'}"
