"""Missing-value markers (issue 31): R's write.csv `NA`, a MySQL dump's `\\N`, read as missing once
declared, and an undeclared one refused in one line that says what to declare."""

import json

import pytest

from core.reading import source as source_lib
from core.reading.sources import missing
from tests import defects
from tfxgate.command import cli

pytestmark = pytest.mark.unit

NUMERIC_WITH_GAPS = ["dropoff_latitude", "dropoff_longitude", "pickup_census_tract", "dropoff_census_tract",
                     "dropoff_community_area"]  # the schema's numeric columns with empty cells in the real rows


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def write_marked(path, rows, marker: str):
    """`rows` as a writer of missing values as `marker` writes them: every empty cell `marker`,
    unquoted; with `NA`, as R's write.csv (row.names = FALSE): names and the values of text
    columns quoted, numbers not."""
    columns = list(rows[0])
    text = {c for c in columns if not all(_is_number(r[c]) for r in rows if r[c])}
    quoted = lambda value: '"' + value.replace('"', '""') + '"'  # noqa: E731
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        f.write(",".join(quoted(c) if marker == "NA" else c for c in columns) + "\n")
        for row in rows:
            f.write(",".join(marker if row[c] == "" else quoted(row[c]) if c in text and marker == "NA" else row[c]
                             for c in columns) + "\n")
    return path


def _run(capfd, *argv):
    code = cli.main(["validate", "--baseline", "none", *argv])
    out, err = capfd.readouterr()
    return code, out, err


def _findings(capfd, data, *argv):
    code, out, err = _run(capfd, "--data", str(data), "--format", "json", *argv)
    assert code in (0, 1), err
    return code, json.loads(out)["anomalies"]


@pytest.fixture(scope="module")
def rows():
    rows = defects.base_rows()
    assert all(any(r[c] == "" for r in rows) for c in NUMERIC_WITH_GAPS)  # what the markers stand for
    return rows


@pytest.fixture
def plain(tmp_path, rows):
    """The same rows as written with empty cells (as the project's data is)."""
    return defects.write_rows(tmp_path / "plain" / "data.csv", rows)


@pytest.mark.parametrize("marker, writer, flag", [("NA", "R's write.csv", "NA"),
                                                  ("\\N", "a MySQL/PostgreSQL dump", "'\\N'")])
def test_an_undeclared_marker_is_one_line_naming_it_and_the_fix(tmp_path, capfd, rows, marker, writer, flag):
    data = write_marked(tmp_path / "export" / "data.csv", rows, marker)
    code, out, err = _run(capfd, "--data", str(data))
    assert code == 2 and out == ""
    [line] = err.strip().splitlines()
    assert line == (f"tfxgate validate: error: {data}: this file writes missing values as `{marker}` ({writer}?): "
                    f"declare `missing: [{marker}]` in tfxgate-input.yaml or pass --missing {flag}")


def test_without_the_refusal_an_r_export_would_block_on_every_column_with_a_gap(tmp_path, rows):
    """What the refusal replaces: the findings a reader that knows no marker gets."""
    from core.batch import batch_stats
    from core.reading import report as reading
    from core.settings import schema_files
    from pipeline import config as config_lib

    data = write_marked(tmp_path / "export" / "data.csv", rows, "NA")
    kinds = reading.schema_kinds(schema_files.load(config_lib.default_schema_path()))
    batch = batch_stats.read(str(data), kinds)
    assert sorted(batch.report.problems) == sorted(NUMERIC_WITH_GAPS)
    assert missing.suspected(batch.report.problems, kinds)


@pytest.mark.parametrize("declared_by", ["tfxgate-input.yaml", "--missing"])
@pytest.mark.parametrize("marker", ["NA", "\\N"])
def test_a_declared_marker_gives_the_findings_of_empty_cells(tmp_path, capfd, rows, plain, marker, declared_by):
    data = write_marked(tmp_path / "export" / "data.csv", rows, marker)
    argv = ["--missing", marker]
    if declared_by == "tfxgate-input.yaml":
        (data.parent / "tfxgate-input.yaml").write_text(f"missing: ['{marker}']\n")
        argv = []
    assert _findings(capfd, data, *argv) == _findings(capfd, plain)  # exit status and every finding


def test_a_marker_in_one_column_among_real_values_stays_a_finding(tmp_path, capfd, rows):
    changed = [dict(r) for r in rows]
    changed[len(changed) // 2]["fare"] = "n/a"
    data = defects.write_rows(tmp_path / "data.csv", changed)
    code, out, err = _run(capfd, "--data", str(data), "--format", "json")
    assert "writes missing values" not in err
    fare = [a for a in json.loads(out)["anomalies"] if a["feature"] == "fare"]
    assert fare and "FLOAT_TYPE_STRING_NOT_FLOAT" in fare[0]["types"] and "'n/a'" in fare[0]["description"]


def test_only_one_marker_in_two_columns_and_no_empty_cell_is_diagnosed(tmp_path, rows):
    """The rule itself, on the source: a second text beside the marker, a marker in one numeric
    column only, or an empty cell anywhere, and the file is judged as it is (findings)."""
    from core.reading import report as reading
    from core.settings import schema_files
    from pipeline import config as config_lib

    kinds = reading.schema_kinds(schema_files.load(config_lib.default_schema_path()))
    export = write_marked(tmp_path / "r" / "data.csv", rows, "NA")
    with source_lib.open_batch(str(export)) as source:
        assert missing.undeclared(source, kinds) == (str(export), "NA")
        one_column = {c: k for c, k in kinds.items() if c not in NUMERIC_WITH_GAPS[1:]}
        assert missing.undeclared(source, one_column) is None
    with source_lib.open_batch(str(export), missing=["NA"]) as source:  # declared: no marker left, empty cells
        assert missing.undeclared(source, kinds) is None
    other = [dict(r) for r in rows]
    other[len(other) // 2]["fare"] = "n/a"
    with source_lib.open_batch(str(write_marked(tmp_path / "r2" / "data.csv", other, "NA"))) as source:
        assert missing.undeclared(source, kinds) is None


def test_markers_are_read_as_empty_in_blocks_and_records_whitespace_ignored(tmp_path, rows):
    export = write_marked(tmp_path / "r" / "data.csv", rows, " NA ")
    with source_lib.open_batch(str(export), missing=["NA"]) as marked, \
            source_lib.open_batch(str(defects.write_rows(tmp_path / "plain.csv", rows))) as plain:
        assert marked.columns == plain.columns
        [f], [g] = marked.files, plain.files
        assert pa_rows(marked.blocks(f)) == pa_rows(plain.blocks(g))
        assert [fields for _, fields in marked.records(f)] == [fields for _, fields in plain.records(g)]
        assert marked.locate(f, [0, 5]) == plain.locate(g, [0, 5])


def pa_rows(blocks):
    return [row for block in blocks for row in block.to_pylist()]


def test_a_blank_marker_is_refused_in_one_line(tmp_path, capfd, plain):
    code, _, err = _run(capfd, "--data", str(plain), "--missing", " ")
    assert code == 2 and "--missing: an empty marker" in err and len(err.strip().splitlines()) == 1


def test_example_gen_carries_the_markers_in_its_custom_config():
    from tfx.utils import proto_utils

    from components import csv_example_gen

    config = csv_example_gen.custom_config("schema text", ",", "", "", ("NA", "\\N"))
    for given in (config, proto_utils.proto_to_json(config)):  # as the pipeline holds it, and as the executor gets it
        chosen = csv_example_gen.settings({"custom_config": given})
        assert tuple(chosen[csv_example_gen.MISSING_KEY]) == ("NA", "\\N")
    assert csv_example_gen.MISSING_KEY not in csv_example_gen.settings(
        {"custom_config": csv_example_gen.custom_config("schema text")})  # none declared: the config as before


def test_example_gen_reads_a_declared_marker_as_missing(tmp_path, rows):
    """ExampleGen's reading (its check and its rows) on an R export, without a pipeline: the
    Examples of the marked rows have no value where R wrote NA, and no row is left out."""
    import apache_beam as beam
    import tensorflow as tf
    from apache_beam.testing import util as beam_util
    from tfx.proto import example_gen_pb2
    from tfx.utils import proto_utils

    from components import csv_example_gen
    from pipeline import config as config_lib

    with open(config_lib.default_schema_path()) as f:
        schema_text = f.read()
    few = rows[:50]
    write_marked(tmp_path / "span" / "data.csv", few, "NA")
    output = example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
        example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=1)]))
    exec_properties = {"input_base": str(tmp_path / "span"), "output_config": proto_utils.proto_to_json(output),
                       "custom_config": proto_utils.proto_to_json(
                           csv_example_gen.custom_config(schema_text, missing=("NA",)))}
    expected = [sorted(c for c in row if row[c] != "") for row in few]

    def check(serialized):
        present = [sorted(k for k, v in tf.train.Example.FromString(s).features.feature.items()
                          if v.WhichOneof("kind") and len(getattr(v, v.WhichOneof("kind")).value))
                   for s in serialized]
        if sorted(present) != sorted(expected):
            raise AssertionError(f"present features differ: {present[:2]} vs {expected[:2]}")

    with beam.Pipeline() as pipeline:
        examples = pipeline | csv_example_gen._TypedCsvToExample(exec_properties, "*.csv")
        beam_util.assert_that(examples, check)


def _data_root(tmp_path, rows, marker):
    root = tmp_path / "root"
    data = write_marked(root / "train" / "span-1" / "data.csv", rows, marker)
    return root, data


def test_the_local_runner_refuses_an_undeclared_marker_before_the_pipeline_starts(tmp_path, capsys, rows):
    import runner_local

    root, data = _data_root(tmp_path, rows, "NA")
    code = runner_local.main(["--data-root", str(root), "--outputs", str(tmp_path / "out"), "--stage", "check"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == f"error: {missing.message(str(data), 'NA')}"
    assert not (tmp_path / "out" / "pipeline").exists()


@pytest.mark.parametrize("declared_by", ["tfxgate-input.yaml", "--missing"])
def test_the_local_runner_takes_a_declared_marker_into_its_config(tmp_path, capsys, rows, declared_by):
    import runner_local

    root, _ = _data_root(tmp_path, rows, "NA")
    argv = ["--data-root", str(root), "--outputs", str(tmp_path / "out")]
    if declared_by == "--missing":
        argv += ["--missing", "NA"]
    else:
        (root / "tfxgate-input.yaml").write_text("missing: [NA]\n")
    config = runner_local._config(runner_local.parse_args(argv))  # the input check included
    assert config.missing == ("NA",)
    from components import csv_example_gen
    from pipeline import pipeline

    given = csv_example_gen.settings({"custom_config": pipeline._typed_by_schema(config)})  # what ExampleGen gets
    assert tuple(given[csv_example_gen.MISSING_KEY]) == ("NA",)
    assert runner_local.main(argv + ["--stage", "check"]) == 0, capsys.readouterr().err
