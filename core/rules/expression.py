"""A rule's expression: the safe subset of Python read with `ast` (never `eval`), its backquoted
names, and the kind (number, text, truth) of each part, checked before any row is read."""

import ast
import dataclasses
import functools
import keyword
import math
import re
from typing import Dict, Mapping, Optional, Set, Tuple

import numpy as np

from core.common.errors import ConfigError

_NUMERIC_FUNCTIONS = {  # name: (fewest, most positional arguments; None: any number)
    "abs": (1, 1), "round": (1, 2), "floor": (1, 1), "ceil": (1, 1), "min": (2, None), "max": (2, None),
    "hour": (1, 1), "day_of_week": (1, 1), "month": (1, 1), "year": (1, 1), "day": (1, 1),
}
_FUNCTIONS = set(_NUMERIC_FUNCTIONS) | {"isnull"}
_COMPARISONS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)
ARITHMETIC = {
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
MAX_EPOCH_SECONDS = 1e12  # beyond ~ year 33,000 a timestamp function's value is undefined
DEFAULT_RELATIVE_TOLERANCE = 1e-6
_MAX_DEPTH = 100  # levels of an expression's syntax tree

NUM, TEXT, BOOL, FEATURE = "number", "text", "true/false", "feature"
# ---------------------------------------------------------------- expressions


class Problem(Exception):
    """What is wrong with an expression, in one line (the caller says where)."""


@dataclasses.dataclass(frozen=True)
class Expression:
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
def compile_text(text: str) -> Expression:
    """The checked syntax tree of an expression.

    Raises:
        Problem: a syntax error, or anything outside the safe subset.
    """
    code, names = _replace_backquotes(text)
    try:
        tree = ast.parse(code.strip(), mode="eval").body
    except SyntaxError as e:
        raise Problem(f"not a valid expression ({e.msg}): {_short(text)}") from None
    except ValueError as e:  # a null byte
        raise Problem(f"not a valid expression ({e}): {_short(text)}") from None
    except (RecursionError, MemoryError):
        raise Problem(f"the expression is nested too deeply: {_short(text)}") from None
    if _depth(tree) > _MAX_DEPTH:
        raise Problem(f"the expression is nested too deeply (over {_MAX_DEPTH} levels): {_short(text)}")
    expression = Expression(tree, code.strip(), names, frozenset())
    features: Set[str] = set()
    if _kind(tree, expression, features) != BOOL:
        raise Problem(f"`{expression.snippet(tree)}` is not true or false (compare it with something)")
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


def compiled(rule, text: str) -> Expression:
    try:
        return compile_text(text)
    except Problem as e:
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
                raise Problem(f"a backquote is not closed: {_short(text)}")
            name = text[i + 1:end]
            if not name.strip():
                raise Problem("an empty name in backquotes")
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
    """NUM or TEXT for a constant (a number with a sign too), else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return NUM if _constant_kind(node.operand) == NUM else None
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, str):
            return TEXT
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return NUM
    return None


def _kind(node: ast.AST, expression: Expression, features: Set[str]) -> str:
    """Checks a node (and below) against the safe subset; its kind: NUM, TEXT, BOOL, or FEATURE
    (a feature's kind is known only from the batch). Collects the feature names read."""
    snippet = functools.partial(expression.snippet, node)

    def operand(child: ast.AST, *allowed: str) -> str:
        kind = _kind(child, expression, features)
        if kind not in allowed and not (kind == FEATURE and (NUM in allowed or TEXT in allowed)):
            raise Problem(f"`{snippet()}`: `{expression.snippet(child)}` is {kind}, expected {' or '.join(allowed)}")
        return kind

    if isinstance(node, ast.Name):
        features.add(expression.feature(node))
        return FEATURE
    if isinstance(node, ast.Constant):
        kind = _constant_kind(node)
        if kind is None:
            raise Problem(f"`{snippet()}`: only numbers and quoted text are constants")
        if kind == NUM and not _finite(node.value):
            raise Problem(f"`{snippet()}`: the number is too large")
        return kind
    if isinstance(node, ast.BinOp):
        if type(node.op) not in ARITHMETIC:
            raise Problem(f"`{snippet()}`: the operator is not allowed (only + - * / // % **)")
        operand(node.left, NUM)
        operand(node.right, NUM)
        return NUM
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            operand(node.operand, BOOL)
            return BOOL
        if isinstance(node.op, (ast.USub, ast.UAdd)):
            operand(node.operand, NUM)
            return NUM
        raise Problem(f"`{snippet()}`: the operator is not allowed (only - and not)")
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            operand(value, BOOL)
        return BOOL
    if isinstance(node, ast.Compare):
        if len(node.ops) > 1 and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            raise Problem(f"`{snippet()}`: `in` may not be chained with another comparison (use and)")
        left = operand(node.left, NUM, TEXT)
        for op, right in zip(node.ops, node.comparators):
            if type(op) not in _COMPARISONS:
                raise Problem(f"`{snippet()}`: `is` is not allowed (use == or isnull)")
            if isinstance(op, (ast.In, ast.NotIn)):
                if not isinstance(right, (ast.List, ast.Tuple, ast.Set)):
                    raise Problem(f"`{snippet()}`: `in` needs a list of constants, like x in [1, 2]")
                kinds = {_constant_kind(item) for item in right.elts}
                if None in kinds:
                    raise Problem(f"`{snippet()}`: the list after `in` may hold only numbers or quoted text")
                if len(kinds) > 1:
                    raise Problem(f"`{snippet()}`: the list after `in` mixes text and numbers")
                for item in right.elts:
                    _kind(item, expression, features)  # the size of each number
                if kinds and left != FEATURE and kinds != {left}:
                    raise Problem(f"`{snippet()}` compares text with a number")
                continue
            right_kind = operand(right, NUM, TEXT)
            if FEATURE not in (left, right_kind) and left != right_kind:
                raise Problem(f"`{snippet()}` compares text with a number")
            left = right_kind
        return BOOL
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise Problem(f"`{snippet()}`: only the functions {', '.join(sorted(_FUNCTIONS))} may be called")
        function = node.func.id
        if function not in _FUNCTIONS:
            raise Problem(f"unknown function {function}() (known: {', '.join(sorted(_FUNCTIONS))})")
        keywords = {k.arg for k in node.keywords}
        if None in keywords or keywords - ({"ndigits"} if function == "round" else set()):
            raise Problem(f"`{snippet()}`: {function}() takes no such keyword argument")
        count = len(node.args) + len(node.keywords)
        fewest, most = _NUMERIC_FUNCTIONS.get(function, (1, 1))
        if count < fewest or (most is not None and count > most) or any(isinstance(a, ast.Starred) for a in node.args):
            expected = {"round": "a number and optionally ndigits", "min": "two or more numbers",
                        "max": "two or more numbers"}.get(function, "one argument")
            raise Problem(f"`{snippet()}`: {function}() takes {expected}")
        if function == "isnull":
            _kind(node.args[0], expression, features)
            return BOOL
        if function == "round":
            arguments = list(node.args) + [k.value for k in node.keywords]
            operand(arguments[0], NUM)
            if len(arguments) == 2 and not _is_int_constant(arguments[1]):
                raise Problem(f"`{snippet()}`: ndigits must be a whole number")
            return NUM
        for argument in node.args:
            operand(argument, NUM)
        return NUM
    raise Problem(f"`{snippet()}`: {_NOT_ALLOWED.get(type(node), type(node).__name__)} is not allowed")


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


def int_constant(node: ast.AST) -> int:
    if isinstance(node, ast.UnaryOp):
        value = int_constant(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    return node.value


# ---------------------------------------------------------------- evaluating
