"""Reading a tfxgate run back from ML Metadata, through MLMD's API only."""

import os
from typing import Optional

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2


def sqlite_store(path: str, must_exist: bool = True) -> metadata_store.MetadataStore:
    """An MLMD store on the SQLite file at `path` (read-write; MLMD creates it when allowed)."""
    if must_exist and not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no MLMD store there")
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return metadata_store.MetadataStore(config)


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
