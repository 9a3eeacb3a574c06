"""DataValidator's executor: reads artifacts, calls `core.checks.validation.validate`, writes and annotates."""

import json
from typing import Any, Dict, List, Optional

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils, standard_artifacts

from components import span_resolver
from components.artifacts import GateDecision
from core.settings import check_settings
from core.settings import layout
from core.common import names
from core.reading import report as reading
from core.settings import schema_files
from core.checks import validation
from core.common.errors import InputError


class Executor(base_executor.BaseExecutor):
    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        statistics = artifact_utils.get_single_instance(input_dict["statistics"])
        schema = layout.read_schema(artifact_utils.get_single_instance(input_dict["schema"]).uri)
        environment = exec_properties["environment"]
        schema_version = exec_properties["schema_version"]
        examples = (input_dict.get("examples") or [None])[0]
        current_span = span_resolver.span_of(examples)

        previous = span_resolver.baseline_decision(current_span, input_dict.get("previous_decisions") or [])
        if exec_properties.get("drift_baseline"):
            previous = decision_at(exec_properties["drift_baseline"])
        training = (input_dict.get("training_statistics") or [None])[0]
        previous_stats = baseline_statistics(accepted_statistics(previous)) if previous is not None else None
        training_stats = baseline_statistics(training)
        settings = check_settings.parse(checks_text(exec_properties), names.CHECKS_FILE,
                                        [f.name for f in schema.feature])
        training_examples = (input_dict.get("training_examples") or [None])[0]
        baseline_profiles = {
            validation.DRIFT: layout.read_profile(previous.get_string_custom_property(names.TRAINING_EXAMPLES_URI))
            if previous is not None and previous.has_custom_property(names.TRAINING_EXAMPLES_URI) else None,
            validation.SKEW: layout.read_profile(training_examples.uri) if training_examples is not None else None,
        }

        output = artifact_utils.get_single_instance(output_dict["anomalies"])
        splits = artifact_utils.decode_split_names(statistics.split_names)
        reports = {}
        for split in splits:
            reports[split] = validation.validate(
                layout.read_statistics(statistics.uri, split),
                schema,
                environment,
                previous_statistics=previous_stats,
                training_statistics=training_stats,
                reading=reading_of(examples, split),
                profile=layout.read_profile(examples.uri, split) if examples is not None else None,
                baseline_profiles=baseline_profiles,
                settings=settings,
            )
            layout.write_findings(output.uri, split, findings_document(reports[split], environment, schema_version, split),
                                  reports[split].anomalies.SerializeToString())
        output.split_names = artifact_utils.encode_split_names(splits)
        if current_span is not None:
            output.span = current_span
        annotate(output, reports, environment, schema_version, statistics)
        if previous is not None:
            output.set_int_custom_property(names.DRIFT_BASELINE_SPAN, span_resolver.span_of(previous))
            output.set_string_custom_property(names.DRIFT_BASELINE_URI, accepted_statistics(previous).uri)
        if training is not None:
            output.set_string_custom_property(names.SKEW_BASELINE_URI, training.uri)
        if examples is not None:
            output.set_string_custom_property(names.EXAMPLES_URI, examples.uri)


def checks_text(exec_properties: Dict[str, Any]) -> str:
    """checks.yaml's text: the compiled one, or where `schema_dir` is set, the file of the schema
    version chosen for this run."""
    if exec_properties.get("schema_dir"):
        path = schema_files.version_path(exec_properties["schema_dir"], exec_properties["schema_version"])
        return schema_files.read_version(path)["checks_text"]
    return exec_properties.get("checks") or ""


def decision_at(uri: str) -> types.Artifact:
    """A GateDecision artifact read back from its folder's decision.json (what it accepted), for a
    drift baseline given by URI; InputError in one line when the folder holds no accepted decision."""
    document = layout.read_decision(uri)
    accepted = document.get("accepted")
    if document.get("decision") not in (names.PASS, names.WARN) or not accepted:
        raise InputError(f"drift baseline {uri}: not an accepted gate decision (decision "
                         f"{document.get('decision')!r}, no record of the statistics it accepted)")
    decision = GateDecision()
    decision.uri = uri
    if accepted.get(names.SPAN) is not None:
        decision.set_int_custom_property(names.SPAN, int(accepted[names.SPAN]))
    for key in (names.TRAINING_STATISTICS_URI, names.TRAINING_STATISTICS_SPLITS, names.TRAINING_EXAMPLES_URI):
        if accepted.get(key):
            decision.set_string_custom_property(key, accepted[key])
    return decision


def findings_document(report: validation.Report, environment: str, schema_version: str, split: str) -> dict:
    """The findings.json document of one split."""
    return {
        "environment": environment,
        "schema_version": schema_version,
        "split": split,
        "num_examples": report.num_examples,
        "findings": [f.to_json() for f in report.findings],
        "distances": report.distances,
        "skipped_slices": report.skipped_slices,
        "notes": report.notes,
    }


def annotate(output: types.Artifact, reports: Dict[str, validation.Report], environment: str,
             schema_version: str, statistics: types.Artifact) -> None:
    """The MLMD custom properties of the anomalies: what was checked, against what, and found."""
    distances = [dict(m, split=split) for split, r in reports.items() for m in r.distances]
    features = {f.feature for r in reports.values() for f in r.findings}
    output.set_string_custom_property(names.ENVIRONMENT, environment)
    output.set_string_custom_property(names.SCHEMA_VERSION, schema_version)
    output.set_int_custom_property("anomaly_count", sum(len(r.findings) for r in reports.values()))
    output.set_string_custom_property("anomalous_features", ",".join(sorted(features)))
    output.set_string_custom_property(names.DISTANCES, json.dumps(distances, sort_keys=True))
    output.set_string_custom_property(names.STATISTICS_URI, statistics.uri)
    output.set_string_custom_property(names.STATISTICS_SPLITS, statistics.split_names)


def reading_of(examples: Optional[types.Artifact], split: str) -> Optional[reading.ReadingReport]:
    """What ExampleGen could not read as the schema's types in the input behind `split` (None:
    no report recorded)."""
    if examples is None or not examples.has_custom_property(reading.TYPED_READING):
        return None
    document = json.loads(examples.get_string_custom_property(reading.TYPED_READING))
    return reading.ReadingReport.from_json(document, split)


def accepted_statistics(decision: types.Artifact) -> types.Artifact:
    """The training statistics a gate decision accepted, as an ExampleStatistics artifact."""
    statistics = standard_artifacts.ExampleStatistics()
    statistics.uri = decision.get_string_custom_property(names.TRAINING_STATISTICS_URI)
    statistics.split_names = decision.get_string_custom_property(names.TRAINING_STATISTICS_SPLITS)
    return statistics


def baseline_statistics(artifact: Optional[types.Artifact]):
    """The baseline split's statistics of an ExampleStatistics artifact, or None."""
    if artifact is None:
        return None
    splits = artifact_utils.decode_split_names(artifact.split_names)
    return layout.read_statistics(artifact.uri, layout.baseline_split(splits))
