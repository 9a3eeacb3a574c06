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


def _long_trips():
    """A span whose mix moved: only trips of 5 miles or more (repeated to the usual size)."""
    long = [r for r in base_rows(n=5000) if r["trip_miles"] and float(r["trip_miles"]) >= 5]
    return [long[i % len(long)] for i in range(ROWS)]


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
}


def write(directory: pathlib.Path, name: str) -> pathlib.Path:
    rows, columns = DEFECTS[name]()
    return write_rows(directory / f"{name}.csv", rows, columns)
