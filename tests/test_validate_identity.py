"""`tfxgate validate`'s answer, profile and quarantine stay byte-identical to golden digests.

Every defect of the corpus (tests/defects.py, real taxi rows) and a larger batch of resampled real
rows (several reading blocks, past the profile's caps) is validated against span 3 (real rows, so
the profile checks run too) with the rows left out written to a file; the SHA-256 of the JSON
answer (`Outcome.to_json`), of the batch's profile (`Profile.to_json`, what ExampleGen writes as
profile.json) and of the quarantine file must equal tests/golden/validate_digests.json, written by
the code before a change meant to keep them (speed work on reading, profiling and checking).

    python -m tests.test_validate_identity --write   # rewrites the golden file (only on purpose)
"""

import hashlib
import json
import pathlib
import sys

import pytest

from core.common import names
from models import features
from tests import defects
from tests.paths import DATA_ROOT, PROJECT_ROOT

pytestmark = pytest.mark.unit

GOLDEN = PROJECT_ROOT / "tests" / "golden" / "validate_digests.json"
BASELINE = str(DATA_ROOT / "train" / "span-3")
LARGE_ROWS = 120_000  # about six CSV blocks; more distinct values than a slice's numeric cap
LARGE = "resampled_120000_training"


def _environment(name: str) -> str:
    if name == LARGE:
        return names.TRAINING
    _, columns = defects.DEFECTS[name]()
    return names.SERVING if columns and features.LABEL_KEY not in columns else names.TRAINING


def _data(folder: pathlib.Path, name: str) -> pathlib.Path:
    if name == LARGE:
        from benchmarks import data as bench_data

        return bench_data.make_csv(folder / "large" / "train.csv", LARGE_ROWS)
    return defects.write(folder, name)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def digests(folder: pathlib.Path, name: str, checks) -> dict:
    """{answer, profile, quarantine}: the SHA-256 of each (the folder's path written as <dir>, the
    checkout's as <project>: the answer names the baseline and schema files)."""
    from tfxgate.validation import validate

    data, rows = str(_data(folder, name)), str(folder / f"{name}.rows.csv")
    batch = validate.read_batch(checks, data, rows_path=rows)
    baseline = validate.load_baseline(BASELINE, "/nonexistent", kinds=checks.kinds,
                                      slice_keys=checks.settings.slices)
    outcome = validate.judge(checks, data, batch, _environment(name), baseline, rows)
    answer = json.dumps(outcome.to_json(), indent=2).replace(str(folder), "<dir>").replace(str(PROJECT_ROOT), "<project>")
    profile = json.dumps(batch.profile.to_json())
    quarantine = pathlib.Path(rows).read_text().replace(str(folder), "<dir>")
    return {"answer": _digest(answer), "profile": _digest(profile), "quarantine": _digest(quarantine),
            "result": outcome.result, "findings": len(outcome.verdicts), "left_out": outcome.left_out["rows"]}


NAMES = sorted(defects.DEFECTS) + [LARGE]


@pytest.fixture(scope="module")
def checks():
    from pipeline import config
    from tfxgate.validation import validate

    return validate.load_checks(config.default_schema_path(), str(config.POLICY_PATH))


@pytest.mark.parametrize("name", NAMES)
def test_validate_answer_profile_and_quarantine_unchanged(name, checks, tmp_path):
    golden = json.loads(GOLDEN.read_text())
    assert digests(tmp_path, name, checks) == golden[name]


def _write() -> None:
    import tempfile

    from pipeline import config
    from tfxgate.validation import validate

    checks = validate.load_checks(config.default_schema_path(), str(config.POLICY_PATH))
    result = {}
    for name in NAMES:
        with tempfile.TemporaryDirectory() as folder:
            result[name] = digests(pathlib.Path(folder), name, checks)
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    _write()
