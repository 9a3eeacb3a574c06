"""The shared words of every room: the names every layer uses (`names.py`), user errors
(`errors.py`), findings (`findings.py`), what a project is (`project.py`), object storage
(`storage.py`), heartbeat counters (`progress.py`), the model gate's settings (`evaluation.py`) and
what "the accepted baseline" means (`baseline.py`).

Imports no other core subpackage.
"""
