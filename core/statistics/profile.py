"""A batch's profile: what the checks beyond TFDV's statistics need, from the rows themselves.

TFDV's statistics hold ten quantiles, a top-k and a few moments per feature: enough for its
comparators, not for a column that becomes constant or loses precision, a share of values far in
the tails, or a feature within one slice of the data. The profile holds, per feature, every
distinct value with its count (numeric features) or the most frequent values (strings), the same
per slice (`checks.yaml` beside the schema names the slice keys), and a sketch of the number of
distinct rows (so a batch with duplicated rows is judged by its real sample size).

It is computed from the typed columns (core/reading/cells.py) of the rows kept, block by block, in both
paths: ExampleGen's executor (written as `profile.json` in the Examples) and `tfxgate validate`
(core/batch/batch_stats.py). Blocks merge in any order to the same profile, so the pipeline and
validate profile one file the same way. core/checks/profile_checks.py compares two profiles.

Memory is bounded: a numeric feature keeps at most NUMERIC_CAP distinct values (beyond, values
are rounded to fewer significant digits and the profile says so), a string feature STRING_CAP
values (the rest counted as `other`), a slice key SLICE_CAP values.
"""

import dataclasses
import functools
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from core.reading import cells
from core.statistics import grouping
from core.statistics.feature_profile import (  # noqa: F401 (dense, quantiles_histogram: the profile's API)
    NUMERIC_CAP, ROW_SKETCH, SLICE_CAP, SLICE_NUMERIC_CAP, VERSION, FeatureProfile, dense, quantiles_histogram)

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
        if self.buckets and column.dtype != object:
            present = ~np.isnan(column)
            bounds = np.asarray(self.buckets, dtype=np.float64)
            codes = np.full(len(column), -1, dtype=np.int64)
            codes[present] = np.searchsorted(bounds, column[present], side="right")  # 0: below the first bound
            return [_bucket_name(self.feature, bounds, i) for i in range(-1, len(bounds))], codes
        values, codes = grouping.slice_codes(column)
        if column.dtype == object:
            return [f"{self.feature}={v}" for v in values], codes
        return [f"{self.feature}={_number(v)}" for v in values], codes


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
    # readable): with `features`, each such column as it arrived (core/checks/rule_cause.py judges it).
    broken: Dict[str, FeatureProfile] = dataclasses.field(default_factory=dict)

    def add(self, columns: Mapping[str, Tuple[str, np.ndarray]], keys: Sequence[SliceKey] = ()) -> None:
        """Adds a block of rows: {feature: (kind, one value per row as `dense` gives)}."""
        if not columns:
            return
        rows = len(next(iter(columns.values()))[1])
        if not rows:
            return
        self.rows += rows
        counted = {name: grouping.Values(kind != cells.BYTES, column) for name, (kind, column) in columns.items()}
        for name, (kind, _) in columns.items():
            _feature(self.features, name, kind, NUMERIC_CAP).add_counted(counted[name].whole(), counted[name].rows)
        self.row_hashes = _smallest(np.concatenate([self.row_hashes, _row_hashes(columns)]))
        for key in keys:
            if key.feature in columns:
                self._add_slices(key, columns, counted)

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

    def _add_slices(self, key: SliceKey, columns, counted: Dict[str, grouping.Values]) -> None:
        """Adds a block's rows to the slices of `key`, in the order of the slices' values (which
        decides the slices kept beyond SLICE_CAP); every feature counted for all slices at once."""
        names, codes = key.codes(columns[key.feature][1])
        if not (codes >= 0).any():
            return
        sizes = np.bincount(codes[codes >= 0], minlength=len(names))
        by_slice = {feature: counted[feature].by_slice(codes, len(names)) for feature in columns}
        for code in np.flatnonzero(sizes):
            name = names[code]
            if name not in self.slices:
                if sum(s.key == key.feature for s in self.slices.values()) >= SLICE_CAP:
                    continue
                self.slices[name] = Slice(key.feature)
            target = self.slices[name]
            target.rows += int(sizes[code])
            for feature, (kind, _) in columns.items():
                found, rows = by_slice[feature][code]
                _feature(target.features, feature, kind, SLICE_NUMERIC_CAP).add_counted(found, rows)

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
    """The profiles merged: byte for byte what merging them one by one into an empty profile gives,
    but each feature (and slice) merged once over all the profiles holding it, not the growing
    result again for every profile."""
    profiles = list(profiles)
    result = Profile(sum(p.rows for p in profiles))
    result.features = _merge_many_features([p.features for p in profiles])
    for name in sorted(set().union(*(p.slices for p in profiles))):
        pieces = [p.slices[name] for p in profiles if name in p.slices]
        result.slices[name] = pieces[0] if len(pieces) == 1 else Slice(
            pieces[0].key, sum(s.rows for s in pieces), _merge_many_features([s.features for s in pieces]))
    result.row_hashes = _smallest(np.concatenate([result.row_hashes] + [p.row_hashes for p in profiles]))
    result.broken = _merge_many_features([p.broken for p in profiles])
    return result


def _merge_many_features(dicts: Sequence[Dict[str, FeatureProfile]]) -> Dict[str, FeatureProfile]:
    merged = {}
    for name in sorted(set().union(*dicts)):
        found = [d[name].settle() for d in dicts if name in d]
        merged[name] = found[0] if len(found) == 1 else _merge_many(found)
    return merged


def _merge_many(found: List[FeatureProfile]) -> FeatureProfile:
    """`found[0].merge(found[1]).merge(found[2])...` at once where that is exact: strings counted
    in the same order, or numbers whose union stays within the cap without rounding (and no -0.0,
    whose place beside 0.0 depends on each merge's sort); else one by one."""
    first = found[0]
    if any(f.kind != first.kind for f in found):
        return functools.reduce(FeatureProfile.merge, found)
    merged = FeatureProfile(first.kind, sum(f.present for f in found), cap=first.cap)
    if not first.numeric:
        merged.strings, merged.other = dict(first.strings), sum(f.other for f in found)
        for f in found[1:]:
            merged.absorb_strings(f.strings)
        return merged
    values = np.concatenate([np.asarray(f.values, dtype=np.float64) for f in found])
    signed_zero = np.signbit(values[values == 0]).any()
    if any(f.digits is not None for f in found) or np.isnan(values).any() or signed_zero:
        return functools.reduce(FeatureProfile.merge, found)
    unique, inverse = np.unique(values, return_inverse=True)
    if len(unique) > merged.cap:
        return functools.reduce(FeatureProfile.merge, found)
    weights = np.concatenate([f.counts for f in found])
    merged.values = unique
    merged.counts = np.bincount(inverse, weights=weights, minlength=len(unique)).astype(np.int64)
    return merged


def _feature(features: Dict[str, FeatureProfile], name: str, kind: str, cap: int) -> FeatureProfile:
    target = features.get(name)
    if target is None:
        target = features[name] = FeatureProfile(kind, cap=cap)
    return target


def _add_column(features: Dict[str, FeatureProfile], name: str, kind: str, column: np.ndarray, cap: int) -> None:
    target = _feature(features, name, kind, cap)
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
