"""CSV to TFDV statistics in memory, typed the way CsvExampleGen types it, without Beam.

CsvExampleGen infers each column as INT, FLOAT or BYTES from its non-empty cells, writes an empty
cell as a feature with no values, and leaves a column that is empty throughout missing. Doing the
same here keeps `tfxgate validate` consistent with the pipeline's StatisticsGen.
"""

import csv
import glob
import os
from typing import List

import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pa_csv


class InputError(ValueError):
    """The input cannot be read; the message names the file and the problem, in one line."""


def csv_files(path: str) -> List[str]:
    """`path` itself if it is a file, else the *.csv files directly inside it, sorted."""
    if os.path.isfile(path):
        return [path]
    if os.path.isdir(path):
        files = sorted(glob.glob(os.path.join(path, "*.csv")))
        if not files:
            raise InputError(f"{path}: no .csv file in this directory")
        return files
    raise InputError(f"{path}: no such file or directory")


def header(path: str) -> List[str]:
    """The column names of a CSV file (a UTF-8 byte-order mark is allowed)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            names = next(csv.reader(f), None)
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text (byte {e.start} of the header)") from None
    if not names or not any(n.strip() for n in names):
        raise InputError(f"{path}: empty file (no header line)")
    seen = set()
    for name in names:
        if name in seen:
            raise InputError(f"{path}: duplicate column name {name!r}")
        seen.add(name)
    return names


def read_csv(path: str) -> pa.Table:
    """Every column as text, empty cells as empty strings.

    pyarrow's streaming reader is used rather than `read_csv`: on Python 3.10 the latter scans
    the whole heap (`gc.get_referrers`, a signal-handler workaround) on every call, which costs
    more than reading a small batch once TensorFlow is loaded.
    """
    names = header(path)
    try:
        return pa_csv.open_csv(
            path,
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        ).read_all()
    except pa.ArrowInvalid as e:
        message = _first_line(e)
        if "UTF8" in message:
            raise InputError(f"{path}: not UTF-8 text ({message})") from None
        raise InputError(f"{path}: malformed CSV: {message}") from None


def read_csvs(path: str) -> pa.Table:
    """All CSV files at `path` (a file or a directory) as one table; their headers must agree."""
    files = csv_files(path)
    tables = [read_csv(f) for f in files]
    first = tables[0].column_names
    for f, table in zip(files[1:], tables[1:]):
        if table.column_names != first:
            raise InputError(f"{f}: its header differs from {files[0]}'s")
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


def to_record_batch(table: pa.Table) -> pa.RecordBatch:
    """Columns as CsvExampleGen would encode them: lists of int64, float32 or bytes."""
    columns, names = [], []
    for name in table.column_names:
        text = table.column(name).combine_chunks()
        present = pc.not_equal(text, "")
        values = text.filter(present)
        n_present = len(values)
        if n_present == 0:  # empty throughout: missing, as CsvExampleGen leaves it
            columns.append(pa.nulls(len(text), pa.list_(pa.binary())))
            names.append(name)
            continue
        typed = _typed(values)
        offsets = pa.array(_offsets(present), pa.int32())
        columns.append(pa.ListArray.from_arrays(offsets, typed))
        names.append(name)
    return pa.RecordBatch.from_arrays(columns, names)


def _typed(values: pa.Array) -> pa.Array:
    stripped = pc.utf8_trim_whitespace(values)
    for target in (pa.int64(), pa.float64()):
        try:
            result = pc.cast(stripped, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        return result if target == pa.int64() else pc.cast(result, pa.float32())
    return pc.cast(values, pa.binary())


def _offsets(present: pa.Array):
    import numpy as np

    mask = present.to_numpy(zero_copy_only=False).astype(np.int32)
    offsets = np.zeros(len(mask) + 1, dtype=np.int32)
    np.cumsum(mask, out=offsets[1:])
    return offsets


def statistics(path: str):
    """TFDV statistics of the CSV data at `path`, computed in memory (no Beam pipeline)."""
    from tensorflow_data_validation.statistics import stats_impl, stats_options

    batch = to_record_batch(read_csvs(path))
    if batch.num_rows == 0:
        raise InputError(f"{path}: no data rows, only a header")
    return stats_impl.generate_statistics_in_memory(batch, stats_options.StatsOptions()), batch.num_rows


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
