"""The classes of defect of benchmarks/detection.py: how a magnitude changes a batch of span 3's
real rows, and the finding that should block it."""

import dataclasses
from typing import Callable, List, Optional

import numpy as np
import pandas as pd

SERVING, TRAINING = "SERVING", "TRAINING"

@dataclasses.dataclass
class Defect:
    """One class of defect: how a magnitude changes a batch, and the finding that should block it.

    unit "share": the magnitude is a share of the rows `order` returns (in the order they are
    changed), `change` changes the first round(share * len) of them; unit "factor": the
    magnitude is a factor minus one, `scale` applies it to the whole batch."""

    name: str
    what: str
    environment: str
    magnitude: str  # what the magnitude is, for people
    feature: str
    check: str
    rule: Optional[str] = None  # required rule (None: any)
    types: Optional[str] = None  # a required anomaly type
    slice: Optional[str] = None  # "none": the whole batch only; a slice name; None: anywhere
    unit: str = "share"
    high: float = 1.0
    low: Optional[float] = None  # None: one row (share) or MIN_SHARE
    order: Optional[Callable[[pd.DataFrame, np.random.Generator], np.ndarray]] = None  # default: all rows, shuffled
    change: Optional[Callable[[pd.DataFrame, np.ndarray], None]] = None  # changes the rows at these positions
    scale: Optional[Callable[[pd.DataFrame, float], pd.DataFrame]] = None
    expect: str = ""  # what the finding should be, for people

    def matches(self, f: dict) -> bool:
        return (f["severity"] == "block" and f["feature"] == self.feature and f["check"] == self.check
                and (self.rule is None or f.get("rule") == self.rule)
                and (self.types is None or self.types in f["types"])
                and (self.slice is None or (f.get("slice") is None if self.slice == "none" else f.get("slice") == self.slice)))


def _map(column: str, fn: Callable[[str], str]):
    """Changes the non-empty cells of `column` in the rows at `positions`."""
    def change(frame: pd.DataFrame, positions: np.ndarray) -> None:
        values = frame[column].to_numpy(dtype=object, copy=True)
        values[positions] = [fn(v) if v != "" else v for v in values[positions]]
        frame[column] = values
    return change


def _set(column: str, value: str):
    def change(frame: pd.DataFrame, positions: np.ndarray) -> None:
        values = frame[column].to_numpy(dtype=object, copy=True)
        values[positions] = value
        frame[column] = values
    return change


def defects(span: pd.DataFrame) -> List[Defect]:
    """The classes, their constants taken from span 3's real rows."""
    fares = np.sort(pd.to_numeric(span["fare"], errors="coerce").dropna().to_numpy())
    placeholder = span["fare"].iloc[0]  # one real fare (the first row's), as tests/defects.py takes it
    quartiles = [fares[int(len(fares) * q)] for q in (0.25, 0.5, 0.75)]
    medians = [fares[int(len(fares) * q)] for q in (0.125, 0.375, 0.625, 0.875)]
    counts = span.loc[span["company"] != "", "company"].value_counts()
    ranked = sorted(counts.index, key=lambda c: (-counts[c], c))
    rank = {c: i for i, c in enumerate(ranked)}
    sliced_company = ranked[1]  # the second largest, as tests/defects.py's slice defect

    def largest_companies_first(frame, rng):
        shuffled = rng.permutation(len(frame))
        ranks = frame["company"].iloc[shuffled].map(lambda c: rank.get(c, len(rank))).to_numpy()
        return shuffled[np.argsort(ranks, kind="stable")]

    def one_company(frame, rng):
        return rng.permutation(np.flatnonzero((frame["company"] == sliced_company).to_numpy()))

    def quartile_median(v: str) -> str:
        return repr(float(medians[sum(float(v) > q for q in quartiles)]))

    def miles_longer(frame: pd.DataFrame, m: float) -> pd.DataFrame:
        frame["trip_miles"] = frame["trip_miles"].map(lambda v: f"{float(v) * (1 + m):.1f}" if v != "" else v)
        return frame

    return [
        Defect("constant column", f"fare set to one real fare ({placeholder})", SERVING, "share of rows",
               "fare", "degenerate", change=_set("fare", placeholder),
               expect="degenerate/top_share at partial shares, degenerate/constant at 1"),
        Defect("lost precision", "fare rounded to whole dollars", SERVING, "share of rows",
               "fare", "degenerate", rule="precision", change=_map("fare", lambda v: str(int(round(float(v))))),
               expect="degenerate/precision"),
        Defect("collapsed to few values", "fare replaced by the median fare of its quartile (4 values)", SERVING,
               "share of rows", "fare", "degenerate", change=_map("fare", quartile_median),
               expect="degenerate (distinct_collapse or top_share)"),
        Defect("constant label", "tips set to 0 (a training span)", TRAINING, "share of rows",
               "tips", "degenerate", change=_set("tips", "0"),
               expect="degenerate/top_share at partial shares, degenerate/constant at 1"),
        Defect("unit change in a subset", "fare ×100 (cents) in the largest company's rows, then the next's",
               SERVING, "share of rows", "fare", "tails", order=largest_companies_first,
               change=_map("fare", lambda v: str(int(round(float(v) * 100)))), expect="tails"),
        Defect("rule across columns", "trip_start_hour shifted by one hour (a training span)", TRAINING,
               "share of rows", "trip_start_hour", "constraint", rule="hour_of_start_timestamp",
               change=_map("trip_start_hour", lambda v: str((int(v) + 1) % 24)),
               expect="constraint/hour_of_start_timestamp (the policy warns under 0.1 % of rows)"),
        Defect("defect in one slice", f"payment_type set to Cash in {sliced_company}'s rows", SERVING,
               f"share of {sliced_company}'s rows", "payment_type", "skew", slice=f"company={sliced_company}",
               order=one_company, change=_set("payment_type", "Cash"),
               expect=f"skew/L_INFTY in slice company={sliced_company}"),
        Defect("distribution shift", "trip_miles × (1 + m), written with one decimal", SERVING, "factor − 1",
               "trip_miles", "skew", unit="factor", low=0.01, high=1.0, scale=miles_longer,
               expect="skew (wasserstein, psi, scale_shift or a comparator)"),
        Defect("category takeover", "payment_type set to Cash", SERVING, "share of rows",
               "payment_type", "skew", types="COMPARATOR_L_INFTY_HIGH", slice="none",
               change=_set("payment_type", "Cash"), expect="skew/L_INFTY (TFDV's comparator, noise-aware)"),
        Defect("fill rate", "dropoff_latitude emptied", SERVING, "share of rows",
               "dropoff_latitude", "fill_rate", slice="none", change=_set("dropoff_latitude", ""),
               expect="fill_rate"),
    ]
