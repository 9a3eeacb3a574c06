"""STUB: issue 31 fills this in: tfrecord as a source (core/reading/source.py)."""

from core.common.errors import InputError


class TFRecordSource:
    format = "tfrecord"
    unit = "row"

    def __init__(self, files, opener=None):
        raise InputError(f"{files[0]}: tfrecord is not read yet")
