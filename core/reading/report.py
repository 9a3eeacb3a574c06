"""Reading a batch typed by the curated schema: which kind each column is read as, what was not
representable, and the findings that follow. Shared by ExampleGen (the pipeline) and
`tfxgate validate`, so that both judge the same file the same way.

A `ReadingReport` counts, per feature and reason (core/reading/cells.py's REASONS), the rows whose cell
could not be read as the schema's type, with the first few examples (file, line, value). Such a
row is left out whole (`dropped`): not written to the Examples, not in the statistics, so one
bad cell is one finding, not also a fill-rate and a value-count anomaly, and nothing downstream
trains on a half-read row. The report is a plain JSON document: ExampleGen records it on its
Examples in MLMD, the validators turn it into findings, `tfxgate validate` prints the same.
"""

import dataclasses
from typing import Dict, Iterable, List, Optional

from core import rules as rules_lib
from core.common import names
from core.reading import cells
from core.reading.sources import detect
from core.common.findings import CONSTRAINT, SCHEMA, Finding

EXAMPLES_KEPT = 5  # per feature and reason
TYPED_READING = names.TYPED_READING  # the findings' rule, and the Examples' MLMD property
REASON_TYPES = {
    cells.NOT_INT: "INT_TYPE_NOT_INT_STRING",
    cells.NOT_FLOAT: "FLOAT_TYPE_STRING_NOT_FLOAT",
    cells.NAN: "FLOAT_TYPE_HAS_NAN",
    cells.INF: "FLOAT_TYPE_HAS_INF",
    cells.NESTED: "FEATURE_TYPE_HIGH_NUMBER_VALUES",
}
_REASON_TEXT = {
    cells.NOT_INT: "a value that is not a whole number within 64 bits, where the schema's type is INT",
    cells.NOT_FLOAT: "text that is not a number, where the schema's type is FLOAT",
    cells.NAN: "NaN (not a number)",
    cells.INF: "an infinite value",
    cells.NESTED: "a list or an object where the schema wants one value",
}


def schema_kinds(schema) -> Dict[str, str]:
    """{feature: the kind its cells are read as}, from the curated schema's types."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    kinds = {schema_pb2.INT: cells.INT, schema_pb2.FLOAT: cells.FLOAT, schema_pb2.BYTES: cells.BYTES}
    return {f.name: kinds[f.type] for f in schema.feature if f.type in kinds}


OUTSIDE_VALUES_KEPT = 20  # per feature: distinct values outside its domain given examples (all are counted)
VALUE_CHARS = 200  # a value outside its domain is named by its first characters and its length beyond this


def brief(value: str) -> str:
    """A value as a report names it: whole, or its first VALUE_CHARS characters and its length
    (a 1 MB cell is named, not copied into MLMD and every report)."""
    return value if len(value) <= VALUE_CHARS else f"{value[:VALUE_CHARS]}… ({len(value):,} characters)"


@dataclasses.dataclass(frozen=True)
class Domain:
    """What the curated schema allows a feature's values to be: `values` for a string domain, or
    a range (`low`, `high`, either open) for a number."""

    values: Optional[frozenset] = None
    low: Optional[float] = None
    high: Optional[float] = None

    def outside(self, dense, column: Optional[cells.Column] = None):
        """Per row of a dense column (core.statistics.profile.dense), whether its value lies outside.

        column: the column `dense` was made from (BYTES): its text is compared as Arrow holds it,
        rather than converted back from `dense`'s Python strings. Whole-column operations: a set
        lookup (`pyarrow.compute.is_in`) of every present value, comparisons for a range."""
        import numpy as np

        if self.values is not None:
            return self._outside_values(np.asarray(dense), column)
        values = np.asarray(dense, dtype=np.float64)
        result = np.zeros(len(values), dtype=bool)
        with np.errstate(invalid="ignore"):
            if self.low is not None:
                result |= values < self.low
            if self.high is not None:
                result |= values > self.high
        return result

    def _outside_values(self, dense, column: Optional[cells.Column]):
        """Outside a string domain: a value present (not None) and not one of `values` (a number,
        NaN included, never is: a numeric column under a string domain is outside throughout)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        if dense.dtype.kind in "biufc":
            return np.ones(len(dense), dtype=bool)
        dense = dense.astype(object, copy=False)
        present = np.not_equal(dense, None)
        result = np.zeros(len(dense), dtype=bool)
        text = _text(column) if column is not None and present.any() else None
        if text is None or len(text) != int(present.sum()):
            text = pa.array(dense[present], pa.string())
        values = pa.array(sorted(self.values), pa.string())  # the schema's values: valid UTF-8 (protobuf's check)
        result[present] = ~pc.is_in(text, value_set=values).to_numpy(zero_copy_only=False)
        return result


def _text(column: cells.Column):
    """A BYTES column's present values as Arrow text; None where they are not valid UTF-8."""
    import pyarrow as pa

    try:
        return column.values.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def schema_domains(schema) -> Dict[str, Domain]:
    """{feature: Domain} of the curated schema's features that have one: a string domain (inline
    or named), an int or a float range."""
    named = {d.name: frozenset(d.value) for d in schema.string_domain}
    result = {}
    for f in schema.feature:
        which = f.WhichOneof("domain_info")
        if which == "string_domain":
            result[f.name] = Domain(values=frozenset(f.string_domain.value))
        elif which == "domain" and f.domain in named:
            result[f.name] = Domain(values=named[f.domain])
        elif which in ("int_domain", "float_domain"):
            d = getattr(f, which)
            low = d.min if d.HasField("min") else None
            high = d.max if d.HasField("max") else None
            if low is not None or high is not None:
                result[f.name] = Domain(low=low, high=high)
    return result


@dataclasses.dataclass
class ReadingReport:
    """What reading a batch found: rows read, and per feature and reason the rows not read."""

    rows: int = 0  # rows read, those left out included
    problems: Dict[str, Dict[str, dict]] = dataclasses.field(default_factory=dict)
    dropped: int = 0  # rows left out: at least one cell not representable, or a rule across columns broken
    # problems[feature][reason] = {"rows": n, "examples": [{"file", "line", "value"}, ...]}
    constraints: Dict[str, dict] = dataclasses.field(default_factory=dict)
    # constraints[rule] = {"rows": broken, "evaluated": n, "feature", "text", "examples": [...]}
    outside: Dict[str, dict] = dataclasses.field(default_factory=dict)
    # outside[feature] = {"rows": n, "values": {value: {"rows": n, "examples": [{"file", "line"}]}}}:
    # rows kept whose value lies outside the schema's domain (TFDV's domain check counts them; these
    # say where they are)

    def add_outside(self, feature: str, indices, show, where) -> None:
        """Counts the rows at `indices` whose value lies outside `feature`'s domain; `show(i)`: the
        value as text; `where(i)`: (file, line)."""
        entry = self.outside.setdefault(feature, {"rows": 0, "values": {}})
        entry["rows"] += len(indices)
        for i in indices:
            value = brief(show(int(i)))
            if value not in entry["values"] and len(entry["values"]) >= OUTSIDE_VALUES_KEPT:
                continue
            kept = entry["values"].setdefault(value, {"rows": 0, "examples": []})
            kept["rows"] += 1
            if len(kept["examples"]) < EXAMPLES_KEPT:
                file, line = where(int(i))
                kept["examples"].append({"file": file, "line": line})

    def add_constraint(self, rule, evaluated: int, violating, where, show) -> None:
        """Counts the rows that break `rule` (a core.rules.Rule); `violating`: their
        indices; `where(i)`: (file, line); `show(i)`: the row's values the rule reads, as text."""
        entry = self.constraints.setdefault(rule.name, {"rows": 0, "evaluated": 0, "feature": _first_column(rule),
                                                        "text": rule.text(), "rule": rule.to_json(), "examples": []})
        entry["rows"] += len(violating)
        entry["evaluated"] += int(evaluated)
        for i in violating[:max(EXAMPLES_KEPT - len(entry["examples"]), 0)]:
            file, line = where(int(i))
            entry["examples"].append({"file": file, "line": line, "value": show(int(i))})

    def add_column(self, feature: str, column: cells.Column, values: List[str], where) -> None:
        """Counts the bad cells of a column read by `cells.read_column`; `where(i)` gives the
        (file, line) of row i for the examples kept; `values[i]` its text."""
        import numpy as np

        for i in np.flatnonzero(column.bad):
            reason = column.reason[i]
            entry = self.problems.setdefault(feature, {}).setdefault(reason, {"rows": 0, "examples": []})
            entry["rows"] += 1
            if len(entry["examples"]) < EXAMPLES_KEPT:
                file, line = where(int(i))
                value = NESTED_TEXT if reason == cells.NESTED else values[int(i)]
                entry["examples"].append({"file": file, "line": line, "value": value})

    def merge(self, other: "ReadingReport") -> "ReadingReport":
        merged = ReadingReport(self.rows + other.rows, {}, self.dropped + other.dropped)
        for report in (self, other):
            for rule, entry in report.constraints.items():
                target = merged.constraints.setdefault(rule, dict(entry, rows=0, evaluated=0, examples=[]))
                target["rows"] += entry["rows"]
                target["evaluated"] += entry["evaluated"]
                target["examples"] = sorted(target["examples"] + entry["examples"],
                                            key=lambda e: (e["file"], e["line"] or 0))[:EXAMPLES_KEPT]
            for feature, reasons in report.problems.items():
                for reason, entry in reasons.items():
                    target = merged.problems.setdefault(feature, {}).setdefault(reason, {"rows": 0, "examples": []})
                    target["rows"] += entry["rows"]
                    target["examples"] = sorted(target["examples"] + entry["examples"],
                                                key=lambda e: (e["file"], e["line"] or 0))[:EXAMPLES_KEPT]
            for feature, entry in report.outside.items():
                target = merged.outside.setdefault(feature, {"rows": 0, "values": {}})
                target["rows"] += entry["rows"]
                for value, seen in entry["values"].items():
                    if value not in target["values"] and len(target["values"]) >= OUTSIDE_VALUES_KEPT:
                        continue
                    kept = target["values"].setdefault(value, {"rows": 0, "examples": []})
                    kept["rows"] += seen["rows"]
                    kept["examples"] = sorted(kept["examples"] + seen["examples"],
                                              key=lambda e: (e["file"], e["line"] or 0))[:EXAMPLES_KEPT]
        return merged

    def to_json(self) -> dict:
        data = {"rows": self.rows, "problems": self.problems, "dropped": self.dropped}
        if self.constraints:
            data["constraints"] = self.constraints
        if self.outside:
            data["outside"] = self.outside
        return data

    def examples(self) -> List[dict]:
        """Every example kept (cells and rules alike), to be given its line."""
        return [e for reasons in self.problems.values() for entry in reasons.values() for e in entry["examples"]] + \
            [e for entry in self.constraints.values() for e in entry["examples"]] + \
            [e for entry in self.outside.values() for seen in entry["values"].values() for e in seen["examples"]]

    @classmethod
    def from_json(cls, data: Optional[dict], split: Optional[str] = None) -> "ReadingReport":
        """The report in a JSON document; with `split`, that input split's own report where the
        document has one per split (ExampleGen with several input splits), else the whole."""
        data = data or {}
        if split is not None and split in data.get("splits", {}):
            data = data["splits"][split]
        return cls(int(data.get("rows", 0)), data.get("problems", {}), int(data.get("dropped", 0)),
                   data.get("constraints", {}), data.get("outside", {}))


QUARANTINE_HEADER = ["file", "line", "reasons"]  # then the data's own columns
NESTED_TEXT = "(a list or an object)"  # a nested cell (cells.NESTED_CELL) as the quarantine shows it


def quarantine_row(file: str, line, reasons: Dict[str, str], fields: List[str]) -> List[str]:
    """A left-out row as written to a rows file (`tfxgate validate --rows`) and to ExampleGen's
    quarantine: where it was, why (`feature: reason; ...`), then its fields as read."""
    why = "; ".join(f"{feature}: {reason}" for feature, reason in sorted(reasons.items()))
    shown = [NESTED_TEXT if field == cells.NESTED_CELL else field for field in fields]  # no NUL in a CSV field
    return [file, "" if line is None else str(line), why, *shown]


def bad_row_reasons(columns: Dict[str, "cells.Column"]) -> Dict[int, Dict[str, str]]:
    """{row: {feature: reason}} of the rows with a cell not representable, over read columns."""
    import numpy as np

    result: Dict[int, Dict[str, str]] = {}
    for feature, column in columns.items():
        for i in np.flatnonzero(column.bad):
            result.setdefault(int(i), {})[feature] = column.reason[i]
    return result


def _first_column(rule) -> str:
    """The feature a rule's finding names when its cause cannot be judged."""
    return rules_lib.first_column(rule)


HELD_SHARE = 0.001  # a rule broken in at most this share of the rows it applies to held (it vouches for its columns)


def rules_of(report: ReadingReport) -> list:
    """The rules across columns the report counted (core.rules.Rule), as they were applied."""
    return [rules_lib.Rule.from_json(entry["rule"]) for entry in report.constraints.values() if entry.get("rule")]


def held_rules(report: ReadingReport) -> List[str]:
    """The rules that held: broken in at most HELD_SHARE of the rows they applied to (some rows)."""
    return [name for name, entry in report.constraints.items()
            if entry["evaluated"] and entry["rows"] <= HELD_SHARE * entry["evaluated"]]


def merge_all(reports: Iterable[ReadingReport]) -> ReadingReport:
    result = ReadingReport()
    for report in reports:
        result = result.merge(report)
    return result


def _where(example: dict) -> str:
    file = example["file"].rsplit("/", 1)[-1]
    unit = detect.unit_by_name(file)
    return f"{example['value']!r} ({file} {unit} {example['line']})" if example.get("line") else repr(example["value"])


def findings(report: ReadingReport, features: Optional[Iterable[str]] = None) -> List[Finding]:
    """One finding per feature and reason: the schema's type could not be read in some rows.

    features: only these (the schema's features in the environment); None for all."""
    wanted = set(features) if features is not None else None
    result = []
    for feature in sorted(report.problems):
        if wanted is not None and feature not in wanted:
            continue
        for reason in sorted(report.problems[feature]):
            entry = report.problems[feature][reason]
            share = entry["rows"] / report.rows if report.rows else 0.0
            examples = ", ".join(_where(e) for e in entry["examples"])
            result.append(Finding(
                feature=feature,
                types=[REASON_TYPES[reason]],
                check=SCHEMA,
                rule=TYPED_READING,
                fraction=share,
                description=(f"{entry['rows']} of {report.rows} rows hold {_REASON_TEXT[reason]}: those rows "
                             f"were left out. For example {examples}."),
            ))
    return result



def constraint_findings(report: ReadingReport, causes: Optional[Dict[str, object]] = None) -> List[Finding]:
    """One finding per rule across columns (core/rules/) that some rows broke; those
    rows were left out, as rows with an unreadable cell are.

    causes: {rule: core.checks.rule_cause.Cause}: the finding names its cause (the column that changed)
      and says how each column compares with its baseline; a rule without one names its first
      column (no baseline to judge against)."""
    result = []
    for rule in sorted(report.constraints):
        entry = report.constraints[rule]
        if not entry["rows"]:
            continue
        examples = ", ".join(_where(e) for e in entry["examples"])
        share = entry["rows"] / report.rows if report.rows else 0.0
        cause = (causes or {}).get(rule)
        feature, said, columns = entry["feature"], "", None
        if cause is not None:
            feature, said = cause.feature, " " + cause.text()
            columns = [c.to_json() for c in cause.columns] or None
        result.append(Finding(
            feature=feature, types=["CONSTRAINT_VIOLATED"], check=CONSTRAINT, rule=rule, fraction=share,
            description=(f"{entry['rows']} of {entry['evaluated']} rows it applies to break the rule {rule} "
                         f"({entry['text']}): those rows were left out. For example {examples}.{said}"),
            columns=columns))
    return result
