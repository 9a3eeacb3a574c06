"""JSON lines as a source (core/reading/source.py): one JSON object per line (blank lines skipped),
plain or compressed (gzip, bzip2, xz, zstd: read as a stream, core/reading/sources/compressed.py).

Cells are handed out as text, read by the schema's types in core/reading/cells.py exactly as a
CSV cell is: a number as its JSON text (`8`, `8.0`, `1e3`: the token as written), a string as
itself (a numeric string is its text), `true`/`false` as `true`/`false`, `null` and a key the
object lacks as '' (missing), an object or a list as cells.NESTED_CELL (a finding `nested` on its
feature). The non-standard `NaN` and `Infinity` (Python's json writes them) as their text.

Columns: the keys of the first object, in order, then every key first seen later, in the order
seen, over every file of the batch. The source is opened by a first pass over every line (the
keys only), so that every block of every file has the same columns whatever line a key first
appears on. A line that is not a JSON object (an array, a number, broken JSON) or not UTF-8 is a
one-line InputError naming the file and the line.
"""

import json
from typing import BinaryIO, Dict, Iterator, List, Optional, Sequence, Tuple

import pyarrow as pa

from core.common.errors import InputError
from core.reading.cells import NESTED_CELL
from core.reading.sources import compressed, places

BLOCK_ROWS = 64 << 10  # lines per block: memory does not grow with the file
_BOM = b"\xef\xbb\xbf"
_decoder = json.JSONDecoder(parse_int=str, parse_float=str, parse_constant=str)  # numbers as written


try:
    import orjson  # the keys' pass, when installed: several times json's speed
except ImportError:  # pragma: no cover - installed with the project's lock
    orjson = None


def _keys_of(line: bytes):
    """A line's keys in order, fast (orjson when installed); None when the line is not a plain
    object by that reader (the full reader then says what is wrong)."""
    if orjson is None:
        return None
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:  # or stricter than json (NaN, big integers): the full reader decides
        return None
    return list(value) if isinstance(value, dict) else None


def _what(value) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"  # a number is a str too here (parse_int=str): told apart by its text
    return "true or false" if isinstance(value, bool) else "null"


def _cell(value) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    return NESTED_CELL  # a dict or a list


class JsonLinesSource:
    """A JSON lines batch opened once (core.reading.source.Source); use it as a context manager."""

    format = "jsonl"
    unit = "line"

    def __init__(self, files: Sequence[str], opener=None):
        if not files:
            raise InputError("no JSON lines file to read")
        self.files = list(files)
        self.path = self.files[0]
        self._opener = opener or (lambda p: open(p, "rb"))
        self._handles: Dict[str, BinaryIO] = {}
        seen: Dict[str, None] = {}
        for file in self.files:
            for line, text in self._lines(file):
                keys = _keys_of(text)
                seen.update(dict.fromkeys(keys if keys is not None else self._object(file, line, text)))
        if not seen:
            raise InputError(f"{self.path}: no JSON object with a key in it: no column to read")
        self.columns = list(seen)

    # ---- the one handle per file

    def _raw(self, file: str):
        """The file's (decompressed) handle, opened on first use, rewound for each pass."""
        raw = self._handles.get(file)
        try:
            if raw is None:
                raw = self._handles[file] = compressed.open_stream(self._opener(file), file)
            raw.seek(0)
        except OSError as e:
            raise InputError(f"{file}: cannot read it ({e.strerror or e})") from None
        return raw

    def _lines(self, file: str) -> Iterator[Tuple[int, bytes]]:
        """(line number, bytes) of every line that is not blank."""
        try:
            for number, text in enumerate(self._raw(file), start=1):
                if number == 1 and text.startswith(_BOM):
                    text = text[len(_BOM):]
                if text.strip():
                    yield number, text
        except OSError as e:
            raise InputError(f"{file}: cannot read it ({e.strerror or e})") from None

    def _object(self, file: str, line: int, text: bytes) -> dict:
        """The line's object, numbers as their JSON text; InputError naming the line otherwise
        (or the break of a compressed stream whose garbage the line is)."""
        try:
            return self._parsed(file, line, text)
        except InputError:
            compressed.check(self._raw(file))
            raise

    def _parsed(self, file: str, line: int, text: bytes) -> dict:
        try:
            decoded = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"{file}: line {line}: not UTF-8 text (byte 0x{text[e.start]:02x} at column "
                             f"{e.start + 1})") from None
        try:
            value = _decoder.decode(decoded)
        except json.JSONDecodeError as e:
            raise InputError(f"{file}: line {line}: malformed JSON ({e.msg} at column {e.colno})") from None
        except RecursionError:
            raise InputError(f"{file}: line {line}: malformed JSON (nested too deeply)") from None
        if not isinstance(value, dict):
            what = _what(value)
            if isinstance(value, str) and not decoded.strip().startswith('"'):
                what = "a number"
            raise InputError(f"{file}: line {line}: {what}, not a JSON object (JSON lines hold one object "
                             "per line)")
        return value

    def close(self) -> None:
        for raw in self._handles.values():
            raw.close()
        self._handles.clear()

    def __enter__(self) -> "JsonLinesSource":
        return self

    def __exit__(self, *_) -> None:
        self.close()

    # ---- what readers ask

    def has_rows(self, file: str) -> bool:
        return next(self._lines(file), None) is not None

    def records(self, file: str) -> Iterator[Tuple[int, List[str]]]:
        for line, text in self._lines(file):
            value = self._object(file, line, text)
            yield line, [_cell(value.get(name)) for name in self.columns]

    def check(self) -> None:
        """Every line of every file read (the pipeline's pre-check)."""
        for file in self.files:
            if sum(1 for _ in self.records(file)) == 0:
                raise InputError(f"{file}: no JSON object in it (blank lines only)")

    def locate(self, file: str, indices: Sequence[int]) -> Dict[int, int]:
        return places.locate(self._lines(file), indices)

    def blocks(self, file: str, columns: Optional[List[str]] = None) -> Iterator[pa.RecordBatch]:
        names = list(columns or self.columns)
        values: List[List[str]] = [[] for _ in names]
        rows = 0
        for line, text in self._lines(file):
            value = self._object(file, line, text)
            for cells, name in zip(values, names):
                cells.append(_cell(value.get(name)))
            rows += 1
            if rows == BLOCK_ROWS:
                yield _batch(values, names, rows)
                values, rows = [[] for _ in names], 0
        if rows:
            yield _batch(values, names, rows)


def _batch(values: List[List[str]], names: List[str], rows: int) -> pa.RecordBatch:
    if not names:  # no column asked for (every one a partition's): the rows still count
        return pa.RecordBatch.from_struct_array(pa.array([{}] * rows, pa.struct([])))
    return pa.RecordBatch.from_arrays([pa.array(v, pa.string()) for v in values], names)
