"""Real datasets other than taxi, laid out as a user would hand them to `tfxgate init`, and
defects injected into their real rows, each named for its defect.

- penguins (`palmerpenguins`, Palmer Station, 2007-2009): the label `sex` (binary); spans by
  year, 2007 and 2008 for training, 2009 as the serving batch (without the label). The 11 rows
  whose sex was not recorded are left out: a row without its label cannot be trained on.
- seattle (`vega_datasets`' `seattle-weather`, daily, 2012-2015): the label `weather`
  (multiclass); spans 2012, 2013, 2014, and 2015 as the serving batch (without the label).

Both packages ship their data; nothing is downloaded (requirements/datasets.txt, installed by
`make`). Each defect is a function of rows (dicts of text, as the CSV holds them) naming the
column it damages, so that a test asserts the finding lands on that column.
"""

import csv
import dataclasses
import pathlib
from typing import Callable, Dict, List

from tests.defects import _every  # an evenly spread share of the rows, as the taxi defects use

Rows = List[Dict[str, str]]


@dataclasses.dataclass(frozen=True)
class Dataset:
    name: str
    label: str
    task: str
    build: Callable[[pathlib.Path], pathlib.Path]  # writes the data root under a folder; returns it


def write_rows(path: pathlib.Path, rows: Rows) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_rows(path: pathlib.Path) -> Rows:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _frame_rows(frame) -> Rows:
    """A DataFrame's rows as a CSV export holds them (pandas' own text for every value)."""
    import io

    text = frame.to_csv(index=False)
    return list(csv.DictReader(io.StringIO(text)))


def _lay_out(root: pathlib.Path, spans: List[Rows], serving: Rows, label: str) -> pathlib.Path:
    for number, rows in enumerate(spans, start=1):
        write_rows(root / "train" / f"span-{number}" / "data.csv", rows)
    write_rows(root / "serving" / "data.csv", [{k: v for k, v in r.items() if k != label} for r in serving])
    return root


def build_penguins(folder: pathlib.Path) -> pathlib.Path:
    from palmerpenguins import load_penguins

    frame = load_penguins()
    frame = frame[frame["sex"].notna()]
    years = [_frame_rows(frame[frame["year"] == year]) for year in sorted(frame["year"].unique())]
    return _lay_out(folder / "penguins", years[:-1], years[-1], "sex")


def build_seattle(folder: pathlib.Path) -> pathlib.Path:
    from vega_datasets import data

    frame = data.seattle_weather()
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    years = [_frame_rows(frame[frame["date"].str.startswith(str(year))]) for year in (2012, 2013, 2014, 2015)]
    return _lay_out(folder / "seattle", years[:-1], years[-1], "weather")


PENGUINS = Dataset("penguins", "sex", "binary", build_penguins)
SEATTLE = Dataset("seattle", "weather", "multiclass", build_seattle)


# ---- defects: (rows, column) -> damaged rows -------------------------------------------------

def unit_change(rows: Rows, column: str, factor: float, share: float = 0.4) -> Rows:
    """A share of the rows in another unit (grams as kilograms: factor 0.001)."""
    def change(row):
        if row[column]:
            row[column] = repr(round(float(row[column]) * factor, 6))
    return _every(rows, share, change)


def fahrenheit(rows: Rows, column: str, share: float = 0.4) -> Rows:
    """A share of the rows in degrees Fahrenheit instead of Celsius."""
    def change(row):
        if row[column]:
            row[column] = repr(round(float(row[column]) * 9 / 5 + 32, 1))
    return _every(rows, share, change)


def respelled(rows: Rows, column: str) -> Rows:
    """The column's most common value re-spelled in every row that has it (upper case)."""
    import collections

    value = collections.Counter(r[column] for r in rows if r[column]).most_common(1)[0][0]
    return [dict(r, **{column: value.upper()}) if r[column] == value else dict(r) for r in rows]


def emptied(rows: Rows, column: str) -> Rows:
    """The column empty in every row (the export lost it, the header stayed)."""
    return [dict(r, **{column: ""}) for r in rows]


def with_unit_suffix(rows: Rows, column: str, unit: str) -> Rows:
    """Numbers written with their unit (`181 mm`): a change of representation upstream."""
    return [dict(r, **{column: f"{r[column]} {unit}"}) if r[column] else dict(r) for r in rows]


def decimal_comma(rows: Rows, column: str) -> Rows:
    """Numbers written with a decimal comma (`10,9`): a locale change upstream."""
    return [dict(r, **{column: r[column].replace(".", ",")}) for r in rows]


def constant(rows: Rows, column: str) -> Rows:
    """The column holds its most common value in every row (a label stuck upstream)."""
    import collections

    value = collections.Counter(r[column] for r in rows if r[column]).most_common(1)[0][0]
    return [dict(r, **{column: value}) for r in rows]


@dataclasses.dataclass(frozen=True)
class Defect:
    name: str  # what it is, as a test id
    feature: str  # the column the finding must name
    environment: str  # SERVING: injected into the serving batch; TRAINING: into the latest span
    damage: Callable[[Rows], Rows]
    # Its cells cannot be read as the schema's type, so its rows are left out: another defect in
    # the same rows would go unseen. A test that injects several defects at once keeps it apart.
    unreadable: bool = False


DEFECTS = {
    "penguins": [
        Defect("body_mass_in_kilograms", "body_mass_g", "SERVING", lambda r: unit_change(r, "body_mass_g", 0.001)),
        Defect("island_respelled", "island", "SERVING", lambda r: respelled(r, "island")),
        Defect("bill_depth_emptied", "bill_depth_mm", "SERVING", lambda r: emptied(r, "bill_depth_mm")),
        Defect("flipper_length_with_unit", "flipper_length_mm", "SERVING",
               lambda r: with_unit_suffix(r, "flipper_length_mm", "mm"), unreadable=True),
        Defect("label_constant", "sex", "TRAINING", lambda r: constant(r, "sex")),
    ],
    "seattle": [
        Defect("temp_max_in_fahrenheit", "temp_max", "SERVING", lambda r: fahrenheit(r, "temp_max")),
        Defect("weather_respelled", "weather", "TRAINING", lambda r: respelled(r, "weather")),
        Defect("wind_emptied", "wind", "SERVING", lambda r: emptied(r, "wind")),
        Defect("precipitation_decimal_comma", "precipitation", "SERVING", lambda r: decimal_comma(r, "precipitation"),
               unreadable=True),
        Defect("label_constant", "weather", "TRAINING", lambda r: constant(r, "weather")),
    ],
}
