"""The same real rows (tests/defects.py) written in the binary forms tfxgate reads, as the tools
that write them do: Parquet by pyarrow and by pandas (nullable Int64 columns), a Spark output
folder of Parquet part files, and TFRecord files of tf.Example (plain and gzipped). Every writer
types the columns from the rows' own text, as an exporter does (pyarrow's CSV inference), never
from our schema: the schema's reading rules are what is under test.

`write(folder, form, rows, columns)` -> the path to hand to tfxgate (a file or a folder).
"""

import io
import pathlib
import uuid
from typing import Dict, List, Optional

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from tests import forms as text_forms

FORMS = ["parquet", "parquet-pandas", "spark-parquet", "tfrecord", "tfrecord.gz"]


def table(rows: List[Dict[str, str]], columns: Optional[List[str]] = None) -> pa.Table:
    """The rows as a typed table, as a tool reading their CSV types them (an empty cell: null; a
    cell such as `n/a` stays the text it is, so the column is text)."""
    text = text_forms.csv_text(rows, columns).encode()
    names = columns or list(rows[0])
    return pa_csv.read_csv(io.BytesIO(text), convert_options=pa_csv.ConvertOptions(
        null_values=[""], strings_can_be_null=True, include_columns=names))  # only an empty cell is null


def _pandas(rows, columns):
    import pandas as pd

    frame = pd.read_csv(io.StringIO(text_forms.csv_text(rows, columns)), keep_default_na=False, na_values=[""])
    return frame.convert_dtypes(convert_string=False, convert_boolean=False)  # integer columns with gaps: Int64


def _examples(data: pa.Table):
    import tensorflow as tf

    for row in data.to_pylist():
        example = tf.train.Example()
        for name, value in row.items():
            if value is None:
                continue
            feature = example.features.feature[name]
            if isinstance(value, bool) or isinstance(value, int):
                feature.int64_list.value.append(int(value))
            elif isinstance(value, float):
                feature.float_list.value.append(value)
            else:
                feature.bytes_list.value.append(str(value).encode())
        yield example.SerializeToString()


def write(folder: pathlib.Path, form: str, rows: List[Dict[str, str]],
          columns: Optional[List[str]] = None) -> pathlib.Path:
    folder.mkdir(parents=True, exist_ok=True)
    if form == "parquet":
        path = folder / "data.parquet"
        pq.write_table(table(rows, columns), path, row_group_size=300)
    elif form == "parquet-pandas":
        path = folder / "data.parquet"
        _pandas(rows, columns).to_parquet(path, index=False)
    elif form == "spark-parquet":
        path = folder / "spark-output"
        path.mkdir()
        data, job = table(rows, columns), uuid.UUID(int=31)
        half = data.num_rows // 2
        for part, piece in enumerate([data.slice(0, half), data.slice(half)]):
            name = f"part-{part:05d}-{job}-c000.snappy.parquet"
            pq.write_table(piece, path / name, compression="snappy")
            (path / f".{name}.crc").write_bytes(b"\x00")
        (path / "_SUCCESS").write_bytes(b"")
    elif form.startswith("tfrecord"):
        import tensorflow as tf

        path = folder / f"data.{form}"
        options = "GZIP" if form.endswith(".gz") else None
        with tf.io.TFRecordWriter(str(path), options=options) as writer:
            for record in _examples(table(rows, columns)):
                writer.write(record)
    else:
        return text_forms.write(folder, form, rows, columns)
    return path
