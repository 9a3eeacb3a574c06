"""Rules evaluated vectorised on every row of a block: which rows a rule applies to, which break
it, and the views of each column a rule reads (what core/checks/rule_cause.py compares)."""

import ast
import dataclasses
import functools
import math
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from core.common.errors import ConfigError
from core.rules.expression import (ARITHMETIC, BOOL, DEFAULT_RELATIVE_TOLERANCE, MAX_EPOCH_SECONDS, NUM, TEXT,
                                   Expression, compiled, int_constant)
from core.rules.parsing import Evaluation, Rule


@dataclasses.dataclass
class Value:
    """A value per row (or one for every row): its kind, values, and where it is defined."""

    kind: str
    values: object  # np.ndarray, or a scalar for every row
    defined: object  # bool np.ndarray, or a bool for every row


class _Evaluator:
    """Evaluates the expressions of one rule on one batch."""

    def __init__(self, rule: Rule, columns: Mapping[str, "Value"], expression: Expression):
        self.rule, self.columns, self.expression = rule, columns, expression

    def problem(self, node: ast.AST, text: str) -> ConfigError:
        return ConfigError(f"rule {self.rule.name}: `{self.expression.snippet(node)}` {text}")

    def number(self, node: ast.AST, parent: ast.AST) -> Value:
        value = self.value(node)
        if value.kind != NUM:
            raise self.problem(parent, f"needs a number: `{self.expression.snippet(node)}` is text")
        return value

    def value(self, node: ast.AST) -> Value:
        if isinstance(node, ast.Name):
            return self.columns[self.expression.feature(node)]
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                return Value(TEXT, node.value, True)
            return Value(NUM, np.float64(node.value), True)
        if isinstance(node, ast.BinOp):
            left, right = self.number(node.left, node), self.number(node.right, node)
            return _arithmetic(ARITHMETIC[type(node.op)], left, right)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                operand = self.value(node.operand)
                return Value(BOOL, np.logical_not(operand.values), operand.defined)
            operand = self.number(node.operand, node)
            return Value(NUM, -operand.values if isinstance(node.op, ast.USub) else operand.values, operand.defined)
        if isinstance(node, ast.BoolOp):
            values = [self.value(v) for v in node.values]
            combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            return Value(BOOL, functools.reduce(combine, [v.values for v in values]),
                          functools.reduce(np.logical_and, [v.defined for v in values]))
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.problem(node, "is not allowed")  # compile_text let nothing else through

    def compare(self, node: ast.Compare) -> Value:
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
        return Value(BOOL, result, defined)

    def relation(self, op: type, left: Value, right: Value):
        a, b = left.values, right.values
        if left.kind == NUM:
            with np.errstate(all="ignore"):
                if op in (ast.Eq, ast.NotEq):
                    equal = tolerant_equal(a, b, self.rule.tolerance)
                    return equal if op is ast.Eq else np.logical_not(equal)
                return {ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater, ast.GtE: np.greater_equal}[op](a, b)
        if op in (ast.Eq, ast.NotEq):
            equal = _as_bool(a == b)
            return equal if op is ast.Eq else np.logical_not(equal)
        a, b = _fill_text(left), _fill_text(right)  # no None in an ordering of text
        compare = {ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater, ast.GtE: np.greater_equal}[op]
        return _as_bool(compare(a, b))

    def member(self, left: Value, constants: list):
        if left.kind == NUM:
            held = False
            with np.errstate(all="ignore"):
                for constant in constants:
                    held = np.logical_or(held, tolerant_equal(left.values, constant, self.rule.tolerance))
            return held
        if isinstance(left.values, np.ndarray):
            return pd.Series(left.values, dtype=object).isin(constants).to_numpy()
        return left.values in constants

    def call(self, node: ast.Call) -> Value:
        function = node.func.id
        if function == "isnull":
            inner = self.value(node.args[0])
            return Value(BOOL, np.logical_not(inner.defined), True)
        if function == "round":
            arguments = list(node.args) + [k.value for k in node.keywords]
            x = self.number(arguments[0], node)
            ndigits = int_constant(arguments[1]) if len(arguments) == 2 else 0
            with np.errstate(all="ignore"):
                values = np.round(x.values, ndigits)
            return Value(NUM, values, np.logical_and(x.defined, np.isfinite(values)))
        arguments = [self.number(a, node) for a in node.args]
        if function in ("min", "max"):
            combine = np.minimum if function == "min" else np.maximum
            return Value(NUM, functools.reduce(combine, [a.values for a in arguments]),
                          functools.reduce(np.logical_and, [a.defined for a in arguments]))
        (x,) = arguments
        if function in ("abs", "floor", "ceil"):
            return Value(NUM, {"abs": np.abs, "floor": np.floor, "ceil": np.ceil}[function](x.values), x.defined)
        return timestamp(function, x)


def _arithmetic(operation, left: Value, right: Value) -> Value:
    with np.errstate(all="ignore"):
        values = operation(np.asarray(left.values, dtype=np.float64), np.asarray(right.values, dtype=np.float64))
    defined = np.logical_and(np.logical_and(left.defined, right.defined), np.isfinite(values))
    return Value(NUM, values, defined)


def tolerant_equal(a, b, tolerance: Optional[float]):
    """Numbers equal within `tolerance`, or by default within 1e-6 * max(1, |a|, |b|)."""
    difference = np.abs(np.subtract(a, b))
    if tolerance is None:
        tolerance = DEFAULT_RELATIVE_TOLERANCE * np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))
    return np.less_equal(difference, tolerance)


def _as_bool(values):
    return values.astype(bool) if isinstance(values, np.ndarray) else bool(values)


def _fill_text(value: Value):
    if isinstance(value.values, np.ndarray):
        return np.where(value.defined, value.values, "")
    return value.values


def timestamp(function: str, ts: Value) -> Value:
    """hour, day_of_week, month, year or day of epoch seconds (UTC), by integer arithmetic."""
    with np.errstate(all="ignore"):
        seconds = np.asarray(ts.values, dtype=np.float64)
        usable = np.logical_and(ts.defined, np.abs(seconds) <= MAX_EPOCH_SECONDS)
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
    return Value(NUM, np.asarray(values, dtype=np.float64), usable)


def _column(values: np.ndarray, rows: int, name: str) -> Value:
    """A batch's column as a value: numbers (finite where they have one) or text (not None)."""
    values = np.asarray(values)
    if values.ndim != 1 or len(values) != rows:
        raise ValueError(f"column {name!r} has shape {values.shape}, expected ({rows},)")
    if values.dtype.kind in "fiub":
        numbers = values.astype(np.float64, copy=False)
        return Value(NUM, numbers, np.isfinite(numbers))
    if values.dtype.kind == "S":
        values = np.char.decode(values, "utf-8")
    if values.dtype.kind == "U":
        values = values.astype(object)
    return Value(TEXT, values, ~pd.isna(values))


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
    cache: Dict[str, Value] = {}

    def column(name: str) -> Value:
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
            when = _Evaluator(rule, values, compiled(rule, rule.when))
            condition = when.value(when.expression.tree)
            evaluated &= _broadcast(np.logical_and(condition.defined, condition.values), rows)
        if rule.expect is not None:
            expect = _Evaluator(rule, values, compiled(rule, rule.expect))
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
        expression = compiled(self.rule, self.source)
        node = expression.tree
        for i in self.path:
            node = list(ast.iter_child_nodes(node))[i]
        result = _Evaluator(self.rule, {self.feature: column}, expression).value(node)
        rows = len(values)
        out = np.broadcast_to(np.asarray(result.values), (rows,))
        if result.kind == BOOL:
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
        expression = compiled(rule, source)
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


def _allowed(rule: Rule, values: Mapping[str, Value], rows: int) -> np.ndarray:
    """Per row, whether the combination of the rule's columns is one of its allowed values."""
    codes, allowed_codes, sizes = [], [], []
    for i, name in enumerate(rule.allowed_columns):
        column = values[name]
        choices = [combination[i] for combination in rule.allowed_values]
        if any(isinstance(c, str) != (column.kind == TEXT) for c in choices):
            raise ConfigError(f"rule {rule.name}: allowed values of {name} mix text and numbers ({name} is {column.kind})")
        if column.kind == NUM:
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
