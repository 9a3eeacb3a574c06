"""CSV to TFDV statistics in memory, typed the way CsvExampleGen types it, without Beam.

CsvExampleGen infers each column as INT, FLOAT or BYTES from its non-empty cells, writes an empty
cell as a feature with no values, and leaves a column that is empty throughout missing. Doing the
same here keeps `tfxgate validate` consistent with the pipeline's StatisticsGen.
"""

from typing import Dict, Iterator, List, Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pa_csv

from core import csv_input
from core.errors import InputError


_BLOCK_BYTES = 4 << 20  # rows are read in blocks of this size: memory does not grow with the file


def _batches(path: str, names: List[str]) -> Iterator[pa.RecordBatch]:
    """The file's rows as record batches of text, empty cells as empty strings.

    pyarrow's streaming reader is used rather than `read_csv`: on Python 3.10 the latter scans
    the whole heap (`gc.get_referrers`, a signal-handler workaround) on every call, which costs
    more than reading a small batch once TensorFlow is loaded.
    """
    try:
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(block_size=_BLOCK_BYTES),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        for batch in reader:
            yield batch
    except pa.ArrowInvalid as e:
        _locate(path)  # the pipeline's own check names the line and the problem, where it can
        message = _first_line(e)
        if "UTF8" in message:
            raise InputError(f"{path}: not UTF-8 text ({message})") from None
        raise InputError(f"{path}: malformed CSV: {message}") from None


def _locate(path: str) -> None:
    """Raises InputError with csv_input's precise message (file, line, problem) if it finds one.

    Run only once pyarrow has refused the file: pyarrow says what is wrong but not where."""
    csv_input.check_file(path)


_INT, _FLOAT, _BYTES = "int", "float", "bytes"


def _narrowest(values: pa.Array, current: Optional[str]) -> Optional[str]:
    """The narrowest of INT, FLOAT, BYTES that holds `values` and everything seen before."""
    present = values.filter(pc.not_equal(values, ""))
    if len(present) == 0:
        return current
    stripped = pc.utf8_trim_whitespace(present)
    order = [_INT, _FLOAT, _BYTES]
    start = order.index(current) if current else 0
    for kind in order[start:]:
        if kind == _BYTES:
            return _BYTES
        try:
            pc.cast(stripped, pa.int64() if kind == _INT else pa.float64())
            return kind
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return _BYTES


def column_kinds(path: str) -> Dict[str, Optional[str]]:
    """A first pass over the data: each column's type over all its rows (None: empty throughout)."""
    files, names = csv_input.files_and_header(path)
    kinds: Dict[str, Optional[str]] = {n: None for n in names}
    for f in files:
        for batch in _batches(f, names):
            for name, column in zip(batch.schema.names, batch.columns):
                if kinds[name] != _BYTES:
                    kinds[name] = _narrowest(column, kinds[name])
    return kinds


def to_record_batch(batch: pa.RecordBatch, kinds: Dict[str, Optional[str]]) -> pa.RecordBatch:
    """Columns as CsvExampleGen encodes them: lists of int64, float32 or bytes; a column empty
    throughout is missing (null). `kinds` (from `column_kinds`) fixes the types across batches."""
    columns = []
    for name, text in zip(batch.schema.names, batch.columns):
        kind = kinds[name]
        if kind is None:
            columns.append(pa.nulls(len(text), pa.list_(pa.binary())))
            continue
        present = pc.not_equal(text, "")
        values = text.filter(present)
        if kind == _BYTES:
            typed = pc.cast(values, pa.binary())
        else:
            stripped = pc.utf8_trim_whitespace(values)
            typed = pc.cast(stripped, pa.int64()) if kind == _INT else pc.cast(pc.cast(stripped, pa.float64()), pa.float32())
        offsets = pa.array(_offsets(present), pa.int32())
        columns.append(pa.ListArray.from_arrays(offsets, typed))
    return pa.RecordBatch.from_arrays(columns, batch.schema.names)


def _offsets(present: pa.Array) -> np.ndarray:
    mask = present.to_numpy(zero_copy_only=False).astype(np.int32)
    offsets = np.zeros(len(mask) + 1, dtype=np.int32)
    np.cumsum(mask, out=offsets[1:])
    return offsets


def statistics(path: str):
    """(TFDV statistics, row count) of the CSV data at `path`, without a Beam pipeline.

    Two streamed passes, each a block at a time: the first settles every column's type (as
    CsvExampleGen would over the whole file), the second feeds TFDV's combiners block by block.
    Memory holds one block and the accumulators, whatever the number of rows.
    """
    from tensorflow_data_validation.statistics import stats_impl, stats_options

    files, names = csv_input.files_and_header(path)
    kinds = column_kinds(path)
    options = stats_options.StatsOptions()
    generators = stats_impl.get_generators(options, in_memory=True)
    accumulators = [g.create_accumulator() for g in generators]
    rows = 0
    for f in files:
        for batch in _batches(f, names):
            if batch.num_rows == 0:
                continue
            record_batch = to_record_batch(batch, kinds)
            rows += record_batch.num_rows
            accumulators = [g.add_input(a, record_batch) for g, a in zip(generators, accumulators)]
    if rows == 0:
        raise InputError(f"{path}: no data rows, only a header")
    return stats_impl.extract_statistics_output(accumulators, generators), rows


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
