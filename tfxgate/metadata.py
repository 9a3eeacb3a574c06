"""Reading a tfxgate run back from ML Metadata, through MLMD's API only."""

import os
from typing import List, Optional

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2


def sqlite_store(path: str, must_exist: bool = True) -> metadata_store.MetadataStore:
    """An MLMD store on the SQLite file at `path` (read-write; MLMD creates it when allowed)."""
    from tfxgate.store import StoreSettings

    return StoreSettings(sqlite_path=path).open(must_exist)


def custom_value(artifact_or_execution, key: str):
    """A custom property's value (string, int, double or proto struct), or None when unset."""
    if key not in artifact_or_execution.custom_properties:
        return None
    value = artifact_or_execution.custom_properties[key]
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def latest_pushed_destination(store: metadata_store.MetadataStore) -> Optional[str]:
    """Where the newest PushedModel that was really pushed lives, or None."""
    pushed = [
        a
        for a in store.get_artifacts_by_type("PushedModel")
        if a.state == metadata_store_pb2.Artifact.LIVE and custom_value(a, "pushed") == 1
    ]
    if not pushed:
        return None
    newest = max(pushed, key=lambda a: a.id)
    return custom_value(newest, "pushed_destination")


def type_name(store: metadata_store.MetadataStore, artifact: metadata_store_pb2.Artifact) -> str:
    return store.get_artifact_types_by_id([artifact.type_id])[0].name


def node_id_of(store: metadata_store.MetadataStore, execution_id: int) -> Optional[str]:
    """The pipeline node ('Trainer', ...) an execution belongs to, from its TFX 'node' context."""
    for context in store.get_contexts_by_execution(execution_id):
        if store.get_context_types_by_id([context.type_id])[0].name == "node":
            return context.name.split(".", 1)[-1]
    return None


def producer_execution(store: metadata_store.MetadataStore, artifact_id: int) -> Optional[int]:
    """The execution that wrote the artifact, or None (e.g. an artifact registered by hand)."""
    for event in store.get_events_by_artifact_ids([artifact_id]):
        if event.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT):
            return event.execution_id
    return None


def upstream_artifacts(store: metadata_store.MetadataStore, artifact_id: int) -> List[metadata_store_pb2.Artifact]:
    """Every artifact the given one was derived from, transitively, nearest first."""
    seen, result, frontier = {artifact_id}, [], [artifact_id]
    while frontier:
        executions = {e for e in (producer_execution(store, a) for a in frontier) if e is not None}
        frontier = []
        if not executions:
            break
        input_ids = [
            ev.artifact_id
            for ev in store.get_events_by_execution_ids(list(executions))
            if ev.type in (metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT)
            and ev.artifact_id not in seen
        ]
        for artifact in store.get_artifacts_by_id(sorted(set(input_ids))):
            seen.add(artifact.id)
            result.append(artifact)
            frontier.append(artifact.id)
    return result


def latest_gate_decision(store: metadata_store.MetadataStore) -> Optional[str]:
    """'pass' or 'warn: <summary>' of the newest GateDecision, or None."""
    decisions = store.get_artifacts_by_type("tfxgate.GateDecision")
    if not decisions:
        return None
    newest = max(decisions, key=lambda a: a.id)
    decision = custom_value(newest, "decision")
    return decision if decision == "pass" else f"{decision}: {custom_value(newest, 'summary')}"


_DONE = (metadata_store_pb2.Execution.COMPLETE, metadata_store_pb2.Execution.CACHED)


def latest_accepted_training_statistics(store: metadata_store.MetadataStore) -> Optional[dict]:
    """The training statistics the data gate accepted in the newest run that pushed a model.

    Returns {"uri", "splits", "span", "run"} or None when no run got that far.
    """
    runs = sorted(store.get_contexts_by_type("pipeline_run"), key=lambda c: c.id, reverse=True)
    for run in runs:
        executions = store.get_executions_by_context(run.id)
        nodes = {node_id_of(store, e.id): e for e in executions if e.last_known_state in _DONE}
        if "Pusher" not in nodes or "DataGate" not in nodes:
            continue
        events = store.get_events_by_execution_ids([nodes["DataGate"].id])
        outputs = [e.artifact_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT]
        for decision in store.get_artifacts_by_id(outputs):
            uri = custom_value(decision, "training_statistics_uri")
            if uri:
                return {
                    "uri": uri,
                    "splits": custom_value(decision, "training_statistics_splits"),
                    "span": custom_value(decision, "span"),
                    "run": run.name,
                }
    return None


def schema_version_of(store: metadata_store.MetadataStore, artifact_id: int) -> Optional[str]:
    """The curated schema version ('v1') an artifact was checked against, through its lineage.

    An artifact that records `schema_version` itself (validator anomalies) answers directly;
    otherwise the curated Schema upstream of it leads to the importer's `schema_file` path,
    whose folder name is the version.
    """
    [artifact] = store.get_artifacts_by_id([artifact_id])
    recorded = custom_value(artifact, "schema_version")
    if recorded:
        return recorded
    candidates = [artifact] + upstream_artifacts(store, artifact_id)
    for candidate in candidates:
        if type_name(store, candidate) != "Schema":
            continue
        producer = producer_execution(store, candidate.id)
        if producer is None:
            continue
        [execution] = store.get_executions_by_id([producer])
        schema_file = custom_value(execution, "schema_file")
        if schema_file:
            return os.path.basename(os.path.dirname(schema_file))
    return None
