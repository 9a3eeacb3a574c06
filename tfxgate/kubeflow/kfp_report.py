"""The anomaly report as a task of a Kubeflow run, shown in the run's UI.

KFP 2's UI renders an output artifact of type `system.HTML` (the HTML object at its uri) or
`system.Markdown` on the run's page (frontend `MetricsVisualizations.tsx`). This task writes two:
`report`, the same page `tfxgate report` writes for a local run (tfxgate/reports/report.py: decision,
schema, quarantine, anomalies with the policy's verdicts, distances, training against serving),
and `decision`, the gate's decision and its reasons in a few Markdown lines.

It judges the validators' findings with the policy itself (`core.judging.policy`, the gate's function),
rather than reading the gate's output: the gate fails its task when it blocks, and a report
below a failed task would never start. So the report of a blocked run is there too, next to the
failed gate. It reads only what the backend hands it (the ExecutorInput: each input's uri and
its MLMD metadata), never the backend's MLMD store; there is no history across runs in it.

    python -m tfxgate.kubeflow.kfp_report --executor_input '{{$}}'

Exit status: 0 when both outputs are written (whatever the decision); 2 with one line when the
ExecutorInput or the storage settings are unusable; 1 for a bug.
"""

import argparse
import json
import os
import sys
import tempfile
from typing import List, Optional

from core.settings import layout
from core.common import names
from core.judging import policy as policy_lib
from core.common import storage
from core.common.errors import UserError
from mlmd import runs

POLICY_PARAMETER = "policy"
REPORT_OUTPUT, DECISION_OUTPUT = "report", "decision"
# input key -> (the node whose output it is, what it is)
INPUTS = {
    "training_anomalies": names.TRAIN_VALIDATOR,
    "serving_anomalies": names.SERVING_VALIDATOR,
    "examples": names.EXAMPLE_GEN,
    "curated_schema": names.CURATED_SCHEMA,
    "inferred_schema": names.INFERRED_SCHEMA,
}


class _Artifact:
    """An input as the driver hands it: `name` the MLMD id, the uri, MLMD's values as metadata
    (numbers as doubles; a TFX custom property that clashes with a property as 'custom:<key>')."""

    def __init__(self, runtime_artifact: dict):
        self.id = int(runtime_artifact["name"]) if str(runtime_artifact.get("name", "")).isdigit() else 0
        self.uri = runtime_artifact["uri"]
        self.metadata = runtime_artifact.get("metadata") or {}

    def get(self, key: str, default=None):
        for k in (f"custom:{key}", key):
            if k in self.metadata:
                value = self.metadata[k]
                return int(value) if isinstance(value, float) and value.is_integer() else value
        return default


def _single(executor_input: dict, key: str) -> Optional[_Artifact]:
    found = executor_input.get("inputs", {}).get("artifacts", {}).get(key, {}).get("artifacts") or []
    return _Artifact(found[0]) if found else None


def _local_copy(uri: str, folder: str, name: str) -> str:
    """A local copy of a schema artifact's file (the report's schema readers take paths)."""
    from tfx.dsl.io import fileio

    path = os.path.join(folder, name)
    fileio.copy(layout.schema_path(uri), path, overwrite=True)
    return path


def run_from_inputs(executor_input: dict, policy: policy_lib.Policy, folder: str, run_id: str = "") -> runs.Run:
    """The run as tfxgate/reports/report.py renders it, from what the task was handed."""
    validations: List[runs.Validation] = []
    for key in ("training_anomalies", "serving_anomalies"):
        artifact = _single(executor_input, key)
        if artifact is None:
            continue
        splits = layout.read_findings(artifact.uri, layout.decode_splits(artifact.get("split_names", "[]")),
                                      missing_ok=True)
        validations.append(runs.Validation(
            node=INPUTS[key], environment=artifact.get(names.ENVIRONMENT), schema_version=artifact.get(names.SCHEMA_VERSION),
            span=artifact.get(names.SPAN), artifact_id=artifact.id, uri=artifact.uri,
            statistics_uri=artifact.get(names.STATISTICS_URI), drift_baseline_span=artifact.get(names.DRIFT_BASELINE_SPAN),
            splits=splits, verdicts=policy_lib.judge_documents(splits, policy),
            drift_baseline_uri=artifact.get(names.DRIFT_BASELINE_URI)))
    if not validations:
        raise UserError("the task was handed no validator output (training_anomalies, serving_anomalies)")
    verdicts = [v for validation in validations for v in validation.verdicts]
    examples = []
    artifact = _single(executor_input, "examples")
    if artifact is not None:
        examples.append({"artifact_id": artifact.id, "uri": artifact.uri, "span": artifact.get(names.SPAN),
                         "version": artifact.get(names.VERSION), "fingerprint": artifact.get(names.FINGERPRINT),
                         "quarantined_rows": artifact.get(names.QUARANTINED_ROWS) or 0,
                         "typed_reading": json.loads(artifact.get(names.TYPED_READING) or "{}")})
    curated, inferred = _single(executor_input, "curated_schema"), _single(executor_input, "inferred_schema")
    return runs.Run(
        run_id=run_id, context_id=0, pipeline="", created_ms=0,
        states={}, examples=examples,
        schema_version=validations[0].schema_version,
        schema_file=_local_copy(curated.uri, folder, "curated.pbtxt") if curated else None,
        inferred_schema_uri=_local_copy(inferred.uri, folder, "inferred.pbtxt") if inferred else None,
        validations=validations,
        gate={"decision": policy_lib.decision(verdicts), "summary": policy_lib.summary(policy_lib.unique(verdicts))},
        pushed_model=None,
    )


def markdown(run: runs.Run) -> str:
    """The verdict first (tfxgate/reports/verdict.py, as the report's top), for the run's UI."""
    from tfxgate.reports import verdict

    headline = verdict.of_run(run)
    lines = [f"# Data gate: **{headline.decision}**", "", f"{headline.counts}. Judged: {'; '.join(headline.judged)}. "
             f"Against: {headline.against}. {sum(e['quarantined_rows'] for e in run.examples):,} rows quarantined "
             "by ExampleGen.", ""]
    if headline.reasons:
        lines += ["| severity | dataset | finding | next step |", "|---|---|---|---|"]
        for v, step in headline.reasons:
            cells = [v.severity, v.dataset.split("[")[0], v.line().split(": ", 1)[-1], step]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    else:
        lines.append("Nothing to do: no finding blocks or warns.")
    return "\n".join(lines) + "\n"


def _write(uri: str, text: str) -> None:
    """The object at `uri` itself (the UI reads the artifact's uri as the file)."""
    from tfx.dsl.io import fileio

    parent = os.path.dirname(uri)
    if parent:
        fileio.makedirs(parent)
    with fileio.open(uri, "w") as f:
        f.write(text)


def write_outputs(executor_input: dict) -> str:
    """Renders and writes both outputs; returns the decision."""
    from tfxgate.reports import report

    parameters = executor_input.get("inputs", {}).get("parameterValues", {})
    if POLICY_PARAMETER not in parameters:
        raise UserError(f"the task was handed no {POLICY_PARAMETER!r} parameter")
    policy = policy_lib.parse(parameters[POLICY_PARAMETER], "the report's policy")
    outputs = executor_input.get("outputs", {}).get("artifacts", {})
    missing = [k for k in (REPORT_OUTPUT, DECISION_OUTPUT) if not outputs.get(k, {}).get("artifacts")]
    if missing:
        raise UserError(f"the task was handed no {' or '.join(missing)} output")
    with tempfile.TemporaryDirectory() as folder:
        run = run_from_inputs(executor_input, policy, folder, run_id=_run_id(outputs[REPORT_OUTPUT]["artifacts"][0]["uri"]))
        run.policy_digest = policy_lib.digest(parameters[POLICY_PARAMETER])
        page = report.render_html(run)
    _write(outputs[REPORT_OUTPUT]["artifacts"][0]["uri"], page)
    _write(outputs[DECISION_OUTPUT]["artifacts"][0]["uri"], markdown(run))
    return run.gate["decision"]


def _run_id(uri: str) -> str:
    """The run id in an output uri `<root>/<pipeline>/<run id>/<task>/<uuid>/<key>` ('' if none)."""
    parts = uri.rstrip("/").split("/")
    return parts[-4] if len(parts) >= 6 else ""


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Write the anomaly report of a Kubeflow run as UI outputs.")
    parser.add_argument("--executor_input", required=True, help="the ExecutorInput JSON ({{$}})")
    args = parser.parse_args(argv)
    try:
        executor_input = json.loads(args.executor_input)
        storage.prepare(storage_uris(executor_input))
        decision = write_outputs(executor_input)
    except json.JSONDecodeError as e:
        print(f"error: tfxgate report task: --executor_input is not JSON ({e.msg} at character {e.pos})", file=sys.stderr)
        return 2
    except UserError as e:
        print(f"error: tfxgate report task: {e}", file=sys.stderr)
        return 2
    print(f"tfxgate report task: wrote the report and the decision ({decision})", file=sys.stderr)
    return 0


def storage_uris(executor_input: dict) -> List[str]:
    """The uris of every input and output artifact (what object storage must be ready for)."""
    uris = []
    for side in ("inputs", "outputs"):
        for artifact_list in executor_input.get(side, {}).get("artifacts", {}).values():
            uris += [a.get("uri") for a in artifact_list.get("artifacts", [])]
    return uris


if __name__ == "__main__":
    storage.run_and_exit(main)
