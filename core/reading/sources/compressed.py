"""Compressed files (gzip, bzip2, xz, zstd; by content), read as a stream, never decompressed to
disk. STUB: issue 31 fills this in."""

from typing import BinaryIO

from core.reading.sources import detect


def head(raw: BinaryIO, file: str, size: int = detect.HEAD_BYTES) -> bytes:
    """The first `size` decompressed bytes of a compressed file's open handle (rewound)."""
    import bz2, gzip, lzma

    raw.seek(0)
    kind = detect.compression_of(raw.read(8))
    raw.seek(0)
    try:
        if kind == "gzip":
            return gzip.GzipFile(fileobj=raw).read(size)
        if kind == "bzip2":
            return bz2.BZ2File(raw).read(size)
        if kind == "xz":
            return lzma.LZMAFile(raw).read(size)
        if kind == "zstd":
            import pyarrow as pa
            return pa.CompressedInputStream(pa.PythonFile(raw, mode="r"), "zstd").read(size)
    except (OSError, EOFError, lzma.LZMAError, ValueError):
        return b""  # a corrupt stream: its source says where it broke
    return b""
