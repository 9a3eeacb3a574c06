"""Which files a batch is, and what each file holds: the format from the content first and the
name second, compression by content (whatever the name says).

A folder is read as the output folders of Spark, Hive, pandas or Beam are written: every data
file under it (`part-*` and others), in sorted order (a file is data by its name: `detect.is_data_name`); hidden files and folders (`.name`, `_name`:
`_SUCCESS`, `_committed_*`, `_temporary/`, `.crc` checksums) and our own settings file ignored;
`key=value/` folders are partitions, their values a column of every row beneath them.
"""

import os
import struct
from typing import Dict, List, Optional, Tuple

from core.common.errors import InputError
from core.reading.input_settings import FORMATS, SETTINGS_FILE

COMPRESSIONS = (  # (magic bytes, name, what a user would run to undo it)
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
HEAD_BYTES = 64 << 10  # what a file's format is decided from
ZIP = b"PK\x03\x04"
PARQUET = b"PAR1"
_NAMES = (  # the name's say, when the content does not settle it
    ((".parquet", ".parq", ".pq"), "parquet"),
    ((".jsonl", ".ndjson", ".json"), "jsonl"),
    ((".tfrecord", ".tfrecords", ".tfr"), "tfrecord"),
    ((".csv", ".tsv", ".txt"), "csv"),
)
_COMPRESSED_SUFFIXES = (".gz", ".gzip", ".bz2", ".xz", ".zst", ".zstd")


def compression_of(head: bytes) -> Optional[str]:
    """gzip, bzip2, xz or zstd by the first bytes; None for anything else."""
    for magic, name in COMPRESSIONS:
        if head.startswith(magic):
            return name
    return None


def _crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def is_tfrecord(head: bytes) -> bool:
    """Whether the (decompressed) first bytes are a TFRecord's first record header: a length and
    the masked CRC-32C of that length (a check no text or Parquet file passes by chance)."""
    if len(head) < 12:
        return False
    crc = _crc32c(head[:8])
    masked = (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
    return struct.unpack("<I", head[8:12])[0] == masked


def format_of(head: bytes, name: str) -> str:
    """The format of a file from its (decompressed) first bytes, else its name: parquet by its
    magic, tfrecord by its first record's checksum, jsonl when the first character is `{`, csv
    otherwise."""
    if head.startswith(PARQUET):
        return "parquet"
    if is_tfrecord(head):
        return "tfrecord"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"{"):
        return "jsonl"
    base = name.lower()
    for suffix in _COMPRESSED_SUFFIXES:
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    for suffixes, fmt in _NAMES:
        if base.endswith(suffixes):
            return fmt if fmt != "parquet" else "csv"  # a .parquet name without Parquet's magic: read as text
    return "csv"


def ignored(name: str) -> bool:
    """A writer's marker or a hidden file: `_SUCCESS`, `_committed_*`, `.part-0.crc`, our settings file."""
    return name.startswith((".", "_")) or name.endswith(".crc") or name == SETTINGS_FILE


def is_data_name(name: str) -> bool:
    """Whether a file in a data folder is data by its name: a data suffix (compressed or not:
    `.csv`, `.csv.gz`, `.snappy.parquet`, `.jsonl.zst`...), a writer's part file (`part-00000`,
    Beam's `data-00000-of-00001`), or no suffix at all. A README or a notes.txt is not."""
    base = name.lower()
    for suffix in _COMPRESSED_SUFFIXES:
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    data_suffixes = tuple(s for suffixes, _ in _NAMES for s in suffixes if s != ".txt")
    return base.endswith(data_suffixes) or base.startswith(("part-", "data-")) or "." not in base


def folder_files(folder: str) -> List[Tuple[str, Dict[str, str]]]:
    """(file, {partition key: value}) of every data file under `folder`, sorted; InputError when
    there is none."""
    found: List[Tuple[str, Dict[str, str]]] = []

    def walk(path: str, partitions: Dict[str, str]) -> None:
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError as e:
            raise InputError(f"{path}: cannot read this folder ({e.strerror or e})") from None
        for entry in entries:
            if ignored(entry.name):
                continue
            if entry.is_dir():
                key, sep, value = entry.name.partition("=")
                if sep and key:
                    walk(entry.path, {**partitions, key: value})
                # another folder inside a data folder is not part of the batch (a span's
                # neighbour, a model's export): only partitions are read
            elif entry.is_file() and is_data_name(entry.name) and os.path.getsize(entry.path) > 0:
                found.append((entry.path, partitions))

    walk(folder, {})
    if not found:
        raise InputError(f"{folder}: no data file in this folder (.csv, .parquet, .jsonl, .tfrecord, compressed or not)")
    return found


def unit_by_name(file: str) -> str:
    """What a place in `file` counts, as reports name it: "row" for Parquet and TFRecord (their
    rows have no lines), "line" for text. By the name, which is all a report keeps of a file:
    `.parquet`, `.tfrecord` and TFX's `data_tfrecord-*.gz` say row."""
    name = file.rsplit("/", 1)[-1].lower()
    return "row" if ("tfrecord" in name or ".parquet" in name or name.endswith((".parq", ".pq"))) else "line"
