"""A batch as one source: opened once, it knows its format, its files and where each row came
from, and hands out blocks of text cells.

Every reader of a batch reads through a Source: the structure check (`check`), the format
diagnosis (when it is opened), typed reading and statistics (`blocks`, read as the schema's
types by core/reading/cells.py), and the quarantine's line numbers (`locate`). A format is a
module of core/reading/sources/ implementing this protocol; `open_batch` chooses it.
"""

import os
from typing import BinaryIO, Callable, Dict, Iterator, List, Optional, Protocol, Sequence, Tuple, Union

import pyarrow as pa

from core.common.errors import InputError
from core.reading.sources import compressed, detect, missing as missing_lib, partitioned
from core.reading.sources import csv as csv_source, jsonl, parquet, tfrecord

_SOURCES = {
    "csv": lambda files, delimiter, opener: csv_source.CsvSource(files, delimiter or csv_source.DELIMITER, opener),
    "jsonl": lambda files, _, opener: jsonl.JsonLinesSource(files, opener),
    "parquet": lambda files, _, opener: parquet.ParquetSource(files, opener),
    "tfrecord": lambda files, _, opener: tfrecord.TFRecordSource(files, opener),
}
Opener = Callable[[str], BinaryIO]  # how a file is opened: `open(path, "rb")`, or TFX's fileio for a URI


class Source(Protocol):
    """A batch of rows (a file, or a folder of files of one format) opened once."""

    format: str  # "csv", "jsonl", "parquet" or "tfrecord"
    unit: str  # where a row is: "line" (text: the line it starts on) or "row" (1-based, in its file)
    path: str  # what the user named: a file or a folder
    files: List[str]  # the files read, in order
    columns: List[str]  # the column names every file shares

    def check(self) -> None:
        """Reads every record of every file; a one-line InputError naming the file and where it
        broke if one is not usable."""

    def has_rows(self, file: str) -> bool:
        """Whether the file holds any data row (a cheap look: its first block)."""

    def blocks(self, file: str, columns: Optional[List[str]] = None) -> Iterator[pa.RecordBatch]:
        """The file's rows a block at a time, every cell as text (a missing cell or a null as '',
        a list or an object where one value belongs as core.reading.cells.NESTED_CELL), with
        every column of `columns` (default: all) in that order; a bounded block of rows at a time."""

    def records(self, file: str) -> Iterator[Tuple[int, List[str]]]:
        """(where the row starts: a line for text, its fields as text) of every data row."""

    def locate(self, file: str, indices: Sequence[int]) -> Dict[int, int]:
        """{0-based row index: where the row came from in the file (its first line, or its
        1-based row for a source whose unit is "row")}."""

    def close(self) -> None:
        """Closes every file opened."""


def open_batch(path: Union[str, Sequence[str]], delimiter: Optional[str] = None, opener: Optional[Opener] = None,
               format: Optional[str] = None, missing: Sequence[str] = (), columns: Optional[Sequence[str]] = None) -> Source:
    """The batch at `path` (a file, a folder, or a list of files) as a source of its format.

    format: csv, jsonl, parquet or tfrecord, overriding what the content and names say
        (`--format-in`, or the data's tfxgate-input.yaml).
    missing: cell texts read as missing in every column (`missing:` in tfxgate-input.yaml, `--missing`).
    columns: the columns the schema knows; a `key=value/` partition folder's key is a column when
        it is one of them (None: every partition key).

    Raises:
        InputError: the batch cannot be read (no file, a header that differs between files, files
            of more than one format, a format diagnosed from the content that is not read); the
            message names the file.
    """
    opener = opener or (lambda p: open(p, "rb"))
    files, partitions = _files(path)
    # Each file is opened once: the handle its format was read from is the one its source reads.
    handles: Dict[str, BinaryIO] = {}
    formats = {f: format or _format(f, opener, handles) for f in files}
    opened = lambda f: handles.pop(f) if f in handles else opener(f)
    found = sorted(set(formats.values()))
    if len(found) > 1:
        first = {fmt: next(f for f in files if formats[f] == fmt) for fmt in found}
        raise InputError(f"{path}: files of more than one format in one batch ("
                         + ", ".join(f"{fmt}: {first[fmt]}" for fmt in found) + "): keep one format per folder")
    try:
        source = _SOURCES[found[0]](files, delimiter, opened)
    finally:
        for raw in handles.values():  # a file its source never opened (an error before it)
            raw.close()
    keys = [k for k in dict.fromkeys(k for p in partitions.values() for k in p) if columns is None or k in columns]
    if keys:
        source = partitioned.Partitioned(source, {f: {k: partitions[f].get(k, "") for k in keys} for f in files})
    if missing:
        source = missing_lib.Markers(source, tuple(missing))
    return source


def _files(path: Union[str, Sequence[str]]) -> Tuple[List[str], Dict[str, Dict[str, str]]]:
    """The files of a batch and the partition values of each."""
    if not isinstance(path, str):
        if not path:
            raise InputError("no file to read")
        return list(path), {f: {} for f in path}
    if "://" not in path and os.path.isdir(path):
        found = detect.folder_files(path)
        return [f for f, _ in found], dict(found)
    if "://" not in path and not os.path.exists(path):
        raise InputError(f"{path}: no such file or directory")
    return [path], {path: {}}


def _format(file: str, opener: Opener, handles: Dict[str, BinaryIO]) -> str:
    """A file's format from its first bytes (decompressed when compressed), then its name; the
    handle opened is kept in `handles`, rewound, for the file's source."""
    try:
        raw = handles[file] = opener(file)
        head = raw.read(detect.HEAD_BYTES)
        if detect.compression_of(head):
            raw.seek(0)
            head = compressed.head(raw, file)
        raw.seek(0)
    except OSError as e:
        raise InputError(f"{file}: cannot read it ({e.strerror or e})") from None
    return detect.format_of(head, file)
