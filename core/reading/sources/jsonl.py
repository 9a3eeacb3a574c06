"""STUB: issue 31 fills this in: jsonl as a source (core/reading/source.py)."""

from core.common.errors import InputError


class JsonLinesSource:
    format = "jsonl"
    unit = "row"

    def __init__(self, files, opener=None):
        raise InputError(f"{files[0]}: jsonl is not read yet")
