"""Values typed by the curated schema, the same in `tfxgate validate` and in the pipeline.

Every file is built from real rows of the sample and named for what it shows: a representation
of the same values that real tools write (pandas, quoting, column order, number forms), or a
value the schema's type cannot hold. The same files go through `tfxgate validate` and through a
real LocalDagRunner pipeline (tfxgate's ExampleGen, StatisticsGen, the curated schema and a
DataValidator), and both must report the same findings.
"""

import csv
import json

import pandas as pd
import pytest

from core.reading import cells
from core.settings import layout
from core.common import names
from core.reading import report as reading
from pipeline import config as config_lib
from tests import defects
from tfxgate.command import cli

pytestmark = pytest.mark.unit

INT_FEATURE, FLOAT_FEATURE, BIG_INT_FEATURE = "trip_start_hour", "fare", "trip_start_timestamp"


def _rows():
    return defects.base_rows()


def _each(rows, feature, form, share=1.0):
    """`form` applied to the feature's non-empty value in an evenly spread share of the rows."""
    step = max(1, round(1 / share))
    return [dict(r, **{feature: form(r[feature])}) if i % step == 0 and r[feature] else r for i, r in enumerate(rows)]


def _pandas_export(path):
    """The sample as pandas writes it: an integer column with a missing value becomes `x.0`."""
    source = defects.write_rows(path.with_suffix(".source.csv"), _rows())
    frame = pd.read_csv(source)
    source.unlink()
    frame.to_csv(path, index=False)
    return path


def _quoted(path):
    rows = _rows()
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]), quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _write(rows, columns=None):
    return lambda path: defects.write_rows(path, rows, columns)


# Representations of the same values: no finding in either path.
CLEAN = {
    "pandas_export": _pandas_export,
    "every_field_quoted": _quoted,
    "columns_reordered": lambda path: defects.write_rows(path, _rows(), list(reversed(list(_rows()[0])))),
    "int_as_zero_decimal": lambda path: _write(_each(_rows(), INT_FEATURE, lambda v: f"{v}.00"))(path),
    "int_with_plus_sign": lambda path: _write(_each(_rows(), INT_FEATURE, lambda v: f"+{v}"))(path),
    "int_as_exponent": lambda path: _write(_each(_rows(), INT_FEATURE, lambda v: f"{v}e0"))(path),
    "int_with_spaces": lambda path: _write(_each(_rows(), INT_FEATURE, lambda v: f"  {v} "))(path),
    "float_as_exponent": lambda path: _write(_each(_rows(), FLOAT_FEATURE, lambda v: f"{float(v):e}"))(path),
    # Whole numbers in a FLOAT feature (a batch whose fares happen to be whole dollars).
    "float_as_whole_numbers": lambda path: _write(_each(_rows(), FLOAT_FEATURE, lambda v: str(round(float(v)))))(path),
}

# Values the schema's type cannot hold: (feature, anomaly type) found in both paths.
NOT_REPRESENTABLE = {
    "fraction_in_int": (lambda path: _write(_each(_rows(), INT_FEATURE, lambda v: f"{v}.5", 0.02))(path),
                        INT_FEATURE, "INT_TYPE_NOT_INT_STRING"),
    "text_in_int": (lambda path: _write(_each(_rows(), INT_FEATURE, lambda v: "n/a", 0.02))(path),
                    INT_FEATURE, "INT_TYPE_NOT_INT_STRING"),
    "digit_separator_in_int": (lambda path: _write(_each(_rows(), BIG_INT_FEATURE, lambda v: f"{int(v):_}", 0.02))(path),
                               BIG_INT_FEATURE, "INT_TYPE_NOT_INT_STRING"),
    "int_beyond_64_bits": (lambda path: _write(_each(_rows(), BIG_INT_FEATURE, lambda v: v * 3, 0.02))(path),
                           BIG_INT_FEATURE, "INT_TYPE_NOT_INT_STRING"),
    "text_in_float": (lambda path: _write(_each(_rows(), FLOAT_FEATURE, lambda v: "unknown", 0.02))(path),
                      FLOAT_FEATURE, "FLOAT_TYPE_STRING_NOT_FLOAT"),
    "nan_in_float": (lambda path: _write(_each(_rows(), FLOAT_FEATURE, lambda v: "NaN", 0.02))(path),
                     FLOAT_FEATURE, "FLOAT_TYPE_HAS_NAN"),
    "inf_in_float": (lambda path: _write(_each(_rows(), FLOAT_FEATURE, lambda v: "-Infinity", 0.02))(path),
                     FLOAT_FEATURE, "FLOAT_TYPE_HAS_INF"),
}

# The existing defect corpus (tests/defects.py), without those that need a baseline.
CORPUS = sorted(name for name in defects.DEFECTS
                if not name.endswith(("_serving", "_span")) and name != "clean_serving")


def _files(folder):
    """{name: path} of every file above, each in a folder of its own (one input split each)."""
    made = {}
    for name, make in CLEAN.items():
        made[name] = make(_folder(folder, name) / f"{name}.csv")
    for name, (make, _, _) in NOT_REPRESENTABLE.items():
        made[name] = make(_folder(folder, name) / f"{name}.csv")
    for name in CORPUS:
        made[name] = defects.write(_folder(folder, name), name)
    return made


def _folder(root, name):
    path = root / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def _key(anomaly: dict) -> tuple:
    return anomaly["feature"], tuple(anomaly["types"]), anomaly["check"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return _files(tmp_path_factory.mktemp("typed"))


def _validate_json(path, capfd) -> dict:
    code = cli.main(["validate", "--data", str(path), "--environment", "TRAINING", "--baseline", "none",
                     "--format", "json"])
    out, err = capfd.readouterr()
    assert code in (0, 1), err
    return json.loads(out)


# ---- the cell reader itself ------------------------------------------------------------------

def _real(feature):
    return next(r[feature] for r in _rows() if r[feature])


@pytest.mark.parametrize("form", [lambda v: v, lambda v: f"{v}.0", lambda v: f"{v}.00", lambda v: f"+{v}",
                                  lambda v: f"{v}e0", lambda v: f" {v}\t", lambda v: f"{v}.000E+00"])
def test_an_integer_in_any_lossless_form_reads_as_itself(form):
    value = _real(INT_FEATURE)
    assert cells.read_cell(form(value), cells.INT) == (int(value), None)


@pytest.mark.parametrize("form, reason", [
    (lambda v: f"{v}.5", cells.NOT_INT), (lambda v: "n/a", cells.NOT_INT), (lambda v: f"{int(v):_}", cells.NOT_INT),
    (lambda v: f"{int(v):,}", cells.NOT_INT), (lambda v: v * 3, cells.NOT_INT), (lambda v: "nan", cells.NAN),
    (lambda v: "-inf", cells.INF), (lambda v: f"++{v}", cells.NOT_INT), (lambda v: f"+-{v}", cells.NOT_INT),
    (lambda v: f"++{v}.0", cells.NOT_INT), (lambda v: f"++{v}e0", cells.NOT_INT),
])
def test_an_integer_feature_refuses_what_it_cannot_hold(form, reason):
    assert cells.read_cell(form(_real(BIG_INT_FEATURE)), cells.INT) == (None, reason)


@pytest.mark.parametrize("form", [lambda v: v, lambda v: f"{float(v):e}", lambda v: f"+{v}", lambda v: f" {v} "])
def test_a_float_in_any_form_reads_as_its_value(form):
    value = _real(FLOAT_FEATURE)
    read, reason = cells.read_cell(form(value), cells.FLOAT)
    assert reason is None and read == pytest.approx(float(value), rel=1e-6)


def test_an_empty_cell_is_missing_not_a_defect():
    for kind in cells.KINDS:
        assert cells.read_cell("", kind) == (None, None)


# ---- tfxgate validate ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(CLEAN))
def test_validate_passes_every_representation_of_clean_data(files, capfd, name):
    result = _validate_json(files[name], capfd)
    assert result["anomalies"] == [] and result["result"] == "pass", result["anomalies"]


@pytest.mark.parametrize("name", sorted(NOT_REPRESENTABLE))
def test_validate_names_a_value_its_type_cannot_hold(files, capfd, name):
    _, feature, anomaly_type = NOT_REPRESENTABLE[name]
    result = _validate_json(files[name], capfd)
    assert {_key(a) for a in result["anomalies"]} == {(feature, (anomaly_type,), "schema")}
    [anomaly] = result["anomalies"]
    assert anomaly["rule"] == reading.TYPED_READING and anomaly["severity"] == "block"
    assert anomaly["fraction"] == pytest.approx(0.02, abs=0.002)
    assert f"{name}.csv line 2)" in anomaly["description"]  # the first changed row, by its line


# ---- the same files through the pipeline ----------------------------------------------------

@pytest.fixture(scope="module")
def pipeline_findings(files, tmp_path_factory):
    """{file name: findings} of one LocalDagRunner run whose ExampleGen reads every file as an
    input split of its own (so each is an output split, statistics and validation of its own)."""
    from tfx import v1 as tfx
    from tfx.proto import example_gen_pb2

    from components.csv_example_gen import CheckedCsvExampleGen, custom_config
    from components.validator.component import DataValidator
    from mlmd import query

    root = tmp_path_factory.mktemp("typed_pipeline")
    data = next(iter(files.values())).parent.parent
    splits = [example_gen_pb2.Input.Split(name=name, pattern=f"{name}/*.csv") for name in sorted(files)]
    example_gen = CheckedCsvExampleGen(
        input_base=str(data), input_config=example_gen_pb2.Input(splits=splits),
        custom_config=custom_config(config_lib.read_schema_text(config_lib.default_schema_path()),
                                    **_beside_schema()),
    ).with_id(names.EXAMPLE_GEN)
    statistics = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"]).with_id(names.STATISTICS_GEN)
    schema = tfx.components.ImportSchemaGen(schema_file=config_lib.default_schema_path()).with_id(names.CURATED_SCHEMA)
    validator = DataValidator(statistics=statistics.outputs["statistics"], schema=schema.outputs["schema"],
                              environment=names.TRAINING, schema_version="v1",
                              examples=example_gen.outputs["examples"],
                              checks=_beside_schema()["checks_text"]).with_id(names.TRAIN_VALIDATOR)
    store_path = root / "metadata.sqlite"
    tfx.orchestration.LocalDagRunner().run(tfx.dsl.Pipeline(
        pipeline_name="typed", pipeline_root=str(root / "pipeline"),
        components=[example_gen, statistics, schema, validator], enable_cache=False,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(str(store_path)),
        beam_pipeline_args=list(config_lib.beam_args_for(())),
    ))
    store = query.sqlite_store(str(store_path))
    [anomalies] = store.get_artifacts_by_type(names.ANOMALIES_TYPE)
    documents = layout.read_findings(anomalies.uri, layout.decode_splits(anomalies.properties["split_names"].string_value))
    return {split: doc["findings"] for split, doc in documents.items()}


@pytest.mark.pipeline
def test_both_paths_report_the_same_findings_on_every_file(files, pipeline_findings, capfd):
    assert set(pipeline_findings) == set(files)
    differences = {}
    for name, path in sorted(files.items()):
        from_validate = {_key(a) for a in _validate_json(path, capfd)["anomalies"]}
        from_pipeline = {_key(f) for f in pipeline_findings[name]}
        if from_validate != from_pipeline:
            differences[name] = {"validate": sorted(from_validate), "pipeline": sorted(from_pipeline)}
    assert differences == {}
    for name in CLEAN:
        assert pipeline_findings[name] == [], name
    for name, (_, feature, anomaly_type) in NOT_REPRESENTABLE.items():
        [finding] = pipeline_findings[name]
        assert (finding["feature"], finding["types"]) == (feature, [anomaly_type])
        assert f"{name}.csv line 2)" in finding["description"]


def test_validate_writes_the_rows_it_left_out_with_their_lines_and_reasons(files, tmp_path, capfd):
    path = files["text_in_float"]
    rows_file = tmp_path / "left_out.csv"
    code = cli.main(["validate", "--data", str(path), "--environment", "TRAINING", "--baseline", "none",
                     "--format", "json", "--rows", str(rows_file)])
    result = json.loads(capfd.readouterr()[0])
    assert code == 1
    with open(path, newline="") as f:
        source = list(csv.DictReader(f))
    bad = [(str(i + 2), row) for i, row in enumerate(source) if row[FLOAT_FEATURE] == "unknown"]
    assert result["left_out"]["rows"] == len(bad)
    assert result["left_out"]["by_reason"] == {FLOAT_FEATURE: {cells.NOT_FLOAT: len(bad)}}
    with open(rows_file, newline="") as f:
        written = list(csv.DictReader(f))
    assert [(r["file"], r["line"], r["reasons"]) for r in written] == [
        (str(path), line, f"{FLOAT_FEATURE}: {cells.NOT_FLOAT}") for line, _ in bad]
    assert [{k: r[k] for k in source[0]} for r in written] == [row for _, row in bad]  # the row as it was
    assert result["rows"] == len(source)


def test_the_fast_path_reads_every_real_column_as_the_full_rules_do():
    """Columns whose cells are all plain numbers skip the per-form passes; the values must be
    exactly those the full rules give."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from core.settings import schema_files

    kinds = reading.schema_kinds(schema_files.load(config_lib.default_schema_path()))
    rows = _rows()
    for feature, kind in kinds.items():
        if kind == cells.BYTES or feature not in rows[0]:
            continue
        text = pa.array([r[feature] for r in rows], pa.string())
        column = cells.read_column(text, kind)
        stripped = pc.utf8_trim_whitespace(text)
        filled = np.asarray(pc.not_equal(stripped, "").to_numpy(zero_copy_only=False), dtype=bool)
        reader = cells._read_ints if kind == cells.INT else cells._read_floats
        numbers, good, _ = reader(stripped, filled)
        full = numbers[filled & good].astype(np.int64 if kind == cells.INT else np.float32)
        assert (column.present == (filled & good)).all(), feature
        assert np.array_equal(column.values.to_numpy(zero_copy_only=False), full), feature


def _beside_schema() -> dict:
    """constraints.yaml and checks.yaml beside the default schema, as the runner passes them."""
    return config_lib.read_beside_schema(config_lib.default_schema_path())
