"""Which column of a broken rule across columns changed: the cause a rule's finding names.

A rule `a == f(b)` broken in most rows says that `a` and `b` no longer agree, not which of them
changed. Each column the rule reads is judged against the baseline's profile of that column
(core/statistics/profile.py), through the parts of the rule that read it alone (core.rules.views:
`trip_start_hour`, `hour(trip_start_timestamp)`): in the baseline the rule held, so each part
has the distribution it had there, and a column that changed shows in its own part. The batch's
side is the column as it arrived: the rows kept and those left out for breaking a rule
(`Profile.as_read`).

A part with few distinct values (a code: an hour, a weekday, a category, a true/false part) is
judged by its L-infinity distance from the baseline's, beyond LINF_MIN and the sampling noise
of a batch this size (core/statistics/noise.py); a part with many values (a measurement) by the checks of
core/checks/profile_checks.py: degenerate columns (constant, precision lost, distinct values
collapsed, one value taking over), tails and the Jensen-Shannon distance, the last two only
where the schema compares the feature's distribution (a timestamp's raw values follow the
window a batch covers; its hour does not).

The cause is the column or columns that changed; when none did alone (values swapped between
rows, say), the rule's columns together; without a baseline, the rule's first column, as
before, and the finding says the cause could not be judged.
"""

import dataclasses
import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from core.reading import cells
from core import rules as rules_lib
from core.statistics import noise
from core.checks import profile_checks
from core.common.findings import DRIFT, SKEW
from core.statistics.profile import FeatureProfile, Profile

LINF_MIN = 0.03  # a code part's shares moved by at least this much (clean years of the sample: at most 0.021)
JS_MIN = 0.1  # a measurement part's Jensen-Shannon divergence, where the schema sets no threshold
BINS = 12  # the most categories or bins a column's comparison keeps for the report
TOGETHER = ", "  # between the rule's columns, when the finding names them together


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of a rule, judged against its baseline."""

    feature: str
    changed: bool
    part: str  # the part of the rule that shows it (core.rules.View.text)
    measure: str  # what was measured: "L-infinity", "Jensen-Shannon", or a check of core/checks/profile_checks.py
    value: Optional[float] = None
    threshold: Optional[float] = None
    noise: Optional[float] = None
    why: str = ""  # one clause: what stands, or why it looks unchanged
    bins: Tuple[Tuple[str, float, float], ...] = ()  # (category or bin, baseline share, batch share)

    def to_json(self) -> dict:
        data = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        data["bins"] = [list(b) for b in self.bins]
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Column":
        fields = {f.name: data.get(f.name) for f in dataclasses.fields(cls) if f.name in data}
        fields["bins"] = tuple(tuple(b) for b in data.get("bins", []))
        return cls(**fields)


@dataclasses.dataclass(frozen=True)
class Cause:
    """The cause of a broken rule: its columns judged, the changed ones first."""

    rule: str
    feature: str  # what the finding names
    columns: Tuple[Column, ...] = ()
    judged: bool = True  # False: no baseline (or no profile) to judge against

    @property
    def changed(self) -> List[str]:
        return [c.feature for c in self.columns if c.changed]

    def text(self) -> str:
        """One or two sentences for the finding's description."""
        if not self.judged:
            return (f"Without a baseline profile the cause could not be judged: the finding names the rule's first "
                    f"column, {self.feature}.")
        unchanged = [c for c in self.columns if not c.changed]
        if self.changed:
            said = "; ".join(f"{c.feature} changed ({c.why})" for c in self.columns if c.changed)
            rest = "; ".join(f"{c.feature} is unchanged ({c.why})" for c in unchanged)
            return f"Cause: {said}" + (f"; {rest}." if rest else ".")
        each = "; ".join(f"{c.feature}: {c.why}" for c in unchanged)
        return (f"No column changed alone: each looks like its baseline ({each}); only their relation broke "
                f"(values swapped or mismatched between rows?), so the finding names them together.")


def cause(rule: rules_lib.Rule, current: Optional[Profile], baseline: Optional[Profile], schema=None,
          kind: str = DRIFT, rules: Sequence[rules_lib.Rule] = (), held: Sequence[str] = ()) -> Cause:
    """The cause of `rule`'s breaking in the batch profiled as `current`.

    Args:
        rule: a rule across columns (core.rules.Rule), from any constraints file.
        current: the batch's profile (its `broken` part holds the rows left out for a rule).
        baseline: the baseline's profile (rows where the rule held); None: not judged.
        schema: the curated schema, if any: a feature it declares categorical is a code, and one
            without a comparator for `kind` has raw values that follow the batch's window (only
            its parts and degenerate checks judge it). None: every column is compared.
        kind: DRIFT or SKEW, what the baseline is (for the schema's comparators and the words).
        rules: the other rules of the same file: a column is also judged through their parts
            that read it alone (a timestamp's hour shows a shift its weekday hides).
        held: the names of those rules that held on the batch (core.reading.report.held_rules): when no
            column's profile changed, a column another rule that held reads is vouched for, and a
            single column of `rule` no such rule vouches for is the cause.

    Returns:
        A Cause; its `feature` is what the finding names.
    """
    parts = rules_lib.views(rule)
    if current is None or baseline is None:
        return Cause(rule.name, rules_lib.first_column(rule), judged=False)
    current.settle()
    baseline.settle()
    features = {f.name: f for f in schema.feature} if schema is not None else {}
    scale = profile_checks.effective(current)
    judged = []
    others = [r for r in rules if r.name != rule.name]
    for name, views in parts.items():
        cur, base = current.as_read(name), baseline.features.get(name)
        if cur is None or base is None or not cur.present or not base.present:
            judged.append(Column(name, False, name, "none", why="no values on one side: not judged"))
            continue
        views = list(views) + [v for other in others for v in rules_lib.views(other).get(name, [])
                               if all(v.text != mine.text for mine in views)]
        judged.append(_column(name, views, cur, base, features.get(name), scale, kind))
    order = {name: i for i, name in enumerate(parts)}
    changed = [c.feature for c in judged if c.changed]
    if not changed and len(parts) > 1:
        judged = _vouched(judged, rule, [r for r in others if r.name in set(held)])
        changed = [c.feature for c in judged if c.changed]
    judged.sort(key=lambda c: (not c.changed, -_strength(c) if c.changed else order[c.feature]))
    changed = [c.feature for c in judged if c.changed]
    if len(parts) == 1:
        feature = next(iter(parts))
    elif changed:
        feature = TOGETHER.join(changed)
    else:
        feature = TOGETHER.join(parts)
    return Cause(rule.name, feature, tuple(judged))


def _vouched(judged: List[Column], rule: rules_lib.Rule, held: Sequence[rules_lib.Rule]) -> List[Column]:
    """When no column's profile changed: the columns other rules that held read are vouched for;
    if exactly one of the rule's columns is not, it is the cause (its values moved between rows,
    or by a step its profile cannot show, such as a weekday rotated by one)."""
    vouchers = {c.feature: [r.name for r in held if c.feature in r.columns()] for c in judged}
    alone = [c for c in judged if not vouchers[c.feature]]
    if len(alone) != 1:
        return judged
    result = []
    for c in judged:
        if c is alone[0]:
            why = (f"its profile looks like the baseline's ({c.why}), but the rows disagree with columns that "
                   f"other rules vouch for")
            result.append(dataclasses.replace(c, changed=True, measure="vouched", why=why))
        else:
            result.append(dataclasses.replace(
                c, why=f"{c.why}; vouched for by rule{'s' if len(vouchers[c.feature]) > 1 else ''} "
                       f"{', '.join(vouchers[c.feature])}, which held"))
    return result


def _strength(column: Column) -> float:
    if column.value is None or not column.threshold:
        return 0.0
    return column.value / column.threshold


def _column(name: str, views: Sequence[rules_lib.View], cur: FeatureProfile, base: FeatureProfile, feature,
            scale: float, kind: str) -> Column:
    """A column judged through each part of the rule that reads it: the first that stands, else
    the part that came closest."""
    results = []
    for view in views:
        cur_values, cur_counts = _distribution(view, cur)
        base_values, base_counts = _distribution(view, base)
        if not cur_counts.sum() or not base_counts.sum():
            continue
        code = base.kind == cells.BYTES or base_values.dtype == object or \
            profile_checks.code_values(np.asarray(base_values, dtype=np.float64)) or \
            (feature is not None and feature.HasField("int_domain") and feature.int_domain.is_categorical)
        if code:
            results.append(_code(name, view.text, cur_values, cur_counts, base_values, base_counts, scale))
        else:
            raw = view.text == name
            compared = feature is None or profile_checks.compared(feature, kind)
            results.append(_measurement(name, view.text, _profile(cur_values, cur_counts, cur.kind if raw else "float"),
                                        _profile(base_values, base_counts, base.kind if raw else "float"), feature,
                                        scale, kind, distributions=compared or not raw))
    if not results:
        return Column(name, False, views[0].text if views else name, "none", why="no part of the rule has values to compare")
    standing = [r for r in results if r.changed]
    return max(standing, key=_strength) if standing else results[0]


def _distribution(view: rules_lib.View, profile: FeatureProfile) -> Tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values of the part, their rows) over a feature's profile."""
    if profile.numeric:
        values, counts = profile.values, profile.counts
    else:
        values = np.asarray(list(profile.strings), dtype=object)
        counts = np.asarray(list(profile.strings.values()), dtype=np.int64)
    if not len(values):
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    out, defined = view.of(values)
    out, counts = out[defined], counts[defined]
    if out.dtype == object:
        keys = sorted(set(out))
        index = {k: i for i, k in enumerate(keys)}
        summed = np.bincount([index[v] for v in out], weights=counts, minlength=len(keys)).astype(np.int64)
        return np.asarray(keys, dtype=object), summed
    unique, inverse = np.unique(np.asarray(out, dtype=np.float64), return_inverse=True)
    return unique, np.bincount(inverse, weights=counts, minlength=len(unique)).astype(np.int64)


def _profile(values: np.ndarray, counts: np.ndarray, kind: str) -> FeatureProfile:
    profile = FeatureProfile(kind if kind != cells.BYTES else "float", int(counts.sum()))
    profile.values, profile.counts = np.asarray(values, dtype=np.float64), np.asarray(counts, dtype=np.int64)
    return profile


def _label(value) -> str:
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else f"{float(value):.6g}"
    return str(value)


def _code(name: str, part: str, cur_values, cur_counts, base_values, base_counts, scale: float) -> Column:
    base = {_label(v): float(c) for v, c in zip(base_values, base_counts)}
    batch = {_label(v): float(c) for v, c in zip(cur_values, cur_counts)}
    distance = noise.linf(base, batch)
    rows = int(cur_counts.sum() * scale)
    level = noise.linf_noise(base, rows, f"rule_cause:{part}")
    stands = noise.stands(distance, LINF_MIN, level)
    total_base, total_batch = sum(base.values()), sum(batch.values())
    # In the values' own order, not a set's (whose order follows the process's string hashing): the
    # value named as moved most must be the same in every process that judges the same batch.
    shares = [(k, base.get(k, 0.0) / total_base, batch.get(k, 0.0) / total_batch)
              for k in sorted(set(base) | set(batch), key=_order)]
    new = sum(b for k, _, b in shares if k not in base)
    moved = max(shares, key=lambda s: round(abs(s[2] - s[1]), 12))
    words = (f"{part}: its shares moved by up to {distance:.2f} from the baseline's (at {moved[0]}: "
             f"{moved[1]:.1%} there, {moved[2]:.1%} here)")
    if new:
        words += f", {new:.1%} of rows hold values the baseline never had"
    words += f"; threshold {LINF_MIN:.2g}, sampling noise {level:.2g}"
    shares.sort(key=lambda s: _order(s[0]))
    kept = shares if len(shares) <= BINS else sorted(shares, key=lambda s: -abs(s[2] - s[1]))[:BINS]
    return Column(name, stands, part, "L-infinity", distance, LINF_MIN, level, words,
                  tuple((k, round(b, 4), round(m, 4)) for k, b, m in sorted(kept, key=lambda s: _order(s[0]))))


def _order(label: str):
    try:
        return (0, float(label), "")
    except ValueError:
        return (1, 0.0, label)


def _measurement(name: str, part: str, cur: FeatureProfile, base: FeatureProfile, feature, scale: float, kind: str,
                 distributions: bool) -> Column:
    outcome = profile_checks.judge_column(part, cur, base, feature, scale, kind, distributions,
                                          _js_threshold(feature, kind))
    histogram = base.quantiles_histogram()
    edges = [low for low, _, _ in histogram] + [histogram[-1][1]]
    bins = _binned(edges, base), _binned(edges, cur)
    labels = [f"[{_label(edges[i])}, {_label(edges[i + 1])}{']' if i == len(edges) - 2 else ')'}"
              for i in range(len(edges) - 1)]
    shown = tuple((label, round(b, 4), round(m, 4)) for label, b, m in zip(labels, *bins))
    if outcome.findings:
        finding = outcome.findings[0]
        rule = finding.rule or finding.check
        return Column(name, True, part, rule, finding.value, finding.threshold, finding.noise,
                      f"{part}: {finding.description}", shown)
    near = max(outcome.measurements, key=lambda m: m["value"] / m["threshold"] if m["threshold"] else 0.0,
               default=None)
    if near is None:
        return Column(name, False, part, "none", why=f"{part}: no check applies", bins=shown)
    return Column(name, False, part, near["type"].lower(), near["value"], near["threshold"], near.get("noise"),
                  f"{part}: {near['type'].lower()} {near['value']:.3g}, within its threshold {near['threshold']:.3g}"
                  + (f" and noise {near['noise']:.2g}" if near.get("noise") is not None else ""), shown)


def _binned(edges: List[float], profile: FeatureProfile) -> List[float]:
    index = np.clip(np.searchsorted(edges, profile.values, side="right") - 1, 0, len(edges) - 2)
    counts = np.bincount(index, weights=profile.counts, minlength=len(edges) - 1)
    return list(counts / max(counts.sum(), 1))


def _js_threshold(feature, kind: str) -> float:
    if feature is None:
        return JS_MIN
    comparator = feature.skew_comparator if kind == SKEW else feature.drift_comparator
    return comparator.jensen_shannon_divergence.threshold or JS_MIN
