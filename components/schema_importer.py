"""A curated schema importer whose version is chosen at run time: Kubeflow's variant of TFX's
ImportSchemaGen, which takes a fixed file path.

`schema_version` (a Kubeflow run parameter) names a folder `v<N>` under `schema_dir` (the image's
schema/); the executor checks that version as the local runner checks `--schema` (the schema
parses; constraints.yaml and checks.yaml beside it parse against its features) and copies its
schema.pbtxt into the Schema artifact, as ImportSchemaGen does. The version is recorded on the
artifact. A version that is not there fails the task with one line naming the versions there.
"""

import os
from typing import Any, Dict, List

from tfx import types
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from core.common import names
from core.settings import schema_files


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        path = schema_files.version_path(exec_properties["schema_dir"], exec_properties["schema_version"])
        schema_files.read_version(path)  # every file of the version parses, or one line
        schema = artifact_utils.get_single_instance(output_dict["schema"])
        fileio.makedirs(schema.uri)
        fileio.copy(path, os.path.join(schema.uri, names.SCHEMA_FILE), overwrite=True)
        schema.set_string_custom_property(names.SCHEMA_VERSION, exec_properties["schema_version"])
        schema.set_string_custom_property(names.SCHEMA_FILE_PROPERTY, path)


class VersionedSchemaImporterSpec(types.ComponentSpec):
    PARAMETERS = {
        "schema_dir": ExecutionParameter(type=str),
        "schema_version": ExecutionParameter(type=str),
    }
    INPUTS = {}
    OUTPUTS = {"schema": ChannelParameter(type=standard_artifacts.Schema)}


class VersionedSchemaImporter(base_component.BaseComponent):
    """The curated schema `<schema_dir>/<schema_version>/schema.pbtxt` as a Schema artifact."""

    SPEC_CLASS = VersionedSchemaImporterSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, schema_dir: str, schema_version):
        """`schema_version` may be a RuntimeParameter (a Kubeflow run parameter)."""
        super().__init__(spec=VersionedSchemaImporterSpec(
            schema_dir=schema_dir, schema_version=schema_version,
            schema=types.Channel(type=standard_artifacts.Schema)))
