"""The same real rows (tests/defects.py) written in every text form tfxgate reads: CSV, CSV
compressed by gzip, bzip2, xz or zstd, JSON lines (plain and gzipped), each named for its form.

JSON lines are written as an exporter writes them: pandas reads the CSV and types each column
(an integer column with a missing value becomes floats, `8.0`), and the standard json module
writes one object per row, a missing value as null.
"""

import bz2
import csv
import gzip
import io
import json
import lzma
import math
import pathlib
from typing import Dict, List, Optional

import zstandard

COMPRESSORS = {
    "gz": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "zst": lambda data: zstandard.ZstdCompressor().compress(data),
}
FORMS = ["csv", "csv.gz", "csv.bz2", "csv.xz", "csv.zst", "jsonl", "jsonl.gz"]


def csv_text(rows: List[Dict[str, str]], columns: Optional[List[str]] = None) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns or list(rows[0]), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def json_lines(rows: List[Dict[str, str]], columns: Optional[List[str]] = None) -> str:
    """The rows as an exporter writes JSON lines: numbers typed per column by pandas."""
    import pandas as pd

    frame = pd.read_csv(io.StringIO(csv_text(rows, columns)), keep_default_na=False, na_values=[""])
    lines = []
    for record in frame.to_dict(orient="records"):
        lines.append(json.dumps({k: _plain(v) for k, v in record.items()}, allow_nan=False))
    return "\n".join(lines) + "\n"


def _plain(value):
    if hasattr(value, "item"):  # a numpy scalar
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def write(folder: pathlib.Path, form: str, rows: List[Dict[str, str]],
          columns: Optional[List[str]] = None) -> pathlib.Path:
    """`folder/data.<form>` holding `rows` (form: one of FORMS)."""
    base, _, compression = form.partition(".")
    text = csv_text(rows, columns) if base == "csv" else json_lines(rows, columns)
    data = text.encode()
    if compression:
        data = COMPRESSORS[compression](data)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"data.{form}"
    path.write_bytes(data)
    return path


def unplaced(value):
    """A report (JSON-like) without where its examples are: files and their lines or rows differ by
    form (a CSV line is a Parquet or TFRecord row plus the header)."""
    if isinstance(value, dict):
        return {k: unplaced(v) for k, v in value.items() if k not in ("file", "line")}
    if isinstance(value, list):
        return [unplaced(v) for v in value]
    return value
