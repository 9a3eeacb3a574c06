"""STUB: issue 31 fills this in: parquet as a source (core/reading/source.py)."""

from core.common.errors import InputError


class ParquetSource:
    format = "parquet"
    unit = "row"

    def __init__(self, files, opener=None):
        raise InputError(f"{files[0]}: parquet is not read yet")
