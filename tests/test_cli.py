"""`tfxgate validate`: exit codes, the JSON shape, one-line errors; `tfxgate schema diff`."""

import csv
import json
import shutil
import subprocess
import sys

import pytest

from tests import defects
from tests.conftest import DATA_ROOT, PROJECT_ROOT
from tfxgate.command import cli

pytestmark = pytest.mark.unit


def _run(capfd, *argv):
    code = cli.main(list(argv))
    out, err = capfd.readouterr()
    return code, out, err


def test_clean_serving_batch_exits_0_with_json(tmp_path, capfd):
    code, out, _ = _run(capfd, "validate", "--data", str(DATA_ROOT / "serving"), "--baseline", "none", "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["environment"] == "SERVING"
    assert report["schema_version"] == "v1"
    assert report["baseline"]["kind"] == "none"
    with open(DATA_ROOT / "serving" / "data.csv", newline="") as f:
        assert report["rows"] == sum(1 for _ in csv.DictReader(f))
    assert report["result"] == "pass" and report["anomalies"] == []


def test_blocking_anomaly_exits_1_and_json_lists_it(tmp_path, capfd):
    data = defects.write(tmp_path, "fare_in_cents_serving")
    baseline = DATA_ROOT / "train" / "span-3" / "data.csv"
    code, out, _ = _run(capfd, "validate", "--data", str(data), "--baseline", str(baseline), "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["baseline"]["kind"] == "path"
    fare = [a for a in report["anomalies"] if a["feature"] == "fare"]
    assert fare and all(set(a) >= {"feature", "types", "severity", "description"} for a in report["anomalies"])
    assert any("COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH" in a["types"] and a["severity"] == "block" for a in fare)


def test_a_slice_defect_names_its_slice_and_skipped_slices_are_listed(tmp_path, capfd):
    data = defects.write(tmp_path, "cash_only_for_one_company_serving")
    baseline = DATA_ROOT / "train" / "span-3"
    code, out, _ = _run(capfd, "validate", "--data", str(data), "--baseline", str(baseline), "--format", "json")
    assert code == 1
    report = json.loads(out)
    [blocking] = [a for a in report["anomalies"] if a["severity"] == "block"]
    assert (blocking["feature"], blocking["check"], blocking["slice"]) == ("payment_type", "skew",
                                                                         f"company={defects._company(1)}")
    assert report["skipped_slices"] and all(s["why"] for s in report["skipped_slices"])
    code, out, _ = _run(capfd, "validate", "--data", str(data), "--baseline", str(baseline))
    assert f"BLOCK  payment_type [company={defects._company(1)}] COMPARATOR_L_INFTY_HIGH" in out
    assert "slices not judged" in out


def test_a_statistics_baseline_says_which_checks_it_cannot_serve(tmp_path, capfd):
    """A baseline given as TFDV statistics has no profile: the checks beyond TFDV's say so."""
    from core.batch import batch_stats
    from core.reading import report as reading
    from core.settings import schema_files
    from pipeline import config as config_lib

    kinds = reading.schema_kinds(schema_files.load(config_lib.default_schema_path()))
    stats = tmp_path / "FeatureStats.pb"
    stats.write_bytes(batch_stats.read(str(DATA_ROOT / "train" / "span-3"), kinds).statistics.SerializeToString())
    code, out, _ = _run(capfd, "validate", "--data", str(DATA_ROOT / "serving"), "--baseline", str(stats),
                        "--format", "json")
    assert code == 0
    assert any("has no profile" in note for note in json.loads(out)["notes"])


def test_warn_only_batch_exits_0_and_says_what_it_warned(tmp_path, capfd):
    data = defects.write(tmp_path, "rare_new_payment_type")
    code, out, _ = _run(capfd, "validate", "--data", str(data), "--environment", "TRAINING", "--baseline", "none")
    assert code == 0
    assert "WARN   payment_type ENUM_TYPE_UNEXPECTED_STRING_VALUES" in out
    assert "result: warn (0 blocking, 1 warnings)" in out


def test_label_missing_blocks_in_training_only(tmp_path, capfd):
    data = defects.write(tmp_path, "label_missing")
    training, _, _ = _run(capfd, "validate", "--data", str(data), "--environment", "TRAINING", "--baseline", "none")
    serving, _, _ = _run(capfd, "validate", "--data", str(data), "--environment", "SERVING", "--baseline", "none")
    assert (training, serving) == (1, 0)


def test_auto_baseline_without_a_store_says_so(tmp_path, capfd):
    code, out, _ = _run(capfd, "validate", "--data", str(DATA_ROOT / "serving"), "--metadata", str(tmp_path / "none.sqlite"))
    assert code == 0
    assert "baseline: none: no MLMD store at" in out


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.csv", None, "no such file or directory"),
        ("empty.csv", b"", "empty file"),
        ("header_only.csv", b"a,b\n", "no data rows"),
        ("ragged.csv", b"fare,tips\n1.0,2.0\n3.0,4.0,5.0\n", "line 3: 3 fields where the header has 2"),
        ("latin1.csv", b"company,fare\nCaf\xe9 Taxi,1.0\n", "not UTF-8 text"),
        ("binary.csv", bytes(range(256)) * 4, "binary data, not CSV text"),
    ],
)
def test_unreadable_input_is_one_line_and_exit_2(tmp_path, capfd, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    code, out, err = _run(capfd, "validate", "--data", str(path), "--baseline", "none")
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert message in err and str(path) in err
    assert "Traceback" not in err


def test_directory_without_csv_is_exit_2(tmp_path, capfd):
    code, _, err = _run(capfd, "validate", "--data", str(tmp_path))
    assert code == 2 and "no data file" in err


def test_bad_arguments_are_one_line_and_exit_2():
    proc = subprocess.run(
        [sys.executable, "-m", "tfxgate.command.cli", "validate", "--data", "x.csv", "--environment", "STAGING"],
        capture_output=True, text=True, cwd=PROJECT_ROOT,
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "invalid choice" in proc.stderr


def test_console_script_runs_as_a_whole_process(tmp_path):
    data = defects.write(tmp_path, "new_payment_type")
    proc = subprocess.run(
        [str(PROJECT_ROOT / ".venv" / "bin" / "tfxgate"), "validate", "--data", str(data), "--environment", "TRAINING",
         "--baseline", "none", "--format", "json"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""  # TensorFlow's native logging kept off the terminal
    [anomaly] = json.loads(proc.stdout)["anomalies"]
    assert anomaly["feature"] == "payment_type" and anomaly["severity"] == "block"


def test_schema_diff_names_each_kind_of_change(tmp_path, capfd):
    old = PROJECT_ROOT / "schema" / "v1" / "schema.pbtxt"
    text = old.read_text()
    text = text.replace('value: "Cash"', 'value: "Cash"\n  value: "Bitcoin"', 1)
    text = text.replace("min_fraction: 0.55", "min_fraction: 0.5", 1)
    text = text.replace('not_in_environment: "SERVING"', "", 1)
    text = text.replace("threshold: 0.15", "threshold: 0.2", 1)
    text += 'feature {\n  name: "tolls"\n  type: FLOAT\n}\n'
    new = tmp_path / "v2" / "schema.pbtxt"
    new.parent.mkdir()
    new.write_text(text)
    code, out, _ = _run(capfd, "schema", "diff", str(old), str(new))
    assert code == 0
    assert out.startswith("schema diff v1 -> v2")
    assert "+ feature tolls (FLOAT)" in out
    assert "~ payment_type: domain values +['Bitcoin']" in out
    assert "~ company: presence: min_fraction: 0.55 min_count: 1 -> min_fraction: 0.5 min_count: 1" in out
    assert "~ tips: not_in_environment: ['SERVING'] -> []" in out
    assert "skew_comparator" in out


def _draft(schema_dir, number, edit=None):
    """A draft schema/drafts/v<number>/: the shipped v1 schema, optionally edited by `edit`."""
    from core.settings import schema_files

    draft = schema_dir / "drafts" / f"v{number}"
    draft.mkdir(parents=True)
    schema = schema_files.load(str(PROJECT_ROOT / "schema" / "v1" / "schema.pbtxt"))
    if edit:
        edit(schema)
    from google.protobuf import text_format

    (draft / "schema.pbtxt").write_text(text_format.MessageToString(schema))
    return draft


def test_a_draft_is_used_by_nothing_until_a_person_accepts_it(tmp_path, capfd):
    from core.settings import schema_files

    schema_dir = tmp_path / "schema"
    shutil.copytree(PROJECT_ROOT / "schema", schema_dir)
    draft = _draft(schema_dir, 2)
    assert schema_files.latest_path(schema_dir).endswith("v1/schema.pbtxt")
    code, out, _ = _run(capfd, "schema", "accept", "--schema-dir", str(schema_dir))
    assert code == 0 and "accepted" in out and not draft.exists()
    assert schema_files.latest_path(schema_dir).endswith("v2/schema.pbtxt")
    code, _, err = _run(capfd, "schema", "accept", "--schema-dir", str(schema_dir))
    assert code == 2 and "no draft" in err and len(err.strip().splitlines()) == 1
    _draft(schema_dir, 5)
    code, _, err = _run(capfd, "schema", "accept", "v5", "--schema-dir", str(schema_dir))
    assert code == 2 and "not the next version (that is v3)" in err


def test_propose_warns_when_it_relaxes_a_bound_past_its_limit_or_its_meaning():
    from core.settings import schema_files
    from tfxgate.command import schema_versions

    current = schema_files.load(str(PROJECT_ROOT / "schema" / "v1" / "schema.pbtxt"))
    proposed = type(current)()
    proposed.CopyFrom(current)
    features = {f.name: f for f in proposed.feature}
    features["trip_start_hour"].int_domain.max = features["trip_start_hour"].int_domain.max + 2  # an hour of 25
    warnings = schema_versions._bound_warnings(current, proposed)
    assert len(warnings) == 1 and "`trip_start_hour`: max relaxed from 23 to 25" in warnings[0]
    assert "past what an hour can be (0 to 23)" in warnings[0]
    assert schema_versions._bound_warnings(current, current) == []


def test_five_infinite_fares_block_a_training_span_and_name_their_lines(tmp_path, capfd):
    """Issue: hardening, item 3: non-finite numbers never pass into training."""
    rows = defects.base_rows(n=10**6)
    step = len(rows) // 5
    rows = [dict(r, fare="inf") if i % step == 7 and i // step < 5 else r for i, r in enumerate(rows)]
    data = defects.write_rows(tmp_path / "five_infinite_fares.csv", rows)
    code, out, _ = _run(capfd, "validate", "--data", str(data), "--environment", "TRAINING", "--baseline", "none",
                        "--format", "json")
    assert code == 1
    [fare] = [a for a in json.loads(out)["anomalies"] if a["feature"] == "fare"]
    assert fare["types"] == ["FLOAT_TYPE_HAS_INF"] and fare["severity"] == "block" and fare["fraction"] < 0.002
    assert "line 9" in fare["description"]  # row 7 of the data: line 9 of the file, after the header
