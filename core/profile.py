"""A batch's profile: what the checks beyond TFDV's statistics need, from the rows themselves.

TFDV's statistics hold ten quantiles, a top-k and a few moments per feature: enough for its
comparators, not for a column that becomes constant or loses precision, a share of values far in
the tails, or a feature within one slice of the data. The profile holds, per feature, every
distinct value with its count (numeric features) or the most frequent values (strings), the same
per slice (`checks.yaml` beside the schema names the slice keys), and a sketch of the number of
distinct rows (so a batch with duplicated rows is judged by its real sample size).

It is computed from the typed columns (core/cells.py) of the rows kept, block by block, in both
paths: ExampleGen's executor (written as `profile.json` in the Examples) and `tfxgate validate`
(core/batch_stats.py). Blocks merge in any order to the same profile, so the pipeline and
validate profile one file the same way. core/profile_checks.py compares two profiles.

Memory is bounded: a numeric feature keeps at most NUMERIC_CAP distinct values (beyond, values
are rounded to fewer significant digits and the profile says so), a string feature STRING_CAP
values (the rest counted as `other`), a slice key SLICE_CAP values.
"""

import collections
import dataclasses
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from core import cells

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
    """One value per row of a column read by core/cells.py: float64 with NaN where the cell is
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
        self.present += len(values)
        # A Counter, not np.unique: numpy would make a fixed-width array as wide as the longest
        # value times the rows (a 20 MB company name in 200 rows: 16 GB).
        for value, count in collections.Counter(values).items():
            if value in self.strings or len(self.strings) < STRING_CAP:
                self.strings[value] = self.strings.get(value, 0) + count
            else:
                self.other += count

    def _settle(self) -> None:
        if not self._pending:
            return
        pending = np.concatenate(self._pending)
        self._pending, self._pending_size = [], 0
        if self.digits is not None:
            pending = _round_significant(pending, self.digits)
        unique, counts = np.unique(pending, return_counts=True)
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
            for value, count in other.strings.items():
                if value in merged.strings or len(merged.strings) < STRING_CAP:
                    merged.strings[value] = merged.strings.get(value, 0) + count
                else:
                    merged.other += count
        return merged

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


# ---- slices --------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class SliceKey:
    """A feature whose values (or buckets of values) cut the batch into slices."""

    feature: str
    buckets: Tuple[float, ...] = ()  # numeric: the lower bounds of the buckets, ascending
    top: int = 10  # at most this many slices are judged, the largest first

    def codes(self, column: np.ndarray) -> Tuple[List[str], np.ndarray]:
        """(slice names, per row the index of its slice or -1 where the key has no value):
        `feature=value`, or `feature=[a, b)` for a bucketed numeric key."""
        if column.dtype == object:
            present = np.array([v is not None for v in column], dtype=bool)
            values, inverse = np.unique(column[present].astype(object), return_inverse=True) if present.any() \
                else (np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64))
            names = [f"{self.feature}={v}" for v in values]
        else:
            present = ~np.isnan(column)
            if self.buckets:
                bounds = np.asarray(self.buckets, dtype=np.float64)
                index = np.searchsorted(bounds, column[present], side="right")  # 0: below the first bound
                names = [_bucket_name(self.feature, bounds, i) for i in range(-1, len(bounds))]
                inverse = index
            else:
                values, inverse = np.unique(column[present], return_inverse=True)
                names = [f"{self.feature}={_number(v)}" for v in values]
        codes = np.full(len(column), -1, dtype=np.int64)
        codes[present] = inverse
        return names, codes


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _bucket_name(feature: str, bounds: np.ndarray, i: int) -> str:
    if i < 0:
        return f"{feature}<{_number(bounds[0])}"
    high = _number(bounds[i + 1]) if i + 1 < len(bounds) else "inf"
    return f"{feature}=[{_number(bounds[i])}, {high})"


# ---- a batch -------------------------------------------------------------------------------------

@dataclasses.dataclass
class Slice:
    key: str  # the slice key's feature
    rows: int = 0
    features: Dict[str, FeatureProfile] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Profile:
    """A batch's profile: rows, each feature, each slice, and the sketch of distinct rows."""

    rows: int = 0
    features: Dict[str, FeatureProfile] = dataclasses.field(default_factory=dict)
    slices: Dict[str, Slice] = dataclasses.field(default_factory=dict)
    row_hashes: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    # The features rules across columns read, over the rows left out for breaking one (their cells
    # readable): with `features`, each such column as it arrived (core/rule_cause.py judges it).
    broken: Dict[str, FeatureProfile] = dataclasses.field(default_factory=dict)

    def add(self, columns: Mapping[str, Tuple[str, np.ndarray]], keys: Sequence[SliceKey] = ()) -> None:
        """Adds a block of rows: {feature: (kind, one value per row as `dense` gives)}."""
        if not columns:
            return
        rows = len(next(iter(columns.values()))[1])
        if not rows:
            return
        self.rows += rows
        for name, (kind, column) in columns.items():
            _add_column(self.features, name, kind, column, NUMERIC_CAP)
        self.row_hashes = _smallest(np.concatenate([self.row_hashes, _row_hashes(columns)]))
        for key in keys:
            if key.feature in columns:
                self._add_slices(key, columns)

    def add_broken(self, columns: Mapping[str, Tuple[str, np.ndarray]]) -> None:
        """Adds the columns rules read, of rows left out for breaking a rule (as `add` takes them)."""
        for name, (kind, column) in columns.items():
            if len(column):
                _add_column(self.broken, name, kind, column, NUMERIC_CAP)

    def as_read(self, name: str) -> Optional[FeatureProfile]:
        """A feature over every row whose cells were readable, those left out for breaking a rule
        included (`broken`); None when the profile has no such feature."""
        kept, broken = self.features.get(name), self.broken.get(name)
        if kept is None or broken is None:
            return kept or broken
        return kept.merge(broken)

    def _add_slices(self, key: SliceKey, columns) -> None:
        names, codes = key.codes(columns[key.feature][1])
        present = np.flatnonzero(codes >= 0)
        if not len(present):
            return
        order = present[np.argsort(codes[present], kind="stable")]
        sorted_codes = codes[order]
        starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
        ends = np.r_[starts[1:], len(order)]
        for start, end in zip(starts, ends):
            name = names[sorted_codes[start]]
            if name not in self.slices:
                if sum(s.key == key.feature for s in self.slices.values()) >= SLICE_CAP:
                    continue
                self.slices[name] = Slice(key.feature)
            target = self.slices[name]
            rows = order[start:end]
            target.rows += len(rows)
            for feature, (kind, column) in columns.items():
                _add_column(target.features, feature, kind, column[rows], SLICE_NUMERIC_CAP)

    def settle(self) -> "Profile":
        """Merges every feature's values held back; returns self (read a profile only settled)."""
        for feature in self.features.values():
            feature.settle()
        for piece in self.slices.values():
            for feature in piece.features.values():
                feature.settle()
        for feature in self.broken.values():
            feature.settle()
        return self

    @property
    def distinct_rows(self) -> int:
        """The number of distinct rows (exact below ROW_SKETCH, estimated above)."""
        if len(self.row_hashes) < ROW_SKETCH:
            return len(self.row_hashes)
        return int(round((ROW_SKETCH - 1) / (float(self.row_hashes[-1]) / 2.0**64)))

    def merge(self, other: "Profile") -> "Profile":
        merged = Profile(self.rows + other.rows)
        merged.features = _merge_features(self.features, other.features)
        for name in sorted(set(self.slices) | set(other.slices)):
            a, b = self.slices.get(name), other.slices.get(name)
            if a is None or b is None:
                merged.slices[name] = a or b
            else:
                merged.slices[name] = Slice(a.key, a.rows + b.rows, _merge_features(a.features, b.features))
        merged.row_hashes = _smallest(np.concatenate([self.row_hashes, other.row_hashes]))
        merged.broken = _merge_features(self.broken, other.broken)
        return merged

    def to_json(self) -> dict:
        data = {
            "version": VERSION,
            "rows": self.rows,
            "distinct_rows": self.distinct_rows,
            "row_hashes": [int(h) for h in self.row_hashes],
            "features": {n: f.to_json() for n, f in sorted(self.features.items())},
            "slices": {n: {"key": s.key, "rows": s.rows, "features": {f: p.to_json() for f, p in sorted(s.features.items())}}
                       for n, s in sorted(self.slices.items())},
        }
        if self.broken:
            data["broken"] = {n: f.to_json() for n, f in sorted(self.broken.items())}
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Profile":
        profile = cls(int(data.get("rows", 0)))
        profile.features = {n: FeatureProfile.from_json(f) for n, f in data.get("features", {}).items()}
        profile.slices = {
            n: Slice(s["key"], int(s["rows"]), {f: FeatureProfile.from_json(p, SLICE_NUMERIC_CAP)
                                               for f, p in s.get("features", {}).items()})
            for n, s in data.get("slices", {}).items()
        }
        profile.row_hashes = np.asarray(data.get("row_hashes", []), dtype=np.uint64)
        profile.broken = {n: FeatureProfile.from_json(f) for n, f in data.get("broken", {}).items()}
        return profile


def merge_all(profiles: Iterable[Profile]) -> Profile:
    result = Profile()
    for profile in profiles:
        result = result.merge(profile)
    return result


def _add_column(features: Dict[str, FeatureProfile], name: str, kind: str, column: np.ndarray, cap: int) -> None:
    target = features.get(name)
    if target is None:
        target = features[name] = FeatureProfile(kind, cap=cap)
    if kind == cells.BYTES:
        target.add([v for v in column if v is not None])
    else:
        target.add(column[~np.isnan(column)])


def _merge_features(a: Dict[str, FeatureProfile], b: Dict[str, FeatureProfile]) -> Dict[str, FeatureProfile]:
    merged = {}
    for name in sorted(set(a) | set(b)):
        if name in a and name in b:
            merged[name] = a[name].merge(b[name])
        else:
            merged[name] = (a.get(name) or b.get(name)).settle()
    return merged


def _row_hashes(columns: Mapping[str, Tuple[str, np.ndarray]]) -> np.ndarray:
    """A 64-bit hash of each row's values (deterministic: pandas' fixed-key SipHash)."""
    from pandas.util import hash_array

    combined = None
    for name in sorted(columns):
        column = columns[name][1]
        hashed = hash_array(column.astype(object) if column.dtype == object else column)
        combined = hashed if combined is None else (combined * np.uint64(0x100000001B3)) ^ hashed
    return combined


def _smallest(hashes: np.ndarray) -> np.ndarray:
    return np.unique(hashes)[:ROW_SKETCH]
