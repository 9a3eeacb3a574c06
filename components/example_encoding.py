"""A block of typed columns as serialized tf.Examples, byte for byte what
`tf.train.Example(...).SerializeToString(deterministic=True)` writes, built with numpy a column at
a time instead of a proto per row.

tfx_bsl's RecordBatchToExamplesEncoder writes a row's features in the order of its C++ map,
which is not the deterministic order (features sorted by name) whose bytes TFX's partition hashes
and ExampleGen writes; decoding and re-encoding every row cost more than the rest of the
conversion. The wire format of an Example is small and fixed (tensorflow/core/example/
example.proto, feature.proto), so the bytes are composed here from the columns:

    Example  = 0x0a len Features
    Features = for each feature, by name: 0x0a len (0x0a len name  0x12 len Feature)
    Feature  = nothing (a null row: no kind)
             | 0x0a len BytesList  (0x0a len value, per value)
             | 0x12 len FloatList  (0x0a len packed little-endian float32s, when there is a value)
             | 0x1a len Int64List  (0x0a len packed varints, when there is a value)

The identity test (tests/test_example_gen_identity.py) holds it to the proto's own bytes.
"""

from typing import List, Sequence

import numpy as np
import pyarrow as pa


class _Pieces:
    """A byte string per row: their lengths, and their bytes one after another in row order."""

    def __init__(self, lengths: np.ndarray, data: np.ndarray):
        self.lengths, self.data = lengths.astype(np.int64, copy=False), data

    @property
    def starts(self) -> np.ndarray:
        return np.cumsum(self.lengths) - self.lengths


def _const(text: bytes, mask: np.ndarray) -> _Pieces:
    """`text` in every row where mask holds, nothing elsewhere."""
    lengths = mask.astype(np.int64) * len(text)
    return _Pieces(lengths, np.tile(np.frombuffer(text, np.uint8), int(mask.sum())))


def _varint(values: np.ndarray, mask: np.ndarray = None) -> _Pieces:
    """Each value (as uint64) as a protobuf varint, where mask holds (default: every row)."""
    values = values.astype(np.uint64, copy=False)
    sizes = np.ones(len(values), np.int64)
    for k in range(1, 10):
        sizes += values >= np.uint64(1 << (7 * k))
    if mask is not None:
        sizes = np.where(mask, sizes, 0)
    ends = np.cumsum(sizes)
    data = np.empty(int(ends[-1]) if len(ends) else 0, np.uint8)
    starts = ends - sizes
    for k in range(int(sizes.max()) if len(sizes) else 0):
        rows = sizes > k
        byte = (values[rows] >> np.uint64(7 * k)) & np.uint64(0x7F)
        more = (sizes[rows] > k + 1).astype(np.uint64) << np.uint64(7)
        data[starts[rows] + k] = (byte | more).astype(np.uint8)
    return _Pieces(sizes, data)


def _concat(*parts) -> _Pieces:
    """Each row's pieces one after another; a part may be `bytes`: the same text in every row."""
    rows = next(len(p.lengths) for p in parts if isinstance(p, _Pieces))
    lengths = sum(p.lengths if isinstance(p, _Pieces) else len(p) for p in parts)
    out = np.empty(int(lengths.sum()), np.uint8)
    at = np.cumsum(lengths) - lengths
    for part in parts:
        if isinstance(part, bytes):
            out[at[:, None] + np.arange(len(part))] = np.frombuffer(part, np.uint8)
            at = at + len(part)
            continue
        if part.data.size:
            out[np.repeat(at - part.starts, part.lengths) + np.arange(part.data.size)] = part.data
        at = at + part.lengths
    return _Pieces(lengths if rows else np.zeros(0, np.int64), out)


def _field(tag: int, body: _Pieces, mask: np.ndarray = None) -> _Pieces:
    """A length-delimited field: tag, the body's length, the body; only where mask holds."""
    mask = np.ones(len(body.lengths), bool) if mask is None else mask
    return _concat(_const(bytes([tag]), mask), _varint(body.lengths, mask), body)


def _by_row(per_value: _Pieces, offsets: np.ndarray) -> _Pieces:
    """The pieces of a list's values (in order), as one piece per row of the list's offsets."""
    ends = np.concatenate([[0], np.cumsum(per_value.lengths)])
    return _Pieces(ends[offsets[1:]] - ends[offsets[:-1]], per_value.data)


def _feature(column: pa.ListArray) -> _Pieces:
    """The Feature of every row of a list column (binary, float32 or int64 values)."""
    rows = len(column)
    offsets = np.asarray(column.offsets, dtype=np.int64)
    values = column.values.slice(offsets[0], offsets[-1] - offsets[0]) if rows else column.values.slice(0, 0)
    offsets = offsets - offsets[0]
    valid = ~np.asarray(column.is_null(), dtype=bool) if column.null_count else np.ones(rows, bool)
    kind = column.type.value_type
    counts = np.diff(offsets)
    if pa.types.is_floating(kind):
        raw = np.asarray(values.cast(pa.float32()).to_numpy(zero_copy_only=False), np.float32).view(np.uint8)
        packed = _Pieces(counts * 4, raw)
        return _field(0x12, _field(0x0A, packed, counts > 0), valid)
    if pa.types.is_integer(kind):
        ints = np.asarray(values.cast(pa.int64()).to_numpy(zero_copy_only=False), np.int64).view(np.uint64)
        packed = _by_row(_varint(ints), offsets)
        return _field(0x1A, _field(0x0A, packed, counts > 0), valid)
    if len(values):
        width = np.int64 if pa.types.is_large_binary(kind) or pa.types.is_large_string(kind) else np.int32
        value_offsets = np.frombuffer(values.buffers()[1], width)[values.offset:values.offset + len(values) + 1]
        value_offsets = value_offsets.astype(np.int64)
        data = np.frombuffer(values.buffers()[2], np.uint8)[value_offsets[0]:value_offsets[-1]]
        each = _field(0x0A, _Pieces(np.diff(value_offsets), data))
    else:
        each = _Pieces(np.zeros(0, np.int64), np.zeros(0, np.uint8))
    return _field(0x0A, _by_row(each, offsets), valid)


def serialized_examples(columns: Sequence[pa.Array], names: Sequence[str]) -> List[bytes]:
    """The rows of `columns` (list arrays of one length, named `names`) as deterministically
    serialized tf.Examples."""
    rows = len(columns[0]) if columns else 0
    parts, features = [], np.zeros(rows, np.int64)  # features: the length of each row's Features
    for name, column in sorted(zip(names, columns), key=lambda item: item[0].encode("utf-8")):
        key = name.encode("utf-8")
        head = b"\x0a" + _varint(np.array([len(key)])).data.tobytes() + key + b"\x12"
        feature = _feature(column)
        feature_length = _varint(feature.lengths)
        entry = len(head) + feature_length.lengths + feature.lengths
        entry_length = _varint(entry)
        parts += [b"\x0a", entry_length, head, feature_length, feature]
        features += 1 + entry_length.lengths + entry
    if not rows:
        return []
    examples = _concat(b"\x0a", _varint(features), *parts)
    data, ends = examples.data.tobytes(), np.cumsum(examples.lengths).tolist()
    return [data[start:end] for start, end in zip([0] + ends[:-1], ends)]
