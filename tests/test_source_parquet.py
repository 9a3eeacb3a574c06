"""Parquet read as a source (core/reading/sources/parquet.py, arrow_text.py): typed by the curated
schema through text, by the rules a CSV cell is read by.

Every file is made from real rows of the sample (tests/defects.py), written by the tools that
write Parquet (pyarrow, pandas, a Spark-style folder), and named for what it shows."""

import dataclasses
import datetime
import decimal
import json
import re
import zoneinfo

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.batch import batch_stats
from core.common.errors import InputError
from core.reading import cells, source as source_lib
from core.reading import report as reading
from core.reading.sources import arrow_text
from core.settings import schema_files
from pipeline import config as config_lib
from tests import defects
from tfxgate.command import cli

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def kinds():
    return reading.schema_kinds(schema_files.load(config_lib.default_schema_path()))


def _defect_rows():
    """Real rows with cells the schema's types cannot hold: trip_seconds with half a second in 2 %
    of rows (not_int), fare NaN in 1 in 70 (nan)."""
    rows = defects.base_rows()
    for i, row in enumerate(rows):
        if i % 50 == 0:
            row["trip_seconds"] = str(int(row["trip_seconds"]) + 0.5)
        if i % 70 == 0:
            row["fare"] = "nan"
    return rows


def _arrow_table(rows) -> pa.Table:
    """The rows as pyarrow types them: int64 where every value is whole, else float64 (a NaN kept
    as NaN), else string; an empty cell is null."""
    columns = {}
    for name in rows[0]:
        values = [None if r[name] == "" else r[name] for r in rows]
        for convert in (int, float, str):
            try:
                columns[name] = pa.array([None if v is None else convert(v) for v in values])
                break
            except ValueError:
                continue
    return pa.table(columns)


def _csv(tmp_path, rows, name="rows.csv"):
    return str(defects.write_rows(tmp_path / name, rows))


def _pyarrow_parquet(tmp_path, rows, name="pyarrow.parquet"):
    pq.write_table(_arrow_table(rows), tmp_path / name)
    return str(tmp_path / name)


def _pandas_parquet(tmp_path, csv_path, nullable: bool, name):
    """What pandas writes for the CSV: its own float64 for an integer column with a missing value
    (NaN for missing), or (nullable) pandas' Int64 with <NA> for the columns the schema reads as INT."""
    frame = pd.read_csv(csv_path)
    if nullable:
        for column in frame.columns:
            values = frame[column].dropna()
            if frame[column].dtype == "float64" and (values == values.round()).all():
                frame[column] = frame[column].astype("Int64")
    frame.to_parquet(tmp_path / name)
    return str(tmp_path / name)


def _typed(path, kinds):
    """{feature: (values, present, bad, reasons)} of every block of the batch read by cells.read_column."""
    out = {}
    with source_lib.open_batch(path) as source:
        blocks = [b for f in source.files for b in source.blocks(f)]
    for name in blocks[0].schema.names:
        if name not in kinds:
            continue
        text = pa.concat_arrays([b.column(name) for b in blocks])
        column = cells.read_column(text, kinds[name])
        out[name] = (column.values.to_pylist(), column.present.tolist(), column.bad.tolist(), column.reason.tolist())
    return out


def _without_places(report: dict) -> dict:
    """A ReadingReport's JSON without where its examples are (a CSV line is its row plus the header)."""
    text = json.dumps(report, sort_keys=True)
    text = re.sub(r'"(file|line)": ("[^"]*"|[0-9]+|null)', '"place": null', text)
    return json.loads(text)


def _counts(statistics):
    dataset = statistics.datasets[0]
    return dataset.num_examples, {f.path.step[0]: f.num_stats.common_stats.num_non_missing
                                  if f.HasField("num_stats") else f.string_stats.common_stats.num_non_missing
                                  for f in dataset.features}


def _findings(path, capfd):
    code = cli.main(["validate", "--data", str(path), "--baseline", "none", "--format", "json",
                     "--environment", "TRAINING"])
    out, err = capfd.readouterr()
    report = json.loads(out)
    for finding in report["anomalies"]:  # the examples' places: file and line (CSV) or row (Parquet)
        finding["description"] = re.sub(r"\([^()]* (line|row) [0-9]+\)", "(place)", finding["description"])
    return code, report["rows"], report["anomalies"], report["left_out"]


# ---- (a) the same rows as CSV and as Parquet: the same typed columns, report, statistics, findings


@pytest.fixture
def written(tmp_path):
    """The defect rows as CSV and as Parquet by pyarrow; the rows without NaN (pandas writes a NaN
    as missing) as CSV and as Parquet by pandas, with float64 and with Int64 integer columns."""
    rows = _defect_rows()
    no_nan = [dict(r, fare=base["fare"]) for r, base in zip(rows, defects.base_rows())]
    csv_no_nan = _csv(tmp_path, no_nan, "no_nan.csv")
    return {
        "pyarrow": (_csv(tmp_path, rows), _pyarrow_parquet(tmp_path, rows)),
        "pandas_float": (csv_no_nan, _pandas_parquet(tmp_path, csv_no_nan, False, "pandas_float.parquet")),
        "pandas_int64": (csv_no_nan, _pandas_parquet(tmp_path, csv_no_nan, True, "pandas_int64.parquet")),
    }


@pytest.mark.parametrize("writer", ["pyarrow", "pandas_float", "pandas_int64"])
def test_parquet_blocks_read_as_the_schema_types_as_the_csv(written, kinds, writer):
    csv_path, parquet_path = written[writer]
    if writer == "pandas_int64":
        assert pq.read_schema(parquet_path).field("pickup_census_tract").type == pa.int64()
    else:
        assert pq.read_schema(parquet_path).field("trip_seconds").type == pa.float64()
    assert _typed(parquet_path, kinds) == _typed(csv_path, kinds)


@pytest.mark.parametrize("writer", ["pyarrow", "pandas_float", "pandas_int64"])
def test_parquet_gives_the_csvs_reading_report_and_statistics(written, kinds, writer):
    csv_path, parquet_path = written[writer]
    from_csv, from_parquet = batch_stats.read(csv_path, kinds), batch_stats.read(parquet_path, kinds)
    assert from_parquet.report.problems["trip_seconds"][cells.NOT_INT]["rows"] == 20
    assert _without_places(dataclasses.asdict(from_parquet.report)) == _without_places(dataclasses.asdict(from_csv.report))
    assert from_parquet.rows == from_csv.rows == len(defects.base_rows())
    assert _counts(from_parquet.statistics) == _counts(from_csv.statistics)


@pytest.mark.parametrize("writer", ["pyarrow", "pandas_int64"])
def test_validate_finds_in_parquet_what_it_finds_in_the_csv(written, writer, capfd):
    csv_path, parquet_path = written[writer]
    from_csv, from_parquet = _findings(csv_path, capfd), _findings(parquet_path, capfd)
    assert from_parquet == from_csv
    code, _, anomalies, _ = from_parquet
    assert code == 1 and {"trip_seconds"} <= {a["feature"] for a in anomalies}
    if writer == "pyarrow":
        assert any(a["feature"] == "fare" and "FLOAT_TYPE_HAS_NAN" in a["types"] for a in anomalies)


# ---- (b) each type rule, on real values


def test_floats_read_as_their_shortest_text_whole_ones_as_digits(kinds):
    rows = defects.base_rows()
    tracts = [float(r["pickup_census_tract"]) if r["pickup_census_tract"] else None for r in rows]
    text = arrow_text.column_text(pa.array(tracts, pa.float64())).to_pylist()
    assert text == [r["pickup_census_tract"] for r in rows]  # 17031081800.0 -> '17031081800'
    fares = [float(r["fare"]) for r in rows]
    assert arrow_text.column_text(pa.array(fares, pa.float32())).to_pylist() == [repr(f).removesuffix(".0") for f in fares]
    special = arrow_text.column_text(pa.array([fares[0], float("nan"), float("inf"), -float("inf"), None]))
    assert special.to_pylist() == [rows[0]["fare"], "nan", "inf", "-inf", ""]
    column = cells.read_column(special, cells.FLOAT)
    assert column.reason.tolist() == [None, cells.NAN, cells.INF, cells.INF, None]


def test_booleans_are_true_or_false_and_not_an_int(kinds):
    cash = [r["payment_type"] == "Cash" for r in defects.base_rows()]
    text = arrow_text.column_text(pa.array(cash + [None]))
    assert text.to_pylist() == ["true" if c else "false" for c in cash] + [""]
    column = cells.read_column(text, kinds["trip_start_day"])
    assert column.bad.sum() == len(cash) and set(column.reason[:-1]) == {cells.NOT_INT}


def _moments():
    return [datetime.datetime.fromtimestamp(int(r["trip_start_timestamp"]), datetime.timezone.utc)
            for r in defects.base_rows(n=200)]


def test_dates_and_timestamps_are_iso_8601():
    moments = _moments()
    naive = [m.replace(tzinfo=None) for m in moments]
    assert arrow_text.column_text(pa.array([m.date() for m in naive], pa.date32())).to_pylist() == \
        [m.date().isoformat() for m in naive]
    assert arrow_text.column_text(pa.array([m.date() for m in naive], pa.date64())).to_pylist() == \
        [m.date().isoformat() for m in naive]
    assert arrow_text.column_text(pa.array(naive, pa.timestamp("ns"))).to_pylist() == [m.isoformat() for m in naive]
    chicago = zoneinfo.ZoneInfo("America/Chicago")
    zoned = arrow_text.column_text(pa.array(moments, pa.timestamp("us", tz="America/Chicago")))
    assert zoned.to_pylist() == [m.astimezone(chicago).isoformat() for m in moments]
    late = naive[0] + datetime.timedelta(microseconds=500000)
    assert arrow_text.column_text(pa.array([late], pa.timestamp("ms"))).to_pylist() == [late.isoformat()[:-3].rstrip("0")]


def test_decimals_are_their_exact_text(kinds):
    fares = [decimal.Decimal(r["fare"]).quantize(decimal.Decimal("0.01")) for r in defects.base_rows()]
    text = arrow_text.column_text(pa.array(fares, pa.decimal128(9, 2)))
    assert text.to_pylist() == [str(f) for f in fares]
    assert cells.read_column(text, kinds["fare"]).values.to_pylist() == \
        pa.array([float(f) for f in fares], pa.float32()).to_pylist()


def test_strings_in_any_encoding_are_the_string():
    companies = [r["company"] or None for r in defects.base_rows()]
    expected = [c or "" for c in companies]
    for array in (pa.array(companies), pa.array(companies, pa.large_string()), pa.array(companies).dictionary_encode(),
                  pa.array([c and c.encode() for c in companies], pa.binary())):
        assert arrow_text.column_text(array).to_pylist() == expected, array.type
    assert arrow_text.column_text(pa.nulls(len(companies))).to_pylist() == [""] * len(companies)


def test_lists_and_structs_are_a_nested_finding_not_a_crash(tmp_path, kinds):
    rows = defects.base_rows()
    table = _arrow_table(rows)
    miles = table.column("trip_miles").to_pylist()
    table = table.set_column(table.schema.get_field_index("trip_miles"), "trip_miles",
                             pa.array([None if m is None else [m, m] for m in miles]))
    table = table.set_column(table.schema.get_field_index("company"), "company",
                             pa.array([{"name": r["company"]} if r["company"] else None for r in rows]))
    path = tmp_path / "nested_trip_miles_and_company.parquet"
    pq.write_table(table, path)
    batch = batch_stats.read(str(path), kinds)
    assert batch.report.problems["trip_miles"][cells.NESTED]["rows"] == sum(m is not None for m in miles)
    assert batch.report.problems["company"][cells.NESTED]["rows"] == sum(bool(r["company"]) for r in rows)
    # The finding shows what the cell holds in words, never the source's internal marker.
    shown = [e["value"] for e in batch.report.problems["company"][cells.NESTED]["examples"]]
    assert shown and all(v == reading.NESTED_TEXT for v in shown)


def test_bytes_that_are_not_utf8_are_one_line_naming_file_column_and_row(tmp_path, capfd):
    rows = defects.base_rows()
    table = _arrow_table(rows)
    names = [r["company"].encode() for r in rows]
    names[41] = names[41] + b"\xe9"
    table = table.set_column(table.schema.get_field_index("company"), "company", pa.array(names, pa.binary()))
    path = tmp_path / "latin1_byte_in_company.parquet"
    pq.write_table(table, path)
    code = cli.main(["validate", "--data", str(path), "--baseline", "none"])
    _, err = capfd.readouterr()
    _one_line(err, [str(path), "column 'company', row 42: not UTF-8 text"])
    assert code == 2


# ---- (c) a folder as Spark writes it


def test_a_spark_folder_is_one_batch_read_by_column_name(tmp_path, kinds, capfd):
    rows = _defect_rows()
    table = _arrow_table(rows)
    folder = tmp_path / "spark_output"
    folder.mkdir()
    half = len(rows) // 2
    stem = "c8a3b2d1-5e6f-4a7b-8c9d-0e1f2a3b4c5d-c000.snappy.parquet"
    pq.write_table(table.slice(0, half), folder / f"part-00000-{stem}", compression="snappy")
    second = table.slice(half)
    pq.write_table(second.select(list(reversed(second.column_names))), folder / f"part-00001-{stem}",
                   compression="snappy")
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / f".part-00000-{stem}.crc").write_bytes(b"crc\x00\x00\x00\x01")
    with source_lib.open_batch(str(folder)) as source:
        assert [f.rsplit("/", 1)[1][:10] for f in source.files] == ["part-00000", "part-00001"]
        assert source.columns == list(rows[0])
        source.check()
    assert _findings(folder, capfd) == _findings(_csv(tmp_path, rows), capfd)


def test_a_folder_whose_files_differ_in_columns_is_one_line(tmp_path, capfd):
    table = _arrow_table(defects.base_rows())
    folder = tmp_path / "part_without_tips"
    folder.mkdir()
    pq.write_table(table.slice(0, 500), folder / "part-00000.parquet")
    pq.write_table(table.slice(500).drop(["tips"]), folder / "part-00001.parquet")
    code = cli.main(["validate", "--data", str(folder), "--baseline", "none"])
    _, err = capfd.readouterr()
    assert code == 2
    _one_line(err, [str(folder / "part-00001.parquet"), "columns differ", "'tips'"])


# ---- (d) bad input: one line, exit 2


def _one_line(err: str, words):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err[-2000:]
    for word in words:
        assert word in lines[0], lines[0]


def _corrupt_footer(data: bytes) -> bytes:
    """The footer's metadata overwritten, its length and magic kept."""
    length = int.from_bytes(data[-8:-4], "little")
    return data[: len(data) - 8 - length] + b"\xff" * length + data[-8:]


BAD = {
    "corrupt_footer": (_corrupt_footer, ["not a readable Parquet file", "thrift"]),
    "truncated_file": (lambda data: data[: len(data) // 2], ["not a readable Parquet file", "magic bytes"]),
    "empty_parquet": (None, ["no data rows"]),
    "zero_bytes": (lambda data: b"", ["an empty file (0 bytes), not a readable Parquet file"]),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_parquet_is_one_line_naming_the_file(tmp_path, capfd, name):
    table = _arrow_table(defects.base_rows())
    path = tmp_path / f"{name}.parquet"
    pq.write_table(table.slice(0, 0) if name == "empty_parquet" else table, path)
    change, words = BAD[name]
    if change is not None:
        path.write_bytes(change(path.read_bytes()))
    code = cli.main(["validate", "--data", str(path), "--baseline", "none"])
    _, err = capfd.readouterr()
    assert code == 2, err
    # A 0-byte file has no Parquet magic: its name makes it text, an empty one.
    _one_line(err, [str(path)] + (words if name != "zero_bytes" else ["empty file"]))
    with pytest.raises(InputError) as raised:  # read as Parquet, whatever its content (`format`)
        source_lib.open_batch(str(path), format="parquet")
    _one_line(str(raised.value), [str(path)] + words)


def test_a_corrupt_row_group_is_named_by_the_check(tmp_path):
    table = _arrow_table(defects.base_rows())
    path = tmp_path / "corrupt_second_row_group.parquet"
    pq.write_table(table, path, row_group_size=300, compression="snappy")
    chunk = pq.ParquetFile(path).metadata.row_group(1).column(0)
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    data = bytearray(path.read_bytes())
    data[start:start + chunk.total_compressed_size] = b"\xff\x00" * (chunk.total_compressed_size // 2) + \
        b"\xff" * (chunk.total_compressed_size % 2)
    path.write_bytes(bytes(data))
    with source_lib.open_batch(str(path)) as source:
        with pytest.raises(InputError) as raised:
            source.check()
    _one_line(str(raised.value), [str(path), "row group 2 of 4 (rows 301-600)", "not a readable Parquet file"])


def test_rows_are_numbered_from_one_in_their_file(tmp_path):
    rows = defects.base_rows()
    path = _pyarrow_parquet(tmp_path, rows)
    with source_lib.open_batch(path) as source:
        assert source.format == "parquet" and source.unit == "row" and source.has_rows(path)
        records = list(source.records(path))
        assert [where for where, _ in records] == list(range(1, len(rows) + 1))
        assert records[7][1] == [arrow_text.column_text(_arrow_table(rows[7:8]).column(n).chunk(0)).to_pylist()[0]
                                 for n in rows[0]]
        assert source.locate(path, [0, 41, len(rows) - 1]) == {0: 1, 41: 42, len(rows) - 1: len(rows)}
        block = next(source.blocks(path, ["company", "fare"]))
        assert block.schema.names == ["company", "fare"] and set(block.schema.types) == {pa.string()}


def test_pandas_index_is_not_a_column_and_the_file_is_opened_once_in_python(tmp_path, kinds, monkeypatch):
    """A filtered frame keeps its index: pandas writes it as `__index_level_0__`, not data. The
    file is opened once in Python (its format read) and once by pyarrow from its path."""
    import builtins

    rows = defects.base_rows()
    frame = pd.read_csv(_csv(tmp_path, rows))
    cash = frame[frame["payment_type"] == "Cash"]
    path = tmp_path / "cash_rows_with_their_index.parquet"
    cash.to_parquet(path)
    assert "__index_level_0__" in pq.read_schema(path).names
    opened, real_open = [], builtins.open
    monkeypatch.setattr(builtins, "open", lambda file, *a, **k: (opened.append(str(file)), real_open(file, *a, **k))[1])
    batch = batch_stats.read(str(path), kinds)
    assert opened.count(str(path)) == 1
    assert batch.rows == len(cash) and _counts(batch.statistics)[1].keys() == set(rows[0])


def test_a_uri_is_read_through_the_openers_handle(tmp_path, kinds):
    """A file behind a URI (TFX's fileio in the pipeline) is read from the handle its format was
    read from: opened once."""
    import io

    rows = _defect_rows()
    with open(_pyarrow_parquet(tmp_path, rows), "rb") as f:
        data = f.read()
    opened = []

    def opener(uri):
        opened.append(uri)
        return io.BytesIO(data)

    uri = "gs://bucket/span-3/part-00000.parquet"
    with source_lib.open_batch([uri], opener=opener) as source:
        source.check()
        typed = [cells.read_column(b.column("trip_seconds"), kinds["trip_seconds"]) for b in source.blocks(uri)]
    assert opened == [uri]
    assert sum(int(c.bad.sum()) for c in typed) == 20
