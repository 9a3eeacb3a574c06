"""Where the tests find the project and its shipped sample."""

import pathlib

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA_ROOT = PROJECT_ROOT / "data"
