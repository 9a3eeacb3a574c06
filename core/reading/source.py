"""A batch as one source: opened once, it knows its format, its files and where each row came
from, and hands out blocks of text cells.

Every reader of a batch reads through a Source: the structure check (`check`), the format
diagnosis (when it is opened), typed reading and statistics (`blocks`, read as the schema's
types by core/reading/cells.py), and the quarantine's line numbers (`locate`). A format is a
module of core/reading/sources/ implementing this protocol; `open_batch` chooses it.
"""

from typing import BinaryIO, Callable, Dict, Iterator, List, Optional, Protocol, Sequence, Tuple, Union

import pyarrow as pa

from core.reading.sources import csv as csv_source  # the only format today

Opener = Callable[[str], BinaryIO]  # how a file is opened: `open(path, "rb")`, or TFX's fileio for a URI


class Source(Protocol):
    """A batch of rows (a file, or a folder of files of one format) opened once."""

    format: str  # "csv"
    path: str  # what the user named: a file or a folder
    files: List[str]  # the files read, in order
    columns: List[str]  # the column names every file shares

    def check(self) -> None:
        """Reads every record of every file; a one-line InputError naming the file and where it
        broke if one is not usable."""

    def has_rows(self, file: str) -> bool:
        """Whether the file holds any data row (a cheap look: its first block)."""

    def blocks(self, file: str) -> Iterator[pa.RecordBatch]:
        """The file's rows a block at a time, every cell as text (a missing cell as '')."""

    def records(self, file: str) -> Iterator[Tuple[int, List[str]]]:
        """(where the row starts: a line for text, its fields as text) of every data row."""

    def locate(self, file: str, indices: Sequence[int]) -> Dict[int, int]:
        """{0-based row index: where the row came from in the file (its first line)}."""

    def close(self) -> None:
        """Closes every file opened."""


def open_batch(path: Union[str, Sequence[str]], delimiter: Optional[str] = None, opener: Optional[Opener] = None) -> Source:
    """The batch at `path` (a file, a folder, or a list of files) as a source of its format.

    Raises:
        InputError: the batch cannot be read (no file, a header that differs between files, a
            format diagnosed from the content that is not read); the message names the file.
    """
    return csv_source.CsvSource(path, delimiter or csv_source.DELIMITER, opener)
