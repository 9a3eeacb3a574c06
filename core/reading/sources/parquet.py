"""Parquet as a source (core/reading/source.py): a file, or a folder of them (Spark's, Hive's,
pandas' part files), each opened once and read a batch of rows at a time, row group by row group
(memory holds a batch, not the file). Every column is handed out as text cells by
`arrow_text.py`, so that the curated schema types it by core/reading/cells.py's rules, as a CSV
cell; a row is where it is in its file (`unit = "row"`, 1-based).

A local file is read by pyarrow from its path (pyarrow's own handle, as `csv._native` explains);
a URI through the Python handle of the source's opener, on the calling thread only.

The files of a batch hold the same columns, in any order: columns are read by name, in the first
file's order. The column pandas writes for an unnamed index (`__index_level_0__`) is not data.
"""

import re
from typing import BinaryIO, Dict, Iterator, List, Optional, Sequence, Tuple

import pyarrow as pa
import pyarrow.parquet as pq

from core.common.errors import InputError
from core.reading.sources import arrow_text

BLOCK_ROWS = 64 << 10  # rows per block: memory does not grow with the file
_PANDAS_INDEX = re.compile(r"^__index_level_[0-9]+__$")


class ParquetSource:
    """A Parquet batch opened once (core.reading.source.Source); use it as a context manager."""

    format = "parquet"
    unit = "row"

    def __init__(self, files: Sequence[str], opener=None):
        if not files:
            raise InputError("no Parquet file to read")
        self.files = list(files)
        self.path = self.files[0]
        self._opener = opener or (lambda p: open(p, "rb"))
        self._handles: Dict[str, BinaryIO] = {}
        self._readers: Dict[str, pq.ParquetFile] = {}
        try:
            self.columns = self._names(self.files[0])
            for f in self.files[1:]:
                _same_columns(f, self._names(f), self.files[0], self.columns)
            if not any(self.has_rows(f) for f in self.files):
                raise InputError(f"{self.path}: no data rows (a Parquet file with columns but no row)")
        except BaseException:
            self.close()
            raise

    # ---- one reader per file

    def _reader(self, file: str) -> pq.ParquetFile:
        """The file's reader, its footer read once."""
        reader = self._readers.get(file)
        if reader is not None:
            return reader
        target = file if "://" not in file else None
        if target is None:
            try:
                target = self._handles[file] = self._opener(file)
            except OSError as e:
                raise InputError(f"{file}: cannot read it ({e.strerror or e})") from None
            target.seek(0)
        try:
            reader = self._readers[file] = pq.ParquetFile(target)
        except (pa.ArrowException, OSError) as e:
            raise InputError(f"{file}: {_unreadable(e, target)}") from None
        return reader

    def _names(self, file: str) -> List[str]:
        names = [n for n in self._reader(file).schema_arrow.names if not _PANDAS_INDEX.match(n)]
        seen = set()
        for name in names:
            if name in seen:
                raise InputError(f"{file}: duplicate column name {name!r}")
            seen.add(name)
        if not names:
            raise InputError(f"{file}: no column in this Parquet file")
        return names

    def close(self) -> None:
        for reader in self._readers.values():
            reader.close()
        for raw in self._handles.values():
            raw.close()
        self._readers.clear()
        self._handles.clear()

    def __enter__(self) -> "ParquetSource":
        return self

    def __exit__(self, *_) -> None:
        self.close()

    # ---- what readers ask

    def has_rows(self, file: str) -> bool:
        return self._reader(file).metadata.num_rows > 0

    def check(self) -> None:
        """Every row group of every file read and made text; the pipeline's pre-check. A batch
        without any row was refused when it was opened."""
        for file in self.files:  # a part file without rows beside others is no defect (Spark writes them)
            for _ in self._blocks(file, self.columns):
                pass

    def blocks(self, file: str, columns: Optional[List[str]] = None) -> Iterator[pa.RecordBatch]:
        wanted = list(columns or self.columns)
        unknown = [c for c in wanted if c not in self.columns]
        if unknown:
            raise ValueError(f"{file}: no column {unknown[0]!r} in this batch")
        return self._blocks(file, wanted)

    def _blocks(self, file: str, columns: List[str]) -> Iterator[pa.RecordBatch]:
        reader = self._reader(file)
        local = "://" not in file  # a Python handle is read on the calling thread only
        first = 0  # the rows before this row group
        for group in range(reader.num_row_groups):
            row = first
            try:
                for batch in reader.iter_batches(batch_size=BLOCK_ROWS, row_groups=[group], columns=columns,
                                                 use_threads=local):
                    yield arrow_text.batch_text(batch, columns, file, row + 1)
                    row += batch.num_rows
            except (pa.ArrowException, OSError) as e:
                last = first + reader.metadata.row_group(group).num_rows
                raise InputError(f"{file}: row group {group + 1} of {reader.num_row_groups} (rows {first + 1}-{last}) "
                                 f"is {_unreadable(e)}") from None
            first += reader.metadata.row_group(group).num_rows

    def records(self, file: str) -> Iterator[Tuple[int, List[str]]]:
        row = 0
        for block in self.blocks(file):
            for fields in zip(*(column.to_pylist() for column in block.columns)):
                row += 1
                yield row, list(fields)

    def locate(self, file: str, indices: Sequence[int]) -> Dict[int, int]:
        rows = self._reader(file).metadata.num_rows
        return {i: i + 1 for i in indices if 0 <= i < rows}


def _same_columns(file: str, names: List[str], first: str, expected: List[str]) -> None:
    missing = [n for n in expected if n not in names]
    extra = [n for n in names if n not in expected]
    if missing or extra:
        said = (["without " + ", ".join(map(repr, missing[:3])) + (" ..." if len(missing) > 3 else "")] if missing else []) \
            + (["with " + ", ".join(map(repr, extra[:3])) + (" ..." if len(extra) > 3 else "")] if extra else [])
        raise InputError(f"{file}: its columns differ from {first}'s ({'; '.join(said)})")


def _unreadable(error: Exception, target=None) -> str:
    """What pyarrow said, on one line, as the reason a file is not readable Parquet."""
    text = str(error).strip()
    line = text.splitlines()[0] if text else type(error).__name__
    line = "".join(c if c.isprintable() else "?" for c in line).strip()
    if isinstance(target, str) and "size is 0 bytes" in line:
        return "an empty file (0 bytes), not a readable Parquet file"
    return f"not a readable Parquet file ({line})"
