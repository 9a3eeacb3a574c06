"""DataValidator's executor: reads artifacts, calls `validation.validate`, writes and annotates."""

import json
import os
from typing import Any, Dict, List, Optional

from tensorflow_metadata.proto.v0 import schema_pb2
from tfx import types
from tfx.components.statistics_gen import stats_artifact_utils
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import io_utils

from components import span_resolver
from components.validator import validation

ANOMALIES_FILE = "SchemaDiff.pb"  # the name ExampleValidator uses, so TFDV's readers work
FINDINGS_FILE = "findings.json"
BASELINE_SPLIT = "train"


class Executor(base_executor.BaseExecutor):
    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        statistics = artifact_utils.get_single_instance(input_dict["statistics"])
        schema = read_schema(artifact_utils.get_single_instance(input_dict["schema"]).uri)
        environment = exec_properties["environment"]
        examples = (input_dict.get("examples") or [None])[0]
        current_span = span_of(examples)
        previous = span_resolver.baseline_decision(current_span, input_dict.get("previous_decisions") or [])
        training = (input_dict.get("training_statistics") or [None])[0]

        previous_stats = _baseline(accepted_statistics(previous)) if previous is not None else None
        training_stats = _baseline(training)
        output = artifact_utils.get_single_instance(output_dict["anomalies"])
        splits = artifact_utils.decode_split_names(statistics.split_names)
        all_distances, findings_count, features = [], 0, set()
        for split in splits:
            report = validation.validate(
                stats_artifact_utils.load_statistics(statistics, split).proto(),
                schema,
                environment,
                previous_statistics=previous_stats,
                training_statistics=training_stats,
            )
            write_report(output.uri, split, report, environment, exec_properties["schema_version"])
            all_distances += [dict(m, split=split) for m in report.distances]
            findings_count += len(report.findings)
            features.update(f.feature for f in report.findings)

        output.split_names = artifact_utils.encode_split_names(splits)
        if current_span is not None:
            output.span = current_span
        output.set_string_custom_property("environment", environment)
        output.set_string_custom_property("schema_version", exec_properties["schema_version"])
        output.set_int_custom_property("anomaly_count", findings_count)
        output.set_string_custom_property("anomalous_features", ",".join(sorted(features)))
        output.set_string_custom_property("distances", json.dumps(all_distances, sort_keys=True))
        output.set_string_custom_property("statistics_uri", statistics.uri)
        output.set_string_custom_property("statistics_splits", statistics.split_names)
        if previous is not None:
            output.set_int_custom_property("drift_baseline_span", span_of(previous))
            output.set_string_custom_property("drift_baseline_uri", accepted_statistics(previous).uri)
        if training is not None:
            output.set_string_custom_property("skew_baseline_uri", training.uri)


def read_schema(uri: str) -> schema_pb2.Schema:
    path = uri if uri.endswith(".pbtxt") else io_utils.get_only_uri_in_dir(uri)
    return io_utils.parse_pbtxt_file(path, schema_pb2.Schema())


def span_of(artifact: Optional[types.Artifact]) -> Optional[int]:
    return None if artifact is None else span_resolver.span_of(artifact)


def accepted_statistics(decision: types.Artifact) -> types.Artifact:
    """The training statistics a gate decision accepted, as an ExampleStatistics artifact."""
    statistics = standard_artifacts.ExampleStatistics()
    statistics.uri = decision.get_string_custom_property("training_statistics_uri")
    statistics.split_names = decision.get_string_custom_property("training_statistics_splits")
    return statistics


def _baseline(artifact: Optional[types.Artifact]):
    if artifact is None:
        return None
    splits = artifact_utils.decode_split_names(artifact.split_names)
    split = BASELINE_SPLIT if BASELINE_SPLIT in splits else splits[0]
    return stats_artifact_utils.load_statistics(artifact, split).proto()


def write_report(uri: str, split: str, report: validation.Report, environment: str, schema_version: str) -> None:
    folder = os.path.join(uri, f"Split-{split}")
    fileio.makedirs(folder)
    io_utils.write_bytes_file(os.path.join(folder, ANOMALIES_FILE), report.anomalies.SerializeToString())
    document = {
        "environment": environment,
        "schema_version": schema_version,
        "split": split,
        "num_examples": report.num_examples,
        "findings": [f.to_json() for f in report.findings],
        "distances": report.distances,
    }
    io_utils.write_string_file(os.path.join(folder, FINDINGS_FILE), json.dumps(document, indent=1, sort_keys=True))


def read_findings(anomalies_artifact: types.Artifact) -> Dict[str, dict]:
    """{split: findings.json document} of a DataValidator output."""
    result = {}
    for split in artifact_utils.decode_split_names(anomalies_artifact.split_names):
        path = os.path.join(anomalies_artifact.uri, f"Split-{split}", FINDINGS_FILE)
        with fileio.open(path) as f:
            result[split] = json.loads(f.read())
    return result
