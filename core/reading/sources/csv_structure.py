"""The structural check of a CSV input, shared by ExampleGen's executor, runner_local.py's
pre-check and `tfxgate validate`: one set of rules for file lists, headers and rows.

CsvExampleGen fails on broken CSV deep inside a Beam worker, with a message that names neither
the file nor the line (`Invalid CSV line: [b'...']`), or not at all: a byte-order mark becomes
part of the first column's name, and a field over 128 KiB hits the csv module's field limit.
`check_file` reads a file once, in plain Python (no TensorFlow, no Beam), and either returns its
column names or raises CsvInputError naming the file, the line and the problem.

Accepted: a UTF-8 byte-order mark, CRLF or LF line ends, quoted fields spanning lines, blank
lines (CsvExampleGen skips them), fields up to FIELD_LIMIT bytes, another delimiter where the
user names it.
Refused: no header, empty or duplicate column names, no data row, a row whose number of fields
differs from the header's, a quoted field never closed, bytes that are not UTF-8, NUL bytes.

A compressed file (gzip, bzip2, xz, zstd: by content, whatever its name) is read as the stream of
its decompressed text (core/reading/sources/compressed.py), never decompressed to disk; a
truncated or corrupt stream is one line naming the line it broke after.

Before any of that, the first block of the (decompressed) file says what it is (`diagnose`): a
zip archive (it may hold many files), UTF-16 or UTF-32 text, or a header that is one column
holding another delimiter, is refused in one line that says so.
"""

import csv
import glob
import os
from typing import BinaryIO, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from core.common.errors import InputError
from core.reading import input_settings
from core.reading.sources import compressed

FIELD_LIMIT = 64 << 20  # bytes in one field; the csv module's own default is 128 KiB
DELIMITER = ","
HEAD_BYTES = 64 << 10  # what `diagnose` looks at
_BOM = b"\xef\xbb\xbf"
_ZIP = b"PK\x03\x04"
_WIDE_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"),
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)"),
    (b"\xff\xfe", "UTF-16 (little-endian)"),
    (b"\xfe\xff", "UTF-16 (big-endian)"),
)
_OTHER_DELIMITERS = ((";", "semicolon"), ("\t", "tab"), ("|", "pipe"))


class CsvInputError(InputError):
    """An input file is not usable CSV; the message names the file and the problem, in one line."""


def allow_large_fields() -> None:
    """Raises the csv module's per-field limit (process-wide; Beam workers call it too)."""
    if csv.field_size_limit() < FIELD_LIMIT:
        csv.field_size_limit(FIELD_LIMIT)


def _text_lines(raw: BinaryIO, path: str, position: List[int]) -> Iterator[str]:
    """The file's physical lines as text, line ends kept; `position[0]` is the current line."""
    for number, line in enumerate(raw, start=1):
        position[0] = number
        if b"\x00" in line:
            raise CsvInputError(nul_message(path, number, line.index(b"\x00") + 1))
        if number == 1 and line.startswith(_BOM):
            line = line[len(_BOM):]
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise CsvInputError(
                f"{path}: line {number}: not UTF-8 text (byte 0x{line[e.start]:02x} at column {e.start + 1})"
            ) from None


SETTINGS_FILE = input_settings.SETTINGS_FILE  # beside the data: `delimiter: ";"` for every file under it


def folder_delimiter(folder: str):
    """The delimiter a data folder declares in its SETTINGS_FILE, or None."""
    return input_settings.of_folder(folder).delimiter


def nul_message(path: str, line: int, column: int) -> str:
    """The one message for a NUL byte, both paths (column: bytes from the line's start, 1-based)."""
    return f"{path}: line {line}: a NUL byte (byte {column} of the line): binary data, not CSV text"


_SCAN_CHUNK = 16 << 20


def scan(f: BinaryIO) -> Tuple[int, Optional[Tuple[int, int]]]:
    """(the longest physical line in bytes, (line, byte column) of the first NUL byte or None) of
    an open binary file, from where it stands, in one vectorised pass: what a block reader must
    hold at once, and the NUL byte the line-by-line reader refuses with the same message."""
    import numpy as np

    longest, line, last_end, offset = 0, 1, 0, 0
    while True:
        chunk = f.read(_SCAN_CHUNK)
        if not chunk:
            break
        data = np.frombuffer(chunk, dtype=np.uint8)
        nul = np.flatnonzero(data == 0)
        ends = np.flatnonzero(data == 10) + offset
        if len(nul):
            first = int(nul[0]) + offset
            before = ends[ends < first]
            start = int(before[-1]) + 1 if len(before) else last_end
            return longest, (line + len(before), first - start + 1)
        if len(ends):
            starts = np.concatenate([[last_end], ends[:-1] + 1])
            longest = max(longest, int((ends - starts).max()) + 1)
            last_end = int(ends[-1]) + 1
            line += len(ends)
        offset += len(chunk)
    return max(longest, offset - last_end), None


def diagnose(path: str, head: bytes, delimiter: str = DELIMITER) -> None:
    """Refuses, in one line, a file whose first block (decompressed, for a gzip, bzip2, xz or zstd
    file: core/reading/sources/compressed.py reads those) shows it is not delimited UTF-8 text: a
    zip archive (it may hold many files: which one?), UTF-16 or UTF-32 text, classic Mac line
    ends, a header that is one column holding another delimiter."""
    if head.startswith(_ZIP):
        raise CsvInputError(f"{path}: a zip archive (by its content, whatever its name): unzip it first "
                            "(an archive may hold many files); tfxgate reads CSV text, compressed by gzip, "
                            "bzip2, xz or zstd or not")
    for bom, encoding in _WIDE_BOMS:
        if head.startswith(bom):
            raise CsvInputError(f"{path}: {encoding} text (byte-order mark): save it as UTF-8")
    sample = head[:4096]
    if sample.count(b"\x00") > len(sample) // 4:
        raise CsvInputError(f"{path}: looks like UTF-16 or UTF-32 text (every other byte is zero): save it as UTF-8")
    if b"\r" in head.rstrip(b"\r") and b"\n" not in head:
        raise CsvInputError(f"{path}: its lines end in a carriage return alone (classic Mac line ends): save it "
                            "with LF or CRLF line ends")
    first = head.split(b"\n", 1)[0].lstrip(_BOM).decode("utf-8", "replace")
    if any(ord(c) < 32 and c not in "\t\r" for c in first) or "\ufffd" in first:
        return  # not a header of text at all: the record check names what is wrong and where
    if delimiter not in first:
        for other, name in _OTHER_DELIMITERS:
            if other != delimiter and first.count(other) >= 1:
                shown = "\\t" if other == "\t" else other
                raise CsvInputError(f"{path}: the header is one column containing {shown!r}: a {name}-delimited "
                                    f"file? pass --delimiter '{shown}'")


def records(raw: BinaryIO, path: str, delimiter: str = DELIMITER) -> Iterator[Tuple[int, List[str]]]:
    """(line number where the record starts, its fields) of every data record of an open binary
    CSV file, after its header; blank lines skipped. Raises CsvInputError naming the line.

    The first item yielded is (0, the checked header)."""
    allow_large_fields()
    head = raw.read(HEAD_BYTES)
    raw.seek(0)
    diagnose(path, head, delimiter)
    position, record_start = [0], 1
    try:
        reader = csv.reader(_text_lines(raw, path, position), strict=True, delimiter=delimiter)
        names = check_header(path, next(reader, None))
        yield 0, names
        record_start = position[0] + 1
        for row in reader:
            if row:
                if len(row) != len(names):
                    raise CsvInputError(
                        f"{path}: line {record_start}: {_fields(len(row))} where the header has {len(names)}"
                    )
                yield record_start, row
            record_start = position[0] + 1
    except csv.Error as e:
        raise CsvInputError(f"{path}: line {record_start}: {_csv_problem(e)}") from None


def check_file(path: str, opener: Callable[[str], BinaryIO] = None, delimiter: str = DELIMITER) -> List[str]:
    """The column names of the CSV file at `path`, after checking every row; CsvInputError if not usable."""
    opener = opener or (lambda p: open(p, "rb"))
    try:
        with compressed.open_stream(opener(path), path) as raw:
            stream = records(raw, path, delimiter)
            _, names = next(stream)
            rows = sum(1 for _ in stream)
    except OSError as e:
        raise CsvInputError(f"{path}: cannot read it ({e.strerror or e})") from None
    if rows == 0:
        raise CsvInputError(f"{path}: no data rows, only a header")
    return names


def _fields(n: int) -> str:
    return f"{n} field" if n == 1 else f"{n} fields"


def check_header(path: str, names) -> List[str]:
    """`names` (a parsed header line, or None) if usable as column names; else CsvInputError."""
    if names is None:
        raise CsvInputError(f"{path}: empty file (no header line)")
    if not any(n.strip() for n in names):
        raise CsvInputError(f"{path}: line 1 is blank: the header (the column names) must be the first line")
    seen = set()
    for index, name in enumerate(names, start=1):
        if not name.strip():
            raise CsvInputError(f"{path}: column {index} of the header has no name")
        if name in seen:
            raise CsvInputError(f"{path}: duplicate column name {name!r} in the header")
        seen.add(name)
    return names


def _csv_problem(error: csv.Error) -> str:
    text = str(error)
    if "unexpected end of data" in text or "EOF" in text:
        return "a quoted field is never closed (unbalanced quote)"
    if "NUL" in text:
        return "a NUL byte: binary data, not CSV text"
    if "field larger than field limit" in text:
        return f"a field over {FIELD_LIMIT >> 20} MiB"
    return text


def check_files(paths: Sequence[str], opener: Callable[[str], BinaryIO] = None,
                delimiter: str = DELIMITER) -> List[str]:
    """The shared column names of `paths`, each checked; files of one split must agree."""
    if not paths:
        raise CsvInputError("no CSV file to read")
    names = check_file(paths[0], opener, delimiter)
    for path in paths[1:]:
        if check_file(path, opener, delimiter) != names:
            raise CsvInputError(f"{path}: its header differs from {paths[0]}'s")
    return names


def folder_files(folder: str) -> List[str]:
    """The *.csv files directly inside `folder` (a local path; glob characters in it are literal)."""
    files = sorted(glob.glob(os.path.join(glob.escape(folder), "*.csv")))
    if not files:
        raise CsvInputError(f"{folder}: no .csv file in this folder")
    return files


def csv_files(path: str) -> List[str]:
    """`path` itself if it is a file, else the *.csv files directly inside it, sorted."""
    if os.path.isfile(path):
        return [path]
    if os.path.isdir(path):
        return folder_files(path)
    raise CsvInputError(f"{path}: no such file or directory")


def header_of(raw: BinaryIO, path: str, delimiter: str = DELIMITER) -> List[str]:
    """The checked column names of an open CSV file's first record (a quoted name may hold a line
    end), decoded line by line as the record check decodes it: a bad byte later in the file is
    not the header's. The caller diagnoses the first block first."""
    try:
        raw.seek(0)
        names = next(csv.reader(_text_lines(raw, path, [0]), delimiter=delimiter), None)
    except csv.Error as e:
        raise CsvInputError(f"{path}: line 1: {_csv_problem(e)}") from None
    except OSError as e:
        raise CsvInputError(f"{path}: cannot read it ({e.strerror or e})") from None
    return check_header(path, names)


def read_header(path: str, delimiter: str = DELIMITER) -> List[str]:
    """The checked column names of a CSV file's first line, without reading the rest (the first
    block is diagnosed first)."""
    try:
        with compressed.open_stream(open(path, "rb"), path) as raw:
            diagnose(path, raw.read(HEAD_BYTES), delimiter)
            return header_of(raw, path, delimiter)
    except OSError as e:
        raise CsvInputError(f"{path}: cannot read it ({e.strerror or e})") from None


def files_and_header(path: str, delimiter: str = DELIMITER):
    """(files, shared column names) of a CSV file or folder; files of one batch must agree."""
    files = csv_files(path)
    names = read_header(files[0], delimiter)
    for f in files[1:]:
        if read_header(f, delimiter) != names:
            raise CsvInputError(f"{f}: its header differs from {files[0]}'s")
    return files, names


def check_folder(folder: str, delimiter: str = DELIMITER) -> List[str]:
    """check_files over the *.csv files directly inside `folder` (a local path)."""
    return check_files(folder_files(folder), delimiter=delimiter)


def check_columns(path: str, columns: Sequence[str], known: Sequence[str]) -> None:
    """Refuses a file that shares no column name with the schema: it is not this data at all (or
    not read with the right delimiter), which is one error, not one per missing column."""
    if known and not set(columns) & set(known):
        shown = ", ".join(repr(c) for c in list(columns)[:3]) + (" ..." if len(columns) > 3 else "")
        raise CsvInputError(f"{path}: none of its {len(columns)} column(s) ({shown}) is a feature of the schema: "
                            "the wrong file, or a header missing?")
