"""A batch (through its source, core/reading/source.py) to TFDV statistics in memory, typed by the
curated schema as the pipeline's ExampleGen types it, without Beam.

A column the schema knows is read as the schema's type by core/reading/cells.py (the same function the
pipeline's ExampleGen calls); a cell that is not representable counts as missing and goes into
the ReadingReport. A column the schema does not know is inferred as CsvExampleGen infers it: the
narrowest of INT, FLOAT, BYTES over all its non-empty cells (a first pass, only when there is
such a column). An empty cell is a feature with no values; a column empty throughout is missing.
"""

import csv
import dataclasses
from typing import Dict, Iterator, List, Optional, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.reading import cells
from core.reading import source as source_lib
from core.reading.sources.csv_structure import DELIMITER, check_columns
from core.statistics import histograms
from core.statistics import profile as profile_lib
from core.checks import rows as rows_lib
from core.common.errors import InputError
from core.reading import report as reading_lib
from core.reading.report import ReadingReport


def text_blocks(path: str, names: List[str], delimiter: str = DELIMITER, missing=()) -> Iterator[pa.RecordBatch]:
    """The CSV file's rows a block at a time, every cell as text (empty cells, and the `missing`
    markers, as ''): what core/reading/cells.py reads as a schema's types."""
    with source_lib.open_batch(path, delimiter, missing=missing) as source:
        yield from source.blocks(source.files[0], names)


_INT, _FLOAT, _BYTES = cells.INT, cells.FLOAT, cells.BYTES


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


def column_kinds(batch: Union[str, source_lib.Source], known: Optional[Dict[str, str]] = None,
                 delimiter: str = DELIMITER, missing=()) -> Dict[str, Optional[str]]:
    """Each column's kind: the schema's (`known`) where it has one, else inferred over all rows
    (a first pass, made only when some column is unknown; None: empty throughout). `batch`: a
    source (core/reading/source.py), or a path opened as one (`missing`: its markers)."""
    if isinstance(batch, str):
        with source_lib.open_batch(batch, delimiter, missing=missing) as source:
            return column_kinds(source, known)
    known = known or {}
    kinds: Dict[str, Optional[str]] = {n: known.get(n) for n in batch.columns}
    unknown = [n for n in batch.columns if n not in known]
    if not unknown:
        return kinds
    for f in batch.files:
        for block in batch.blocks(f):
            for name in unknown:
                if kinds[name] != _BYTES:
                    kinds[name] = _narrowest(block.column(name), kinds[name])
    return kinds


def to_record_batch(batch: pa.RecordBatch, kinds: Dict[str, Optional[str]], known=(),
                    report: Optional[ReadingReport] = None, where=None, left_out=None, rules=(),
                    profile: Optional[profile_lib.Profile] = None, slice_keys=(), domains=None) -> pa.RecordBatch:
    """Columns as ExampleGen encodes them: lists of int64, float32 or bytes; a column empty
    throughout is missing (null). Columns named in `known` are read by core/reading/cells.py; a row with
    a cell they cannot read, or that breaks one of `rules` (core/rules/), is left out
    (core/checks/rows.py), counted in `report` (`where(i)`: file and row of row i of `batch`) and passed
    to `left_out(i, {feature: reason}, fields)`; the rows kept are added to `profile`."""
    read = {n: cells.read_column(batch.column(n), kinds[n]) for n in batch.schema.names
            if n in known and kinds[n] is not None}
    block = rows_lib.judge(read, {n: kinds[n] for n in read}, rules, report if report is not None else ReadingReport(),
                           where or (lambda i: ("", i)), lambda n: batch.column(n).to_pylist(), domains)
    bad = block.bad
    if profile is not None:
        rows_lib.profile(block, profile, slice_keys)
    if bad.any():
        if left_out is not None:
            for i, reasons in sorted(block.reasons.items()):
                left_out(i, reasons, [str(v) for v in batch.slice(i, 1).to_pylist()[0].values()])
        keep = ~bad
        batch = batch.filter(pa.array(keep))
        read = {n: _without_rows(c, keep) for n, c in read.items()}
    columns = []
    for name, text in zip(batch.schema.names, batch.columns):
        kind = kinds[name]
        if kind is None:
            columns.append(pa.nulls(len(text), pa.list_(pa.binary())))
            continue
        if name in read:
            offsets, typed = read[name].offsets(), read[name].values
        else:
            present = pc.not_equal(text, "")
            values = text.filter(present)
            if kind == _BYTES:
                typed = pc.cast(values, pa.binary())
            else:
                stripped = pc.utf8_trim_whitespace(values)
                typed = pc.cast(stripped, pa.int64()) if kind == _INT else pc.cast(pc.cast(stripped, pa.float64()), pa.float32())
            offsets = _offsets(present)
        columns.append(pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), typed))
    return pa.RecordBatch.from_arrays(columns, batch.schema.names)


def _without_rows(column: cells.Column, keep: np.ndarray) -> cells.Column:
    """A read column restricted to the rows kept (its values are those of its present rows)."""
    values = column.values.filter(pa.array(keep[column.present]))
    return cells.Column(values, column.present[keep], column.bad[keep], column.reason[keep])


def _offsets(present: pa.Array) -> np.ndarray:
    mask = present.to_numpy(zero_copy_only=False).astype(np.int32)
    offsets = np.zeros(len(mask) + 1, dtype=np.int32)
    np.cumsum(mask, out=offsets[1:])
    return offsets


@dataclasses.dataclass
class Batch:
    """A CSV batch read: TFDV statistics, the row count and what could not be read."""

    statistics: object  # DatasetFeatureStatisticsList, of the rows not left out
    rows: int  # rows read, those left out (report.dropped) included
    report: ReadingReport
    profile: Optional[profile_lib.Profile] = None  # of the rows not left out (core/statistics/profile.py)


def read(path: str, kinds: Optional[Dict[str, str]] = None, delimiter: str = DELIMITER,
         rows_out=None, rules=(), slice_keys=(), profiled: bool = True, domains=None, missing=(),
         input_format: Optional[str] = None) -> Batch:
    """The data at `path` (a file or a folder of them, in any format core/reading/source.py reads;
    `input_format` overrides what each file's content says), typed by `kinds` ({feature: kind},
    core.reading.report.schema_kinds of the curated schema; None: every column inferred).

    Each file is opened once (core/reading/source.py) and streamed a block at a time: memory
    holds one block and TFDV's accumulators, whatever the number of rows. The lines of the rows
    left out and of the examples kept are looked up afterwards, in one pass over the file.

    rows_out: an open text file: the rows left out are written to it as CSV (core.reading.report's
    quarantine format), with their line numbers, file by file as each is read.
    rules: rules across columns (core/rules/): a row breaking one is left out too.
    slice_keys: the slices of the profile (core/settings/check_settings.py).
    domains: {feature: core.reading.report.Domain}: the rows whose value lies outside are located in the
      report, by value, with their lines.
    profiled: whether to profile the rows kept (core/statistics/profile.py); without, `Batch.profile` is
      None and only TFDV's checks can run (what the benchmark compares against).
    missing: cell texts read as missing in every column (core/reading/sources/missing.py).
    """
    with source_lib.open_batch(path, delimiter, missing=missing, format=input_format) as source:
        return _read(source, kinds or {}, rows_out, rules, slice_keys, profiled, domains)


def _read(source: source_lib.Source, known: Dict[str, str], rows_out, rules, slice_keys, profiled, domains) -> Batch:
    from tensorflow_data_validation.statistics import stats_impl, stats_options

    histograms.install()  # TFDV's histograms, bit for bit, at a fraction of their cost (core/statistics/histograms.py)
    files, names = source.files, source.columns
    if not any(source.has_rows(f) for f in files):  # a writer's empty part file beside others is fine
        raise InputError(f"{files[0]}: no data rows" + (", only a header" if source.format == "csv" else ""))
    check_columns(files[0], names, list(known))
    column_types = column_kinds(source, known)
    generators = stats_impl.get_generators(stats_options.StatsOptions(), in_memory=True)
    accumulators = [g.create_accumulator() for g in generators]
    report, rows, profile = ReadingReport(), 0, profile_lib.Profile() if profiled else None
    writer = csv.writer(rows_out, lineterminator="\n") if rows_out is not None else None
    if writer is not None:
        writer.writerow(reading_lib.QUARANTINE_HEADER + names)
    for f in files:
        file_report, file_rows, left_out = ReadingReport(), 0, []
        for batch in source.blocks(f):
            if batch.num_rows == 0:
                continue
            start = file_rows
            record_batch = to_record_batch(
                batch, column_types, known, file_report, where=lambda i, start=start, f=f: (f, start + i),
                left_out=(lambda i, reasons, fields, start=start: left_out.append((start + i, reasons, fields)))
                if writer is not None else None, rules=rules, profile=profile, slice_keys=slice_keys, domains=domains)
            file_rows += batch.num_rows
            if record_batch.num_rows:
                accumulators = [g.add_input(a, record_batch) for g, a in zip(generators, accumulators)]
        file_report.rows = file_rows
        # One pass for the lines of the examples kept and of the rows left out (held for one
        # file at a time: the rows left out, not the file's rows).
        examples = file_report.examples()
        lines = source.locate(f, [e["line"] for e in examples] + [i for i, _, _ in left_out])
        for example in examples:
            example["line"] = lines.get(example["line"])
        report = report.merge(file_report)
        if left_out:
            writer.writerows(reading_lib.quarantine_row(f, lines.get(i), reasons, fields)
                             for i, reasons, fields in left_out)
        rows += file_rows
    if rows == 0:
        raise InputError(f"{source.path}: no data rows, only a header")
    return Batch(stats_impl.extract_statistics_output(accumulators, generators), rows, report, profile)


def statistics(path: str, kinds: Optional[Dict[str, str]] = None, delimiter: str = DELIMITER, missing=()):
    """(TFDV statistics, row count) of the CSV data at `path`; see `read`."""
    batch = read(path, kinds, delimiter, missing=missing)
    return batch.statistics, batch.rows
