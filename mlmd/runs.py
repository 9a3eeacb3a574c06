"""Runs of the tfxgate pipeline read back from MLMD (through its API only): what was ingested,
which schema version checked it, what the validators found, and what the gate decided.

Shared by `tfxgate report`, `lineage`, `history` and the notebook.
"""

import dataclasses
import json
from typing import Dict, List, Optional

from ml_metadata.proto import metadata_store_pb2

from core.settings import layout
from core.common import names
from core.judging import policy as policy_lib
from core.settings import schema_files
from core.common.errors import NotFound
from core.common.findings import Finding
from mlmd import query
from mlmd import store as store_lib


class RunNotFound(NotFound):
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
    drift_baseline_uri: Optional[str] = None  # the statistics drift was measured against

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
    examples: List[dict]  # {artifact_id, span, version, fingerprint, uri, quarantined_rows, typed_reading}
    schema_version: Optional[str]
    schema_file: Optional[str]
    inferred_schema_uri: Optional[str]
    validations: List[Validation]
    gate: dict  # {"decision": pass|warn|block|not reached, "summary", "artifact_id"?}
    pushed_model: Optional[dict]
    policy_digest: Optional[str] = None  # core.judging.policy.digest of the policy the gate judged with
    artifacts: Dict[str, List[dict]] = dataclasses.field(default_factory=dict)  # node -> [{id, type, uri}]
    serving_examples: List[dict] = dataclasses.field(default_factory=list)  # as `examples`, ServingExampleGen's
    # The model gate: None where no Evaluator ran (the data gate stopped the run, or a run from
    # before the Evaluator). See `_evaluation` for its keys.
    evaluation: Optional[dict] = None

    def to_json(self) -> dict:
        data = dataclasses.asdict(self)
        data["validations"] = [v.to_json() for v in self.validations]
        return data


def _policy_of(execution) -> Optional[policy_lib.Policy]:
    text = query.custom_value(execution, names.POLICY) if execution is not None else None
    return policy_lib.parse(text) if text else None


def _gate(store, execution) -> dict:
    if execution is None:
        return {"decision": names.NOT_REACHED, "summary": "the run stopped before the gate"}
    if execution.last_known_state == metadata_store_pb2.Execution.FAILED:
        result = json.loads(query.custom_value(execution, names.EXECUTION_RESULT) or "{}")
        return {"decision": names.BLOCK, "summary": result.get("resultMessage", "the gate failed")}
    if execution.last_known_state not in query.DONE:
        return {"decision": query.state_name(execution.last_known_state).lower(), "summary": ""}
    for artifact in query.outputs(store, execution.id):
        return {
            "decision": query.custom_value(artifact, names.DECISION),
            "summary": query.custom_value(artifact, names.SUMMARY),
            "artifact_id": artifact.id,
        }
    return {"decision": "unknown", "summary": "no decision recorded"}


def _examples(store, execution) -> List[dict]:
    if execution is None:
        return []
    return [{
        "artifact_id": a.id, "uri": a.uri, "span": query.custom_value(a, names.SPAN),
        "version": query.custom_value(a, names.VERSION),
        "fingerprint": query.custom_value(a, names.FINGERPRINT),
        "quarantined_rows": query.custom_value(a, names.QUARANTINED_ROWS) or 0,
        "typed_reading": json.loads(query.custom_value(a, names.TYPED_READING) or "{}"),
    } for a in query.outputs(store, execution.id)]


def _validation(node: str, artifact, policy: Optional[policy_lib.Policy]) -> Validation:
    splits = layout.read_findings(artifact.uri, layout.decode_splits(artifact.properties["split_names"].string_value),
                                  missing_ok=True)
    if policy is not None:
        verdicts = policy_lib.judge_documents(splits, policy)
    else:
        verdicts = [policy_lib.Verdict(f"{doc['environment'].lower()}[{split}]", finding, "unjudged", "no gate ran")
                    for split, doc in splits.items()
                    for finding in (Finding.from_json(f) for f in doc.get("findings", []))]
    return Validation(
        node=node,
        environment=query.custom_value(artifact, names.ENVIRONMENT),
        schema_version=query.custom_value(artifact, names.SCHEMA_VERSION),
        span=query.span_of(artifact),
        artifact_id=artifact.id,
        uri=artifact.uri,
        statistics_uri=query.custom_value(artifact, names.STATISTICS_URI),
        drift_baseline_span=query.custom_value(artifact, names.DRIFT_BASELINE_SPAN),
        drift_baseline_uri=query.custom_value(artifact, names.DRIFT_BASELINE_URI),
        splits=splits,
        verdicts=verdicts,
    )


def _validations(store, by_node: dict, policy) -> List[Validation]:
    return [_validation(node, artifact, policy)
            for node in names.VALIDATORS if node in by_node
            for artifact in query.outputs(store, by_node[node].id)]


def _pushed(store, execution) -> Optional[dict]:
    pushed = None
    if execution is not None and execution.last_known_state in query.DONE:
        for a in query.outputs(store, execution.id):
            pushed = {"artifact_id": a.id, "pushed": query.custom_value(a, names.PUSHED) == 1,
                      "destination": query.custom_value(a, names.PUSHED_DESTINATION)}
    return pushed


def _evaluation(store, execution, pushed: Optional[dict]) -> Optional[dict]:
    """{"artifact_id" (the ModelEvaluation), "blessing_id", "blessed" (True, False, or None where
    the Evaluator did not finish), "metrics" ({metric: {"candidate", "baseline"}} on the whole eval
    split), "slices" ([{"slice", metric: value}], largest first), "thresholds" ({metric: {"floor",
    "ceiling", "drop"}}, schema/evaluation.yaml's at the time), "reasons" (one line per failed
    threshold), "baseline_model" ({"artifact_id", "uri", "run_id"} or None: judged by floors
    only), "pushed" (Pusher pushed this run's model), "state"}."""
    if execution is None:
        return None
    found = {"artifact_id": None, "blessing_id": None, "blessed": None, "metrics": {}, "slices": [], "thresholds": {},
             "reasons": [], "baseline_model": None, "pushed": bool(pushed and pushed.get("pushed")),
             "state": query.state_name(execution.last_known_state)}
    if execution.last_known_state not in query.DONE:
        result = json.loads(query.custom_value(execution, names.EXECUTION_RESULT) or "{}")
        found["reasons"] = [f"the Evaluator did not finish: {result.get('resultMessage') or found['state'].lower()}"]
        return found
    for artifact in query.outputs(store, execution.id):
        if query.type_name(store, artifact) == names.MODEL_EVALUATION_TYPE:
            found["artifact_id"] = artifact.id
            continue
        found["blessing_id"] = artifact.id
        blessed = query.custom_value(artifact, names.BLESSED)
        found["blessed"] = None if blessed is None else blessed == 1
        measured = json.loads(query.custom_value(artifact, names.EVAL_METRICS) or "{}")
        found["metrics"], found["slices"] = measured.get("overall", {}), measured.get("slices", [])
        found["thresholds"] = measured.get("thresholds", {})
        found["reasons"] = json.loads(query.custom_value(artifact, names.EVAL_REASONS) or "[]")
        if query.custom_value(artifact, names.EVAL_HAS_BASELINE):
            model_id = query.custom_value(artifact, names.BLESSING_BASELINE_ID) or None
            found["baseline_model"] = {"artifact_id": model_id,
                                       "uri": query.custom_value(artifact, names.BLESSING_BASELINE_URI),
                                       "run_id": _producing_run(store, model_id)}
    return found


def _producing_run(store, artifact_id: Optional[int]) -> Optional[str]:
    """The run id of the run whose execution wrote the artifact (None: not in this store)."""
    execution_id = query.producer_execution(store, artifact_id) if artifact_id else None
    context = query.context_of(store, execution_id, names.RUN_CONTEXT) if execution_id else None
    return context.name if context is not None else None


def load_run(store, context) -> Run:
    """One pipeline run, from its `pipeline_run` context."""
    by_node = query.executions_by_node(store, context.id)
    gate_execution = by_node.get(names.GATE)
    importer = by_node.get(names.CURATED_SCHEMA)
    schema_file = query.custom_value(importer, names.SCHEMA_FILE_PROPERTY) if importer is not None else None
    inferred = query.outputs(store, by_node[names.INFERRED_SCHEMA].id) if names.INFERRED_SCHEMA in by_node else []
    pushed = _pushed(store, by_node.get(names.PUSHER))
    pipeline = None
    if by_node:
        pipeline = query.context_of(store, next(iter(by_node.values())).id, names.PIPELINE_CONTEXT)
    return Run(
        run_id=context.name,
        context_id=context.id,
        pipeline=pipeline.name if pipeline is not None else "",
        created_ms=context.create_time_since_epoch,
        states={node: query.state_name(e.last_known_state) for node, e in by_node.items()},
        examples=_examples(store, by_node.get(names.EXAMPLE_GEN)),
        schema_version=schema_files.version_label(schema_file) if schema_file else None,
        schema_file=schema_file,
        inferred_schema_uri=inferred[0].uri if inferred else None,
        validations=_validations(store, by_node, _policy_of(gate_execution)),
        gate=_gate(store, gate_execution),
        pushed_model=pushed,
        evaluation=_evaluation(store, by_node.get(names.EVALUATOR), pushed),
        policy_digest=_policy_digest(gate_execution),
        artifacts=_artifacts(store, by_node),
        serving_examples=_examples(store, by_node.get(names.SERVING_EXAMPLE_GEN)),
    )


def _artifacts(store, by_node: dict) -> Dict[str, List[dict]]:
    """What each node of the run wrote: its artifacts' MLMD ids, types and URIs (the lineage at a
    glance of the report links each node to them)."""
    found = {}
    for node, execution in by_node.items():
        found[node] = [{"id": a.id, "type": query.type_name(store, a), "uri": a.uri}
                       for a in query.outputs(store, execution.id)]
    return found


def _policy_digest(execution) -> Optional[str]:
    text = query.custom_value(execution, names.POLICY) if execution is not None else None
    return policy_lib.digest(text) if text else None


def run_contexts(store, pipeline: Optional[str] = None) -> list:
    """Every pipeline run (of one pipeline when given), oldest first."""
    return query.run_contexts(store, pipeline)


def find_run(store, which: str = "latest", pipeline: Optional[str] = None) -> Run:
    """'latest', a run id (the pipeline_run context's name) or its context id."""
    contexts = run_contexts(store, pipeline)
    if not contexts:
        where = f" of pipeline {pipeline!r}" if pipeline else ""
        raise RunNotFound(f"no pipeline run{where} in this MLMD store yet")
    if which == "latest":
        return load_run(store, contexts[-1])
    for context in contexts:
        if which in (context.name, str(context.id)):
            return load_run(store, context)
    raise RunNotFound(f"no run {which!r} (runs: {', '.join(c.name for c in contexts[-5:])} ...)")


def find_run_by_id(store, run_id: str) -> Optional[Run]:
    """The run whose `pipeline_run` context is named `run_id`, or None."""
    context = store.get_context_by_type_and_name(names.RUN_CONTEXT, run_id)
    return load_run(store, context) if context is not None else None


def all_runs(store, pipeline: Optional[str] = None) -> List[Run]:
    return [load_run(store, c) for c in run_contexts(store, pipeline)]


def open_store(target):
    """The store at `target`: a SQLite path or mlmd.store.StoreSettings (SQLite or MySQL)."""
    return store_lib.as_settings(target).open()
