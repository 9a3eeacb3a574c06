"""Row-level checks of a few instances, as an online service sees them one request at a time.

An instance is one row as a mapping {feature: value} (TF Serving's REST `instances`, or a CSV
record). Its cells are read as the curated schema's types by core/reading/cells.py and its rules across
columns judged by core/checks/rows.py: the same functions, so an instance is refused exactly when the
pipeline's ExampleGen would leave its row out. Beyond what one row can say on its own, the
schema's domains and required cells (presence 1.0 in the environment) are checked per row.
Whole-batch checks (distributions, skew, fill rates) need many rows: the service's windows.

What an instance gets:
- `refuse`: a cell its type cannot hold, a broken rule across columns, a required cell missing,
  several values where the schema allows one: the row would be left out or blocks a batch.
- `flag`: a value outside the schema's domain, a feature the schema does not know: the batch
  path reports these as findings whose weight depends on their share of rows.
"""

import dataclasses
import math
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np
import pyarrow as pa

from core.reading import cells
from core import rules as rules_lib
from core.reading import report as reading_lib
from core.common.errors import InputError
from core.settings.schema_files import features_in

REFUSE, FLAG = "refuse", "flag"
TYPE, RULE, REQUIRED, VALUE_COUNT, DOMAIN, UNKNOWN = "type", "rule", "required", "value_count", "domain", "unknown_feature"


@dataclasses.dataclass(frozen=True)
class Problem:
    feature: str  # or "rule <name>"
    check: str  # TYPE, RULE, REQUIRED, VALUE_COUNT, DOMAIN, UNKNOWN
    severity: str  # REFUSE or FLAG
    reason: str

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def cell_text(value, where: str) -> str:
    """A JSON value as the text of a CSV cell: null and [] are empty, a one-element list is its
    element (TF Serving's form), numbers as Python writes them. Raises InputError for an object
    or a nested list (no cell holds one); several values are kept apart by `cell_values`."""
    if isinstance(value, list):
        if len(value) == 0:
            return ""
        if len(value) == 1:
            return cell_text(value[0], where)
        raise InputError(f"{where}: {len(value)} values where the schema allows one")
    if value is None:
        return ""
    if isinstance(value, bool):  # before int: True is an int in Python
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
    if isinstance(value, str):
        return value
    raise InputError(f"{where}: a {type(value).__name__} is not a cell value")


def _domains(schema) -> Dict[str, object]:
    """{feature: (low, high) for a numeric domain, or a frozenset of strings}."""
    named = {d.name: frozenset(d.value) for d in schema.string_domain}
    result: Dict[str, object] = {}
    for f in schema.feature:
        kind = f.WhichOneof("domain_info")
        if kind == "int_domain" and (f.int_domain.HasField("min") or f.int_domain.HasField("max")):
            d = f.int_domain
            result[f.name] = (d.min if d.HasField("min") else -math.inf, d.max if d.HasField("max") else math.inf)
        elif kind == "float_domain" and (f.float_domain.HasField("min") or f.float_domain.HasField("max")):
            d = f.float_domain
            result[f.name] = (d.min if d.HasField("min") else -math.inf, d.max if d.HasField("max") else math.inf)
        elif kind == "domain" and f.domain in named:
            result[f.name] = named[f.domain]
        elif kind == "string_domain":
            result[f.name] = frozenset(f.string_domain.value)
    return result


class Checker:
    """The row-level checks of one schema in one environment, prepared once."""

    def __init__(self, schema, environment: str, rules: Sequence = ()):
        self.kinds = reading_lib.schema_kinds(schema)
        self.features = features_in(schema, environment)
        self.known = {f.name for f in schema.feature}
        self.required = sorted(f.name for f in schema.feature
                               if f.name in self.features and f.HasField("presence") and f.presence.min_fraction >= 1.0)
        self.single = {f.name for f in schema.feature if f.HasField("value_count") and f.value_count.max == 1}
        self.domains = _domains(schema)
        self.rules = list(rules)
        self._cache: Dict[str, Dict[str, tuple]] = {}  # kind -> {text: (value, reason)}

    def cells(self, instances: Sequence[Mapping]) -> List[Dict[str, str]]:
        """The instances as text cells; raises InputError for what no cell can hold."""
        rows = []
        for i, instance in enumerate(instances):
            if not isinstance(instance, dict):
                raise InputError(f"instance {i}: expected an object of feature values, "
                                 f"not a {type(instance).__name__}")
            row = {}
            for name, value in instance.items():
                if isinstance(value, list) and len(value) > 1 and name in self.known:
                    row[name] = None  # several values: judged below
                    continue
                row[name] = cell_text(value, f"instance {i}, {name}")
            rows.append(row)
        return rows

    def check(self, instances: Sequence[Mapping]) -> List[List[Problem]]:
        """The problems of each instance (an empty list: nothing a single row can tell)."""
        rows = self.cells(instances)
        problems: List[List[Problem]] = [[] for _ in rows]
        n = len(rows)
        if n == 0:
            return problems
        for i, (row, instance) in enumerate(zip(rows, instances)):
            for name in instance:
                if name not in self.known:
                    problems[i].append(Problem(name, UNKNOWN, FLAG, "a feature the schema does not know"))
                elif row.get(name) is None:  # several values (cells() leaves them out)
                    problems[i].append(Problem(name, VALUE_COUNT, REFUSE,
                                               f"{len(instance[name])} values where the schema allows one"))
        used = [name for name in self.kinds if any(row.get(name) is not None for row in rows)]
        self._read_new(rows, used)
        columns, bad = {}, np.zeros(n, dtype=bool)
        for name in used:
            kind = self.kinds[name]
            values = np.full(n, None, dtype=object) if kind == cells.BYTES else np.full(n, np.nan)
            for i, row in enumerate(rows):
                text = row.get(name)
                if not text:
                    continue
                value, reason = self._cache[kind][text]
                if reason is not None:
                    problems[i].append(Problem(name, TYPE, REFUSE, f"{text!r} cannot be read as {kind} ({reason})"))
                    bad[i] = True
                elif value is not None:
                    values[i] = value
                    problem = _outside(value, self.domains[name]) if name in self.domains else None
                    if problem:
                        problems[i].append(Problem(name, DOMAIN, FLAG, problem))
            columns[name] = values
        if self.rules:  # as core/checks/rows.py judges them: on the rows whose cells were all read
            for rule in self.rules:
                result = rules_lib.evaluate([rule], columns, n)[rule.name]
                for i in np.flatnonzero(result.violating & ~bad):
                    problems[i].append(Problem(f"rule {rule.name}", RULE, REFUSE, f"breaks {rule.text()}"))
        for name in self.required:
            for i, row in enumerate(rows):
                if name not in row or row[name] == "":
                    problems[i].append(Problem(name, REQUIRED, REFUSE, "missing, and the schema requires it"))
        return problems

    def _read_new(self, rows: List[Dict[str, str]], used: List[str]) -> None:
        """Reads every cell text not seen before with core.reading.cells.read_column, one call per kind
        (a cell's reading depends on its text and kind alone, so each is remembered)."""
        new: Dict[str, set] = {}
        for name in used:
            kind, seen = self.kinds[name], self._cache.setdefault(self.kinds[name], {})
            for row in rows:
                text = row.get(name)
                if text and text not in seen:
                    new.setdefault(kind, set()).add(text)
        for kind, texts in new.items():
            texts = sorted(texts)
            column = cells.read_column(pa.array(texts, pa.string()), kind)
            typed = iter(column.values.to_pylist())
            seen = self._cache[kind]
            if len(seen) + len(texts) > _CACHE_CELLS:
                seen.clear()
            for text, present, unreadable, reason in zip(texts, column.present, column.bad, column.reason):
                value = next(typed) if present else None
                if kind == cells.BYTES and value is not None:
                    value = value.decode("utf-8")
                seen[text] = (value, reason if unreadable else None)


_CACHE_CELLS = 200_000  # distinct cell texts remembered per kind; then forgotten all at once


def _outside(value, domain) -> Optional[str]:
    if isinstance(domain, frozenset):
        return None if value in domain else f"{value!r} is not in the schema's domain"
    low, high = domain
    if low <= value <= high:
        return None
    return f"{value:g} is outside the schema's domain [{low:g}, {high:g}]"


def refused(problems: List[Problem]) -> bool:
    return any(p.severity == REFUSE for p in problems)
