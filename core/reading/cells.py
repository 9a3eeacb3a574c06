"""How a CSV cell is read: the one function that decides, for the pipeline's ExampleGen and for
`tfxgate validate` alike.

The curated schema, not the batch, says what type a feature has. A cell is read as the schema's
type whenever its text represents a value of that type without loss; otherwise it is *not
representable*, a finding on its feature (with the share of rows and example line numbers),
and it never changes the type of the whole column.

- INT: an optional sign and digits (`8`, `+8`, `-8`); a decimal whose fraction is zero (`8.0`,
  `8.00`, `17031081800.0`: what pandas writes for an integer column with a missing value); an
  exponent form whose value is a whole number (`8e0`, `1.5e1`). The value must fit in 64 bits.
  Not representable: a fraction (`8.5`), text (`n/a`), digit separators (`1_300`, `1,300`),
  `nan` or `inf`, a number beyond 64 bits.
- FLOAT: any integer, decimal or exponent form (`8`, `8.5`, `.5`, `5.`, `1e-3`, `+2.5E+3`).
  `nan`, `inf`, `-inf`, `Infinity` (any case) are non-finite: reported apart (reasons `nan`,
  `inf`), never read as numbers.
  Text, digit separators and numbers beyond 32-bit float range are not representable.
- BYTES: the text as it is.
- Everywhere: a list or an object where one value belongs (NESTED_CELL, from a typed source) is
  not representable (reason `nested`), BYTES included.
- Everywhere: surrounding whitespace is ignored for numbers; the CSV parser has already removed
  quotes (a quoted number is a number); an empty cell is missing, not a defect.

Columns are read whole (a pyarrow array of text), so that reading a million rows costs a few
vectorised passes, not a million Python calls; the rare forms that need exact decimal
arithmetic (exponents) are checked one by one.
"""

import dataclasses
import decimal
from typing import Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

INT, FLOAT, BYTES = "int", "float", "bytes"
KINDS = (INT, FLOAT, BYTES)

# Why a cell is not read as its schema type.
NOT_INT = "not_int"
NOT_FLOAT = "not_float"
NAN = "nan"
INF = "inf"
NESTED = "nested"  # a list or an object where the schema wants one value (Parquet, JSON lines)
REASONS = (NOT_INT, NOT_FLOAT, NAN, INF, NESTED)

# How a source of typed data (Parquet, JSON lines, TFRecord) hands over a cell holding a list or
# an object: a text no text format can hold (CSV refuses a NUL byte), read as bad (NESTED) in
# every kind, BYTES included.
NESTED_CELL = "\x00nested"

_INT64_MAX = 2**63 - 1
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_PLAIN_INT = r"^[+-]?[0-9]+$"
_ZERO_FRACTION = r"^[+-]?[0-9]+\.0*$"
_NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_NAN = r"^[+-]?nan$"
_INF = r"^[+-]?inf(inity)?$"


@dataclasses.dataclass
class Column:
    """One column read as one kind.

    values: the typed values of the cells that have one, in row order (int64, float32 or binary);
    present: per row, whether the cell has a value; bad: per row, whether the cell holds text
    that is not representable in the kind (`reason` says why, per row; None where not bad).
    """

    values: pa.Array
    present: np.ndarray
    bad: np.ndarray
    reason: np.ndarray  # object array: a REASONS entry where bad, else None

    def offsets(self) -> np.ndarray:
        """List offsets (one value per present row) for a ListArray of this column."""
        offsets = np.zeros(len(self.present) + 1, dtype=np.int32)
        np.cumsum(self.present.astype(np.int32), out=offsets[1:])
        return offsets


def _mask(array) -> np.ndarray:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=bool)


def read_column(text: pa.Array, kind: str) -> Column:
    """Reads a column of cell texts (pyarrow strings, empty for an empty cell) as `kind`."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    text = pc.cast(text, pa.string())
    n = len(text)
    plain = _plain_ascii(text, kind)
    if plain is not None:
        return plain
    nested = _mask(pc.equal(text, NESTED_CELL)) if len(text) else np.zeros(0, dtype=bool)
    if nested.any():
        column = read_column(pc.if_else(pa.array(nested), "", text), kind)
        column.bad[nested] = True
        column.reason[nested] = NESTED
        return column
    if kind == BYTES:
        present = _mask(pc.not_equal(text, ""))
        values = pc.cast(text.filter(pa.array(present)), pa.binary())
        return Column(values, present, np.zeros(n, dtype=bool), np.full(n, None, dtype=object))
    stripped = pc.utf8_trim_whitespace(text)
    filled = _mask(pc.not_equal(stripped, ""))
    fast = _plain(stripped, filled, kind)
    if fast is not None:  # every filled cell in the plain form: no per-form passes needed
        return Column(fast, filled, np.zeros(n, dtype=bool), np.full(n, None, dtype=object))
    reader = _read_ints if kind == INT else _read_floats
    numbers, good, reason = reader(stripped, filled)
    bad = filled & ~good
    present = filled & good
    values = pa.array(numbers[present], type=pa.int64() if kind == INT else pa.float32())
    return Column(values, present, bad, reason)


# The bytes a column may hold for the plainest reading: digits and a minus sign (INT), and the
# decimal point and exponent (FLOAT). No whitespace, so nothing to trim; no NUL, so nothing nested.
_PLAIN_BYTES = {kind: np.isin(np.arange(256), np.frombuffer(chars.encode(), dtype=np.uint8))
                for kind, chars in ((INT, "0123456789-"), (FLOAT, "0123456789-+.eE"))}


def _plain_ascii(text: pa.Array, kind: str) -> Optional[Column]:
    """The column read at the cost of one cast, when every byte of its cells is one `_PLAIN_BYTES`
    allows and Arrow's parser takes every filled cell (finite and within float32 for FLOAT), else
    None and the general path reads it. Arrow's integer parser takes `-?[0-9]+` (and hexadecimal,
    whose `x` is not allowed here), its float parser `-?([0-9]+.?[0-9]*|.[0-9]+)([eE][+-]?[0-9]+)?`:
    both within the forms the rules above read, to the same values; a byte check over the
    column's buffer costs far less than a regular expression per cell."""
    if kind == BYTES or not isinstance(text, pa.Array) or text.null_count:
        return None
    n = len(text)
    _, offsets_buffer, data = text.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32, count=n + 1, offset=text.offset * 4)
    if data is not None and offsets[-1] > offsets[0]:
        if not _PLAIN_BYTES[kind][np.frombuffer(data, dtype=np.uint8)[offsets[0]:offsets[-1]]].all():
            return None
    filled = np.diff(offsets) > 0
    present = text.filter(pa.array(filled))
    try:
        values = pc.cast(present, pa.int64() if kind == INT else pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if kind == FLOAT:
        numbers = values.to_numpy(zero_copy_only=False)
        if len(numbers) and not (np.isfinite(numbers).all() and (np.abs(numbers) <= _FLOAT32_MAX).all()):
            return None
        values = pa.array(numbers.astype(np.float32), type=pa.float32())
    return Column(values, filled, np.zeros(n, dtype=bool), np.full(n, None, dtype=object))


def _plain(stripped: pa.Array, filled: np.ndarray, kind: str) -> Optional[pa.Array]:
    """The typed values when every filled cell is a plain number Arrow's parser reads exactly as
    the rules above would (digits for INT; a finite decimal or exponent form for FLOAT), else
    None and the column takes the full path. Only what the rules accept passes: Arrow's integer
    parser takes no fraction, exponent or separator; for FLOAT, NaN and infinity are sent back."""
    present = stripped.filter(pa.array(filled))
    if kind == INT:
        if len(present) and not pc.all(pc.match_substring_regex(present, _PLAIN_INT)).as_py():
            return None
        try:
            return pc.cast(pc.replace_substring_regex(present, r"^\+", ""), pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None  # beyond 64 bits: the full path says so
    try:
        numbers = pc.cast(present, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    values = numbers.to_numpy(zero_copy_only=False)
    if len(values) and not (np.isfinite(values).all() and (np.abs(values) <= _FLOAT32_MAX).all()):
        return None
    if len(present) and not pc.all(pc.match_substring_regex(present, _NUMBER)).as_py():
        return None  # something Arrow reads that the rules do not (e.g. a hexadecimal form)
    return pa.array(values.astype(np.float32), type=pa.float32())


def _read_ints(stripped: pa.Array, filled: np.ndarray):
    n = len(stripped)
    numbers = np.zeros(n, dtype=np.int64)
    good = np.zeros(n, dtype=bool)
    # The forms are matched on the cell as written (one sign at most); the plus goes only for the cast.
    plain = _mask(pc.match_substring_regex(stripped, _PLAIN_INT)) & filled
    zero_fraction = _mask(pc.match_substring_regex(stripped, _ZERO_FRACTION)) & filled & ~plain
    unsigned = pc.replace_substring_regex(stripped, r"^\+", "")
    whole = pc.replace_substring_regex(unsigned, r"\.0*$", "")
    candidates = plain | zero_fraction
    digits = _mask(pc.less_equal(pc.utf8_length(whole), 18))  # fits in int64 without a doubt
    fast = candidates & digits
    if fast.any():
        numbers[fast] = pc.cast(whole.filter(pa.array(fast)), pa.int64()).to_numpy()
        good[fast] = True
    # Long digit strings, and exponent or decimal forms: exact arithmetic, one cell at a time.
    slow = filled & ~fast & _mask(pc.match_substring_regex(stripped, _NUMBER))
    for i in np.flatnonzero(slow):
        value = _exact_int(stripped[int(i)].as_py())
        if value is not None:
            numbers[i], good[i] = value, True
    return numbers, good, _reasons(stripped, filled & ~good, NOT_INT)


def _exact_int(text: str) -> Optional[int]:
    """The integer a numeric text denotes exactly, or None (a fraction, or beyond int64)."""
    try:
        value = decimal.Decimal(text)
    except decimal.InvalidOperation:
        return None
    if not value.is_finite() or value != value.to_integral_value():
        return None
    integer = int(value)
    return integer if -_INT64_MAX - 1 <= integer <= _INT64_MAX else None


def _read_floats(stripped: pa.Array, filled: np.ndarray):
    n = len(stripped)
    numbers = np.zeros(n, dtype=np.float64)
    numeric = _mask(pc.match_substring_regex(stripped, _NUMBER)) & filled
    if numeric.any():
        numbers[numeric] = pc.cast(
            pc.replace_substring_regex(stripped.filter(pa.array(numeric)), r"^\+", ""), pa.float64()
        ).to_numpy()
    in_range = np.abs(numbers) <= _FLOAT32_MAX
    good = numeric & in_range
    return numbers, good, _reasons(stripped, filled & ~good, NOT_FLOAT)


def _reasons(stripped: pa.Array, bad: np.ndarray, otherwise: str) -> np.ndarray:
    """Per row: NAN or INF for a non-finite spelling, `otherwise` for any other bad cell."""
    reason = np.full(len(stripped), None, dtype=object)
    reason[bad] = otherwise
    if bad.any():
        reason[bad & _mask(pc.match_substring_regex(stripped, _NAN, ignore_case=True))] = NAN
        reason[bad & _mask(pc.match_substring_regex(stripped, _INF, ignore_case=True))] = INF
    return reason


def read_cell(text: str, kind: str):
    """One cell read as `kind`: (value or None, reason or None). The same rules as `read_column`,
    for a single value (tests, the online check)."""
    column = read_column(pa.array([text], pa.string()), kind)
    if column.bad[0]:
        return None, column.reason[0]
    if not column.present[0]:
        return None, None
    value = column.values[0].as_py()
    return (value.decode("utf-8") if kind == BYTES else value), None
