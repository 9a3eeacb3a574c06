"""STUB: issue 31 fills this in: missing-value markers read as missing."""


class Markers:
    def __init__(self, source, markers):
        raise NotImplementedError
