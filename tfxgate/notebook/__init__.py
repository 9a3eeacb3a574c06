"""The Python API for notebooks, exported by `tfxgate/__init__.py`: a DataFrame, a pyarrow Table or
a path validated as `tfxgate validate` validates it, its verdict and evidence shown inline
(`batch.py`: `validate`, `Result`), and the project's runs read back from MLMD (`history.py`:
`runs`, `run`, `history`). Every error a caller can cause is a `tfxgate.Error` (`errors.py`).
Importing the package costs no TensorFlow, Beam or TFDV: they load on the first call that needs them.

May import: common, reports, validation.
"""
