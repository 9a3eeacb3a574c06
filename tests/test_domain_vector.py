"""Domain.outside (core/reading/report.py) over whole columns gives, row for row, what the per-row
Python membership test it replaced gave: kept here as `_old_outside`, the reference, and
compared on thousands of random columns made from real span-3 rows (tests/defects.py), with
missing cells, values of other columns, NaN, -0.0 and bounds drawn from the column's own values;
and rows.judge's whole report (which rows, which values, in which order) is the same with either.
"""

import pathlib
import random

import numpy as np
import pyarrow as pa
import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from core.checks import rows as rows_lib
from core.reading import cells
from core.reading import report as reading
from core.statistics import profile as profile_lib
from tests import defects
from tests.paths import PROJECT_ROOT

pytestmark = pytest.mark.unit

COLUMNS = 3000


def _old_outside(domain: reading.Domain, dense):
    """Domain.outside as it was before it took whole columns (the reference)."""
    if domain.values is not None:
        present = np.array([v is not None for v in dense], dtype=bool)
        inside = np.array([v in domain.values for v in dense], dtype=bool) if len(dense) else present
        return present & ~inside
    values = np.asarray(dense, dtype=np.float64)
    result = np.zeros(len(values), dtype=bool)
    with np.errstate(invalid="ignore"):
        if domain.low is not None:
            result |= values < domain.low
        if domain.high is not None:
            result |= values > domain.high
    return result


@pytest.fixture(scope="module")
def real():
    schema = text_format.Parse((PROJECT_ROOT / "schema" / "v1" / "schema.pbtxt").read_text(), schema_pb2.Schema())
    return defects.base_rows(), reading.schema_kinds(schema), reading.schema_domains(schema)


def _texts(rng: random.Random, base, name: str, names) -> list:
    """A column of `name`'s real cells, some emptied, some taken from another column, some the
    forms a number column may hold (-0.0, NaN, a sign, a point)."""
    size = rng.choice([0, 1, 2, 7, 50, 300, 1000])
    texts = [row[name] for row in rng.sample(base, min(size, len(base)))]
    for i in range(len(texts)):
        change = rng.random()
        if change < 0.1:
            texts[i] = ""
        elif change < 0.2:
            texts[i] = base[rng.randrange(len(base))][rng.choice(names)]
        elif change < 0.25 and texts[i]:
            texts[i] = rng.choice(["-", "+", " "]) + texts[i].strip() + rng.choice(["", ".0", " "])
        elif change < 0.28:
            texts[i] = rng.choice(["-0.0", "-0", "0.0", "nan", "NaN", "-inf", "\u00e9" + texts[i]])
    return texts


def _domains(rng: random.Random, schema_domain, values: list):
    """The schema's own domain, and domains drawn from the column's values (bounds that values hit
    exactly, one end open, -0.0; value sets of some of the column's texts, empty, of another kind)."""
    result = [schema_domain] if schema_domain is not None else []
    numbers = [v for v in values if isinstance(v, float) and not np.isnan(v)]
    if numbers:
        low, high = sorted(rng.sample(numbers, 2) if len(numbers) > 1 else numbers * 2)
        result += [reading.Domain(low=low, high=high), reading.Domain(low=low), reading.Domain(high=high),
                   reading.Domain(low=-0.0, high=0.0), reading.Domain(low=float(int(low)) if low == low else None)]
    texts = [v for v in values if isinstance(v, str)]
    result += [reading.Domain(values=frozenset(rng.sample(texts, rng.randrange(len(texts) + 1)) if texts else [])),
               reading.Domain(values=frozenset()), reading.Domain(values=frozenset(["-0.0", "0", "nan"]))]
    return result


def test_outside_is_the_per_row_test_on_random_real_columns(real):
    base, kinds, schema_domains = real
    names = sorted(kinds)
    rng = random.Random(35)
    compared = outside = 0
    for _ in range(COLUMNS):
        name = rng.choice(names)
        kind = rng.choice([kinds[name]] * 3 + list(cells.KINDS))  # now and then read as another kind
        column = cells.read_column(pa.array(_texts(rng, base, name, names), pa.string()), kind)
        dense = profile_lib.dense(column, kind)
        for domain in _domains(rng, schema_domains.get(name), list(dense)):
            if domain.values is None and kind == cells.BYTES:
                continue  # a range over text: neither the old code nor the new reads it
            expected = _old_outside(domain, dense)
            for got in (domain.outside(dense), domain.outside(dense, column)):
                assert got.dtype == bool and got.shape == expected.shape
                assert np.array_equal(got, expected), (name, kind, domain)
            compared += 1
            outside += int(expected.sum())
    assert compared > COLUMNS and outside > 1000  # the columns did reach outside their domains


def test_text_not_utf8_is_compared_as_the_dense_column_has_it():
    """A binary column that is not UTF-8 (a reader refuses it before): compared as `dense` decodes it."""
    raw = [row["company"].encode() + b"\xff" for row in defects.base_rows()[:200]] + [b"\xef\xbf\xbd"]
    column = cells.Column(pa.array(raw, pa.binary()), np.ones(len(raw), dtype=bool), np.zeros(len(raw), dtype=bool),
                          np.full(len(raw), None, dtype=object))
    dense = profile_lib.dense(column, cells.BYTES)
    domain = reading.Domain(values=frozenset(list(dense[:50]) + ["\ufffd"]))
    got = domain.outside(dense, column)
    assert np.array_equal(got, _old_outside(domain, dense))
    assert not got[:50].any() and not got[-1] and got.any()  # the last: b"\xef\xbf\xbd" is U+FFFD itself


def test_judge_reports_the_same_rows_values_and_order(real, monkeypatch, tmp_path: pathlib.Path):
    base, kinds, schema_domains = real
    names = sorted(kinds)
    rng = random.Random(12)
    for _ in range(40):
        rows = rng.sample(base, 400)
        texts = {name: [r[name] for r in rows] for name in names}
        for name in rng.sample(names, 4):
            texts[name] = [base[rng.randrange(len(base))][rng.choice(names)] if rng.random() < 0.3 else t
                           for t in texts[name]]
        domains = dict(schema_domains)
        company = sorted({t for t in texts["company"] if t})
        domains["company"] = reading.Domain(values=frozenset(rng.sample(company, len(company) // 2)))
        reports = []
        for outside in (reading.Domain.outside, lambda self, dense, column=None: _old_outside(self, dense)):
            monkeypatch.setattr(reading.Domain, "outside", outside)
            report = reading.ReadingReport()
            read = {name: cells.read_column(pa.array(texts[name], pa.string()), kinds[name]) for name in names}
            block = rows_lib.judge(read, kinds, [], report, lambda i: ("data.csv", i + 2), lambda n: texts[n], domains)
            reports.append((report.to_json(), block.bad.tolist(), block.reasons))
        assert reports[0] == reports[1]
        assert reports[0][0]["outside"]["company"]["rows"] > 0
