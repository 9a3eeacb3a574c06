"""What the typed ExampleGen reads: the data files a split's pattern matches, and their rows.

A span's pattern (`span-{SPAN}/*`, serving's `*`) matches what a user's tool wrote into the
folder: CSV, JSON lines, Parquet or TFRecord files, compressed or not, the part files of a Spark,
Hive, pandas or Beam output folder with their markers (`_SUCCESS`, `_committed_*`, `.crc`,
hidden files: ignored), and `key=value/` partition folders, whose values are columns of the rows
beneath them when the schema knows the key. The files are read through TFX's fileio (local paths
and object stores alike) by core/reading/source.py, the reader `tfxgate validate` uses.
"""

import os
from typing import Dict, Iterable, List, Sequence

import apache_beam as beam
from tfx.dsl.io import fileio

from core.common import progress
from core.reading import source as source_lib
from core.reading.sources import csv_structure, detect

_COUNT_EVERY = 10_000  # rows between updates of the heartbeat's counter


def data_files(pattern: str) -> Dict[str, Dict[str, str]]:
    """{file: {partition key: value}} of the data files `pattern` matches, in sorted order."""
    found: Dict[str, Dict[str, str]] = {}

    def visit(path: str, partitions: Dict[str, str]) -> None:
        path = path.rstrip("/")
        name = os.path.basename(path)
        if detect.ignored(name):
            return
        if fileio.isdir(path):
            key, sep, value = name.partition("=")
            if sep and key:  # another folder is not part of the split (a neighbour's, a model's)
                for child in sorted(fileio.listdir(path)):
                    visit(os.path.join(path, child), {**partitions, key: value})
        elif detect.is_data_name(name):
            found[path] = partitions

    for match in sorted(fileio.glob(pattern)):
        visit(match, {})
    return found


def partition_columns(files: Dict[str, Dict[str, str]], names: Sequence[str], known: Sequence[str]) -> List[str]:
    """The partition keys read as columns: those the schema knows and the files do not hold."""
    keys = dict.fromkeys(k for values in files.values() for k in values)
    return [k for k in keys if k in known and k not in names]


def open_files(files: Sequence[str], delimiter: str, input_format=None, missing=()):
    """The files as one source: a URI opened through TFX's fileio, a local file by Python's open
    (fileio's local handle is TensorFlow's GFile, whose readline costs a call into TensorFlow per
    line: with the structure check and the reading, two per row)."""
    return source_lib.open_batch(list(files), delimiter, opener=_open, format=input_format, missing=missing)


def _open(path: str):
    return fileio.open(path, "rb") if "://" in path else open(path, "rb")


class ReadRows(beam.DoFn):
    """A data file's records as (file, where, fields): where is the line for text, the row for
    Parquet and TFRecord; the file's partition values (`added`) follow its own fields. Read in a
    worker whose csv module accepts fields up to FIELD_LIMIT."""

    def __init__(self, delimiter: str, added: Dict[str, List[str]], input_format=None, missing=(),
                 counted: bool = True):
        self._delimiter, self._added, self._format, self._missing = delimiter, added, input_format, tuple(missing)
        self._counted = counted  # counted: on the heartbeat's counter

    def setup(self):
        csv_structure.allow_large_fields()

    def process(self, path: str) -> Iterable[tuple]:
        added = self._added.get(path, [])
        with open_files([path], self._delimiter, self._format, self._missing) as source:
            unseen = 0
            for where, fields in source.records(path):
                yield path, where, list(fields) + added
                unseen += 1
                if unseen == _COUNT_EVERY:
                    self._count(unseen)
                    unseen = 0
            self._count(unseen)

    def _count(self, rows: int) -> None:
        if self._counted:
            progress.add(progress.ROWS_READ, rows)


class ReadBatches(beam.DoFn):
    """The split's data files (one element: their list, in order) as batches of `size` records
    (file, where, fields), as ReadRows reads them: one Beam element per batch, not per row. A batch
    runs on across a file's end, so batches start where a stream of every row of the split, cut
    every `size` rows, starts them (the profile's rounding depends on where batches start)."""

    def __init__(self, delimiter: str, added: Dict[str, List[str]], input_format=None, missing=(), size: int = 4096):
        self._rows = ReadRows(delimiter, added, input_format, missing, counted=False)
        self._size = size

    def setup(self):
        self._rows.setup()

    def process(self, files: List[str]) -> Iterable[List[tuple]]:
        batch: List[tuple] = []
        for path in files:
            for row in self._rows.process(path):
                batch.append(row)
                if len(batch) == self._size:
                    progress.add(progress.ROWS_READ, len(batch))
                    yield batch
                    batch = []
        if batch:
            progress.add(progress.ROWS_READ, len(batch))
            yield batch
