"""The words of the checks on two profiles (core/checks/profile_checks.py): their thresholds, an
Outcome (findings, measurements, slices skipped), and how a measurement is worded."""

import dataclasses
from typing import List


from core.statistics import noise
from core.common.findings import SKEW, Finding
from core.statistics.profile import Profile


CONSTANT, PRECISION, DISTINCT_COLLAPSE, TOP_SHARE = "constant", "precision", "distinct_collapse", "top_share"

MIN_ROWS = 10  # effective rows below which no degenerate check is made
CONSTANT_CHANCE = 1e-6  # a constant column stands when drawing it from the baseline is less likely
MEASUREMENT_MIN_DISTINCT = 20  # fewer distinct values in the baseline: a code, not a measurement
CODE_MAX_DISTINCT = 100  # whole numbers with at most this many distinct values: codes (hours, areas)
PRECISION_MIN = 0.6  # the least drop of the share of distinct values as fine as the baseline's typical place
PRECISION_MIN_DISTINCT = 5
COLLAPSE_FACTOR = 3.0  # distinct values at most a third of what the baseline's would give
COLLAPSE_MIN_GAP = 10
TOP_SHARE_MIN = 0.25  # the top value's share at least this far above its baseline share
SIGNIFICANCE = 1e-6  # binomial tail probability below which a share is not chance
TAIL_LOW, TAIL_HIGH = 0.001, 0.999
TAIL_MIN_BASELINE = 1000  # below this many baseline values, its range bounds the tails
TAILS_MIN_SHARE = 0.01  # at least 1 % of rows beyond the baseline's bounds...
TAILS_FACTOR = 5.0  # ...and five times the baseline's own share there
SLICE_MIN_ROWS = 50
SLICE_FILL_DROP = 0.1  # a slice's fill rate this far below the same slice in the baseline


@dataclasses.dataclass
class Outcome:
    findings: List[Finding] = dataclasses.field(default_factory=list)
    measurements: List[dict] = dataclasses.field(default_factory=list)
    skipped: List[dict] = dataclasses.field(default_factory=list)  # slices too small: {slice, rows, why}

    def extend(self, other: "Outcome") -> None:
        self.findings += other.findings
        self.measurements += other.measurements
        self.skipped += other.skipped


# ---- helpers -------------------------------------------------------------------------------------

def measured(kind: str, feature: str, kind_of_check: str, value: float, threshold: float, slice_name=None,
              noise_level=None, chance=None) -> dict:
    measurement = {"check": kind, "feature": feature, "type": kind_of_check.upper(), "value": float(value),
                   "threshold": float(threshold)}
    if slice_name:
        measurement["slice"] = slice_name
    if noise_level is not None:
        measurement["noise"] = float(noise_level)
    if chance is not None:
        measurement["chance"] = float(chance)
    return measurement


def against(kind: str) -> str:
    return "training data" if kind == SKEW else "the previous accepted span"


def side(kind: str) -> str:
    return "serving and training" if kind == SKEW else "this span and the previous accepted one"


def show(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)


def place(level: int) -> str:
    if level <= -7:
        return "beyond 10^-6"
    return "1" if level == 0 else f"10^{level}"


def effective(profile: Profile) -> float:
    """The share of distinct rows: a batch of duplicated rows holds less evidence than its size."""
    if not profile.rows:
        return 1.0
    return min(1.0, max(profile.distinct_rows, 1) / profile.rows)
