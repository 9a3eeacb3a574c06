"""A DataFrame or a pyarrow Table handed to `tfxgate.validate`, written as the Parquet file the
command would read: the Parquet source (core/reading/sources/parquet.py, arrow_text.py) turns
typed Arrow columns into text by the same rules as a CSV cell, so pandas' nullable `Int64`,
`float64` with NaN for a missing value (`from_pandas` makes NaN null), `object` and `category`
strings, booleans and `datetime64` are read as the same rows written to CSV would be.

A column of Python objects pyarrow cannot convert (dicts among numbers, say) is converted cell by
cell instead of failing: a dict, list, tuple, set or array is the nested cell (a `nested` finding
where the schema wants one value, as a list in a Parquet or JSON lines file); any other value the
text Arrow's own rules give it (numbers, booleans, timestamps); a value Arrow has no type for, its
Python text. The index is not written (`df.reset_index()` keeps it as a column).
"""

from typing import List

from tfxgate.notebook.errors import DataError

NESTED = (dict, list, tuple, set, frozenset)


def kind_of(data) -> str:
    """'DataFrame' or 'pyarrow Table' for what `validate` converts; '' for anything else."""
    module = type(data).__module__.split(".")[0]
    if module == "pandas" and type(data).__name__ == "DataFrame":
        return "DataFrame"
    if module == "pyarrow" and type(data).__name__ == "Table":
        return "pyarrow Table"
    return ""


def _check_names(names: List[object], kind: str) -> None:
    """One DataError for column names the schema cannot name: not text, or one name twice."""
    odd = [name for name in names if not isinstance(name, str)]
    if odd:
        raise DataError(f"{kind}: column name {odd[0]!r} is a {type(odd[0]).__name__}, not text; "
                        f"name every column as the schema names its features (df.columns = df.columns.astype(str))")
    seen, twice = set(), []
    for name in names:
        if name in seen and name not in twice:
            twice.append(name)
        seen.add(name)
    if twice:
        raise DataError(f"{kind}: column name(s) {', '.join(repr(n) for n in twice)} appear more than once; "
                        "each feature needs one column")


def to_table(data, kind: str):
    """The pyarrow Table of `data` (a DataFrame or a Table), checked: text column names, each
    once, and at least one row and column. A DataError for anything else."""
    import pyarrow as pa

    names = list(data.columns) if kind == "DataFrame" else list(data.column_names)
    if not names:
        raise DataError(f"{kind}: no columns")
    _check_names(names, kind)
    if len(data) == 0:
        raise DataError(f"{kind}: no rows (its {len(names)} column(s) are empty)")
    if kind == "pyarrow Table":
        return data
    try:
        return pa.Table.from_pandas(data, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError):
        pass  # some column holds Python objects Arrow cannot type: convert it cell by cell
    arrays = [_column(data.iloc[:, i]) for i in range(len(names))]
    return pa.Table.from_arrays(arrays, names)


def _column(series):
    """One pandas column as an Arrow array: as `from_pandas` converts it, else cell by cell."""
    import pyarrow as pa

    try:
        return pa.Table.from_pandas(series.to_frame(), preserve_index=False).column(0)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError):
        return pa.array([_cell(value) for value in series.tolist()], pa.string())


def _cell(value):
    """A cell's text: None where missing, the nested cell for a container, else Arrow's text."""
    import math

    import numpy as np
    import pyarrow as pa
    from core.reading import cells
    from core.reading.sources import arrow_text

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, NESTED + (np.ndarray,)):
        return cells.NESTED_CELL
    try:
        return arrow_text.column_text(pa.array([value]))[0].as_py()
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError):
        return str(value)


def write_parquet(table, path: str) -> str:
    """`table` written to `path` as Parquet; returns the path."""
    import pyarrow.parquet as pq

    pq.write_table(table, path)
    return path
