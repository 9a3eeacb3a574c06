"""Splits the Chicago taxi sample shipped in the tfx wheel into the spans under data/.

Run once by a maintainer (the output is committed); kept so the split can be reproduced:

    .venv/bin/python scripts/split_sample.py [--out data]

Rows are copied as the CSV text they were, never re-formatted, so integer columns stay integers
and empty cells stay empty. Years 2013, 2014 and 2015 become training spans 1, 2 and 3; 2016
becomes the serving batch, without the label column, as a serving system would log it.
"""

import argparse
import csv
import datetime
import os
import pathlib

import tfx

LABEL = "tips"
TIMESTAMP = "trip_start_timestamp"
TRAINING_YEARS = {2013: 1, 2014: 2, 2015: 3}
SERVING_YEAR = 2016


def sample_csv_path() -> pathlib.Path:
    return pathlib.Path(tfx.__file__).parent / "examples/chicago_taxi_pipeline/data/simple/data.csv"


def split(source: pathlib.Path, out: pathlib.Path) -> dict:
    with source.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    ts = header.index(TIMESTAMP)
    label = header.index(LABEL)
    by_year: dict = {}
    for row in rows:
        year = datetime.datetime.fromtimestamp(int(row[ts]), tz=datetime.timezone.utc).year
        by_year.setdefault(year, []).append(row)

    counts = {}
    for year, span in TRAINING_YEARS.items():
        target = out / "train" / f"span-{span}" / "data.csv"
        counts[str(target.relative_to(out))] = _write(target, header, by_year.get(year, []))
    serving_header = [c for i, c in enumerate(header) if i != label]
    serving_rows = [[v for i, v in enumerate(r) if i != label] for r in by_year.get(SERVING_YEAR, [])]
    target = out / "serving" / "data.csv"
    counts[str(target.relative_to(out))] = _write(target, serving_header, serving_rows)
    return counts


def _write(path: pathlib.Path, header: list, rows: list) -> int:
    os.makedirs(path.parent, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data", type=pathlib.Path)
    args = parser.parse_args()
    for path, n in split(sample_csv_path(), args.out).items():
        print(f"{path}: {n} rows")


if __name__ == "__main__":
    main()
