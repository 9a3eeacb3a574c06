"""The sources of a batch, one module per format, each implementing core.reading.source.Source:
`csv.py` (plain CSV text, a file or a folder) with its structure check and format diagnosis
(`csv_structure.py`). A new format is a new module here, chosen in core.reading.source.open_batch.

May import core.common and core.reading's own modules.
"""
