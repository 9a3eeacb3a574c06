"""Reading a batch: one source per batch (`source.py`, `open_batch`) that knows its format, its
files and where each row came from, and hands out blocks of text cells; the CSV source and its
structure check (`sources/`), how a cell is read as its schema type (`cells.py`), and what could
not be read (`report.py`: the ReadingReport, the quarantine's format, the findings that follow).

May import core.common and core.rules.
"""
