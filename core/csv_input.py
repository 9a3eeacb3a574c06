"""The structural check of a CSV input, shared by ExampleGen's executor, runner_local.py's
pre-check and `tfxgate validate`: one set of rules for file lists, headers and rows.

CsvExampleGen fails on broken CSV deep inside a Beam worker, with a message that names neither
the file nor the line (`Invalid CSV line: [b'...']`), or not at all: a byte-order mark becomes
part of the first column's name, and a field over 128 KiB hits the csv module's field limit.
`check_file` reads a file once, in plain Python (no TensorFlow, no Beam), and either returns its
column names or raises CsvInputError naming the file, the line and the problem.

Accepted: a UTF-8 byte-order mark, CRLF or LF line ends, quoted fields spanning lines, blank
lines (CsvExampleGen skips them), fields up to FIELD_LIMIT bytes.
Refused: no header, empty or duplicate column names, no data row, a row whose number of fields
differs from the header's, a quoted field never closed, bytes that are not UTF-8, NUL bytes.
"""

import csv
import glob
import os
from typing import BinaryIO, Callable, Iterator, List, Sequence

from core.errors import InputError

FIELD_LIMIT = 64 << 20  # bytes in one field; the csv module's own default is 128 KiB
_BOM = b"\xef\xbb\xbf"


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
        if number == 1 and line.startswith(_BOM):
            line = line[len(_BOM):]
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise CsvInputError(
                f"{path}: line {number}: not UTF-8 text (byte 0x{line[e.start]:02x} at column {e.start + 1})"
            ) from None


def check_file(path: str, opener: Callable[[str], BinaryIO] = None) -> List[str]:
    """The column names of the CSV file at `path`, after checking every row; CsvInputError if not usable."""
    allow_large_fields()
    opener = opener or (lambda p: open(p, "rb"))
    position, record_start = [0], 1
    try:
        with opener(path) as raw:
            reader = csv.reader(_text_lines(raw, path, position), strict=True)
            names = check_header(path, next(reader, None))
            rows, record_start = 0, position[0] + 1
            for row in reader:
                if row and len(row) != len(names):
                    raise CsvInputError(
                        f"{path}: line {record_start}: {_fields(len(row))} where the header has {len(names)}"
                    )
                rows += bool(row)
                record_start = position[0] + 1
    except csv.Error as e:
        raise CsvInputError(f"{path}: line {record_start}: {_csv_problem(e)}") from None
    except OSError as e:
        raise CsvInputError(f"{path}: cannot read it ({e.strerror or e})") from None
    if rows == 0:
        raise CsvInputError(f"{path}: no data rows, only a header")
    return names


def _fields(n: int) -> str:
    return f"{n} field" if n == 1 else f"{n} fields"


def check_header(path: str, names) -> List[str]:
    """`names` (a parsed header line, or None) if usable as column names; else CsvInputError."""
    if not names or not any(n.strip() for n in names):
        raise CsvInputError(f"{path}: empty file (no header line)")
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


def check_files(paths: Sequence[str], opener: Callable[[str], BinaryIO] = None) -> List[str]:
    """The shared column names of `paths`, each checked; files of one split must agree."""
    if not paths:
        raise CsvInputError("no CSV file to read")
    names = check_file(paths[0], opener)
    for path in paths[1:]:
        if check_file(path, opener) != names:
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


def read_header(path: str) -> List[str]:
    """The checked column names of a CSV file's first line, without reading the rest."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            names = next(csv.reader(f), None)
    except UnicodeDecodeError as e:
        raise CsvInputError(f"{path}: not UTF-8 text (byte {e.start} of the header)") from None
    return check_header(path, names)


def files_and_header(path: str):
    """(files, shared column names) of a CSV file or folder; files of one batch must agree."""
    files = csv_files(path)
    names = read_header(files[0])
    for f in files[1:]:
        if read_header(f) != names:
            raise CsvInputError(f"{f}: its header differs from {files[0]}'s")
    return files, names


def check_folder(folder: str) -> List[str]:
    """check_files over the *.csv files directly inside `folder` (a local path)."""
    return check_files(folder_files(folder))
