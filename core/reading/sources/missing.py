"""Missing-value markers: the texts some writers put where a value is missing (R's write.csv
`NA`, a MySQL or PostgreSQL dump's `\\N`, a SQL export's `NULL`, pandas' `<NA>`), read as the
empty cell every other writer leaves there.

`Markers` wraps a source (core/reading/source.py) when the data declares its markers
(`missing:` in tfxgate-input.yaml, `--missing`); `undeclared` tells a file that writes one
marker nobody declared, so a clean export is refused in one line that says what to declare,
not blocked on every column it has a marker in.
"""

import shlex
from typing import Dict, Iterator, List, Optional, Sequence, Set, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.common.errors import InputError
from core.reading import cells

# The writers known to write missing values as a marker, named in the refusal of an undeclared one.
WRITERS = {"NA": "R's write.csv", "\\N": "a MySQL/PostgreSQL dump", "NULL": "a SQL export", "<NA>": "pandas"}
_UNREADABLE = (cells.NOT_INT, cells.NOT_FLOAT)  # text that is not a number; NaN, inf, a list are findings of their own


def checked(markers: Sequence[str], where: str = "--missing") -> Tuple[str, ...]:
    """The markers declared, surrounding whitespace ignored; an InputError for a blank one (an
    empty cell is missing already)."""
    result = tuple(dict.fromkeys(str(m).strip() for m in markers))
    if "" in result:
        raise InputError(f"{where}: an empty marker (an empty cell is missing already); name a text such as NA")
    return result


class Markers:
    """A source (core.reading.source.Source) whose cells holding a declared marker, surrounding
    whitespace ignored, are '' (missing), in every column of every file."""

    def __init__(self, source, markers: Sequence[str]):
        self._source, self.markers = source, checked(markers)
        self._set = pa.array(self.markers, pa.string())
        self.format, self.unit, self.path, self.files = source.format, source.unit, source.path, source.files
        self.columns = source.columns

    def check(self) -> None:
        self._source.check()

    def has_rows(self, file: str) -> bool:
        return self._source.has_rows(file)

    def blocks(self, file: str, columns: Optional[List[str]] = None) -> Iterator[pa.RecordBatch]:
        for block in self._source.blocks(file, columns):
            yield pa.RecordBatch.from_arrays([self._blanked(c) for c in block.columns], block.schema.names)

    def _blanked(self, column: pa.Array) -> pa.Array:
        marked = pc.is_in(pc.utf8_trim_whitespace(column), value_set=self._set)
        return pc.if_else(marked, "", column) if pc.any(marked).as_py() else column

    def records(self, file: str) -> Iterator[Tuple[int, List[str]]]:
        markers = set(self.markers)
        for where, fields in self._source.records(file):
            yield where, ["" if f.strip() in markers else f for f in fields]

    def locate(self, file: str, indices: Sequence[int]) -> Dict[int, int]:
        return self._source.locate(file, indices)

    def close(self) -> None:
        self._source.close()

    def __enter__(self) -> "Markers":
        return self

    def __exit__(self, *_) -> None:
        self.close()


def suspected(problems: Dict[str, Dict[str, dict]], kinds: Dict[str, str]) -> bool:
    """Whether a batch's reading report (core.reading.report.ReadingReport.problems) could hide an
    undeclared marker: text that is not a number in two numeric columns or more. Nothing to scan
    otherwise (a clean batch, or one bad column)."""
    numeric = [f for f, kind in kinds.items() if kind in (cells.INT, cells.FLOAT)]
    return sum(any(r in problems.get(f, {}) for r in _UNREADABLE) for f in numeric) >= 2


def undeclared(source, kinds: Dict[str, str]) -> Optional[Tuple[str, str]]:
    """(file, marker) of the first file of `source` that writes missing values as one marker: every
    cell of its numeric columns (`kinds`: the schema's) that is text, not a number, holds the same
    text, in two columns or more, and the file has no empty cell at all (a writer that writes a
    marker for a missing value never leaves a cell empty). None when no file does.

    A file is read a block at a time, and dropped at its first empty cell."""
    numeric = [c for c in source.columns if kinds.get(c) in (cells.INT, cells.FLOAT)]
    if len(numeric) < 2:
        return None
    for file in source.files:
        marker = _marker_of(source, file, {c: kinds[c] for c in numeric})
        if marker is not None:
            return file, marker
    return None


def _marker_of(source, file: str, numeric: Dict[str, str]) -> Optional[str]:
    texts: Set[str] = set()
    columns: Set[str] = set()
    for block in source.blocks(file):
        if any(pc.any(pc.equal(column, "")).as_py() for column in block.columns):
            return None
        for name, kind in numeric.items():
            text = block.column(name)
            read = cells.read_column(text, kind)
            unreadable = np.isin(read.reason.astype(str), _UNREADABLE)  # None (a cell read) is not one
            if unreadable.any():
                columns.add(name)
                texts.update(pc.unique(pc.utf8_trim_whitespace(text.filter(pa.array(unreadable)))).to_pylist())
                if len(texts) > 1:
                    return None
    return texts.pop() if len(texts) == 1 and len(columns) >= 2 else None


def message(file: str, marker: str) -> str:
    """The one line refusing a file that writes an undeclared marker: what to declare, both ways."""
    import yaml

    writer = WRITERS.get(marker)
    said = f" ({writer}?)" if writer else ""
    declared = yaml.safe_dump([marker], default_flow_style=True).strip()
    return (f"{file}: this file writes missing values as `{marker}`{said}: declare `missing: {declared}` in "
            f"tfxgate-input.yaml or pass --missing{'=' if marker.startswith('-') else ' '}{shlex.quote(marker)}")


def refuse_undeclared(source, kinds: Dict[str, str]) -> None:
    """An InputError (`message`) where a file of `source` writes an undeclared marker."""
    found = undeclared(source, kinds)
    if found is not None:
        raise InputError(message(*found))
