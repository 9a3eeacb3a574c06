"""`schema/vN/checks.yaml`: the reviewed settings of the checks beyond TFDV's, beside the schema.

    version: 1
    slices:                       # skew, drift, tails and fill rates are also judged per slice
      - feature: company          # a categorical feature: each value is a slice
        top: 10                   # judge the 10 largest slices (default 10)
      - feature: trip_start_hour  # a numeric feature, cut into buckets at these lower bounds
        buckets: [0, 6, 12, 18]
    tests:                        # distances besides the schema's comparators, per feature
      fare: [psi, wasserstein]    # with the default thresholds (PSI 0.25, Wasserstein 0.1)
      trip_miles: {wasserstein: 0.15}

Like the schema, the file is versioned: a version's runs always use that version's settings.
A missing file means no slices and no extra tests.
"""

import dataclasses
import os
from typing import Dict, Iterable, Optional, Tuple

import yaml

from core.common import names
from core.common.errors import ConfigError
from core.statistics.profile import SliceKey

PSI, WASSERSTEIN = "psi", "wasserstein"
# PSI above 0.25 is the credit-scoring rule of thumb for a shift that needs action; Wasserstein
# divided by the baseline's standard deviation above 0.1 is Evidently's default for numbers.
DEFAULT_THRESHOLDS = {PSI: 0.25, WASSERSTEIN: 0.1}
_TOP_KEYS = {"version", "slices", "tests"}


@dataclasses.dataclass(frozen=True)
class CheckSettings:
    slices: Tuple[SliceKey, ...] = ()
    tests: Dict[str, Dict[str, float]] = dataclasses.field(default_factory=dict)  # feature -> test -> threshold


def path_beside(schema_path: str, file_name: str = names.CHECKS_FILE) -> str:
    """The settings file of the schema version at `schema_path` (its folder)."""
    return os.path.join(os.path.dirname(schema_path), file_name)


def read_text(schema_path: str, file_name: str = names.CHECKS_FILE) -> str:
    """The text of a file beside the schema version; '' when there is none."""
    path = path_beside(schema_path, file_name)
    if not os.path.isfile(path):
        return ""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read it ({getattr(e, 'strerror', None) or e})") from None


def parse(text: str, source: str = names.CHECKS_FILE, features: Optional[Iterable[str]] = None) -> CheckSettings:
    """The settings in a checks.yaml text ('' -> none); ConfigError in one line when invalid."""
    if not text.strip():
        return CheckSettings()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{source}: not valid YAML ({str(e).splitlines()[0]})") from None
    if data is None:
        return CheckSettings()
    if not isinstance(data, dict) or set(data) - _TOP_KEYS:
        raise ConfigError(f"{source}: expected a mapping with keys {sorted(_TOP_KEYS)}")
    known = set(features) if features is not None else None
    slices = []
    for i, raw in enumerate(data.get("slices") or [], start=1):
        if isinstance(raw, str):
            raw = {"feature": raw}
        if not isinstance(raw, dict) or "feature" not in raw or set(raw) - {"feature", "buckets", "top"}:
            raise ConfigError(f"{source}: slice {i} needs `feature` (and may have `buckets`, `top`)")
        _known(raw["feature"], known, source, f"slice {i}")
        buckets = raw.get("buckets") or ()
        if not isinstance(buckets, (list, tuple)) or not all(isinstance(b, (int, float)) for b in buckets) \
                or list(buckets) != sorted(set(buckets)):
            raise ConfigError(f"{source}: slice {i}: buckets must be ascending numbers")
        top = raw.get("top", 10)
        if not isinstance(top, int) or top < 1:
            raise ConfigError(f"{source}: slice {i}: top must be a positive whole number")
        slices.append(SliceKey(str(raw["feature"]), tuple(float(b) for b in buckets), top))
    tests: Dict[str, Dict[str, float]] = {}
    raw_tests = data.get("tests") or {}
    if not isinstance(raw_tests, dict):
        raise ConfigError(f"{source}: tests must map features to tests")
    for feature, chosen in raw_tests.items():
        _known(feature, known, source, "tests")
        if isinstance(chosen, str):
            chosen = [chosen]
        if isinstance(chosen, list):
            chosen = {name: None for name in chosen}
        if not isinstance(chosen, dict):
            raise ConfigError(f"{source}: tests of {feature}: a list of tests or a mapping test: threshold")
        for name, threshold in chosen.items():
            if name not in DEFAULT_THRESHOLDS:
                raise ConfigError(f"{source}: tests of {feature}: unknown test {name!r} (known: psi, wasserstein)")
            if threshold is not None and (not isinstance(threshold, (int, float)) or threshold <= 0):
                raise ConfigError(f"{source}: tests of {feature}: the threshold of {name} must be a positive number")
            tests.setdefault(str(feature), {})[name] = float(threshold or DEFAULT_THRESHOLDS[name])
    return CheckSettings(tuple(slices), tests)


def _known(feature, known, source: str, where: str) -> None:
    if known is not None and feature not in known:
        raise ConfigError(f"{source}: {where}: {feature!r} is not a feature of the schema")


def load(schema_path: str, features: Optional[Iterable[str]] = None) -> CheckSettings:
    """The checks.yaml beside a schema version (none there: no slices, no extra tests)."""
    return parse(read_text(schema_path), path_beside(schema_path), features)
