"""A finding: one anomaly on one feature, as tfxgate reports it and the gate judges it.

Kept free of TensorFlow and TFDV imports so that policy code and command lines load quickly.
"""

import dataclasses
from typing import List, Optional

SCHEMA, FILL_RATE, SKEW, DRIFT = "schema", "fill_rate", "skew", "drift"


@dataclasses.dataclass(frozen=True)
class Finding:
    """One anomaly on one feature, as tfxgate reports it and the gate's policy judges it."""

    feature: str
    types: List[str]  # TFDV's AnomalyInfo.Type names
    check: str  # schema | fill_rate | skew | drift
    description: str
    rule: Optional[str] = None  # tfxgate's own check, where TFDV has none (e.g. scale_shift)
    fraction: Optional[float] = None  # share of rows affected, where known
    value: Optional[float] = None  # measured distance (skew, drift) or fill rate
    threshold: Optional[float] = None

    def to_json(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, data: dict) -> "Finding":
        return cls(**{f.name: data.get(f.name) for f in dataclasses.fields(cls)})
