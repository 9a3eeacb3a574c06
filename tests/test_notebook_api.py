"""`tfxgate.validate`: the command's answer for a path and for the same rows as a DataFrame, pandas'
representations of the same real rows read alike, the report's headline and evidence inline and as a
page, one-line errors for what a caller can fix, and `import tfxgate` without TensorFlow."""

import datetime
import json
import subprocess
import sys

import pandas as pd
import pytest

import tfxgate
from core.common import names
from models import features
from tests import defects
from tests.conftest import DATA_ROOT, PROJECT_ROOT
from tfxgate.command import cli

pytestmark = pytest.mark.unit

BASELINE = str(DATA_ROOT / "train" / "span-3")  # real rows: the baseline every defect is judged against


def _environment(name: str) -> str:
    """SERVING for a batch without the label (as the corpus writes serving batches), else TRAINING."""
    _, columns = defects.DEFECTS[name]()
    return names.SERVING if columns and features.LABEL_KEY not in columns else names.TRAINING


def _findings(answer: str) -> list:
    """The anomalies of a JSON answer, as the data's name does not change them."""
    return [{k: v for k, v in a.items() if k != "description"} for a in json.loads(answer)["anomalies"]]


def _left_out(answer: str) -> dict:
    return json.loads(answer)["left_out"]


@pytest.mark.component
@pytest.mark.parametrize("name", sorted(defects.DEFECTS))
def test_the_answer_is_the_commands_for_a_path_and_the_same_for_its_rows_as_a_data_frame(name, tmp_path, capfd):
    path = defects.write(tmp_path, name)
    environment = _environment(name)
    code = cli.main(["validate", "--data", str(path), "--environment", environment, "--baseline", BASELINE,
                     "--format", "json"])
    printed, _ = capfd.readouterr()
    result = tfxgate.validate(str(path), environment=environment, baseline=BASELINE)
    assert result.to_json() + "\n" == printed
    assert (code == 1) == (result.verdict == "block")
    # pandas reads only empty cells as missing here: its default markers ("n/a", "NA") would turn a
    # cell the schema's type cannot hold into a missing value before tfxgate sees it.
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    from_frame = tfxgate.validate(frame, environment=environment, baseline=BASELINE)
    assert from_frame.verdict == result.verdict
    assert _findings(from_frame.to_json()) == _findings(result.to_json())
    assert _left_out(from_frame.to_json()) == _left_out(result.to_json())
    assert json.loads(from_frame.to_json())["data"] == "DataFrame"
    assert str(tmp_path) not in from_frame.to_json() and "tfxgate-" not in from_frame.to_json()
    assert list(from_frame.findings["feature"]) == [a["feature"] for a in json.loads(result.to_json())["anomalies"]]
    assert len(from_frame.left_out) == len(result.left_out) == json.loads(result.to_json())["left_out"]["rows"]


def _kinds() -> dict:
    from core.reading import report
    from core.settings import schema_files

    return report.schema_kinds(schema_files.load(str(PROJECT_ROOT / "schema" / "v1" / "schema.pbtxt")))


def _typed(rows, text_columns=(), integers="Int64", strings="object"):
    """The rows (real, as text) as pandas types them: numbers as `integers` (Int64 or float64,
    missing as NA or NaN) and float64, strings as `strings`; `text_columns` stay text."""
    from core.reading import cells

    frame = pd.DataFrame(rows)
    for column, kind in _kinds().items():
        if column not in frame or column in text_columns:
            continue
        if kind == cells.BYTES:
            frame[column] = frame[column].astype(strings)
        else:
            numbers = pd.to_numeric(frame[column].replace("", None))
            frame[column] = numbers.astype(integers if kind == cells.INT else "float64")
    return frame


def _iso(seconds: str) -> str:
    return datetime.datetime.fromtimestamp(int(seconds), datetime.timezone.utc).replace(tzinfo=None).isoformat()


def test_pandas_types_of_the_same_real_rows_give_the_csvs_findings(tmp_path):
    rows, _ = defects.DEFECTS["string_in_fare"]()  # "n/a" in 1 % of the fares, real blanks elsewhere
    csv_path = defects.write_rows(tmp_path / "rows.csv", rows)
    expected = tfxgate.validate(str(csv_path), environment=names.TRAINING, baseline=BASELINE)
    assert set(expected.findings["feature"]) >= {"fare"} and len(expected.left_out) == 10
    frames = {
        "object": pd.DataFrame(rows),
        "Int64": _typed(rows, text_columns=["fare"]),
        "float64 with NaN": _typed(rows, text_columns=["fare"], integers="float64"),
        "category": _typed(rows, text_columns=["fare"], strings="category"),
    }
    for representation, frame in frames.items():
        got = tfxgate.validate(frame, environment=names.TRAINING, baseline=BASELINE)
        assert _findings(got.to_json()) == _findings(expected.to_json()), representation
        assert list(got.left_out["line"]) == list(expected.left_out["line"] - 1), representation  # rows, not lines
    # A timestamp and a boolean: read as the text a CSV export would hold (ISO 8601, true/false).
    moments = [dict(r, trip_start_timestamp=_iso(r["trip_start_timestamp"]), tipped=str(float(r["tips"]) > 0).lower())
               for r in rows]
    csv_moments = tfxgate.validate(str(defects.write_rows(tmp_path / "moments.csv", moments)),
                                   environment=names.TRAINING, baseline=BASELINE)
    frame = _typed(rows, text_columns=["fare"])
    frame["trip_start_timestamp"] = pd.to_datetime(frame["trip_start_timestamp"], unit="s")
    frame["tipped"] = frame["tips"] > 0
    got = tfxgate.validate(frame, environment=names.TRAINING, baseline=BASELINE)
    assert _findings(got.to_json()) == _findings(csv_moments.to_json())
    assert list(got.left_out["trip_start_timestamp"]) == list(csv_moments.left_out["trip_start_timestamp"])
    assert list(got.left_out["tipped"]) == list(csv_moments.left_out["tipped"])
    assert "trip_start_timestamp" in set(got.findings["feature"]) and set(got.left_out["tipped"]) == {"true", "false"}


def test_a_column_of_objects_arrow_cannot_type_is_a_finding_not_a_crash():
    rows, _ = defects.DEFECTS["clean_serving"]()
    frame = _typed(rows)
    fares = list(frame["fare"].astype(object))
    fares[3] = {"amount": fares[3]}  # a record where the fare belongs
    frame["fare"] = pd.Series(fares, dtype=object)
    result = tfxgate.validate(frame, baseline=BASELINE)
    fare = result.findings[result.findings["feature"] == "fare"]
    assert not fare.empty and result.verdict == "block"
    assert list(result.left_out["line"]) == [4] and "nested" in result.left_out["reasons"][0]
    assert result.left_out["fare"][0] == "(a list or an object)"  # readable in the rows file, as --rows writes it


def test_inline_view_and_page_show_the_verdict_and_the_evidence(tmp_path):
    path = defects.write(tmp_path, "fare_in_cents_serving")
    result = tfxgate.validate(str(path), baseline=BASELINE)
    assert result.verdict == "block"
    shown = result._repr_html_()
    assert 'class="headline block"' in shown and ">BLOCK<" in shown
    assert 'class="figure evidence-figure"' in shown and "<script" not in shown
    page = tmp_path / "batch.html"
    assert result.save_html(page) == str(page)
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "default-src 'none'" in text
    assert 'class="figure evidence-figure"' in text and "fare" in text
    assert "src=\"http" not in text and "href=\"http" not in text
    assert "block" in repr(result) and "fare_in_cents_serving.csv" in repr(result)


def test_rows_left_out_say_where_they_came_from(tmp_path):
    path = defects.write(tmp_path, "string_in_fare")
    result = tfxgate.validate(str(path), environment=names.TRAINING, baseline="none")
    left = result.left_out
    assert len(left) == 10 and set(left["file"]) == {str(path)}
    assert (left["fare"] == "n/a").all() and left["reasons"].str.contains("fare").all()
    frame = tfxgate.validate(pd.read_csv(path, keep_default_na=False, na_values=[""]), environment=names.TRAINING,
                             baseline="none").left_out
    assert set(frame["file"]) == {"DataFrame"} and list(frame["line"]) == list(left["line"] - 1)


def _frame():
    rows, _ = defects.DEFECTS["clean_serving"]()
    return pd.DataFrame(rows)


@pytest.mark.parametrize("bad, error, words", [
    (lambda: _frame().rename(columns={"fare": "tips", "tips": "tips"}), tfxgate.DataError, "more than once"),
    (lambda: _frame().rename(columns={"fare": 7}), tfxgate.DataError, "not text"),
    (lambda: _frame().iloc[0:0], tfxgate.DataError, "no rows"),
    (lambda: pd.DataFrame(), tfxgate.DataError, "no columns"),
    (lambda: 42, tfxgate.DataError, "not a int"),
])
def test_bad_data_is_one_clear_error(bad, error, words):
    with pytest.raises(error, match=words) as raised:
        tfxgate.validate(bad(), baseline="none")
    assert isinstance(raised.value, tfxgate.Error) and "\n" not in str(raised.value)


def test_an_unknown_project_or_unreadable_file_is_one_clear_error(tmp_path):
    with pytest.raises(tfxgate.ProjectError, match="no such folder") as raised:
        tfxgate.validate(_frame(), project=tmp_path / "nowhere", baseline="none")
    assert "\n" not in str(raised.value)
    with pytest.raises(tfxgate.DataError) as raised:
        tfxgate.validate(str(tmp_path / "missing.csv"), baseline="none")
    assert "missing.csv" in str(raised.value) and "\n" not in str(raised.value)
    with pytest.raises(tfxgate.ProjectError, match="environment"):
        tfxgate.validate(_frame(), environment="STAGING")


def test_import_tfxgate_loads_no_tensorflow_and_takes_well_under_a_second():
    code = ("import sys, time; t = time.perf_counter(); import tfxgate; tfxgate.validate; tfxgate.Result; "
            "seconds = time.perf_counter() - t; "
            "heavy = [m for m in ('tensorflow', 'tfx', 'apache_beam', 'tensorflow_data_validation', 'ml_metadata', "
            "'pandas', 'matplotlib') if m in sys.modules]; print(heavy, seconds)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    heavy, seconds = proc.stdout.rsplit(" ", 1)
    assert heavy == "[]" and float(seconds) < 0.5
