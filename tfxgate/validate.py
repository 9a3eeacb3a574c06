"""`tfxgate validate`: a CSV batch checked against the curated schema and policy, without Beam.

Statistics are computed in memory (TFDV's in-memory path), so a small batch costs little more
than importing TFDV. The same validation and policy code as the pipeline's DataValidator and
DataGate decides.
"""

import dataclasses
import os
from typing import List, Optional

from core import batch_stats, layout, names, policy as policy_lib, reading, schema_files
from core.errors import InputError
from tfxgate import files

EXIT_OK, EXIT_BLOCKING, EXIT_INPUT = 0, 1, 2


@dataclasses.dataclass
class Outcome:
    data: str
    rows: int
    environment: str
    schema_path: str
    schema_version: str
    baseline: dict
    verdicts: List[policy_lib.Verdict]
    distances: List[dict]
    left_out: dict = dataclasses.field(default_factory=dict)  # {"rows", "by_reason", "file"?}

    @property
    def result(self) -> str:
        return policy_lib.decision(self.verdicts)

    @property
    def exit_code(self) -> int:
        return EXIT_BLOCKING if self.result == policy_lib.BLOCK else EXIT_OK

    def to_json(self) -> dict:
        return {
            "data": self.data,
            "rows": self.rows,
            "environment": self.environment,
            "schema": self.schema_path,
            "schema_version": self.schema_version,
            "baseline": self.baseline,
            "result": self.result,
            "anomalies": [
                {
                    "feature": v.finding.feature,
                    "types": v.finding.types,
                    "severity": v.severity,
                    "description": v.finding.description,
                    "check": v.finding.check,
                    **{k: val for k, val in v.finding.to_json().items() if k in ("rule", "fraction", "value", "threshold")},
                    "policy": v.why,
                }
                for v in self.verdicts
            ],
            "distances": self.distances,
            "left_out": self.left_out,
        }

    def to_text(self) -> str:
        lines = [
            f"tfxgate validate: {self.data}: {self.rows} rows, environment {self.environment}, "
            f"schema {self.schema_version}",
            f"baseline: {self.baseline['description']}",
        ]
        if self.left_out.get("rows"):
            where = f"; written to {self.left_out['file']}" if self.left_out.get("file") else " (--rows FILE writes them)"
            lines.append(f"left out: {self.left_out['rows']} rows with a value their schema type cannot hold{where}")
        for v in self.verdicts:
            lines.append(f"{v.severity.upper():<6} {v.line().split(': ', 1)[1]}")
            lines.append(f"       {v.finding.description}")
        blocking = sum(v.severity == policy_lib.BLOCK for v in self.verdicts)
        lines.append(f"result: {self.result} ({blocking} blocking, {len(self.verdicts) - blocking} warnings)")
        return "\n".join(lines)


def load_baseline(baseline: str, metadata_path, pipeline: Optional[str] = None, kinds=None):
    """(statistics or None, a JSON description) for --baseline auto|none|PATH; `auto` takes the
    training statistics the gate accepted last (in `pipeline`'s runs, when given)."""
    if baseline == "none":
        return None, {"kind": "none", "description": "none (--baseline none): no skew or drift check"}
    if baseline == "auto":
        return _baseline_from_mlmd(metadata_path, pipeline)
    return _baseline_from_path(baseline, kinds), {"kind": "path", "path": baseline, "description": f"statistics of {baseline}"}


def _baseline_from_mlmd(metadata_path, pipeline: Optional[str] = None):
    from mlmd import query, store as store_lib

    settings = store_lib.as_settings(metadata_path)
    metadata_path = settings.describe()
    if not settings.exists():
        note = f"none: no MLMD store at {metadata_path} yet, so no skew or drift check"
        return None, {"kind": "none", "description": note}
    accepted = query.latest_accepted_training_statistics(settings.open(), pipeline)
    if accepted is None:
        note = f"none: the data gate in {metadata_path} has accepted no training span yet, so no skew or drift check"
        return None, {"kind": "none", "description": note}
    split = layout.baseline_split(layout.decode_splits(accepted["splits"]) or [names.BASELINE_SPLIT])
    statistics = _read_statistics_file(layout.statistics_path(accepted["uri"], split))
    description = (
        f"training statistics of span {accepted['span']} accepted by the data gate in run "
        f"{accepted['run']} ({metadata_path})"
    )
    return statistics, {"kind": "mlmd", "metadata": metadata_path, "run": accepted["run"], "span": accepted["span"],
                        "statistics_uri": accepted["uri"], "split": split, "description": description}


def _baseline_from_path(path: str, kinds=None):
    """A statistics file (.pb binary or .pbtxt), a StatisticsGen artifact folder, or CSV data."""
    artifact_file = layout.statistics_path(path, names.BASELINE_SPLIT)
    if os.path.isdir(path) and os.path.isfile(artifact_file):
        return _read_statistics_file(artifact_file)
    if os.path.isfile(path) and not path.endswith(".csv"):
        return _read_statistics_file(path)
    return batch_stats.statistics(path, kinds)[0]


def _read_statistics_file(path: str):
    """A DatasetFeatureStatisticsList from a binary or text proto file; parsed, never executed."""
    import warnings

    import tensorflow_data_validation as tfdv
    from google.protobuf import message, text_format
    from tensorflow_metadata.proto.v0 import statistics_pb2

    if not os.path.isfile(path):
        raise InputError(f"--baseline {path}: no such file")
    try:
        if path.endswith(".pbtxt"):
            statistics = tfdv.load_stats_text(path)
        else:
            with open(path, "rb") as f:
                data = f.read()
            statistics = statistics_pb2.DatasetFeatureStatisticsList()
            with warnings.catch_warnings(record=True) as complaints:  # protobuf warns on some garbage
                warnings.simplefilter("always")
                parsed = statistics.ParseFromString(data)
            if complaints or (parsed is not None and parsed != len(data)):
                raise message.DecodeError("trailing or malformed data")
    except (message.DecodeError, text_format.ParseError, UnicodeDecodeError):
        raise InputError(f"--baseline {path}: not a TFDV statistics file") from None
    if not statistics.datasets or not statistics.datasets[0].features:
        raise InputError(f"--baseline {path}: not a TFDV statistics file (no dataset with features in it)")
    return statistics


def run(
    data: str,
    environment: str,
    schema_path: str,
    policy_path: str,
    baseline: str,
    metadata_path,
    pipeline: Optional[str] = None,
    delimiter: str = ",",
    rows_path: Optional[str] = None,
) -> Outcome:
    """Validates the CSV data at `data`; raises a UserError for anything unreadable or wrong.

    rows_path: where to write the rows left out (a value their type cannot hold), as CSV with
    their file, line and reasons; written whole or not at all."""
    from core import validation

    schema = schema_files.load(schema_path)
    policy = policy_lib.load(policy_path)
    version = schema_files.version_of(schema_path)
    kinds = reading.schema_kinds(schema)
    if rows_path is None:
        batch = batch_stats.read(data, kinds, delimiter)
    else:
        with files.atomic_text(rows_path) as rows_out:
            batch = batch_stats.read(data, kinds, delimiter, rows_out)
    baseline_stats, baseline_info = load_baseline(baseline, metadata_path, pipeline, kinds)
    kwargs = {}
    if baseline_stats is not None:
        key = "training_statistics" if environment == names.SERVING else "previous_statistics"
        kwargs[key] = baseline_stats
    report = validation.validate(batch.statistics, schema, environment, reading=batch.report, **kwargs)
    verdicts = policy_lib.judge_all(environment.lower(), report.findings, policy)
    left_out = {"rows": batch.report.dropped,
                "by_reason": {f: {r: e["rows"] for r, e in reasons.items()} for f, reasons in batch.report.problems.items()}}
    if rows_path is not None:
        left_out["file"] = rows_path
    return Outcome(data, batch.rows, environment, schema_path, version, baseline_info, verdicts, report.distances,
                   left_out)
