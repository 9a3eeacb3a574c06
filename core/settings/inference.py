"""A first schema for a dataset nobody has curated yet: what `tfxgate init` proposes for review.

Pure functions over the training spans' profiles (core/statistics/profile.py, one per span, read with the
same typed reading as everything else). Each column gets a role, and the role decides what the
schema says of it:

- label: the column the model predicts; required; absent in SERVING (environments); its classes
  as its domain for a classification task.
- numeric: many distinct numbers: a range from the data widened by a margin (never below zero
  for a column that never was), and skew and drift comparators (Jensen-Shannon divergence).
- category: few distinct values (text, or whole numbers): the values seen as the domain, and
  L-infinity comparators.
- identifier: a value (nearly) unique to each row: no domain, no comparator, not a model input.
- text: many distinct strings that repeat (free text, codes): likewise.
- period: a column that tells the spans apart (each span's values lie apart from every other
  span's: a year, a date, a timestamp): likewise, since every new span must bring new values.
- constant: one value throughout: its domain (a change is worth knowing), not a model input.
- empty: no value in any row: deprecated, no check.

Thresholds are measured, not copied: a comparator's threshold is the larger of what the noise
model (core/statistics/noise.py) expects between a span of this size and its baseline, and half
again the largest distance seen between any two clean spans (a serving batch may be judged against
an older span than the one before it), so that the natural change between periods of this data
does not cross it.
"""

import dataclasses
import math
from typing import Dict, List, Optional, Sequence

import numpy as np

from core.reading import cells
from core.common import names
from core.statistics import noise
from core.statistics.profile import FeatureProfile, Profile

LABEL, NUMERIC, CATEGORY, IDENTIFIER, TEXT, PERIOD, CONSTANT, EMPTY = (
    "label", "numeric", "category", "identifier", "text", "period", "constant", "empty")
ROLE_TAG = "role:"  # an annotation tag on the feature: `role:identifier`
MODEL_ROLES = (NUMERIC, CATEGORY)  # the roles the generated model reads

CATEGORY_MAX = 50  # more distinct strings than this is not a category
INT_CATEGORY_MAX = 20  # whole numbers with at most this many distinct values, in a range this wide, are categories
INT_CATEGORY_SPAN = 100
IDENTIFIER_SHARE = 0.9  # distinct values in at least this share of rows: an identifier
FILL_MARGIN = 0.05  # a fill-rate floor this far below the lowest fill rate seen
RANGE_MARGIN = 0.5  # a numeric range widened by this share of its width on each side
MIN_THRESHOLD = 0.05  # no comparator threshold below this (a distance people would not act on)
SPAN_MARGIN = 1.5  # a threshold at least this multiple of the largest change between clean spans
CLASSES_MAX = 50  # a classification label with more classes than this is refused


@dataclasses.dataclass
class Column:
    """What the training spans say of one column, and the role chosen for it."""

    name: str
    kind: Optional[str]  # core.reading.cells kind; None: empty in every span
    role: str = NUMERIC
    why: str = ""
    rows: int = 0
    present: int = 0
    min_fill: float = 1.0  # the lowest share of rows with a value, over the spans
    distinct: int = 0
    low: Optional[float] = None  # numeric: the smallest and largest value seen
    high: Optional[float] = None
    values: List[str] = dataclasses.field(default_factory=list)  # category and label: the values seen, by count
    threshold: Optional[float] = None  # the comparator's threshold (numeric: JS; category: L-infinity)
    span_change: Optional[float] = None  # the largest distance seen between any two spans


def _merged(profiles: Sequence[Profile], name: str) -> Optional[FeatureProfile]:
    merged = None
    for profile in profiles:
        feature = profile.features.get(name)
        if feature is None:
            continue
        merged = feature if merged is None else merged.merge(feature)
    if merged is not None:
        merged.settle()
    return merged


def _span_ranges_apart(profiles: Sequence[Profile], name: str, kind: str) -> bool:
    """Whether each span's values lie apart from every other span's: disjoint value sets (text),
    or ranges that do not overlap (numbers). Needs two spans with values."""
    seen = [p.features.get(name) for p in profiles]
    seen = [f for f in seen if f is not None and f.present]
    if len(seen) < 2:
        return False
    if kind == cells.BYTES:
        sets = [set(f.strings) for f in seen]
        return all(not (a & b) for i, a in enumerate(sets) for b in sets[i + 1:])
    for f in seen:
        f.settle()
    ranges = sorted((float(f.values[0]), float(f.values[-1])) for f in seen)
    return all(ranges[i][1] < ranges[i + 1][0] for i in range(len(ranges) - 1))


def _shares(feature: FeatureProfile) -> Dict[str, float]:
    if feature.kind == cells.BYTES:
        return {k: float(v) for k, v in feature.strings.items()}
    feature.settle()
    return {str(v): float(c) for v, c in zip(feature.values, feature.counts)}


def _round_up(value: float, digits: int = 2) -> float:
    if value <= 0:
        return 0.0
    scale = 10 ** (digits - 1 - math.floor(math.log10(value)))
    return math.ceil(value * scale) / scale


def _round_down(value: float, decimals: int = 2) -> float:
    return math.floor(max(0.0, value) * 10**decimals) / 10**decimals


def _threshold(column: Column, profiles: Sequence[Profile]) -> None:
    """The comparator threshold of a numeric or category column: above the noise level of the
    smallest span against the rest, and above the largest change between any two spans."""
    spans = [p.features.get(column.name) for p in profiles]
    spans = [f for f in spans if f is not None and f.present]
    if not spans:
        return
    smallest = min(f.present for f in spans)
    merged = _merged(profiles, column.name)
    pairs = [(a, b) for i, a in enumerate(spans) for b in spans[i + 1:]]  # every two periods, not only neighbours
    if column.role == NUMERIC:
        level = noise.jensen_shannon_noise(merged.quantiles_histogram(), smallest, column.name)
        changes = [noise.jensen_shannon(a.quantiles_histogram(), b.quantiles_histogram()) for a, b in pairs]
    else:
        level = noise.linf_noise(_shares(merged), smallest, column.name)
        changes = [noise.linf(_normalised(a), _normalised(b)) for a, b in pairs]
    column.span_change = max(changes) if changes else None  # the largest change between any two spans
    column.threshold = min(1.0, _round_up(max(MIN_THRESHOLD, noise.MARGIN * level, SPAN_MARGIN * max(changes, default=0))))


def _normalised(feature: FeatureProfile) -> Dict[str, float]:
    shares = _shares(feature)
    total = sum(shares.values()) or 1.0
    return {k: v / total for k, v in shares.items()}


def columns(profiles: Sequence[Profile], kinds: Dict[str, Optional[str]], label: str) -> List[Column]:
    """Each column of the training spans (`profiles`, oldest first), with its role and measures."""
    found = []
    for name, kind in kinds.items():
        rows = sum(p.rows for p in profiles)
        merged = _merged(profiles, name) if kind is not None else None
        present = merged.present if merged is not None else 0
        fills = [(p.features[name].present if name in p.features else 0) / p.rows for p in profiles if p.rows]
        column = Column(name, kind, rows=rows, present=present, min_fill=min(fills, default=0.0))
        found.append(column)
        if kind is None or merged is None or not present:
            column.role, column.why = EMPTY, "empty in every row"
            continue
        if kind == cells.BYTES:
            column.distinct = len(merged.strings) + (1 if merged.other else 0)
            column.values = [v for v, _ in sorted(merged.strings.items(), key=lambda kv: (-kv[1], kv[0]))]
        else:
            column.distinct = len(merged.values)
            column.low, column.high = float(merged.values[0]), float(merged.values[-1])
            if kind == cells.INT:
                column.values = [str(int(v)) for v in merged.values[:INT_CATEGORY_MAX + 1]]
        column.role, column.why = _role(column, kind, name == label, _span_ranges_apart(profiles, name, kind))
        if column.role in (NUMERIC, CATEGORY):
            _threshold(column, profiles)
    return found


def _role(column: Column, kind: str, is_label: bool, apart: bool):
    distinct, present = column.distinct, column.present
    if is_label:
        return LABEL, "the label"
    if distinct == 1:
        return CONSTANT, f"one value throughout ({column.values[0] if column.values else _number(column.low)})"
    if apart:
        return PERIOD, "each span's values lie apart from every other span's (a time or period marker)"
    if kind == cells.BYTES:
        if distinct <= CATEGORY_MAX and distinct <= max(2, present // 2):
            return CATEGORY, f"{distinct} distinct values"
        if distinct >= IDENTIFIER_SHARE * present:
            return IDENTIFIER, f"{distinct} distinct values in {present} rows: one per row"
        return TEXT, f"{distinct} distinct values in {present} rows: free text or codes"
    if kind == cells.INT and distinct <= INT_CATEGORY_MAX and column.high - column.low <= INT_CATEGORY_SPAN \
            and distinct < present / 2:
        return CATEGORY, f"{distinct} whole numbers from {_number(column.low)} to {_number(column.high)}"
    if kind == cells.INT and distinct >= IDENTIFIER_SHARE * present and present >= 20:
        return IDENTIFIER, f"{distinct} distinct whole numbers in {present} rows: one per row"
    return NUMERIC, f"{distinct} distinct numbers from {_number(column.low)} to {_number(column.high)}"


def _number(value) -> str:
    if value is None:
        return "none"
    return str(int(value)) if float(value).is_integer() else f"{value:.6g}"


def task_of(label: Column) -> str:
    """binary (two values), multiclass (a few values), or regression (numbers with many values)."""
    if label.distinct == 2:
        return "binary"
    if label.kind == cells.BYTES or (label.kind == cells.INT and label.distinct <= INT_CATEGORY_MAX):
        return "multiclass"
    return "regression"


def classes(label: Column) -> List[str]:
    """A classification label's classes, in a stable order (numbers ascending, text sorted)."""
    if label.kind == cells.BYTES:
        return sorted(label.values)
    return [str(int(float(v))) if float(v).is_integer() else str(v) for v in sorted(float(v) for v in label.values)]


def schema(found: Sequence[Column], task: str):
    """The first schema version (a TFDV Schema proto) for the columns and their roles."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    result = schema_pb2.Schema()
    result.default_environment.extend(names.ENVIRONMENTS)
    for column in found:
        feature = result.feature.add(name=column.name)
        feature.type = {cells.INT: schema_pb2.INT, cells.FLOAT: schema_pb2.FLOAT}.get(column.kind, schema_pb2.BYTES)
        feature.value_count.max = 1
        if column.role == EMPTY:
            feature.lifecycle_stage = schema_pb2.DEPRECATED
            continue
        if column.role not in MODEL_ROLES + (LABEL,):
            feature.annotation.tag.append(ROLE_TAG + column.role)
        if column.min_fill >= 1.0:
            feature.value_count.min = 1
            feature.presence.min_fraction = 1.0
        else:
            feature.presence.min_fraction = _round_down(column.min_fill - FILL_MARGIN)
        feature.presence.min_count = 1
        if column.role == LABEL:
            feature.not_in_environment.append(names.SERVING)
            if task != "regression":
                _domain(result, feature, column, categorical=True)
            continue
        if column.role in (CATEGORY, CONSTANT):
            _domain(result, feature, column, categorical=True)
        elif column.role == NUMERIC:
            _range(feature, column)
        if column.threshold is not None:
            for comparator in (feature.skew_comparator, feature.drift_comparator):
                if column.role == NUMERIC:
                    comparator.jensen_shannon_divergence.threshold = column.threshold
                    comparator.jensen_shannon_divergence.source.type = schema_pb2.HistogramSelection.QUANTILES
                else:
                    comparator.infinity_norm.threshold = column.threshold
    return result


def _domain(result, feature, column: Column, categorical: bool) -> None:
    if column.kind == cells.BYTES:
        domain = result.string_domain.add(name=column.name)
        domain.value.extend(sorted(column.values))
        feature.domain = column.name
    elif column.kind == cells.INT:
        feature.int_domain.min = int(column.low)
        feature.int_domain.max = int(column.high)
        feature.int_domain.is_categorical = categorical
    else:  # a constant or a class of FLOAT type: its range
        feature.float_domain.min = column.low
        feature.float_domain.max = column.high


def _range(feature, column: Column) -> None:
    """The values seen, widened by RANGE_MARGIN of their width each side (not below zero for a
    column that never was negative): a new extreme of natural data stays inside; a change of
    units or sign does not."""
    width = (column.high - column.low) or abs(column.high) or 1.0
    low, high = column.low - RANGE_MARGIN * width, column.high + RANGE_MARGIN * width
    if column.low >= 0:
        low = max(0.0, low)
    if column.kind == cells.INT:
        feature.int_domain.min, feature.int_domain.max = int(math.floor(low)), int(math.ceil(high))
    else:
        feature.float_domain.min, feature.float_domain.max = _nice(low, floor=True), _nice(high, floor=False)


def _nice(value: float, floor: bool) -> float:
    """`value` rounded outward to three significant digits."""
    if value == 0:
        return 0.0
    scale = 10 ** (2 - math.floor(math.log10(abs(value))))
    return (math.floor if floor else math.ceil)(value * scale) / scale


def slices(found: Sequence[Column], most: int = 3) -> List[dict]:
    """checks.yaml's slices: the category columns with 2 to 10 values (label excluded), fewest
    values first (larger slices), at most `most`."""
    chosen = sorted((c for c in found if c.role == CATEGORY and 2 <= c.distinct <= 10), key=lambda c: (c.distinct, c.name))
    return [{"feature": c.name, "top": c.distinct} for c in chosen[:most]]


def majority(label: Column, profiles: Sequence[Profile]) -> Optional[tuple]:
    """(class, share) of the most common class over the training spans: the trivial model's."""
    merged = _merged(profiles, label.name)
    if merged is None or not merged.present:
        return None
    shares = _shares(merged)
    value, count = max(shares.items(), key=lambda kv: (kv[1], kv[0]))
    if label.kind != cells.BYTES:
        value = _number(float(value))
    return value, count / sum(shares.values())


def label_spread(label: Column, profiles: Sequence[Profile]) -> Optional[tuple]:
    """(mean, mean absolute deviation from it) of a numeric label: the error of always answering
    the mean."""
    merged = _merged(profiles, label.name)
    if merged is None or not merged.present or not merged.numeric:
        return None
    merged.settle()
    mean = float(np.average(merged.values, weights=merged.counts))
    return mean, float(np.average(np.abs(merged.values - mean), weights=merged.counts))
