"""Rules across columns read from `constraints.yaml`: the file's format, each rule checked
(names, keys, features, the expression's kinds) and written back as YAML. The format is in
core/rules/__init__.py."""

import dataclasses
import math
import re
from typing import Iterable, List, Optional, Sequence, Set, Tuple

import numpy as np
import yaml

from core.common.errors import ConfigError
from core.rules.expression import Problem, compile_text, compiled
VERSION = 1
_RULE_KEYS = ("name", "when", "expect", "allowed", "tolerance", "why")
_NAME = re.compile(r"^[a-z0-9_]+$")


@dataclasses.dataclass(frozen=True)
class Rule:
    """One constraint: `expect` (an expression) or `allowed_columns`/`allowed_values`, on the rows
    where `when` holds (all rows when None)."""

    name: str
    expect: Optional[str] = None
    when: Optional[str] = None
    why: str = ""
    tolerance: Optional[float] = None
    allowed_columns: Tuple[str, ...] = ()
    allowed_values: Tuple[Tuple, ...] = ()

    def columns(self) -> Set[str]:
        """Every feature the rule reads.

        Raises:
            ConfigError: an expression is not valid.
        """
        names = set(self.allowed_columns)
        for text in (self.when, self.expect):
            if text is not None:
                names |= compiled(self, text).features
        return names

    def to_json(self) -> dict:
        """The rule as plain data (kept beside its counts in a reading report); `from_json` reads it back."""
        data = {"name": self.name, "expect": self.expect, "when": self.when, "why": self.why,
                "tolerance": self.tolerance, "allowed_columns": list(self.allowed_columns),
                "allowed_values": [list(v) for v in self.allowed_values]}
        return {k: v for k, v in data.items() if v not in (None, "", [])}

    @classmethod
    def from_json(cls, data: dict) -> "Rule":
        return cls(data["name"], data.get("expect"), data.get("when"), data.get("why", ""), data.get("tolerance"),
                   tuple(data.get("allowed_columns", ())), tuple(tuple(v) for v in data.get("allowed_values", ())))

    def text(self) -> str:
        """The rule in one line for people: "when payment_type == 'Cash': tips == 0", or
        "(payment_type, company) in 2 allowed combinations"."""
        if self.expect is not None:
            body = " ".join(self.expect.split())
        elif len(self.allowed_columns) == 1:
            body = f"{self.allowed_columns[0]} in {_count(len(self.allowed_values), 'allowed value')}"
        else:
            columns = ", ".join(self.allowed_columns)
            body = f"({columns}) in {_count(len(self.allowed_values), 'allowed combination')}"
        return f"when {' '.join(self.when.split())}: {body}" if self.when is not None else body


@dataclasses.dataclass
class Evaluation:
    """One rule on one batch."""

    evaluated: np.ndarray  # bool per row: every column the rule reads has a value and `when` holds
    violating: np.ndarray  # bool per row: evaluated and `expect` false (or combination not allowed)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


# ---------------------------------------------------------------- parsing the file


def parse(text: str, source: str = "constraints", features: Optional[Iterable[str]] = None) -> List[Rule]:
    """The rules of a constraints file.

    Args:
        text: the YAML text of the file.
        source: what to call the file in messages (its path).
        features: the features of the schema; when given, a rule reading any other is an error.

    Returns:
        The rules in file order; [] for an empty file.

    Raises:
        ConfigError: the file is not valid; the one-line message names the file, the rule (its
            position and name) and the problem.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark, problem = getattr(e, "problem_mark", None), getattr(e, "problem", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigError(f"{source}: not valid YAML ({where}{_one_line(problem or str(e))})") from None
    if data is None:
        return []
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with 'version' and 'rules'")
    unknown = set(data) - {"version", "rules"}
    if unknown:
        raise ConfigError(f"{source}: unknown keys {sorted(map(str, unknown))} (expected version, rules)")
    if data.get("version", VERSION) != VERSION or isinstance(data.get("version"), bool):
        raise ConfigError(f"{source}: version must be {VERSION}, not {data.get('version')!r}")
    raw_rules = data.get("rules") or []
    if not isinstance(raw_rules, list):
        raise ConfigError(f"{source}: 'rules' must be a list")
    known = None if features is None else set(features)
    rules, seen = [], {}
    for i, raw in enumerate(raw_rules, start=1):
        rule = _parse_rule(raw, f"{source}: rule {i}", known)
        if rule.name in seen:
            raise ConfigError(f"{source}: rule {i} ({rule.name}): the name is already used by rule {seen[rule.name]}")
        seen[rule.name] = i
        rules.append(rule)
    return rules


def _parse_rule(raw, where: str, features: Optional[Set[str]]) -> Rule:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with name and expect (or allowed)")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: needs a name")
    if not _NAME.match(name):
        raise ConfigError(f"{where} ({_one_line(name)}): the name must be lower-case letters, digits and _")
    where = f"{where} ({name})"
    unknown = set(raw) - set(_RULE_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(map(str, unknown))} (expected {', '.join(_RULE_KEYS)})")
    if "expect" in raw and "allowed" in raw:
        raise ConfigError(f"{where}: has both expect and allowed (keep one)")
    if "expect" not in raw and "allowed" not in raw:
        raise ConfigError(f"{where}: needs expect (an expression) or allowed (combinations)")
    fields = {"name": name}
    for key in ("when", "expect"):
        if key in raw:
            value = raw[key]
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{where}: {key} must be an expression in quotes")
            fields[key] = value.strip()
    why = raw.get("why", "")
    if not isinstance(why, str):
        raise ConfigError(f"{where}: why must be text")
    fields["why"] = why.strip()
    if raw.get("tolerance") is not None:
        tolerance = raw["tolerance"]
        if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 <= tolerance < math.inf:
            raise ConfigError(f"{where}: tolerance must be a number >= 0, not {tolerance!r}")
        fields["tolerance"] = float(tolerance)
    if "allowed" in raw:
        fields["allowed_columns"], fields["allowed_values"] = _parse_allowed(raw["allowed"], where)
    rule = Rule(**fields)
    for key in ("when", "expect"):
        if key in fields:
            try:
                expression = compile_text(fields[key])
            except Problem as e:
                raise ConfigError(f"{where}: {key}: {e}") from None
            _check_features(expression.features, features, where)
    _check_features(set(rule.allowed_columns), features, where)
    return rule


def _parse_allowed(allowed, where: str) -> Tuple[Tuple[str, ...], Tuple[Tuple, ...]]:
    if not isinstance(allowed, dict) or set(allowed) != {"columns", "values"}:
        raise ConfigError(f"{where}: allowed must be a mapping with columns and values")
    columns = allowed["columns"]
    if not isinstance(columns, list) or not columns or not all(isinstance(c, str) and c for c in columns):
        raise ConfigError(f"{where}: allowed columns must be a list of feature names")
    if len(set(columns)) != len(columns):
        raise ConfigError(f"{where}: allowed columns name a feature twice")
    values = allowed["values"]
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{where}: allowed values must be a list of combinations")
    combinations = []
    for j, combination in enumerate(values, start=1):
        if len(columns) == 1 and not isinstance(combination, list):
            combination = [combination]  # one column: a plain list of values will do
        if not isinstance(combination, list) or len(combination) != len(columns):
            raise ConfigError(f"{where}: allowed combination {j} must list {_count(len(columns), 'value')}")
        for value in combination:
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise ConfigError(
                    f"{where}: allowed combination {j} holds {_one_line(repr(value))}: "
                    "only numbers and text (quote text like yes, true, null or a date)"
                )
        combinations.append(tuple(combination))
    return tuple(columns), tuple(combinations)


def _check_features(used: Set[str], features: Optional[Set[str]], where: str) -> None:
    if features is not None:
        unknown = sorted(used - features)
        if unknown:
            names = ", ".join(repr(n) for n in unknown)
            raise ConfigError(f"{where}: unknown feature{'s' if len(unknown) > 1 else ''} {_one_line(names)}")


def _one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else ""


def load(path: str, features: Optional[Iterable[str]] = None) -> List[Rule]:
    """The rules of a constraints file on disk.

    Args:
        path: the file (`schema/vN/constraints.yaml`).
        features: the features of the schema, as for `parse`.

    Returns:
        The rules; [] when there is no such file.

    Raises:
        ConfigError: the file cannot be read or is not valid.
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return []
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the constraints ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: cannot read the constraints (not UTF-8 text)") from None
    return parse(text, path, features)


def to_yaml(rules: Sequence[Rule], header: str = "") -> str:
    """The text of a constraints file holding `rules`; `parse` reads it back as equal rules.

    Args:
        rules: the rules, written in this order.
        header: comment lines to start the file with ("# " is added where missing).

    Returns:
        The YAML text.
    """
    lines = [line if line.startswith("#") else f"# {line}".rstrip() for line in header.splitlines()]
    entries = []
    for rule in rules:
        entry = {"name": rule.name}
        if rule.when is not None:
            entry["when"] = rule.when
        if rule.expect is not None:
            entry["expect"] = rule.expect
        if rule.allowed_columns:
            entry["allowed"] = {
                "columns": _FlowList(rule.allowed_columns),
                "values": [_FlowList(_plain(x) for x in v) for v in rule.allowed_values],
            }
        if rule.tolerance is not None:
            entry["tolerance"] = float(rule.tolerance)
        if rule.why:
            entry["why"] = rule.why
        entries.append(entry)
    body = yaml.dump(
        {"version": VERSION, "rules": entries}, Dumper=_Dumper, sort_keys=False,
        default_flow_style=False, allow_unicode=True, width=10**6,
    )
    return "\n".join(lines + [body]) if lines else body


def _plain(value):
    """A numpy scalar as the Python value YAML can write."""
    return value.item() if isinstance(value, np.generic) else value


class _FlowList(list):
    """A list written on one line: [Cash, Flash Cab]."""


class _Dumper(yaml.SafeDumper):
    """Block style, except `_FlowList`s; list items indented under their key."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


_Dumper.add_representer(_FlowList, lambda dumper, data: dumper.represent_sequence(
    "tag:yaml.org,2002:seq", data, flow_style=True))


def first_column(rule: Rule) -> str:
    """The first feature a rule's expectation names (what a finding names when the cause cannot be judged)."""
    text = rule.expect or " ".join(rule.allowed_columns)
    columns = rule.columns()
    for token in re.findall(r"`[^`]+`|[A-Za-z_][A-Za-z0-9_]*", text):
        name = token.strip("`")
        if name in columns:
            return name
    return sorted(columns)[0] if columns else rule.name
