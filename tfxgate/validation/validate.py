"""`tfxgate validate`: a CSV batch checked against the curated schema and policy, without Beam.

Statistics are computed in memory (TFDV's in-memory path), so a small batch costs little more
than importing TFDV. The same validation and policy code as the pipeline's DataValidator and
DataGate decides.
"""

import dataclasses
import os
from typing import List, Optional

from core.batch import batch_stats
from core.settings import check_settings
from core import rules as rules_lib
from core.settings import layout
from core.common import names
from core.judging import policy as policy_lib
from core.reading import report as reading
from core.settings import schema_files
from core.common.errors import InputError
from core.reading import source as source_lib
from core.reading.sources import missing as markers
from tfxgate.common import files

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
    skipped_slices: List[dict] = dataclasses.field(default_factory=list)
    notes: List[str] = dataclasses.field(default_factory=list)
    policy_digest: Optional[str] = None
    outside: dict = dataclasses.field(default_factory=dict)  # core.reading.report.ReadingReport.outside: where

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
                    **{k: val for k, val in v.finding.to_json().items()
                       if k in ("rule", "fraction", "value", "threshold", "noise", "slice", "columns")},
                    "policy": v.why,
                }
                for v in self.verdicts
            ],
            "distances": self.distances,
            "left_out": self.left_out,
            "skipped_slices": self.skipped_slices,
            "notes": self.notes,
            "outside_domain": self.outside,
        }

    def to_text(self) -> str:
        from tfxgate.reports import verdict

        what = "training" if self.environment == "TRAINING" else "serving batch"
        headline = verdict.headline(self.verdicts, [f"{what} {self.data}, {self.rows:,} rows"], self.schema_version,
                                    self.policy_digest)
        lines = verdict.text_lines(headline) + [
            f"tfxgate validate: {self.data}: {self.rows} rows, environment {self.environment}, "
            f"schema {self.schema_version}",
            f"baseline: {self.baseline['description']}",
        ]
        if self.left_out.get("rows"):
            where = f"; written to {self.left_out['file']}" if self.left_out.get("file") else " (--rows FILE writes them)"
            lines.append(f"left out: {self.left_out['rows']} rows with a value their schema type cannot hold, "
                         f"or breaking a rule across columns{where}")
        for feature, entry in sorted(self.outside.items()):
            shown = "; ".join(f"{value!r} in {seen['rows']:,} rows (at {', '.join(_at(e) for e in seen['examples'])})"
                              for value, seen in sorted(entry["values"].items(), key=lambda item: -item[1]["rows"])[:5])
            lines.append(f"outside the schema's domain: {feature}: {entry['rows']:,} rows: {shown}")
        for note in self.notes:
            lines.append(f"note: {note}")
        if self.skipped_slices:
            shown = ", ".join(f"{s['slice']} ({s['rows']} rows)" for s in self.skipped_slices[:5])
            more = f" and {len(self.skipped_slices) - 5} more" if len(self.skipped_slices) > 5 else ""
            lines.append(f"slices not judged (too few rows, or beyond the largest): {shown}{more}")
        for v in self.verdicts:
            lines.append(f"{v.severity.upper():<6} {v.line().split(': ', 1)[1]}")
            lines.append(f"       {v.finding.description}")
        blocking = sum(v.severity == policy_lib.BLOCK for v in self.verdicts)
        lines.append(f"result: {self.result} ({blocking} blocking, {len(self.verdicts) - blocking} warnings)")
        return "\n".join(lines)


def _at(example: dict) -> str:
    """'batch.csv:52': a row's file (its name) and line."""
    return f"{os.path.basename(str(example.get('file') or ''))}:{example.get('line')}"


def load_baseline(baseline: str, metadata_path, pipeline: Optional[str] = None, kinds=None, delimiter: str = ",",
                  slice_keys=()):
    """(statistics or None, its profile or None, a JSON description) for --baseline
    auto|none|PATH; `auto` takes the training span the gate accepted last (in `pipeline`'s runs,
    when given). A statistics file has no profile (core/statistics/profile.py); CSV data and `auto` do."""
    if baseline == "none":
        return None, None, {"kind": "none", "description": "none (--baseline none): no skew or drift check"}
    if baseline == "auto":
        return _baseline_from_mlmd(metadata_path, pipeline)
    statistics, profile = _baseline_from_path(baseline, kinds, delimiter, slice_keys)
    return statistics, profile, {"kind": "path", "path": baseline, "description": f"statistics of {baseline}"}


def _baseline_from_mlmd(metadata_path, pipeline: Optional[str] = None):
    from mlmd import query, store as store_lib

    settings = store_lib.as_settings(metadata_path)
    metadata_path = settings.describe()
    if not settings.exists():
        note = f"none: no MLMD store at {metadata_path} yet, so no skew or drift check"
        return None, None, {"kind": "none", "description": note}
    accepted = query.latest_accepted_training_statistics(settings.open(), pipeline)
    if accepted is None:
        note = f"none: the data gate in {metadata_path} has accepted no training span yet, so no skew or drift check"
        return None, None, {"kind": "none", "description": note}
    split = layout.baseline_split(layout.decode_splits(accepted["splits"]) or [names.BASELINE_SPLIT])
    statistics = _read_statistics_file(layout.statistics_path(accepted["uri"], split))
    description = (
        f"training statistics of span {accepted['span']} accepted by the data gate in run "
        f"{accepted['run']} ({metadata_path})"
    )
    profile = layout.read_profile(accepted.get("examples_uri"))
    return statistics, profile, {"kind": "mlmd", "metadata": metadata_path, "run": accepted["run"], "span": accepted["span"],
                        "statistics_uri": accepted["uri"], "split": split, "description": description}


_STATISTICS_SUFFIXES = (".pb", ".pbtxt", ".textproto")  # any other file is data, in any format read


def _baseline_from_path(path: str, kinds=None, delimiter: str = ",", slice_keys=()):
    """(statistics, profile or None) of a statistics file (.pb binary or .pbtxt), a
    StatisticsGen artifact folder, or data in any format read (which alone has a profile)."""
    artifact_file = layout.statistics_path(path, names.BASELINE_SPLIT)
    if os.path.isdir(path) and os.path.isfile(artifact_file):
        return _read_statistics_file(artifact_file), None
    if os.path.isfile(path) and path.endswith(_STATISTICS_SUFFIXES):
        return _read_statistics_file(path), None
    batch = batch_stats.read(path, kinds, delimiter, slice_keys=slice_keys)
    return batch.statistics, batch.profile


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


@dataclasses.dataclass
class Checks:
    """What a batch is checked against, loaded once: a one-off command loads it per call, the
    service (tfxgate/online/serve.py) once per schema and policy."""

    schema_path: str
    schema: object  # schema_pb2.Schema
    policy: policy_lib.Policy
    policy_path: str
    policy_digest: str
    version: str
    kinds: dict  # {feature: kind} (core.reading.report.schema_kinds)
    rules: list  # constraints.yaml beside the schema
    settings: check_settings.CheckSettings  # checks.yaml beside the schema
    domains: dict = dataclasses.field(default_factory=dict)  # {feature: core.reading.report.Domain}: where values lie outside


def load_checks(schema_path: str, policy_path: str) -> Checks:
    """The schema, the policy and the files beside the schema; a UserError for anything unreadable."""
    schema = schema_files.load(schema_path)
    policy = policy_lib.load(policy_path)
    version = schema_files.version_of(schema_path)
    kinds = reading.schema_kinds(schema)
    rules = rules_lib.load(check_settings.path_beside(schema_path, names.CONSTRAINTS_FILE), list(kinds))
    settings = check_settings.load(schema_path, list(kinds))
    with open(policy_path) as f:  # read once already by policy_lib.load: a one-line error there
        digest = policy_lib.digest(f.read())
    return Checks(schema_path, schema, policy, policy_path, digest, version, kinds, rules, settings,
                  reading.schema_domains(schema))


def read_batch(checks: Checks, data: str, delimiter: str = ",", rows_path: Optional[str] = None,
               missing=(), input_format: Optional[str] = None) -> batch_stats.Batch:
    """The CSV data at `data` read, typed and profiled as the pipeline's ExampleGen would; `missing`:
    cell texts read as missing. An InputError where a file writes missing values as a marker not
    declared (core/reading/sources/missing.py), instead of a finding on every column it is in."""
    read = dict(rules=checks.rules, slice_keys=checks.settings.slices, domains=checks.domains, missing=missing,
                input_format=input_format)
    if rows_path is None:
        return _declared(checks, data, delimiter, (missing, input_format), batch_stats.read(data, checks.kinds, delimiter, **read))
    with files.atomic_text(rows_path) as rows_out:  # not written when refused
        return _declared(checks, data, delimiter, (missing, input_format),
                         batch_stats.read(data, checks.kinds, delimiter, rows_out, **read))


def _declared(checks: Checks, data: str, delimiter: str, reading, batch: batch_stats.Batch) -> batch_stats.Batch:
    """`batch`, once no file of it writes an undeclared marker (looked for only where the report
    finds text in two numeric columns or more)."""
    if markers.suspected(batch.report.problems, checks.kinds):
        missing, input_format = reading
        with source_lib.open_batch(data, delimiter, missing=missing, format=input_format) as source:
            markers.refuse_undeclared(source, checks.kinds)
    return batch


def judge(checks: Checks, data: str, batch: batch_stats.Batch, environment: str, baseline,
          rows_path: Optional[str] = None) -> Outcome:
    """The batch validated and judged; `baseline` is what `load_baseline` returns."""
    from core.checks import validation

    baseline_stats, baseline_profile, baseline_info = baseline
    kwargs = {}
    if baseline_stats is not None:
        key = "training_statistics" if environment == names.SERVING else "previous_statistics"
        kwargs[key] = baseline_stats
        kwargs["baseline_profiles"] = {validation.SKEW if environment == names.SERVING else validation.DRIFT:
                                       baseline_profile}
    report = validation.validate(batch.statistics, checks.schema, environment, reading=batch.report,
                                 profile=batch.profile, settings=checks.settings, **kwargs)
    verdicts = policy_lib.judge_all(environment.lower(), report.findings, checks.policy)
    left_out = {"rows": batch.report.dropped,
                "by_reason": {f: {r: e["rows"] for r, e in reasons.items()} for f, reasons in batch.report.problems.items()}}
    if rows_path is not None:
        left_out["file"] = rows_path
    if batch.report.constraints:
        left_out["by_rule"] = {rule: entry["rows"] for rule, entry in batch.report.constraints.items() if entry["rows"]}
    return Outcome(data, batch.rows, environment, checks.schema_path, checks.version, baseline_info, verdicts,
                   report.distances, left_out, report.skipped_slices, report.notes, checks.policy_digest,
                   batch.report.outside)


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
    missing=(),
    input_format: Optional[str] = None,
) -> Outcome:
    """Validates the CSV data at `data`; raises a UserError for anything unreadable or wrong.

    rows_path: where to write the rows left out (a value their type cannot hold), as CSV with
    their file, line and reasons; written whole or not at all.
    missing: cell texts read as missing in every column (`missing:` in tfxgate-input.yaml, --missing).
    input_format: csv, jsonl, parquet or tfrecord, over what each file's content says (--format-in)."""
    checks = load_checks(schema_path, policy_path)
    batch = read_batch(checks, data, delimiter, rows_path, missing, input_format)
    loaded = load_baseline(baseline, metadata_path, pipeline, checks.kinds, delimiter, checks.settings.slices)
    return judge(checks, data, batch, environment, loaded, rows_path)
