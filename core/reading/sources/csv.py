"""CSV text as a source (core/reading/source.py): a file or a folder of *.csv files, each opened
once in Python and read from that handle by every pass of ours: its first block (the format
diagnosis, the header, whether it has rows), the structure check, the scan for the longest record
and the lines of the rows a caller asks about. pyarrow's blocks of text cells come from pyarrow's
own native handle on a local file (a second open: see `_native`).

A compressed file (gzip, bzip2, xz, zstd, by content) is read as a stream, never decompressed to
disk (core/reading/sources/compressed.py): our passes read the decompressed stream (a rewind
reopens the decoder); pyarrow reads a local gzip, bzip2 or zstd file through its own native
decoder. An xz file (pyarrow has no xz decoder) or a compressed URI is decoded by our stream and
handed to pyarrow a block at a time as bytes in memory, each block cut after the last line end
outside a quoted field (`_in_memory`): pyarrow never calls back into Python.

pyarrow's streaming reader is used rather than `read_csv`: on Python 3.10 the latter scans the
whole heap (`gc.get_referrers`, a signal-handler workaround) on every call, which costs more than
reading a small batch once TensorFlow is loaded.
"""

from typing import BinaryIO, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import pyarrow as pa
from pyarrow import csv as pa_csv

from core.common.errors import InputError
from core.reading.sources import compressed, csv_structure, places
from core.reading.sources.csv_structure import DELIMITER, HEAD_BYTES, CsvInputError

BLOCK_BYTES = 4 << 20  # rows are read in blocks of this size: memory does not grow with the file


class CsvSource:
    """A CSV batch opened once (core.reading.source.Source); use it as a context manager."""

    format = "csv"
    unit = "line"

    def __init__(self, path: Union[str, Sequence[str]], delimiter: str = DELIMITER, opener=None):
        self.path = path if isinstance(path, str) else (path[0] if path else "")
        self.delimiter = delimiter
        self._opener = opener or (lambda p: open(p, "rb"))
        self._handles: Dict[str, BinaryIO] = {}
        self._heads: Dict[str, bytes] = {}
        if isinstance(path, str):
            self.files = csv_structure.csv_files(path)
        elif path:
            self.files = list(path)
        else:
            raise CsvInputError("no CSV file to read")
        self.columns = self._header(self.files[0])
        for f in self.files[1:]:
            if self._header(f) != self.columns:
                raise CsvInputError(f"{f}: its header differs from {self.files[0]}'s")

    # ---- the one handle per file

    def _raw(self, file: str) -> BinaryIO:
        """The file's handle, opened on first use, rewound for each pass."""
        raw = self._handles.get(file)
        if raw is None:
            try:
                raw = self._handles[file] = compressed.open_stream(self._opener(file), file)
            except OSError as e:
                raise CsvInputError(f"{file}: cannot read it ({e.strerror or e})") from None
        raw.seek(0)
        return raw

    def head(self, file: str) -> bytes:
        """The file's first block (HEAD_BYTES), read once."""
        if file not in self._heads:
            self._heads[file] = self._raw(file).read(HEAD_BYTES)
        return self._heads[file]

    def _header(self, file: str) -> List[str]:
        try:
            csv_structure.diagnose(file, self.head(file), self.delimiter)
            return csv_structure.header_of(self._raw(file), file, self.delimiter)
        except CsvInputError:
            compressed.check(self._raw(file))  # garbage from a broken stream: the break is said
            raise

    def close(self) -> None:
        for raw in self._handles.values():
            raw.close()
        self._handles.clear()

    def __enter__(self) -> "CsvSource":
        return self

    def __exit__(self, *_) -> None:
        self.close()

    # ---- what readers ask

    def has_rows(self, file: str) -> bool:
        head = self.head(file)
        return any(line.strip() for line in head.split(b"\n")[1:]) or len(head) == HEAD_BYTES

    def records(self, file: str) -> Iterator[Tuple[int, List[str]]]:
        stream = csv_structure.records(self._raw(file), file, self.delimiter)
        next(stream)  # the header, checked when the source was opened
        return self._checked(file, stream)

    def _checked(self, file: str, stream: Iterator[Tuple[int, List[str]]]) -> Iterator[Tuple[int, List[str]]]:
        try:
            yield from stream
        except CsvInputError:
            compressed.check(self._raw(file))  # garbage from a broken stream: the break is said
            raise

    def check(self) -> None:
        """Every record of every file read (the structure check); the pipeline's pre-check."""
        for file in self.files:
            self._check_file(file)

    def _check_file(self, file: str) -> None:
        if sum(1 for _ in self.records(file)) == 0:  # every record read: a broken one raises
            raise CsvInputError(f"{file}: no data rows, only a header")

    def locate(self, file: str, indices: Sequence[int]) -> Dict[int, int]:
        return places.locate(self.records(file), indices)

    def blocks(self, file: str, columns: Optional[List[str]] = None) -> Iterator[pa.RecordBatch]:
        longest, nul = csv_structure.scan(self._raw(file))
        if nul is not None:
            compressed.check(self._raw(file))
            raise InputError(csv_structure.nul_message(file, *nul))
        # A block must hold the longest record: pyarrow refuses a row that straddles two blocks.
        block = max(BLOCK_BYTES, 1 << (2 * longest + 1).bit_length())
        kind = getattr(self._raw(file), "kind", None)  # a compressed stream's codec
        options = dict(parse_options=pa_csv.ParseOptions(newlines_in_values=True, delimiter=self.delimiter),
                       convert_options=pa_csv.ConvertOptions(
                           column_types={n: pa.string() for n in columns or self.columns},
                           strings_can_be_null=False,
                           quoted_strings_can_be_null=False,
                       ))
        native = compressed.native(file, kind) if kind else _native(file)
        try:
            if kind and native is None:
                yield from _in_memory(self._raw(file), block, self.columns, options)
                return
            reader = pa_csv.open_csv(native or pa.PythonFile(self._raw(file), mode="r"),
                                     read_options=pa_csv.ReadOptions(block_size=block), **options)
            for batch in reader:
                yield batch
        except (pa.ArrowInvalid, OSError) as e:  # OSError: pyarrow's decoder on a broken stream
            # The structure check names the line and the problem, where it can. pyarrow's reader
            # may still read ahead from a Python handle: the check then reads the file from a
            # fresh one (a second open, on this error path only).
            if native is None and not kind:
                self._handles.pop(file, None)
            self._check_file(file)
            message = _first_line(e)
            if "UTF8" in message:
                raise InputError(f"{file}: not UTF-8 text ({message})") from None
            raise InputError(f"{file}: malformed CSV: {message}") from None


def _in_memory(stream, block: int, names: List[str], options) -> Iterator[pa.RecordBatch]:
    """pyarrow's blocks of a stream read by Python: each block of bytes, cut after the last line
    end outside a quoted field (an even count of quote characters before it: a quote inside a
    quoted field is doubled), parsed by pyarrow from memory; the header read from the first."""
    import numpy as np

    carry, first = b"", True
    while True:
        data = stream.read(block)
        text = carry + data
        cut = len(text)
        if data:
            bytes_ = np.frombuffer(text, dtype=np.uint8)
            ends = np.flatnonzero(bytes_ == 10)
            quotes = np.cumsum(bytes_ == 34, dtype=np.int64)[ends] if len(ends) else ends
            outside = ends[quotes % 2 == 0]
            if not len(outside):
                carry = text  # one record longer than the block: read on
                continue
            cut = int(outside[-1]) + 1
        carry = text[cut:]
        if cut:
            read = pa_csv.ReadOptions(block_size=max(cut, 1 << 20), column_names=None if first else names)
            yield from pa_csv.open_csv(pa.BufferReader(text[:cut]), read_options=read, **options)
            first = False
        if not data:
            return


def _native(file: str) -> Optional[str]:
    """The path pyarrow opens itself when the file is local: its reader reads ahead on a thread of
    its own, and through a Python file object (PythonFile) that thread needs the GIL, so a reader
    left behind on an error path hung a caller or aborted the interpreter at exit ("terminate
    called without an active exception"). A URI (TFX's fileio) is read through its Python handle."""
    return None if "://" in file else file


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
