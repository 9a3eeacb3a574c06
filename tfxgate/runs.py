"""Runs of the tfxgate pipeline read back from MLMD (through its API only): what was ingested,
which schema version checked it, what the validators found, and what the gate decided.

Shared by `tfxgate report`, `lineage`, `history` and the notebook.
"""

import dataclasses
import json
import os
from typing import Dict, List, Optional

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components.gate import policy as policy_lib
from components.validator.findings import Finding
from tfxgate import metadata
from tfxgate import store as store_lib

DONE = (metadata_store_pb2.Execution.COMPLETE, metadata_store_pb2.Execution.CACHED)
_STATE = metadata_store_pb2.Execution.State.Name
VALIDATORS = ("TrainValidator", "ServingValidator")


class RunNotFound(LookupError):
    """No run matches what was asked; the message says so in one line."""


@dataclasses.dataclass
class Validation:
    node: str
    environment: str
    schema_version: str
    span: Optional[int]
    artifact_id: int
    uri: str
    statistics_uri: str
    drift_baseline_span: Optional[int]
    splits: Dict[str, dict]  # split -> findings.json document
    verdicts: List[policy_lib.Verdict]

    @property
    def distances(self) -> List[dict]:
        return [dict(d, split=split) for split, doc in self.splits.items() for d in doc.get("distances", [])]

    def to_json(self) -> dict:
        return {
            "node": self.node, "environment": self.environment, "schema_version": self.schema_version,
            "span": self.span, "artifact_id": self.artifact_id, "uri": self.uri,
            "statistics_uri": self.statistics_uri, "drift_baseline_span": self.drift_baseline_span,
            "verdicts": [v.to_json() for v in self.verdicts], "distances": self.distances,
        }


@dataclasses.dataclass
class Run:
    run_id: str
    context_id: int
    pipeline: str
    created_ms: int
    states: Dict[str, str]  # node -> last execution state
    examples: List[dict]  # {artifact_id, span, version, fingerprint, uri}
    schema_version: Optional[str]
    schema_file: Optional[str]
    inferred_schema_uri: Optional[str]
    validations: List[Validation]
    gate: dict  # {"decision": pass|warn|block|not reached, "summary", "artifact_id"?}
    pushed_model: Optional[dict]

    def to_json(self) -> dict:
        data = dataclasses.asdict(self)
        data["validations"] = [v.to_json() for v in self.validations]
        return data


def _policy_of(execution) -> Optional[policy_lib.Policy]:
    text = metadata.custom_value(execution, "policy")
    return policy_lib.parse(text) if text else None


def _outputs(store, execution_id: int) -> List[metadata_store_pb2.Artifact]:
    events = store.get_events_by_execution_ids([execution_id])
    ids = [e.artifact_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT]
    return store.get_artifacts_by_id(ids) if ids else []


def _read_findings(artifact) -> Dict[str, dict]:
    splits = json.loads(artifact.properties["split_names"].string_value or "[]")
    result = {}
    for split in splits:
        path = os.path.join(artifact.uri, f"Split-{split}", "findings.json")
        if os.path.isfile(path):
            with open(path) as f:
                result[split] = json.load(f)
    return result


def _gate(store, execution, policy) -> dict:
    if execution is None:
        return {"decision": "not reached", "summary": "the run stopped before the gate"}
    if execution.last_known_state == metadata_store_pb2.Execution.FAILED:
        result = json.loads(metadata.custom_value(execution, "__execution_result__") or "{}")
        return {"decision": "block", "summary": result.get("resultMessage", "the gate failed")}
    if execution.last_known_state not in DONE:
        return {"decision": _STATE(execution.last_known_state).lower(), "summary": ""}
    for artifact in _outputs(store, execution.id):
        return {
            "decision": metadata.custom_value(artifact, "decision"),
            "summary": metadata.custom_value(artifact, "summary"),
            "artifact_id": artifact.id,
        }
    return {"decision": "unknown", "summary": "no decision recorded"}


def load_run(store: metadata_store.MetadataStore, context) -> Run:
    executions = sorted(store.get_executions_by_context(context.id), key=lambda e: e.id)
    by_node = {}
    for execution in executions:
        by_node[metadata.node_id_of(store, execution.id)] = execution
    gate_execution = by_node.get("DataGate")
    policy = _policy_of(gate_execution) if gate_execution is not None else None

    examples = []
    if "TrainExampleGen" in by_node:
        for a in _outputs(store, by_node["TrainExampleGen"].id):
            examples.append({
                "artifact_id": a.id, "uri": a.uri, "span": metadata.custom_value(a, "span"),
                "version": metadata.custom_value(a, "version"),
                "fingerprint": metadata.custom_value(a, "input_fingerprint"),
            })
    schema_file = metadata.custom_value(by_node["CuratedSchemaImporter"], "schema_file") if "CuratedSchemaImporter" in by_node else None
    inferred = _outputs(store, by_node["InferredSchemaGen"].id) if "InferredSchemaGen" in by_node else []

    validations = []
    for node in VALIDATORS:
        if node not in by_node:
            continue
        for artifact in _outputs(store, by_node[node].id):
            splits = _read_findings(artifact)
            verdicts = []
            for split, document in splits.items():
                findings = [Finding.from_json(f) for f in document.get("findings", [])]
                dataset = f"{document['environment'].lower()}[{split}]"
                if policy is not None:
                    verdicts += policy_lib.judge_all(dataset, findings, policy)
                else:
                    verdicts += [policy_lib.Verdict(dataset, f, "unjudged", "no gate ran") for f in findings]
            validations.append(Validation(
                node=node,
                environment=metadata.custom_value(artifact, "environment"),
                schema_version=metadata.custom_value(artifact, "schema_version"),
                span=artifact.properties["span"].int_value if "span" in artifact.properties else None,
                artifact_id=artifact.id,
                uri=artifact.uri,
                statistics_uri=metadata.custom_value(artifact, "statistics_uri"),
                drift_baseline_span=metadata.custom_value(artifact, "drift_baseline_span"),
                splits=splits,
                verdicts=verdicts,
            ))

    pushed = None
    if "Pusher" in by_node and by_node["Pusher"].last_known_state in DONE:
        for a in _outputs(store, by_node["Pusher"].id):
            pushed = {"artifact_id": a.id, "pushed": metadata.custom_value(a, "pushed") == 1,
                      "destination": metadata.custom_value(a, "pushed_destination")}
    pipeline = next((c.name for c in store.get_contexts_by_execution(executions[0].id)
                     if store.get_context_types_by_id([c.type_id])[0].name == "pipeline"), "") if executions else ""
    return Run(
        run_id=context.name,
        context_id=context.id,
        pipeline=pipeline,
        created_ms=context.create_time_since_epoch,
        states={node: _STATE(e.last_known_state) for node, e in by_node.items()},
        examples=examples,
        schema_version=os.path.basename(os.path.dirname(schema_file)) if schema_file else None,
        schema_file=schema_file,
        inferred_schema_uri=inferred[0].uri if inferred else None,
        validations=validations,
        gate=_gate(store, gate_execution, policy),
        pushed_model=pushed,
    )


def run_contexts(store) -> list:
    """Every pipeline run, oldest first."""
    return sorted(store.get_contexts_by_type("pipeline_run"), key=lambda c: c.id)


def find_run(store, which: str = "latest") -> Run:
    """'latest', a run id (the pipeline_run context's name) or its context id."""
    contexts = run_contexts(store)
    if not contexts:
        raise RunNotFound("no pipeline run in this MLMD store yet")
    if which == "latest":
        return load_run(store, contexts[-1])
    for context in contexts:
        if which in (context.name, str(context.id)):
            return load_run(store, context)
    raise RunNotFound(f"no run {which!r} (runs: {', '.join(c.name for c in contexts[-5:])} ...)")


def all_runs(store) -> List[Run]:
    return [load_run(store, c) for c in run_contexts(store)]


def open_store(target) -> metadata_store.MetadataStore:
    """The store at `target`: a SQLite path or tfxgate.store.StoreSettings (SQLite or MySQL)."""
    return store_lib.as_settings(target).open()
