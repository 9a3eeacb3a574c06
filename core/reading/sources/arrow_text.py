"""Typed Arrow arrays (Parquet's columns) as the text cells core/reading/cells.py reads: the one
place that decides how a typed value becomes text, so that the curated schema, not the file's
types, decides what a feature is, by the same rules as a CSV cell.

- null (a missing value, or a column of Arrow's null type): `''`, a missing cell.
- integers (signed or unsigned, any width): decimal text (`8`, `-3`, `18446744073709551615`).
- floating point: a whole number within 64 bits as its digits (`8.0` -> `8`, `17031081800.0` ->
  `17031081800`), any other value as its shortest round-trip text for its own width (`8.5`,
  `0.1` for a float32 0.1, `1e+20`); NaN -> `nan`, infinity -> `inf` / `-inf`. So an INT feature
  stored as floats reads as INT when every value is whole (what pandas writes for an integer
  column with a missing value), `8.5` is a `not_int` finding, and NaN a `nan` finding, exactly
  as the same text in a CSV file.
- strings (string, large_string, dictionary-encoded): the string as it is.
- booleans: `true` / `false`. An INT or FLOAT feature stored as booleans is therefore a `not_int`
  / `not_float` finding on every row (a boolean is not a number here, as in a CSV file).
- date32 / date64: the ISO date `YYYY-MM-DD`.
- timestamps: ISO 8601, `YYYY-MM-DDTHH:MM:SS` with the fraction of a second when it is not zero
  (`.5`, `.000123`), and, when the type has a time zone, the wall time there and its offset
  (`2015-11-03T06:45:00-06:00`).
- time of day: `HH:MM:SS[.ffffff]`; durations and other rare types: Python's text of the value.
- decimals: the exact decimal text with the type's scale (`1.50`, `-0.001`).
- binary (binary, large_binary, fixed_size_binary): the bytes decoded as UTF-8; bytes that are
  not UTF-8 are a one-line InputError naming the file, the column and the row.
- list, large_list, fixed_size_list, struct, map, union: core.reading.cells.NESTED_CELL for every
  cell that is not null (a `nested` finding on its feature when the schema wants one value).

Every rule is a vectorised pass over the column (pyarrow.compute casts, numpy), except decimals,
durations and the rare types without an Arrow cast, which are converted value by value.
"""

from typing import List

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.common.errors import InputError
from core.reading import cells

_INT64_LIMIT = float(2**63)  # a whole float below this in magnitude is written as an int64's digits
_ISO = "%Y-%m-%dT%H:%M:%S"


def batch_text(batch: pa.RecordBatch, columns: List[str], file: str, first_row: int) -> pa.RecordBatch:
    """`batch`'s `columns`, in that order, as text columns; `first_row`: the 1-based row in `file`
    of the batch's first row (for an error's message)."""
    arrays = [column_text(batch.column(name), file, name, first_row) for name in columns]
    return pa.RecordBatch.from_arrays(arrays, columns)


def column_text(array: pa.Array, file: str = "", name: str = "", first_row: int = 1) -> pa.Array:
    """One column as `pa.string()` text cells, no null (a null is `''`); see the module's rules."""
    text = _text(array, file, name, first_row)
    return pc.fill_null(text, "") if text.null_count else text


def _text(array: pa.Array, file: str, name: str, first_row: int) -> pa.Array:
    kind = array.type
    if isinstance(kind, pa.ExtensionType):
        return _text(array.storage, file, name, first_row)
    if pa.types.is_dictionary(kind):
        return _text(array.dictionary_decode(), file, name, first_row)
    if pa.types.is_null(kind):
        return pa.array([""] * len(array), pa.string())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind) \
            or pa.types.is_boolean(kind) or pa.types.is_date(kind) or pa.types.is_time(kind):
        return pc.cast(array, pa.string())
    if pa.types.is_floating(kind):
        return _floats(array)
    if pa.types.is_timestamp(kind):
        return _timestamps(array)
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        return _utf8(array, file, name, first_row)
    if pa.types.is_nested(kind):
        return pc.if_else(pc.is_valid(array), cells.NESTED_CELL, "")
    if pa.types.is_decimal(kind):
        return pa.array([None if v is None else format(v, "f") for v in array.to_pylist()], pa.string())
    return pa.array([None if v is None else str(v) for v in array.to_pylist()], pa.string())


def _floats(array: pa.Array) -> pa.Array:
    """Whole numbers as an int64's digits, the rest as Arrow's shortest round-trip text."""
    if pa.types.is_float16(array.type):
        array = pa.array(array.to_numpy(zero_copy_only=False).astype(np.float32), pa.float32(),
                         mask=np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool))
    text = pc.cast(array, pa.string())
    values = np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.float64)  # a null is NaN here
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(values) & (np.floor(values) == values) & (np.abs(values) < _INT64_LIMIT)
    if array.null_count:
        whole &= np.asarray(array.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    if not whole.any():
        return text
    digits = pc.cast(pa.array(np.where(whole, values, 0).astype(np.int64)), pa.string())
    return pc.if_else(pa.array(whole), digits, text)


def _timestamps(array: pa.Array) -> pa.Array:
    """ISO 8601: a zero fraction of a second dropped, the zone's offset as `+HH:MM`."""
    zoned = array.type.tz is not None
    text = pc.strftime(array, format=_ISO + ("%z" if zoned else ""))
    # `%S` carries the unit's fraction (`00.000000`): keep its significant digits only.
    text = pc.replace_substring_regex(text, r"(\.[0-9]*[1-9])0+([+-][0-9]{4})?$", r"\1\2")
    text = pc.replace_substring_regex(text, r"\.0+([+-][0-9]{4})?$", r"\1")
    if zoned:
        text = pc.replace_substring_regex(text, r"([+-][0-9]{2})([0-9]{2})$", r"\1:\2")
    return text


def _utf8(array: pa.Array, file: str, name: str, first_row: int) -> pa.Array:
    """Bytes as UTF-8 text; InputError at the first value that is not UTF-8."""
    if pa.types.is_fixed_size_binary(array.type):
        array = pc.cast(array, pa.binary())
    try:
        return pc.cast(array, pa.string())
    except pa.ArrowInvalid:
        pass
    for index, value in enumerate(array.to_pylist()):  # the error path only: which row
        try:
            if value is not None:
                value.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"{file}: column {name!r}, row {first_row + index}: not UTF-8 text "
                             f"(byte 0x{value[e.start]:02x} at byte {e.start + 1}); the column holds bytes, "
                             "not text") from None
    raise InputError(f"{file}: column {name!r}: not UTF-8 text")
