"""A batch under `key=value/` partition folders (Hive, Spark, pandas' `partition_cols`): each
partition key the schema knows is a column of every row beneath its folder, as text, as a
writer would have written the value in the file itself."""

from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import pyarrow as pa


class Partitioned:
    """A source (core.reading.source.Source) with its files' partition values as columns."""

    def __init__(self, source, values: Dict[str, Dict[str, str]]):
        self._source, self._values = source, values
        self._keys = [k for k in next(iter(values.values()))]
        self._added = [k for k in self._keys if k not in source.columns]  # a column the files hold wins
        self.format, self.unit, self.path, self.files = source.format, source.unit, source.path, source.files
        self.columns = list(source.columns) + self._added

    def check(self) -> None:
        self._source.check()

    def has_rows(self, file: str) -> bool:
        return self._source.has_rows(file)

    def blocks(self, file: str, columns: Optional[List[str]] = None) -> Iterator[pa.RecordBatch]:
        wanted = list(columns or self.columns)
        inner = [c for c in wanted if c not in self._added]
        for block in self._source.blocks(file, inner):
            arrays = {name: block.column(name) for name in block.schema.names}
            for key in self._added:
                arrays[key] = pa.array([self._values[file][key]] * block.num_rows, pa.string())
            yield pa.RecordBatch.from_arrays([arrays[c] for c in wanted], wanted)

    def records(self, file: str) -> Iterator[Tuple[int, List[str]]]:
        added = [self._values[file][k] for k in self._added]
        for where, fields in self._source.records(file):
            yield where, list(fields) + added

    def locate(self, file: str, indices: Sequence[int]) -> Dict[int, int]:
        return self._source.locate(file, indices)

    def close(self) -> None:
        self._source.close()

    def __enter__(self) -> "Partitioned":
        return self

    def __exit__(self, *_) -> None:
        self.close()
