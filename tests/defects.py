"""Small CSV files, each named for one defect, made from real span-3 rows.

`write(tmp_path, name)` writes `<name>.csv` and returns its path. Every defect is built for its
class, not for one number: the changed share of rows and the feature are parameters.
"""

import csv
import pathlib
from typing import Callable, Dict, List

from models import features
from tests.paths import DATA_ROOT

ROWS = 1000


def base_rows(span: int = 3, n: int = ROWS) -> List[Dict[str, str]]:
    with open(DATA_ROOT / "train" / f"span-{span}" / "data.csv", newline="") as f:
        return [row for _, row in zip(range(n), csv.DictReader(f))]


def write_rows(path: pathlib.Path, rows: List[Dict[str, str]], columns: List[str] = None) -> pathlib.Path:
    columns = columns or list(rows[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _every(rows, share: float, change: Callable[[dict], None]):
    """Applies `change` to an evenly spread `share` of the rows."""
    step = max(1, round(1 / share)) if share < 1 else 1
    out = []
    for i, row in enumerate(rows):
        row = dict(row)
        if i % step == 0:
            change(row)
        out.append(row)
    return out


def _scaled(column: str, factor: float, as_int: bool = False):
    def change(row):
        if row[column]:
            value = float(row[column]) * factor
            row[column] = str(int(round(value))) if as_int else repr(value)
    return change


def _scaled_to_tenths(column: str, factor: float):
    """Scaled and written with one decimal, as the source writes miles."""
    def change(row):
        if row[column]:
            row[column] = f"{float(row[column]) * factor:.1f}"
    return change


def _long_trips():
    """A span whose mix moved: only trips of 5 miles or more (repeated to the usual size)."""
    long = [r for r in base_rows(n=5000) if r["trip_miles"] and float(r["trip_miles"]) >= 5]
    return [long[i % len(long)] for i in range(ROWS)]


def _fare_buckets():
    """Every fare replaced by the median real fare of its quarter of the rows: four values, the
    same mean and a similar coarse histogram (a column collapsed to a few values)."""
    rows = base_rows()
    fares = sorted(float(r["fare"]) for r in rows if r["fare"])
    quarters = [fares[int(len(fares) * q)] for q in (0.25, 0.5, 0.75)]
    medians = [fares[int(len(fares) * q)] for q in (0.125, 0.375, 0.625, 0.875)]
    out = []
    for row in rows:
        row = dict(row)
        if row["fare"]:
            row["fare"] = repr(medians[sum(float(row["fare"]) > q for q in quarters)])
        out.append(row)
    return out


def _company(rank: int) -> str:
    """The company with the `rank`-th most rows among the base rows (0: the largest)."""
    counts: Dict[str, int] = {}
    for row in base_rows():
        if row["company"]:
            counts[row["company"]] = counts.get(row["company"], 0) + 1
    return sorted(counts, key=lambda c: (-counts[c], c))[rank]


def _for_company(rank: int, change: Callable[[dict], None]):
    company = _company(rank)
    return [dict(r) if r["company"] != company else _changed(r, change) for r in base_rows()]


def _changed(row: dict, change: Callable[[dict], None]) -> dict:
    row = dict(row)
    change(row)
    return row


def _rounded(column: str, digits: int):
    def change(row):
        if row[column]:
            row[column] = repr(round(float(row[column]), digits)) if digits else str(int(round(float(row[column]))))
    return change


def _shift_hour(row):
    row["trip_start_hour"] = str((int(row["trip_start_hour"]) + 1) % 24)


def _without(column):
    return [c for c in base_rows(n=1)[0] if c != column]


SERVING_COLUMNS = _without(features.LABEL_KEY)

# name -> (rows, columns)
DEFECTS = {
    "clean_training": lambda: (base_rows(), None),
    "clean_serving": lambda: (base_rows(), SERVING_COLUMNS),
    "hour_out_of_domain": lambda: (_every(base_rows(), 0.02, lambda r: r.update(trip_start_hour="27")), None),
    "latitude_outside_chicago": lambda: (_every(base_rows(), 0.05, lambda r: r.update(pickup_latitude="40.71")), None),
    "new_payment_type": lambda: (_every(base_rows(), 0.05, lambda r: r.update(payment_type="Bitcoin")), None),
    "rare_new_payment_type": lambda: (_every(base_rows(), 0.004, lambda r: r.update(payment_type="Bitcoin")), None),
    "string_in_fare": lambda: (_every(base_rows(), 0.01, lambda r: r.update(fare="n/a")), None),
    "missing_trip_miles": lambda: (base_rows(), [c for c in SERVING_COLUMNS if c != "trip_miles"]),
    "dropoff_fill_drop": lambda: (_every(base_rows(), 0.5, lambda r: r.update(dropoff_latitude="")), None),
    "fare_in_cents_serving": lambda: (_every(base_rows(), 1, _scaled("fare", 100.0, as_int=True)), SERVING_COLUMNS),
    "miles_in_km_serving": lambda: (_every(base_rows(), 1, _scaled("trip_miles", 1.609)), SERVING_COLUMNS),
    "seconds_in_minutes_serving": lambda: (_every(base_rows(), 1, _scaled("trip_seconds", 1 / 60, as_int=True)), SERVING_COLUMNS),
    "cash_takes_over_serving": lambda: (_every(base_rows(), 1, lambda r: r.update(payment_type="Cash")), SERVING_COLUMNS),
    "miles_in_km_span": lambda: (_every(base_rows(), 1, _scaled("trip_miles", 1.609)), None),
    "tips_tripled_span": lambda: (_every(base_rows(), 1, _scaled("tips", 3.0)), None),
    "long_trips_only_span": lambda: (_long_trips(), None),
    "label_missing": lambda: (base_rows(), SERVING_COLUMNS),
    # Degenerate columns (core/checks/profile_checks.py): no whole-column distance needs to move.
    "fare_constant_serving": lambda: (_every(base_rows(), 1, lambda r: r.update(fare=base_rows()[0]["fare"])), SERVING_COLUMNS),
    "fare_rounded_to_dollars_serving": lambda: (_every(base_rows(), 1, _rounded("fare", 0)), SERVING_COLUMNS),
    "latitude_rounded_serving": lambda: (_every(base_rows(), 1, _rounded("pickup_latitude", 2)), SERVING_COLUMNS),
    "fare_collapsed_to_four_values_serving": lambda: (_fare_buckets(), SERVING_COLUMNS),
    "fare_placeholder_in_a_third_serving": lambda: (_every(base_rows(), 0.34, lambda r: r.update(fare=base_rows()[0]["fare"])), SERVING_COLUMNS),
    "label_constant_span": lambda: (_every(base_rows(), 1, lambda r: r.update(tips="0")), None),
    # Tails: a unit change confined to one company's rows (its fares in cents).
    "fare_in_cents_for_one_company_serving": lambda: (_for_company(2, _scaled("fare", 100.0, as_int=True)), SERVING_COLUMNS),
    # Rules across columns (schema/v1/constraints.yaml): the hour no longer the timestamp's.
    "hour_disagrees_with_timestamp_span": lambda: (_every(base_rows(), 0.03, _shift_hour), None),
    "hour_disagrees_with_timestamp_once_span": lambda: (_every(base_rows(n=5000), 1e-4, _shift_hour), None),
    # Slices: one company's trips all recorded as cash, diluted in the whole batch.
    "cash_only_for_one_company_serving": lambda: (_for_company(1, lambda r: r.update(payment_type="Cash")), SERVING_COLUMNS),
    # A test chosen per feature (checks.yaml): trip_miles 30 % longer, below the scale check's 1.4
    # and the Jensen-Shannon threshold, beyond Wasserstein's 0.25 standard deviations.
    "miles_thirty_percent_longer_serving": lambda: (_every(base_rows(), 1, _scaled_to_tenths("trip_miles", 1.3)), SERVING_COLUMNS),
}


def write(directory: pathlib.Path, name: str) -> pathlib.Path:
    rows, columns = DEFECTS[name]()
    return write_rows(directory / f"{name}.csv", rows, columns)
