"""Compressed files (gzip, bzip2, xz, zstd; by content, whatever the name says), read as a stream
of their decompressed bytes, never decompressed to disk.

`open_stream` gives a text source (CSV, JSON lines) the decompressed bytes of an open handle:
Python's gzip, bz2 and lzma, and pyarrow's zstd decoder (the `zstandard` package returns a
truncated zstd stream's bytes without a word; pyarrow's decoder says it is truncated). Rewinding
the stream (`seek(0)`) reopens the decoder on the rewound handle. A broken stream is a one-line
InputError naming the file and where it broke: a truncated one, the last line decoded whole (the
line ends handed out are counted as they go by); a corrupt one, the compressed byte reached (a
decoder may have handed out garbage lines before it found the break: `check`).

`native` is the same stream for pyarrow's own reader: for a local file in a codec pyarrow decodes
itself (gzip, bzip2, zstd), a native stream that never calls back into Python (see
core/reading/sources/csv.py `_native`); None otherwise.
"""

import io
from typing import BinaryIO, Optional

from core.common.errors import InputError
from core.reading.sources import detect

_CODECS = {"gzip": "gzip", "bzip2": "bz2", "zstd": "zstd"}  # our name -> pyarrow's, for the codecs it decodes
_CHUNK = 64 << 10  # decompressed bytes asked of the decoder at a time


def kind_of(raw: BinaryIO) -> Optional[str]:
    """The compression of an open handle by its first bytes (gzip, bzip2, xz, zstd) or None; the
    handle is left rewound."""
    raw.seek(0)
    kind = detect.compression_of(raw.read(8))
    raw.seek(0)
    return kind


def _decoder(raw: BinaryIO, kind: str):
    import bz2, gzip, lzma

    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if kind == "bzip2":
        return bz2.BZ2File(raw)
    if kind == "xz":
        return lzma.LZMAFile(raw)
    import pyarrow as pa
    return pa.CompressedInputStream(pa.PythonFile(_Unclosed(raw), mode="r"), "zstd")


class _Unclosed:
    """The handle as pyarrow's PythonFile sees it: closing the decoder (or dropping it when the
    stream is rewound) leaves the handle open."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw

    def __getattr__(self, name):
        return getattr(self._raw, name)

    def close(self) -> None:
        pass


class _Decoded(io.RawIOBase):
    """The decoder's bytes, with the line ends counted and its errors said in one line."""

    def __init__(self, raw: BinaryIO, kind: str, file: str):
        self._decoder, self.kind, self.file, self.lines = _decoder(raw, kind), kind, file, 0
        self._tell = getattr(raw, "tell", lambda: None)
        # read1: one step of the decoder at a time, so that what decodes before a break is handed out
        self._read = getattr(self._decoder, "read1", self._decoder.read)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self._read(min(len(buffer), _CHUNK))
        except EOFError:
            raise self._error("is truncated", "a partial copy?") from None
        except Exception as e:  # zlib.error, OSError, lzma.LZMAError, pyarrow's OSError: the stream is broken
            if "runcated" in str(e):
                raise self._error("is truncated", "a partial copy?") from None
            raise self._corrupt(_first_line(e)) from None
        buffer[: len(data)] = data
        self.lines += data.count(b"\n")
        return len(data)

    def _corrupt(self, detail: str) -> InputError:
        """Where a corrupt stream broke, by the compressed bytes read so far (the decoder reads a
        little ahead): its line count may hold garbage (bzip2 checks a block after decoding it)."""
        try:
            offset = self._tell()
        except (OSError, ValueError):
            offset = None
        where = f"near byte {offset:,} of the file" if offset else "at its start"
        return InputError(f"{self.file}: the {self.kind} stream is corrupt {where} ({detail})")

    def _error(self, what: str, detail: str) -> InputError:
        where = f"after line {self.lines}" if self.lines else "before the end of its first line"
        return InputError(f"{self.file}: the {self.kind} stream {what} {where} ({detail})")

    def close(self) -> None:
        self._decoder.close()
        super().close()


class Stream:
    """The decompressed bytes of a compressed file's open handle: read, readline, iteration by
    line, and `seek(0)` (the decoder reopened on the rewound handle). Closing it closes the handle."""

    def __init__(self, raw: BinaryIO, kind: str, file: str):
        self._raw, self.kind, self.file = raw, kind, file
        self._open()

    def _open(self) -> None:
        self._raw.seek(0)
        self._decoded = _Decoded(self._raw, self.kind, self.file)
        self._buffered = io.BufferedReader(self._decoded, buffer_size=_CHUNK)

    def read(self, size: int = -1) -> bytes:
        return self._buffered.read(size)

    def readline(self, size: int = -1) -> bytes:
        return self._buffered.readline(size)

    def __iter__(self):
        return iter(self._buffered)

    def seek(self, offset: int, whence: int = 0) -> int:
        if (offset, whence) != (0, 0):
            raise io.UnsupportedOperation("a decompressed stream is only rewound")
        self._open()
        return 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self._raw.close()

    @property
    def closed(self) -> bool:
        return self._raw.closed

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *_) -> None:
        self.close()


def open_stream(raw: BinaryIO, file: str):
    """The decompressed bytes of the open handle `raw` when its content is compressed (a Stream,
    rewound), else `raw` itself, rewound."""
    kind = kind_of(raw)
    return Stream(raw, kind, file) if kind else raw


def check(handle) -> None:
    """Reads a compressed stream (rewound) to its end: an InputError if it is truncated or corrupt.
    A decoder may hand out garbage before it finds its stream broken (bzip2 checks a block's
    checksum after it), so a source that finds its data malformed asks this first: the break is
    the cause, not the data. A handle not compressed: nothing to do."""
    if isinstance(handle, Stream):
        handle.seek(0)
        while handle.read(16 * _CHUNK):
            pass


def head(raw: BinaryIO, file: str, size: int = detect.HEAD_BYTES) -> bytes:
    """The first `size` decompressed bytes of a compressed file's open handle, as far as they
    decode (a broken stream: its source says where it broke); the handle is left rewound."""
    decoded, out = _Decoded(raw, kind_of(raw), file), b""
    try:
        while len(out) < size:
            data = decoded.read(min(_CHUNK, size - len(out)))  # unbuffered: what decodes before a break is kept
            if not data:
                break
            out += data
    except InputError:
        pass
    raw.seek(0)
    return out


def native(file: str, kind: Optional[str]):
    """A native pyarrow stream of a local file's decompressed bytes, for a codec pyarrow decodes
    itself; None for a URI, an xz file or a file not compressed."""
    if kind not in _CODECS or "://" in file:
        return None
    import pyarrow as pa
    return pa.CompressedInputStream(pa.OSFile(file), _CODECS[kind])


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
