"""One feature's profile (core/statistics/profile.py): its distinct values and counts (numeric),
or its most frequent values (strings), capped; dense columns and the decimal place of values."""

import collections
import dataclasses
from typing import Dict, List, Optional, Tuple

import numpy as np

from core.reading import cells


VERSION = 1
NUMERIC_CAP = 50_000
SLICE_NUMERIC_CAP = 5_000
STRING_CAP = 1_000
SLICE_CAP = 100  # slice values per key; a key with more is cut to the most frequent seen first
ROW_SKETCH = 4096  # k of the k-minimum-values sketch of distinct rows (about 1.6 % error)
_PENDING = 100_000  # values held before they are merged into the distinct values
LEVELS = tuple(range(12, -7, -1))  # powers of ten a value may be a multiple of, coarsest first
FINEST = -7  # the level of a value finer than 10**-6 (or than float32 resolves)
_FLOAT32_RELATIVE = 2.5e-7  # a float32 value is its decimal form within this relative error


def dense(column: cells.Column, kind: str) -> np.ndarray:
    """One value per row of a column read by core/reading/cells.py: float64 with NaN where the cell is
    empty (or unreadable), or an object array of str with None (BYTES)."""
    rows = len(column.present)
    if kind == cells.BYTES:
        import pyarrow as pa

        result = np.full(rows, None, dtype=object)
        values = column.values
        if pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
            try:
                values = values.cast(pa.string())
            except pa.ArrowInvalid:  # not UTF-8 (the readers refuse that before): decoded one by one
                values = pa.array([v.decode("utf-8", "replace") for v in values.to_pylist()], pa.string())
        result[column.present] = values.to_numpy(zero_copy_only=False)
        return result
    result = np.full(rows, np.nan)
    result[column.present] = column.values.to_numpy(zero_copy_only=False).astype(np.float64)
    return result


def levels(values: np.ndarray, kind: str) -> np.ndarray:
    """Per value, the largest power of ten it is a multiple of (10**k -> k; LEVELS), FINEST for
    a value finer than 10**-6, or finer than float32 resolves; None-free: zero is skipped by the
    caller. A FLOAT feature's values are float32, read with float32's relative error."""
    values = np.asarray(values, dtype=np.float64)
    result = np.full(len(values), FINEST, dtype=np.int64)
    unassigned = np.ones(len(values), dtype=bool)
    relative = _FLOAT32_RELATIVE if kind == cells.FLOAT else 1e-12
    magnitude = np.abs(values)
    for level in LEVELS:
        scaled = values / 10.0**level
        tolerance = np.maximum(relative * magnitude / 10.0**level, 1e-9)
        hit = unassigned & (magnitude >= 0.999 * 10.0**level) & (np.abs(scaled - np.round(scaled)) <= tolerance)
        result[hit] = level
        unassigned &= ~hit
    return result


@dataclasses.dataclass
class FeatureProfile:
    """One feature in one batch (or slice): rows with a value and the values' counts."""

    kind: str
    present: int = 0
    values: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))  # numeric: sorted distinct
    counts: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    strings: Dict[str, int] = dataclasses.field(default_factory=dict)  # BYTES: value -> rows
    other: int = 0  # BYTES: rows whose value is beyond STRING_CAP
    digits: Optional[int] = None  # numeric: significant digits kept, once the cap was reached
    cap: int = NUMERIC_CAP
    _pending: List[np.ndarray] = dataclasses.field(default_factory=list, repr=False)
    _pending_size: int = dataclasses.field(default=0, repr=False)

    @property
    def numeric(self) -> bool:
        return self.kind != cells.BYTES

    def add(self, values) -> None:
        """Adds the values of rows that have one (numeric: a float64 array; BYTES: a sequence of str)."""
        if self.numeric:
            values = np.asarray(values, dtype=np.float64)
            if not len(values):
                return
            self.present += len(values)
            self._pending.append(values)
            self._pending_size += len(values)
            if self._pending_size >= _PENDING:
                self._settle()
            return
        # A Counter, not np.unique: numpy would make a fixed-width array as wide as the longest
        # value times the rows (a 20 MB company name in 200 rows: 16 GB).
        self.add_counted(collections.Counter(values).items(), len(values))

    def add_counted(self, counted, rows: int) -> None:
        """Adds `rows` rows' values already counted (core/statistics/grouping.py): numeric, a pair
        (sorted distinct float64 values, their counts); BYTES, (value, count) pairs in the order
        the values first appear. The same profile as `add` of those rows' values."""
        if self.numeric:
            if not rows:
                return
            self.present += rows
            self._pending.append(counted)
            self._pending_size += rows
            if self._pending_size >= _PENDING:
                self._settle()
            return
        self.present += rows
        for value, count in counted:
            if value in self.strings or len(self.strings) < STRING_CAP:
                self.strings[value] = self.strings.get(value, 0) + count
            else:
                self.other += count

    def _settle(self) -> None:
        if not self._pending:
            return
        pending, self._pending, self._pending_size = self._pending, [], 0
        if all(isinstance(p, np.ndarray) for p in pending):  # raw values only
            values = np.concatenate(pending)
            if self.digits is not None:
                values = _round_significant(values, self.digits)
            unique, counts = np.unique(values, return_counts=True)
            self._absorb(unique, counts)
            return
        # Counted pieces: rounding each distinct value rounds each of its rows alike.
        values = np.concatenate([p if isinstance(p, np.ndarray) else p[0] for p in pending])
        weights = np.concatenate([np.ones(len(p), dtype=np.int64) if isinstance(p, np.ndarray) else p[1]
                                  for p in pending])
        if self.digits is not None:
            values = _round_significant(values, self.digits)
        if len(pending) == 1 and self.digits is None:
            unique, counts = values, weights  # one block's distinct values, sorted already
        else:
            unique, inverse = np.unique(values, return_inverse=True)
            counts = np.bincount(inverse, weights=weights, minlength=len(unique)).astype(np.int64)
        self._absorb(unique, counts)

    def _absorb(self, unique: np.ndarray, counts: np.ndarray) -> None:
        """Adds sorted distinct values with their counts."""
        if not len(self.values):  # nothing to merge with (most often: a batch settled once)
            self.values, self.counts = np.asarray(unique, dtype=np.float64), np.asarray(counts).astype(np.int64)
        else:
            merged = np.concatenate([self.values, unique])
            weights = np.concatenate([self.counts, counts])
            self.values, inverse = np.unique(merged, return_inverse=True)
            self.counts = np.bincount(inverse, weights=weights, minlength=len(self.values)).astype(np.int64)
        while len(self.values) > self.cap:
            self.digits = 7 if self.digits is None else self.digits - 1
            rounded, inverse = np.unique(_round_significant(self.values, self.digits), return_inverse=True)
            self.counts = np.bincount(inverse, weights=self.counts, minlength=len(rounded)).astype(np.int64)
            self.values = rounded

    def merge(self, other: "FeatureProfile") -> "FeatureProfile":
        self.settle()
        other.settle()
        merged = FeatureProfile(self.kind, self.present + other.present, cap=self.cap)
        if self.numeric:
            merged.digits = min((d for d in (self.digits, other.digits) if d is not None), default=None)
            for source in (self, other):
                if merged.digits is None or source.digits == merged.digits:
                    merged._absorb(source.values, source.counts)
                else:
                    merged._absorb(*_rounded(source.values, source.counts, merged.digits))
        else:
            merged.strings = dict(self.strings)
            merged.other = self.other + other.other
            merged.absorb_strings(other.strings)
        return merged

    def absorb_strings(self, strings: dict) -> None:
        """Counts `strings` (value -> count) in: a value past STRING_CAP distinct ones goes to `other`."""
        for value, count in strings.items():
            if value in self.strings or len(self.strings) < STRING_CAP:
                self.strings[value] = self.strings.get(value, 0) + count
            else:
                self.other += count

    def settle(self) -> "FeatureProfile":
        """Merges the values held back (cheap appends while adding blocks); returns self."""
        if self.numeric:
            self._settle()
        return self

    # ---- what the checks read ------------------------------------------------------------------

    @property
    def distinct(self) -> int:
        self.settle()
        return len(self.values) if self.numeric else len(self.strings) + (1 if self.other else 0)

    def value_counts(self) -> Dict:
        """{value: rows}: numeric values as floats, strings as str (`other` not included)."""
        self.settle()
        if self.numeric:
            return dict(zip(self.values.tolist(), self.counts.tolist()))
        return dict(self.strings)

    def top(self) -> Tuple[object, int]:
        """(the most frequent value, its rows); (None, 0) when empty."""
        self.settle()
        if self.numeric:
            if not len(self.counts):
                return None, 0
            i = int(np.argmax(self.counts))
            return float(self.values[i]), int(self.counts[i])
        if not self.strings:
            return None, 0
        value = max(self.strings, key=lambda v: (self.strings[v], v))
        return value, self.strings[value]

    def quantile(self, q: float) -> Optional[float]:
        """The q-quantile of a numeric feature (the lowest value whose cumulative share reaches q)."""
        self.settle()
        if not self.numeric or not len(self.counts):
            return None
        cumulative = np.cumsum(self.counts)
        index = int(np.searchsorted(cumulative, q * cumulative[-1], side="left"))
        return float(self.values[min(index, len(self.values) - 1)])

    def rows_outside(self, low: float, high: float) -> int:
        """Rows whose value is strictly below `low` or strictly above `high`."""
        self.settle()
        return int(self.counts[(self.values < low) | (self.values > high)].sum())

    def within(self, low: float, high: float) -> "FeatureProfile":
        """The values in [low, high] alone (a numeric feature restricted to a range)."""
        self.settle()
        keep = (self.values >= low) & (self.values <= high)
        restricted = FeatureProfile(self.kind, int(self.counts[keep].sum()), cap=self.cap, digits=self.digits)
        restricted.values, restricted.counts = self.values[keep], self.counts[keep]
        return restricted

    def level_shares(self) -> Dict[int, float]:
        """The share of the distinct non-zero values at each decimal level (see `levels`)."""
        self.settle()
        nonzero = self.values[self.values != 0] if self.numeric else np.zeros(0)
        if not len(nonzero):
            return {}
        found, counts = np.unique(levels(nonzero, self.kind), return_counts=True)
        return {int(k): c / len(nonzero) for k, c in zip(found, counts)}

    def quantiles_histogram(self, buckets: int = 10) -> Optional[List[Tuple[float, float, float]]]:
        """(low, high, count) of `buckets` equal-mass buckets between quantiles, as TFDV builds one."""
        self.settle()
        if not self.numeric or not self.present:
            return None
        return quantiles_histogram(self.values, self.counts, buckets)

    def to_json(self) -> dict:
        self.settle()
        data = {"kind": self.kind, "present": self.present}
        if self.numeric:
            data["values"] = self.values.tolist()
            data["counts"] = self.counts.tolist()
            if self.digits is not None:
                data["digits"] = self.digits
        else:
            data["strings"] = self.strings
            if self.other:
                data["other"] = self.other
        return data

    @classmethod
    def from_json(cls, data: dict, cap: int = NUMERIC_CAP) -> "FeatureProfile":
        profile = cls(data["kind"], int(data["present"]), cap=cap, digits=data.get("digits"))
        if profile.numeric:
            profile.values = np.asarray(data.get("values", []), dtype=np.float64)
            profile.counts = np.asarray(data.get("counts", []), dtype=np.int64)
        else:
            profile.strings = {k: int(v) for k, v in data.get("strings", {}).items()}
            profile.other = int(data.get("other", 0))
        return profile


def quantiles_histogram(values: np.ndarray, counts: np.ndarray, buckets: int = 10) -> List[Tuple[float, float, float]]:
    """(low, high, count) of `buckets` equal-mass buckets of sorted `values` weighted by `counts`
    (zero counts allowed): each edge the lowest value whose cumulative share reaches i / buckets."""
    cumulative = np.cumsum(counts)
    total = float(cumulative[-1])
    index = np.searchsorted(cumulative, np.linspace(0.0, 1.0, buckets + 1) * total, side="left")
    edges = values[np.minimum(index, len(values) - 1)].astype(float)
    edges[0] = float(values[np.flatnonzero(counts)[0]])
    count = total / buckets
    return [(float(edges[i]), float(edges[i + 1]), count) for i in range(buckets)]


def _round_significant(values: np.ndarray, digits: int) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        magnitude = np.where(values == 0, 0, np.floor(np.log10(np.abs(values))))
    scale = 10.0 ** (digits - 1 - magnitude)
    return np.round(values * scale) / scale


def _rounded(values: np.ndarray, counts: np.ndarray, digits: int):
    unique, inverse = np.unique(_round_significant(values, digits), return_inverse=True)
    return unique, np.bincount(inverse, weights=counts, minlength=len(unique)).astype(np.int64)
