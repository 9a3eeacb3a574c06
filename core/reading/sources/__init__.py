"""The sources of a batch, one module per format, each implementing core.reading.source.Source:
`csv.py` (CSV text, a file or a folder) with its structure check and format diagnosis
(`csv_structure.py`), `jsonl.py` (JSON lines: one object per line). A text file compressed by
gzip, bzip2, xz or zstd is read as the stream of its decompressed bytes (`compressed.py`).
A new format is a new module here, chosen in core.reading.source.open_batch.

May import core.common and core.reading's own modules.
"""
