"""Queries over a tfxgate pipeline's records in ML Metadata, through MLMD's API only.

The building blocks of every read-back: property values, the node and run of an execution, an
execution's inputs and outputs, lineage upstream, and the "latest" lookups, each scoped to one
pipeline where a store holds several.
"""

from typing import Iterable, List, Optional

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from core.common import baseline
from core.common import names
from mlmd.store import StoreSettings

Store = metadata_store.MetadataStore
DONE = (metadata_store_pb2.Execution.COMPLETE, metadata_store_pb2.Execution.CACHED)
_OUTPUT_EVENTS = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
_INPUT_EVENTS = (metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT)
state_name = metadata_store_pb2.Execution.State.Name


def sqlite_store(path: str, must_exist: bool = True) -> Store:
    """An MLMD store on the SQLite file at `path`: read-only when it must exist, else read-write
    (MLMD creates it)."""
    return StoreSettings(sqlite_path=path).open(must_exist)


def custom_value(artifact_or_execution, key: str):
    """A custom property's value (string, int, double or proto struct), or None when unset."""
    if key not in artifact_or_execution.custom_properties:
        return None
    value = artifact_or_execution.custom_properties[key]
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def span_of(artifact) -> Optional[int]:
    """The span an artifact records: a custom property (Examples, GateDecision) or a property."""
    value = custom_value(artifact, names.SPAN)
    if value is not None:
        return int(value)
    return artifact.properties[names.SPAN].int_value if names.SPAN in artifact.properties else None


def type_name(store: Store, artifact: metadata_store_pb2.Artifact) -> str:
    return store.get_artifact_types_by_id([artifact.type_id])[0].name


def context_of(store: Store, execution_id: int, context_type: str):
    """The execution's context of a type (`pipeline`, `pipeline_run`, `node`), or None."""
    for context in store.get_contexts_by_execution(execution_id):
        if store.get_context_types_by_id([context.type_id])[0].name == context_type:
            return context
    return None


def node_id_of(store: Store, execution_id: int) -> Optional[str]:
    """The pipeline node ('Trainer', ...) an execution belongs to, from its TFX 'node' context."""
    context = context_of(store, execution_id, names.NODE_CONTEXT)
    return context.name.split(".", 1)[-1] if context is not None else None


def outputs(store: Store, execution_id: int) -> List[metadata_store_pb2.Artifact]:
    """The artifacts an execution wrote."""
    events = store.get_events_by_execution_ids([execution_id])
    ids = [e.artifact_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT]
    return store.get_artifacts_by_id(ids) if ids else []


def producer_execution(store: Store, artifact_id: int) -> Optional[int]:
    """The execution that wrote the artifact, or None (e.g. an artifact registered by hand)."""
    for event in store.get_events_by_artifact_ids([artifact_id]):
        if event.type in _OUTPUT_EVENTS:
            return event.execution_id
    return None


def consumers(store: Store, artifact_id: int, node: str) -> List[int]:
    """Executions of `node` that read the artifact."""
    events = store.get_events_by_artifact_ids([artifact_id])
    ids = [e.execution_id for e in events if e.type == metadata_store_pb2.Event.INPUT]
    return [i for i in ids if node_id_of(store, i) == node]


def upstream_artifacts(store: Store, artifact_id: int) -> List[metadata_store_pb2.Artifact]:
    """Every artifact the given one was derived from, transitively, nearest first. The
    Evaluator's baseline model is compared with, not derived from: the walk does not follow it
    (else every pushed model would descend from the model it replaced, and its data)."""
    seen, result, frontier = {artifact_id}, [], [artifact_id]
    while frontier:
        executions = {e for e in (producer_execution(store, a) for a in frontier) if e is not None}
        frontier = []
        if not executions:
            break
        input_ids = [
            ev.artifact_id
            for ev in store.get_events_by_execution_ids(list(executions))
            if ev.type in _INPUT_EVENTS and ev.artifact_id not in seen
            and not (ev.path.steps and ev.path.steps[0].key == names.BASELINE_MODEL_INPUT)
        ]
        for artifact in store.get_artifacts_by_id(sorted(set(input_ids))):
            seen.add(artifact.id)
            result.append(artifact)
            frontier.append(artifact.id)
    return result


def executions_per_node(store: Store, run_context_id: int) -> dict:
    """{node id: [its executions, oldest first]} of one pipeline run."""
    result: dict = {}
    for execution in sorted(store.get_executions_by_context(run_context_id), key=lambda e: e.id):
        result.setdefault(node_id_of(store, execution.id), []).append(execution)
    return result


def executions_by_node(store: Store, run_context_id: int) -> dict:
    """{node id: its newest execution} of one pipeline run."""
    return {node: executions[-1] for node, executions in executions_per_node(store, run_context_id).items()}


def outputs_of_type(store: Store, execution_id: int, type_name_: str) -> List[metadata_store_pb2.Artifact]:
    """The artifacts of one type an execution wrote."""
    return [a for a in outputs(store, execution_id) if type_name(store, a) == type_name_]


# ---- scoped to a pipeline -----------------------------------------------------------------

def pipeline_names(store: Store) -> List[str]:
    """The names of the pipelines that have run against this store."""
    return sorted(c.name for c in store.get_contexts_by_type(names.PIPELINE_CONTEXT))


def pipeline_context(store: Store, pipeline: str):
    """The pipeline's context, or None when it has never run against this store."""
    return store.get_context_by_type_and_name(names.PIPELINE_CONTEXT, pipeline)


def artifacts_of_type(store: Store, type_name_: str, pipeline: Optional[str] = None) -> List[metadata_store_pb2.Artifact]:
    """Every artifact of a type, or only those of one pipeline's runs when `pipeline` is given."""
    artifacts = store.get_artifacts_by_type(type_name_)
    if pipeline is None:
        return artifacts
    context = pipeline_context(store, pipeline)
    if context is None:
        return []
    ours = {a.id for a in store.get_artifacts_by_context(context.id)}
    return [a for a in artifacts if a.id in ours]


def run_contexts(store: Store, pipeline: Optional[str] = None) -> list:
    """Every pipeline run (of one pipeline when given), oldest first."""
    contexts = store.get_contexts_by_type(names.RUN_CONTEXT)
    if pipeline is not None:
        context = pipeline_context(store, pipeline)
        if context is None:
            return []
        ours = {e.id for e in store.get_executions_by_context(context.id)}
        contexts = [c for c in contexts if any(e.id in ours for e in store.get_executions_by_context(c.id))]
    return sorted(contexts, key=lambda c: c.id)


def pushed_destination(artifacts: Iterable[metadata_store_pb2.Artifact]) -> Optional[str]:
    """Where the newest of these PushedModels that was really pushed lives, or None."""
    pushed = [a for a in artifacts
              if a.state == metadata_store_pb2.Artifact.LIVE and custom_value(a, names.PUSHED) == 1]
    if not pushed:
        return None
    return custom_value(max(pushed, key=lambda a: a.id), names.PUSHED_DESTINATION)


def latest_pushed_destination(store: Store, pipeline: Optional[str] = None) -> Optional[str]:
    """Where the newest PushedModel (of `pipeline`, when given) that was really pushed lives."""
    return pushed_destination(artifacts_of_type(store, names.PUSHED_MODEL_TYPE, pipeline))


def latest_accepted_training_statistics(store: Store, pipeline: Optional[str] = None) -> Optional[dict]:
    """The training statistics the data gate accepted most recently (core.common.baseline's rule).

    Returns {"uri", "splits", "span", "run", "examples_uri"} or None when the gate has accepted nothing yet.
    """
    decisions = [d for d in artifacts_of_type(store, names.GATE_DECISION_TYPE, pipeline)
                 if custom_value(d, names.TRAINING_STATISTICS_URI)]
    chosen = baseline.accepted_baseline(decisions, span_of, lambda d: d.id, any_span=True)
    if chosen is None:
        return None
    producer = producer_execution(store, chosen.id)
    run = context_of(store, producer, names.RUN_CONTEXT) if producer is not None else None
    return {
        "uri": custom_value(chosen, names.TRAINING_STATISTICS_URI),
        "splits": custom_value(chosen, names.TRAINING_STATISTICS_SPLITS),
        "span": custom_value(chosen, names.SPAN),
        "run": run.name if run is not None else None,
        "examples_uri": custom_value(chosen, names.TRAINING_EXAMPLES_URI),
    }


def schema_version_of(store: Store, artifact_id: int) -> Optional[str]:
    """The curated schema version ('v1') an artifact was checked against, through its lineage.

    An artifact that records `schema_version` itself (validator anomalies) answers directly;
    otherwise the curated Schema upstream of it leads to the importer's `schema_file` path,
    whose folder name is the version.
    """
    from core.settings import schema_files

    [artifact] = store.get_artifacts_by_id([artifact_id])
    recorded = custom_value(artifact, names.SCHEMA_VERSION)
    if recorded:
        return recorded
    for candidate in [artifact] + upstream_artifacts(store, artifact_id):
        if type_name(store, candidate) != names.SCHEMA_TYPE:
            continue
        producer = producer_execution(store, candidate.id)
        if producer is None:
            continue
        [execution] = store.get_executions_by_id([producer])
        schema_file = custom_value(execution, names.SCHEMA_FILE_PROPERTY)
        if schema_file:
            return schema_files.version_label(schema_file)
    return None
