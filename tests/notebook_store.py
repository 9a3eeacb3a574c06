"""A small project with two real pipeline runs in its MLMD store, for the notebook API's tests
(tests/test_notebook_history.py): span 3 as shipped, run up to the gate only (`--stage validate`:
no training), which passes and becomes the drift baseline; then span 5, the same trips with a new
payment type in one row in ten, which the gate blocks. About two minutes, against fifteen for the
session's `runs`."""

import shutil
import subprocess
import sys

from tests import defects
from tests.paths import DATA_ROOT, PROJECT_ROOT

NEW_PAYMENT_SHARE = 10  # one row in this many pays with a type the schema does not know
PASSED_RUN, BLOCKED_RUN = "span-3-validated", "span-5-new-payment-type"


def make_project(root):
    """The project folder (`tfxgate.yaml`, `schema/`, `models/`, `data/`) and its two runs;
    returns its path. The pipeline's output goes to `<root>/outputs` (its metadata.sqlite)."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("tfxgate.yaml",):
        shutil.copy(PROJECT_ROOT / name, root / name)
    for folder in ("schema", "models"):
        shutil.copytree(PROJECT_ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(DATA_ROOT / "serving", root / "data" / "serving")
    shutil.copytree(DATA_ROOT / "train" / "span-3", root / "data" / "train" / "span-3")
    rows = [dict(r, payment_type="Bitcoin") if i % NEW_PAYMENT_SHARE == 0 else r
            for i, r in enumerate(defects.base_rows(n=10**6))]
    defects.write_rows(root / "data" / "train" / "span-5" / "data.csv", rows)
    _run(root, "--span", "3", "--stage", "validate", "--run-id", PASSED_RUN)
    _run(root, "--span", "5", "--run-id", BLOCKED_RUN, ok=(3,))
    return root


def _run(root, *args, ok=(0,)):
    proc = subprocess.run([sys.executable, str(PROJECT_ROOT / "runner_local.py"), "--project", str(root), *args],
                          capture_output=True, text=True, cwd=root)
    assert proc.returncode in ok, (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
    return proc


if __name__ == "__main__":  # a store to look at: python -m tests.notebook_store /tmp/folder
    import pathlib

    print(make_project(pathlib.Path(sys.argv[1])))
