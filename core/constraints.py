"""Row-level rules across columns ("constraints"): parsed from a reviewed YAML file beside each
schema version (`schema/vN/constraints.yaml`), evaluated vectorised on every row of a batch, and
mined from training data as candidates for a person to review.

The file::

    version: 1                       # optional; 1 is the only version
    rules:
      - name: hour_of_timestamp      # required, unique, [a-z0-9_]+
        expect: "trip_start_hour == hour(trip_start_timestamp)"  # a true/false expression per row
        why: "the hour is derived from the timestamp (UTC)"      # optional
      - name: tips_when_cash
        when: "payment_type == 'Cash'"   # optional: the rule applies only where this holds
        expect: "tips == 0"
        tolerance: 0.01                  # optional: absolute tolerance of == and != in this rule
      - name: payment_company
        allowed:                         # instead of expect: the combinations allowed
          columns: [payment_type, company]
          values: [["Cash", "Flash Cab"], ["Credit Card", "Flash Cab"]]

An expression is a safe subset of Python, read with `ast` and interpreted (never `eval`): feature
names (a name that is not an identifier in backquotes: `` `odd name` ``), numbers and quoted text,
`+ - * / // % **`, unary `-` and `not`, comparisons (chained too: `0 <= x <= 23`), `and`, `or`,
`x in [...]` and `not in`, and the functions `abs`, `round(x, ndigits=0)` (halves to even),
`floor`, `ceil`, `min(a, b, ...)`, `max(a, b, ...)` (per row), `isnull(x)`, and on epoch seconds
in UTC `hour` (0-23), `day_of_week` (1 = Sunday ... 7 = Saturday, as BigQuery), `month` (1-12),
`year` and `day` (of the month). Between numbers, `==` and `!=` hold within the rule's tolerance,
by default 1e-6 * max(1, |a|, |b|); `when` may limit `allowed` too.

A row is evaluated when every feature the rule reads has a value there (a feature read only
inside `isnull()` need not), no arithmetic in it is undefined (a division by zero), and `when`
holds; it violates the rule when `expect` is false there (or its combination is not allowed).
"""

import ast
import dataclasses
import functools
import keyword
import math
import re
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

import numpy as np
import pandas as pd
import yaml

from core.errors import ConfigError

VERSION = 1
_RULE_KEYS = ("name", "when", "expect", "allowed", "tolerance", "why")
_NAME = re.compile(r"^[a-z0-9_]+$")
_NUMERIC_FUNCTIONS = {  # name: (fewest, most positional arguments; None: any number)
    "abs": (1, 1), "round": (1, 2), "floor": (1, 1), "ceil": (1, 1), "min": (2, None), "max": (2, None),
    "hour": (1, 1), "day_of_week": (1, 1), "month": (1, 1), "year": (1, 1), "day": (1, 1),
}
_FUNCTIONS = set(_NUMERIC_FUNCTIONS) | {"isnull"}
_COMPARISONS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)
_ARITHMETIC = {
    ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.true_divide,
    ast.FloorDiv: np.floor_divide, ast.Mod: np.mod, ast.Pow: np.power,
}
_NOT_ALLOWED = {  # what a node is, for "... is not allowed"
    ast.Attribute: "attribute access", ast.Subscript: "a subscript", ast.Lambda: "lambda",
    ast.IfExp: "if-else", ast.NamedExpr: "assignment", ast.JoinedStr: "an f-string",
    ast.Starred: "unpacking", ast.Dict: "a dictionary", ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension", ast.DictComp: "a comprehension", ast.GeneratorExp: "a comprehension",
    ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield", ast.Slice: "a slice",
    ast.List: "a list (except after in)", ast.Tuple: "a tuple (except after in)", ast.Set: "a set (except after in)",
}
_MAX_EPOCH_SECONDS = 1e12  # beyond ~ year 33,000 a timestamp function's value is undefined
_DEFAULT_RELATIVE_TOLERANCE = 1e-6
_MAX_DEPTH = 100  # levels of an expression's syntax tree

_NUM, _TEXT, _BOOL, _FEATURE = "number", "text", "true/false", "feature"


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
                names |= _compiled(self, text).features
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
                expression = _compile(fields[key])
            except _Problem as e:
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


# ---------------------------------------------------------------- expressions


class _Problem(Exception):
    """What is wrong with an expression, in one line (the caller says where)."""


@dataclasses.dataclass(frozen=True)
class _Expression:
    tree: ast.expr
    code: str  # the text ast read: backquoted names replaced by placeholders
    names: Mapping[str, str]  # placeholder: the backquoted name
    features: frozenset

    def feature(self, node: ast.Name) -> str:
        return self.names.get(node.id, node.id)

    def snippet(self, node: ast.AST) -> str:
        """The text of a node as written (backquoted names back in their quotes)."""
        text = ast.get_source_segment(self.code, node) or ast.unparse(node)
        for placeholder, name in self.names.items():
            text = re.sub(rf"\b{placeholder}\b", f"`{name}`", text)
        return _short(text)


@functools.lru_cache(maxsize=1024)
def _compile(text: str) -> _Expression:
    """The checked syntax tree of an expression.

    Raises:
        _Problem: a syntax error, or anything outside the safe subset.
    """
    code, names = _replace_backquotes(text)
    try:
        tree = ast.parse(code.strip(), mode="eval").body
    except SyntaxError as e:
        raise _Problem(f"not a valid expression ({e.msg}): {_short(text)}") from None
    except ValueError as e:  # a null byte
        raise _Problem(f"not a valid expression ({e}): {_short(text)}") from None
    except (RecursionError, MemoryError):
        raise _Problem(f"the expression is nested too deeply: {_short(text)}") from None
    if _depth(tree) > _MAX_DEPTH:
        raise _Problem(f"the expression is nested too deeply (over {_MAX_DEPTH} levels): {_short(text)}")
    expression = _Expression(tree, code.strip(), names, frozenset())
    features: Set[str] = set()
    if _kind(tree, expression, features) != _BOOL:
        raise _Problem(f"`{expression.snippet(tree)}` is not true or false (compare it with something)")
    return dataclasses.replace(expression, features=frozenset(features))


def _depth(tree: ast.AST) -> int:
    """How deep the tree is (without recursion: ast.parse takes deeper trees than Python's stack)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _compiled(rule: Rule, text: str) -> _Expression:
    try:
        return _compile(text)
    except _Problem as e:
        raise ConfigError(f"rule {rule.name}: {e}") from None


def _replace_backquotes(text: str) -> Tuple[str, Dict[str, str]]:
    """The text with each `odd name` replaced by an identifier, and {identifier: name}. Quotes
    inside string constants are left alone; line breaks outside them become spaces."""
    prefix = "_bq_"
    while prefix in text:
        prefix = "_" + prefix
    out, names, by_name, quote, i = [], {}, {}, None, 0
    while i < len(text):
        ch = text[i]
        if quote:
            out.append(ch)
            if ch == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif ch == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise _Problem(f"a backquote is not closed: {_short(text)}")
            name = text[i + 1:end]
            if not name.strip():
                raise _Problem("an empty name in backquotes")
            placeholder = by_name.setdefault(name, f"{prefix}{len(by_name)}")
            names[placeholder] = name
            before = " " if out and (out[-1].isalnum() or out[-1] == "_") else ""
            after = " " if end + 1 < len(text) and (text[end + 1].isalnum() or text[end + 1] == "_") else ""
            out.append(before + placeholder + after)
            i = end
        elif ch in "\r\n":
            out.append(" ")
        else:
            out.append(ch)
        i += 1
    return "".join(out), names


def _constant_kind(node: ast.AST) -> Optional[str]:
    """_NUM or _TEXT for a constant (a number with a sign too), else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return _NUM if _constant_kind(node.operand) == _NUM else None
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, str):
            return _TEXT
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _NUM
    return None


def _kind(node: ast.AST, expression: _Expression, features: Set[str]) -> str:
    """Checks a node (and below) against the safe subset; its kind: _NUM, _TEXT, _BOOL, or _FEATURE
    (a feature's kind is known only from the batch). Collects the feature names read."""
    snippet = functools.partial(expression.snippet, node)

    def operand(child: ast.AST, *allowed: str) -> str:
        kind = _kind(child, expression, features)
        if kind not in allowed and not (kind == _FEATURE and (_NUM in allowed or _TEXT in allowed)):
            raise _Problem(f"`{snippet()}`: `{expression.snippet(child)}` is {kind}, expected {' or '.join(allowed)}")
        return kind

    if isinstance(node, ast.Name):
        features.add(expression.feature(node))
        return _FEATURE
    if isinstance(node, ast.Constant):
        kind = _constant_kind(node)
        if kind is None:
            raise _Problem(f"`{snippet()}`: only numbers and quoted text are constants")
        if kind == _NUM and not _finite(node.value):
            raise _Problem(f"`{snippet()}`: the number is too large")
        return kind
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _ARITHMETIC:
            raise _Problem(f"`{snippet()}`: the operator is not allowed (only + - * / // % **)")
        operand(node.left, _NUM)
        operand(node.right, _NUM)
        return _NUM
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            operand(node.operand, _BOOL)
            return _BOOL
        if isinstance(node.op, (ast.USub, ast.UAdd)):
            operand(node.operand, _NUM)
            return _NUM
        raise _Problem(f"`{snippet()}`: the operator is not allowed (only - and not)")
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            operand(value, _BOOL)
        return _BOOL
    if isinstance(node, ast.Compare):
        if len(node.ops) > 1 and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            raise _Problem(f"`{snippet()}`: `in` may not be chained with another comparison (use and)")
        left = operand(node.left, _NUM, _TEXT)
        for op, right in zip(node.ops, node.comparators):
            if type(op) not in _COMPARISONS:
                raise _Problem(f"`{snippet()}`: `is` is not allowed (use == or isnull)")
            if isinstance(op, (ast.In, ast.NotIn)):
                if not isinstance(right, (ast.List, ast.Tuple, ast.Set)):
                    raise _Problem(f"`{snippet()}`: `in` needs a list of constants, like x in [1, 2]")
                kinds = {_constant_kind(item) for item in right.elts}
                if None in kinds:
                    raise _Problem(f"`{snippet()}`: the list after `in` may hold only numbers or quoted text")
                if len(kinds) > 1:
                    raise _Problem(f"`{snippet()}`: the list after `in` mixes text and numbers")
                for item in right.elts:
                    _kind(item, expression, features)  # the size of each number
                if kinds and left != _FEATURE and kinds != {left}:
                    raise _Problem(f"`{snippet()}` compares text with a number")
                continue
            right_kind = operand(right, _NUM, _TEXT)
            if _FEATURE not in (left, right_kind) and left != right_kind:
                raise _Problem(f"`{snippet()}` compares text with a number")
            left = right_kind
        return _BOOL
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise _Problem(f"`{snippet()}`: only the functions {', '.join(sorted(_FUNCTIONS))} may be called")
        function = node.func.id
        if function not in _FUNCTIONS:
            raise _Problem(f"unknown function {function}() (known: {', '.join(sorted(_FUNCTIONS))})")
        keywords = {k.arg for k in node.keywords}
        if None in keywords or keywords - ({"ndigits"} if function == "round" else set()):
            raise _Problem(f"`{snippet()}`: {function}() takes no such keyword argument")
        count = len(node.args) + len(node.keywords)
        fewest, most = _NUMERIC_FUNCTIONS.get(function, (1, 1))
        if count < fewest or (most is not None and count > most) or any(isinstance(a, ast.Starred) for a in node.args):
            expected = {"round": "a number and optionally ndigits", "min": "two or more numbers",
                        "max": "two or more numbers"}.get(function, "one argument")
            raise _Problem(f"`{snippet()}`: {function}() takes {expected}")
        if function == "isnull":
            _kind(node.args[0], expression, features)
            return _BOOL
        if function == "round":
            arguments = list(node.args) + [k.value for k in node.keywords]
            operand(arguments[0], _NUM)
            if len(arguments) == 2 and not _is_int_constant(arguments[1]):
                raise _Problem(f"`{snippet()}`: ndigits must be a whole number")
            return _NUM
        for argument in node.args:
            operand(argument, _NUM)
        return _NUM
    raise _Problem(f"`{snippet()}`: {_NOT_ALLOWED.get(type(node), type(node).__name__)} is not allowed")


def _finite(value) -> bool:
    """Whether a number is a finite float (a long integer may not convert)."""
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _is_int_constant(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool)


def _int_constant(node: ast.AST) -> int:
    if isinstance(node, ast.UnaryOp):
        value = _int_constant(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    return node.value


# ---------------------------------------------------------------- evaluating


@dataclasses.dataclass
class _Value:
    """A value per row (or one for every row): its kind, values, and where it is defined."""

    kind: str
    values: object  # np.ndarray, or a scalar for every row
    defined: object  # bool np.ndarray, or a bool for every row


class _Evaluator:
    """Evaluates the expressions of one rule on one batch."""

    def __init__(self, rule: Rule, columns: Mapping[str, "_Value"], expression: _Expression):
        self.rule, self.columns, self.expression = rule, columns, expression

    def problem(self, node: ast.AST, text: str) -> ConfigError:
        return ConfigError(f"rule {self.rule.name}: `{self.expression.snippet(node)}` {text}")

    def number(self, node: ast.AST, parent: ast.AST) -> _Value:
        value = self.value(node)
        if value.kind != _NUM:
            raise self.problem(parent, f"needs a number: `{self.expression.snippet(node)}` is text")
        return value

    def value(self, node: ast.AST) -> _Value:
        if isinstance(node, ast.Name):
            return self.columns[self.expression.feature(node)]
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                return _Value(_TEXT, node.value, True)
            return _Value(_NUM, np.float64(node.value), True)
        if isinstance(node, ast.BinOp):
            left, right = self.number(node.left, node), self.number(node.right, node)
            return _arithmetic(_ARITHMETIC[type(node.op)], left, right)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                operand = self.value(node.operand)
                return _Value(_BOOL, np.logical_not(operand.values), operand.defined)
            operand = self.number(node.operand, node)
            return _Value(_NUM, -operand.values if isinstance(node.op, ast.USub) else operand.values, operand.defined)
        if isinstance(node, ast.BoolOp):
            values = [self.value(v) for v in node.values]
            combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            return _Value(_BOOL, functools.reduce(combine, [v.values for v in values]),
                          functools.reduce(np.logical_and, [v.defined for v in values]))
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.problem(node, "is not allowed")  # _compile let nothing else through

    def compare(self, node: ast.Compare) -> _Value:
        left = self.value(node.left)
        result, defined = True, left.defined
        for op, right_node in zip(node.ops, node.comparators):
            if isinstance(op, (ast.In, ast.NotIn)):
                constants = [self.value(item) for item in right_node.elts]
                if constants and constants[0].kind != left.kind:
                    raise self.problem(node, "compares text with a number")
                held = self.member(left, [c.values for c in constants])
                result = np.logical_and(result, np.logical_not(held) if isinstance(op, ast.NotIn) else held)
                continue
            right = self.value(right_node)
            if right.kind != left.kind:
                raise self.problem(node, "compares text with a number")
            result = np.logical_and(result, self.relation(type(op), left, right))
            defined = np.logical_and(defined, right.defined)
            left = right
        return _Value(_BOOL, result, defined)

    def relation(self, op: type, left: _Value, right: _Value):
        a, b = left.values, right.values
        if left.kind == _NUM:
            with np.errstate(all="ignore"):
                if op in (ast.Eq, ast.NotEq):
                    equal = _equal(a, b, self.rule.tolerance)
                    return equal if op is ast.Eq else np.logical_not(equal)
                return {ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater, ast.GtE: np.greater_equal}[op](a, b)
        if op in (ast.Eq, ast.NotEq):
            equal = _as_bool(a == b)
            return equal if op is ast.Eq else np.logical_not(equal)
        a, b = _fill_text(left), _fill_text(right)  # no None in an ordering of text
        compare = {ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater, ast.GtE: np.greater_equal}[op]
        return _as_bool(compare(a, b))

    def member(self, left: _Value, constants: list):
        if left.kind == _NUM:
            held = False
            with np.errstate(all="ignore"):
                for constant in constants:
                    held = np.logical_or(held, _equal(left.values, constant, self.rule.tolerance))
            return held
        if isinstance(left.values, np.ndarray):
            return pd.Series(left.values, dtype=object).isin(constants).to_numpy()
        return left.values in constants

    def call(self, node: ast.Call) -> _Value:
        function = node.func.id
        if function == "isnull":
            inner = self.value(node.args[0])
            return _Value(_BOOL, np.logical_not(inner.defined), True)
        if function == "round":
            arguments = list(node.args) + [k.value for k in node.keywords]
            x = self.number(arguments[0], node)
            ndigits = _int_constant(arguments[1]) if len(arguments) == 2 else 0
            with np.errstate(all="ignore"):
                values = np.round(x.values, ndigits)
            return _Value(_NUM, values, np.logical_and(x.defined, np.isfinite(values)))
        arguments = [self.number(a, node) for a in node.args]
        if function in ("min", "max"):
            combine = np.minimum if function == "min" else np.maximum
            return _Value(_NUM, functools.reduce(combine, [a.values for a in arguments]),
                          functools.reduce(np.logical_and, [a.defined for a in arguments]))
        (x,) = arguments
        if function in ("abs", "floor", "ceil"):
            return _Value(_NUM, {"abs": np.abs, "floor": np.floor, "ceil": np.ceil}[function](x.values), x.defined)
        return _timestamp(function, x)


def _arithmetic(operation, left: _Value, right: _Value) -> _Value:
    with np.errstate(all="ignore"):
        values = operation(np.asarray(left.values, dtype=np.float64), np.asarray(right.values, dtype=np.float64))
    defined = np.logical_and(np.logical_and(left.defined, right.defined), np.isfinite(values))
    return _Value(_NUM, values, defined)


def _equal(a, b, tolerance: Optional[float]):
    """Numbers equal within `tolerance`, or by default within 1e-6 * max(1, |a|, |b|)."""
    difference = np.abs(np.subtract(a, b))
    if tolerance is None:
        tolerance = _DEFAULT_RELATIVE_TOLERANCE * np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))
    return np.less_equal(difference, tolerance)


def _as_bool(values):
    return values.astype(bool) if isinstance(values, np.ndarray) else bool(values)


def _fill_text(value: _Value):
    if isinstance(value.values, np.ndarray):
        return np.where(value.defined, value.values, "")
    return value.values


def _timestamp(function: str, ts: _Value) -> _Value:
    """hour, day_of_week, month, year or day of epoch seconds (UTC), by integer arithmetic."""
    with np.errstate(all="ignore"):
        seconds = np.asarray(ts.values, dtype=np.float64)
        usable = np.logical_and(ts.defined, np.abs(seconds) <= _MAX_EPOCH_SECONDS)
        whole = np.floor(np.where(usable, seconds, 0.0)).astype(np.int64)
    if function == "hour":
        values = (whole // 3600) % 24
    elif function == "day_of_week":
        values = ((whole // 86400) + 4) % 7 + 1  # 1970-01-01 was a Thursday: 5 (1 = Sunday)
    else:
        moments = whole.astype("datetime64[s]")
        if function == "month":
            values = moments.astype("datetime64[M]").astype(np.int64) % 12 + 1
        elif function == "year":
            values = moments.astype("datetime64[Y]").astype(np.int64) + 1970
        else:
            days = moments.astype("datetime64[D]")
            values = (days - days.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    return _Value(_NUM, np.asarray(values, dtype=np.float64), usable)


def _column(values: np.ndarray, rows: int, name: str) -> _Value:
    """A batch's column as a value: numbers (finite where they have one) or text (not None)."""
    values = np.asarray(values)
    if values.ndim != 1 or len(values) != rows:
        raise ValueError(f"column {name!r} has shape {values.shape}, expected ({rows},)")
    if values.dtype.kind in "fiub":
        numbers = values.astype(np.float64, copy=False)
        return _Value(_NUM, numbers, np.isfinite(numbers))
    if values.dtype.kind == "S":
        values = np.char.decode(values, "utf-8")
    if values.dtype.kind == "U":
        values = values.astype(object)
    return _Value(_TEXT, values, ~pd.isna(values))


def _broadcast(values, rows: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(values, dtype=bool), (rows,)).copy()


def evaluate(rules: Sequence[Rule], columns: Mapping[str, np.ndarray], rows: int) -> Dict[str, Evaluation]:
    """Every rule on every row of a batch, vectorised.

    Args:
        rules: the rules.
        columns: one array of length `rows` per feature: numbers as float64 with NaN where the cell
            is empty, text as an object array with None where it is empty.
        rows: the number of rows of the batch.

    Returns:
        {rule name: Evaluation}. A rule reading a feature that `columns` does not hold evaluates
        no row.

    Raises:
        ConfigError: a rule cannot work on this batch (a text feature used as a number, text
            compared with a number, an expression that is not valid).
        ValueError: a column's length is not `rows`.
    """
    cache: Dict[str, _Value] = {}

    def column(name: str) -> _Value:
        if name not in cache:
            cache[name] = _column(columns[name], rows, name)
        return cache[name]

    results = {}
    for rule in rules:
        needed = rule.columns()
        if not needed <= set(columns):
            results[rule.name] = Evaluation(np.zeros(rows, dtype=bool), np.zeros(rows, dtype=bool))
            continue
        values = {name: column(name) for name in needed}
        evaluated = np.ones(rows, dtype=bool)
        if rule.when is not None:
            when = _Evaluator(rule, values, _compiled(rule, rule.when))
            condition = when.value(when.expression.tree)
            evaluated &= _broadcast(np.logical_and(condition.defined, condition.values), rows)
        if rule.expect is not None:
            expect = _Evaluator(rule, values, _compiled(rule, rule.expect))
            outcome = expect.value(expect.expression.tree)
            evaluated &= _broadcast(outcome.defined, rows)
            held = _broadcast(outcome.values, rows)
        else:
            for name in rule.allowed_columns:
                evaluated &= values[name].defined
            held = _allowed(rule, values, rows)
        results[rule.name] = Evaluation(evaluated, evaluated & ~held)
    return results


@dataclasses.dataclass(frozen=True)
class View:
    """A part of a rule that reads one feature alone, as the rule reads it: `trip_start_hour`,
    `hour(trip_start_timestamp)`, `payment_type == 'Cash'` (the largest such part). In a batch
    where the rule holds, the parts on either side of `==` have one distribution: a column that
    changed shows in its own part, even where its raw values follow the window a batch covers."""

    feature: str
    text: str
    rule: Rule = dataclasses.field(repr=False)
    source: Optional[str] = dataclasses.field(default=None, repr=False)  # the expression; None: the column itself
    path: Tuple[int, ...] = dataclasses.field(default=(), repr=False)  # child indices from its root

    def of(self, values: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(this part's value per value of the feature, where it is defined); `values` as for
        `evaluate` (numbers as float64, text as objects)."""
        column = _column(values, len(values), self.feature)
        if self.source is None:
            return column.values, np.asarray(column.defined, dtype=bool)
        expression = _compiled(self.rule, self.source)
        node = expression.tree
        for i in self.path:
            node = list(ast.iter_child_nodes(node))[i]
        result = _Evaluator(self.rule, {self.feature: column}, expression).value(node)
        rows = len(values)
        out = np.broadcast_to(np.asarray(result.values), (rows,))
        if result.kind == _BOOL:
            out = out.astype(np.float64)
        return out, _broadcast(result.defined, rows)


def views(rule: Rule) -> Dict[str, List[View]]:
    """{feature: the parts of `rule` (when and expect) that read that feature alone}, in the order
    the rule names its features; for `allowed`, each column itself.

    Raises:
        ConfigError: an expression is not valid.
    """
    result: Dict[str, List[View]] = {name: [View(name, name, rule)] for name in rule.allowed_columns}
    for source in (rule.expect, rule.when):
        if source is None:
            continue
        expression = _compiled(rule, source)
        functions = {id(n.func) for n in ast.walk(expression.tree) if isinstance(n, ast.Call)}
        stack = [(expression.tree, ())]
        while stack:
            node, path = stack.pop(0)
            read = {expression.feature(n) for n in ast.walk(node) if isinstance(n, ast.Name) and id(n) not in functions}
            if len(read) == 1:
                (name,) = read
                kept = result.setdefault(name, [])
                text = expression.snippet(node)
                if all(v.text != text for v in kept):
                    kept.append(View(name, text, rule, source, path) if not isinstance(node, ast.Name)
                                else View(name, name, rule))
                continue
            stack.extend((child, path + (i,)) for i, child in enumerate(ast.iter_child_nodes(node)))
    return result


def _allowed(rule: Rule, values: Mapping[str, _Value], rows: int) -> np.ndarray:
    """Per row, whether the combination of the rule's columns is one of its allowed values."""
    codes, allowed_codes, sizes = [], [], []
    for i, name in enumerate(rule.allowed_columns):
        column = values[name]
        choices = [combination[i] for combination in rule.allowed_values]
        if any(isinstance(c, str) != (column.kind == _TEXT) for c in choices):
            raise ConfigError(f"rule {rule.name}: allowed values of {name} mix text and numbers ({name} is {column.kind})")
        if column.kind == _NUM:
            index = pd.Index(np.unique(np.asarray(choices, dtype=np.float64)))
            choices = np.asarray(choices, dtype=np.float64)
        else:
            index = pd.Index(pd.unique(np.asarray(choices, dtype=object)), dtype=object)
            choices = np.asarray(choices, dtype=object)
        codes.append(np.asarray(index.get_indexer(np.atleast_1d(column.values))))
        allowed_codes.append(np.asarray(index.get_indexer(choices)))
        sizes.append(len(index))
    if math.prod(sizes) < 2**62:
        combined, combined_allowed = np.zeros(rows, dtype=np.int64), np.zeros(len(rule.allowed_values), dtype=np.int64)
        for code, allowed, size in zip(codes, allowed_codes, sizes):
            combined, combined_allowed = combined * size + code, combined_allowed * size + allowed
        held = np.isin(combined, combined_allowed)
    else:
        held = pd.MultiIndex.from_arrays(codes).isin(list(zip(*allowed_codes)))
    return np.logical_and(held, np.all(np.stack(codes) >= 0, axis=0))


# ---------------------------------------------------------------- mining

_EPOCH_FROM, _EPOCH_TO = 946684800, 4102444800  # 2000-01-01 and 2100-01-01, UTC
_MINED_FUNCTIONS = ("hour", "day_of_week", "month", "year")
# An ordering random pairing breaks in fewer pairings follows from the ranges, not from rows.
# Measured: seattle-weather's temp_min <= temp_max 0.16-0.21 a year, iris' petal within sepal 0.13,
# a trip's start <= end 0.5; taxi's trip_miles <= fare, true of its first 99 rows only, 0.057.
CROSSED_MIN = 0.1


@dataclasses.dataclass
class _Numbers:
    """A numeric column as mining sees it."""

    name: str
    values: np.ndarray  # float64, NaN where empty
    present: np.ndarray
    integral: bool


def mine(columns: Mapping[str, np.ndarray], min_rows: int = 100) -> List[Rule]:
    """Candidate rules that hold on every row where they are defined, for a person to review.

    Three kinds, between numeric columns only; each holds on at least `min_rows` rows where both
    of its columns have a value, and neither column is constant on those rows:

    1. derived columns: `b == hour(a)` (or day_of_week, month, year) where a's values look like
       epoch seconds (whole numbers from 2000-01-01 to 2100-01-01, UTC);
    2. duplicates `b == a`, and proportions `b == k * a` (k neither 0 nor 1);
    3. orderings `a <= b` that pairing the two columns' values at random would break in at
       least CROSSED_MIN of the pairs (so that `longitude <= latitude` or `tips <= trip_seconds`,
       true of any pairing of their values, is not proposed; `temp_min <= temp_max` is), for a
       pair no rule above relates already.

    Args:
        columns: the training data, as for `evaluate`; text columns are left out.
        min_rows: the fewest rows a rule must hold on.

    Returns:
        The rules (derived, then equalities, then orderings), with readable unique names and a
        `why` that says what was observed.
    """
    min_rows = max(1, min_rows)
    numbers, rows = [], 0
    for name, values in columns.items():
        values = np.asarray(values)
        if values.dtype.kind not in "fiu" or values.ndim != 1 or "`" in name:
            continue
        values = values.astype(np.float64, copy=False)
        rows = max(rows, len(values))
        present = np.isfinite(values)
        seen = values[present]
        numbers.append(_Numbers(name, values, present, integral=bool(np.all(seen == np.floor(seen)))))
    used: Set[str] = set()
    related: Set[frozenset] = set()
    rules = _mine_derived(numbers, min_rows, rows, used)
    rules += _mine_equalities(numbers, min_rows, rows, used, related)
    return rules + _mine_orderings(numbers, min_rows, rows, used, related)


def _pair(a: _Numbers, b: _Numbers, min_rows: int) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """The values of a and b on the rows where both have one, when there are at least
    `min_rows` such rows and neither is constant on them; else None."""
    both = a.present & b.present
    if int(both.sum()) < min_rows:
        return None
    x, y = a.values[both], b.values[both]
    if x.min() == x.max() or y.min() == y.max():
        return None
    return x, y


def _mine_derived(numbers: List[_Numbers], min_rows: int, rows: int, used: Set[str]) -> List[Rule]:
    rules = []
    for a in numbers:
        seen = a.values[a.present]
        if not (a.integral and len(seen) >= min_rows and seen.min() >= _EPOCH_FROM and seen.max() < _EPOCH_TO):
            continue
        derived = {f: _timestamp(f, _Value(_NUM, a.values, a.present)).values for f in _MINED_FUNCTIONS}
        for b in numbers:
            if b is a or not b.integral:
                continue
            pair = _pair(a, b, min_rows)
            if pair is None:
                continue
            both = a.present & b.present
            for function in _MINED_FUNCTIONS:
                if np.array_equal(b.values[both], derived[function][both]):
                    a_slug, b_slug = _slug(a.name), _slug(b.name)
                    rules.append(Rule(
                        name=_unique_name(f"{function}_of_{a_slug}", f"{b_slug}_is_{function}_of_{a_slug}", used),
                        expect=f"{_reference(b.name)} == {function}({_reference(a.name)})",
                        why=_held(len(pair[0]), rows),
                    ))
                    break
    return rules


def _mine_equalities(
    numbers: List[_Numbers], min_rows: int, rows: int, used: Set[str], related: Set[frozenset]
) -> List[Rule]:
    rules = []
    for i, a in enumerate(numbers):
        for b in numbers[i + 1:]:
            pair = _pair(a, b, min_rows)
            if pair is None:
                continue
            x, y = pair
            if np.array_equal(x, y):
                rules.append(Rule(
                    name=_unique_name(f"{_slug(b.name)}_equals_{_slug(a.name)}", None, used),
                    expect=f"{_reference(b.name)} == {_reference(a.name)}",
                    why=_held(len(x), rows),
                ))
                related.add(frozenset((a.name, b.name)))
                continue
            base, scaled, factor = a, b, _factor(x, y)
            if factor is not None and abs(factor) < 1:  # written with |k| > 1: 60 * minutes, not seconds / 60
                base, scaled, factor = b, a, _factor(y, x)
            if factor is None:
                continue
            text = _number_text(factor)
            rules.append(Rule(
                name=_unique_name(f"{_slug(scaled.name)}_proportional_to_{_slug(base.name)}", None, used),
                expect=f"{_reference(scaled.name)} == {text} * {_reference(base.name)}",
                why=_held(len(x), rows),
            ))
            related.add(frozenset((a.name, b.name)))
    return rules


def _factor(x: np.ndarray, y: np.ndarray) -> Optional[float]:
    """The shortest k (1 to 15 significant digits) with y == k * x on every row, within the
    default tolerance; None when there is none, or it is 0 or 1."""
    nonzero = x != 0
    with np.errstate(all="ignore"):
        sample = y[nonzero][:1000] / x[nonzero][:1000]
        if len(sample) < 2 or np.ptp(sample) > 0.01 * np.max(np.abs(sample)):
            return None  # far from one ratio on the first rows: not worth a median
        ratios = y[nonzero] / x[nonzero]
        if not np.all(np.isfinite(ratios)):
            return None
        middle = float(np.median(ratios))
        if middle == 0:
            return None
        for digits in range(1, 16):
            k = float(f"{middle:.{digits}g}")
            if np.all(_equal(y, k * x, None)):
                return None if k in (0.0, 1.0) else k
    return None


def _mine_orderings(
    numbers: List[_Numbers], min_rows: int, rows: int, used: Set[str], related: Set[frozenset]
) -> List[Rule]:
    rules = []
    for i, a in enumerate(numbers):
        for b in numbers[i + 1:]:
            if frozenset((a.name, b.name)) in related:
                continue
            pair = _pair(a, b, min_rows)
            if pair is None:
                continue
            x, y = pair
            if np.all(x <= y):
                low, high = a, b
            elif np.all(y <= x):
                low, high = b, a
            else:
                continue
            if _crossed_share(*((x, y) if low is a else (y, x))) < CROSSED_MIN:
                continue  # trivially ordered: true of the two columns' values however rows pair them
            rules.append(Rule(
                name=_unique_name(_ordering_name(low.name, high.name), None, used),
                expect=f"{_reference(low.name)} <= {_reference(high.name)}",
                why=_held(len(x), rows),
            ))
    return rules


def _crossed_share(low: np.ndarray, high: np.ndarray) -> float:
    """The share of all pairings (low_i, high_j), i and j any rows, with low_i > high_j: how often
    `low <= high` would break if the rows' values were paired at random. Near 0, the ordering
    follows from the two columns' ranges alone (`longitude <= latitude`) and says nothing of a
    row; a rule a row's values must meet together (`temp_min <= temp_max`) breaks in many."""
    below = np.searchsorted(np.sort(high), low, side="left")  # for each low_i: how many high_j < low_i
    return float(below.sum()) / (len(low) * len(high))


def _ordering_name(low: str, high: str) -> str:
    """`trip_end_after_start` for trip_start_x <= trip_end_x, else `<low>_at_most_<high>`."""
    low_slug, high_slug = _slug(low), _slug(high)
    if "start" in low_slug and low_slug.replace("start", "end", 1) == high_slug:
        return f"{low_slug.split('start', 1)[0]}end_after_start"
    return f"{low_slug}_at_most_{high_slug}"


def _held(n: int, rows: int) -> str:
    """What mining observed: 'held on all 14,169 training rows'."""
    if n == rows:
        return f"held on all {n:,} training rows"
    return f"held on all {n:,} training rows where its columns have a value (of {rows:,})"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "feature"


def _unique_name(preferred: str, alternative: Optional[str], used: Set[str]) -> str:
    name = alternative if preferred in used and alternative is not None else preferred
    base, i = name, 2
    while name in used:
        name, i = f"{base}_{i}", i + 1
    used.add(name)
    return name


def _reference(name: str) -> str:
    """A feature's name as an expression writes it: in backquotes unless a plain identifier."""
    return name if name.isidentifier() and not keyword.iskeyword(name) else f"`{name}`"


def _number_text(value: float) -> str:
    return str(int(value)) if value == int(value) and abs(value) < 1e15 else repr(value)
