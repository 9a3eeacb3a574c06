"""Rules mined from training data as candidates for a person to review: derived columns (the
hour of a timestamp), equalities up to a factor, and orderings random pairing would break."""

import dataclasses
import keyword
import re
from typing import List, Mapping, Optional, Set, Tuple

import numpy as np

from core.rules.evaluating import Value, timestamp, tolerant_equal
from core.rules.expression import NUM
from core.rules.parsing import Rule
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
        derived = {f: timestamp(f, Value(NUM, a.values, a.present)).values for f in _MINED_FUNCTIONS}
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
            if np.all(tolerant_equal(y, k * x, None)):
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
