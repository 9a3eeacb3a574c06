"""TFRecord files of `tf.train.Example` as a source (core/reading/source.py): TFX's own Examples
format (`.tfrecord`, and gzipped as ExampleGen writes them: `data_tfrecord-00000-of-00001.gz`).

The framing is read here, in Python (a little-endian uint64 length, the masked CRC-32C of that
length, the record, the masked CRC-32C of the record), so a corrupt or cut file is one line naming
the file and the record. The CRC is google_crc32c's (C); no TensorFlow is loaded. The Examples are
decoded a block at a time by tfx_bsl's `ExamplesToRecordBatchDecoder` (C++, a batch of serialized
Examples to an Arrow RecordBatch of list columns), which loads tensorflow_metadata's protos and no
TensorFlow either (about 0.4 s to import, against TensorFlow's 9).

A row is a record: `records` and `locate` say where a row is by its 1-based record number.

Cells as text, every kind read by core/reading/cells.py as the schema says (so an int64_list for
a FLOAT feature reads, a float_list holding 8.5 for an INT feature is `not_int`):
- one value: int64 as decimal text, float as the shortest text that reads back as the same
  float32, bytes as UTF-8 text (bytes that are not UTF-8: a one-line error naming the record and
  the feature);
- no value, or the feature absent from the Example: '' (missing);
- more than one value: core.reading.cells.NESTED_CELL (a `nested` finding on that feature: our
  schema's features hold one value each).

The columns are the union of the feature names of every Example of every file, in the order they
are first met: the source reads every record once when it is opened (so a feature that appears
late in a file is still a column, and a broken record is found before anything is judged), and
`check` has nothing left to read. `blocks` reads the file again, a block of at most BLOCK_ROWS
records and about BLOCK_BYTES at a time; the first time, from the text cells kept from the first
pass when the whole batch's come to at most KEPT_BYTES (decoding is most of the cost: about 30 µs
an Example of 17 features, where a CSV row costs under 10).
"""

import bz2
import gzip
import lzma
import struct
import zlib
from typing import BinaryIO, Dict, Iterator, List, Optional, Sequence, Tuple

import google_crc32c
import pyarrow as pa
import pyarrow.compute as pc

from core.common.errors import InputError
from core.reading.cells import NESTED_CELL
from core.reading.sources import detect

BLOCK_ROWS = 8192  # records per block at most
BLOCK_BYTES = 16 << 20  # and about this many bytes of serialized Examples
KEPT_BYTES = 64 << 20  # the text cells of a batch this small are decoded once, not twice
_CHUNK = 1 << 20  # bytes read from the file at a time
_HEADER = struct.Struct("<QI")
_MASK_DELTA = 0xA282EAD8
_BROKEN = (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError)  # a compressed stream that breaks


class TFRecordSource:
    """A batch of TFRecord files of tf.train.Example, opened once (core.reading.source.Source);
    use it as a context manager."""

    format = "tfrecord"
    unit = "row"

    def __init__(self, files: Sequence[str], opener=None):
        if not files:
            raise InputError("no TFRecord file to read")
        self.files = list(files)
        self.path = self.files[0]
        self._opener = opener or (lambda p: open(p, "rb"))
        self._handles: Dict[str, BinaryIO] = {}
        self._counts: Dict[str, int] = {}
        from tfx_bsl.coders import example_coder  # C++; no TensorFlow

        self._decoder = example_coder.ExamplesToRecordBatchDecoder()
        # The text of what was read kept, up to KEPT_BYTES, for the first pass of `blocks`.
        self._kept: Dict[str, List[Tuple[int, Dict[str, pa.Array]]]] = {}
        names: Dict[str, None] = {}
        kept_bytes = 0
        for file in self.files:  # every record read once: the columns, and any broken record
            count, kept = 0, []
            for count, texts in self._texts(file):
                names.update(dict.fromkeys(texts))
                kept_bytes += sum(a.nbytes for a in texts.values())
                if kept is not None:
                    kept.append((count, texts))
                if kept_bytes > KEPT_BYTES:
                    kept = None
            self._counts[file] = count
            if kept is not None:
                self._kept[file] = kept
        if not names:
            empty = next((f for f in self.files if self._counts[f] == 0), self.files[0])
            raise InputError(f"{empty}: no data rows (no tf.Example record in it)" if self._counts[empty] == 0
                             else f"{empty}: no data rows (its Examples hold no feature)")
        self.columns = list(names)

    # ---- the one handle per file

    def _raw(self, file: str) -> BinaryIO:
        raw = self._handles.get(file)
        if raw is None:
            try:
                raw = self._handles[file] = self._opener(file)
            except OSError as e:
                raise InputError(f"{file}: cannot read it ({e.strerror or e})") from None
        raw.seek(0)
        return raw

    def close(self) -> None:
        for raw in self._handles.values():
            raw.close()
        self._handles.clear()

    def __enter__(self) -> "TFRecordSource":
        return self

    def __exit__(self, *_) -> None:
        self.close()

    # ---- what readers ask

    def has_rows(self, file: str) -> bool:
        return self._counts[file] > 0

    def check(self) -> None:
        """Every record was read when the source was opened (a broken one raised then); a file
        without a record is refused here, as a CSV file with only a header is."""
        for file in self.files:
            if self._counts[file] == 0:
                raise InputError(f"{file}: no data rows (no tf.Example record in it)")

    def blocks(self, file: str, columns: Optional[List[str]] = None) -> Iterator[pa.RecordBatch]:
        names = list(columns or self.columns)
        done = 0
        for count, texts in self._texts(file):
            rows = count - done
            done = count
            yield pa.RecordBatch.from_arrays(
                [texts[n] if n in texts else pa.array([""] * rows, pa.string()) for n in names], names=names)

    def records(self, file: str) -> Iterator[Tuple[int, List[str]]]:
        done = 0
        for block in self.blocks(file):
            for i, fields in enumerate(zip(*(c.to_pylist() for c in block.columns))):
                yield done + i + 1, list(fields)
            done += block.num_rows

    def locate(self, file: str, indices: Sequence[int]) -> Dict[int, int]:
        return {i: i + 1 for i in indices if 0 <= i < self._counts[file]}

    # ---- reading

    def _texts(self, file: str) -> Iterator[Tuple[int, Dict[str, pa.Array]]]:
        """(records read so far, {feature: its text cells}) per block of the file."""
        kept = self._kept.pop(file, None)  # once: memory is not held for the source's life
        if kept is not None:
            yield from kept
            return
        done = 0
        for block in _blocks(_serialized(self._raw(file), file)):
            yield done + len(block), self._decoded(file, done, block)
            done += len(block)

    def _decoded(self, file: str, start: int, block: List[bytes]) -> Dict[str, pa.Array]:
        """{feature: text cells} of a block of serialized Examples, the first being record start + 1.

        The decoder wants one type per feature in a block: where a feature's type changes between
        Examples (an INT feature carried as floats in some), or a record is no Example, the block is
        decoded in halves, down to the record that is no Example."""
        try:
            decoded = self._decoder.DecodeBatch(block)
        except RuntimeError as e:
            if len(block) == 1:
                raise InputError(f"{file}: record {start + 1}: not a tf.Example ({_first_line(e)})") from None
            half = len(block) // 2
            pieces = [self._decoded(file, start, block[:half]), self._decoded(file, start + half, block[half:])]
            empty = [pa.array([""] * half, pa.string()), pa.array([""] * (len(block) - half), pa.string())]
            names = dict.fromkeys(n for piece in pieces for n in piece)
            return {n: pa.concat_arrays([p.get(n, e) for p, e in zip(pieces, empty)]) for n in names}
        return _cells(file, start, decoded)


def _cells(file: str, start: int, decoded: pa.RecordBatch) -> Dict[str, pa.Array]:
    return {name: _column_text(file, start, name, column) for name, column in zip(decoded.schema.names, decoded.columns)}


def _column_text(file: str, start: int, name: str, column: pa.Array) -> pa.Array:
    """One decoded list column as text cells: its one value, '' for none, NESTED_CELL for more."""
    if pa.types.is_null(column.type):  # a feature no Example of the block gives a value or a type
        return pa.array([""] * len(column), pa.string())
    lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False)
    single = lengths == 1
    if single.any():
        starts = column.offsets.to_numpy()[:-1]
        values = column.values.take(pa.array(starts, pa.int64(), mask=~single))
        try:
            text = values.cast(pa.string())
        except pa.ArrowInvalid:
            raise InputError(_not_utf8(file, start, name, values)) from None
        text = pc.fill_null(text, "")
    else:
        text = pa.array([""] * len(column), pa.string())
    if (lengths > 1).any():
        text = pc.if_else(pa.array(lengths > 1), pa.scalar(NESTED_CELL, pa.string()), text)
    return text


def _not_utf8(file: str, start: int, name: str, values: pa.Array) -> str:
    for i, value in enumerate(values.to_pylist()):
        if value is not None:
            try:
                value.decode("utf-8")
            except UnicodeDecodeError as e:
                return f"{file}: record {start + i + 1}: feature '{name}' is not UTF-8 text ({e.reason} at byte {e.start})"
    return f"{file}: record {start + 1}: feature '{name}' cannot be read as text"


def _blocks(serialized: Iterator[bytes]) -> Iterator[List[bytes]]:
    """The serialized Examples in blocks of at most BLOCK_ROWS records and about BLOCK_BYTES."""
    block: List[bytes] = []
    size = 0
    for record in serialized:
        block.append(record)
        size += len(record)
        if len(block) >= BLOCK_ROWS or size >= BLOCK_BYTES:
            yield block
            block, size = [], 0
    if block:
        yield block


def masked_crc(data) -> int:
    """TFRecord's masked CRC-32C of `data`."""
    crc = google_crc32c.value(bytes(data))
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def framed(records: Sequence[bytes]) -> bytes:
    """`records` in TFRecord's framing (length, its masked CRC, data, its masked CRC): what
    `_serialized` reads back, what ExampleGen writes a block at a time."""
    parts = []
    for record in records:
        length = struct.pack("<Q", len(record))
        parts += [length, struct.pack("<I", masked_crc(length)), record, struct.pack("<I", masked_crc(record))]
    return b"".join(parts)


def _serialized(raw: BinaryIO, file: str) -> Iterator[bytes]:
    """Every record of a TFRecord file (decompressed on the fly when compressed), its framing
    checked; a one-line InputError naming the record that is broken."""
    stream = _stream(raw)
    buffer, pos, number = b"", 0, 0
    while True:
        number += 1
        if len(buffer) - pos < _HEADER.size:
            buffer, pos = _more(stream, file, number, buffer[pos:], _HEADER.size), 0
            if not buffer:
                return
            if len(buffer) < _HEADER.size:
                raise InputError(_cut(file, number))
        length, length_crc = _HEADER.unpack_from(buffer, pos)
        if masked_crc(buffer[pos:pos + 8]) != length_crc:
            raise InputError(f"{file}: record {number}: its length's checksum does not match "
                             "(a corrupt or truncated file, or not a TFRecord)")
        size = _HEADER.size + length + 4
        if len(buffer) - pos < size:
            buffer, pos = _more(stream, file, number, buffer[pos:], size), 0
            if len(buffer) < size:
                raise InputError(_cut(file, number))
        data = buffer[pos + _HEADER.size:pos + size - 4]
        if masked_crc(data) != struct.unpack_from("<I", buffer, pos + size - 4)[0]:
            raise InputError(f"{file}: record {number}: its checksum does not match (a corrupt or truncated file)")
        yield data
        pos += size


def _more(stream: BinaryIO, file: str, number: int, kept: bytes, need: int) -> bytes:
    """`kept` and what follows it in the stream, at least `need` bytes unless the stream ends."""
    parts, have = [kept], len(kept)
    while have < need:
        try:
            chunk = stream.read(max(_CHUNK, need - have))
        except _BROKEN as e:
            raise InputError(f"{file}: record {number}: its compressed stream is broken ({_first_line(e)})") from None
        if not chunk:
            break
        parts.append(chunk)
        have += len(chunk)
    return b"".join(parts)


def _cut(file: str, number: int) -> str:
    return f"{file}: record {number}: the file ends inside it (a truncated file)"


def _stream(raw: BinaryIO) -> BinaryIO:
    """The file's bytes, decompressed when its content says it is compressed."""
    kind = detect.compression_of(raw.read(8))
    raw.seek(0)
    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw)
    if kind == "bzip2":
        return bz2.BZ2File(raw)
    if kind == "xz":
        return lzma.LZMAFile(raw)
    if kind == "zstd":
        return pa.CompressedInputStream(pa.PythonFile(raw, mode="r"), "zstd")
    return raw


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
