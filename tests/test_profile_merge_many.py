"""profile.merge_all merges many per-block profiles at once, byte for byte as merging them one by
one did (kept here as `_one_by_one`, the reference): on real span rows cut into blocks as
ExampleGen cuts a batch, with checks.yaml's slices, -0.0 among the numbers, and caps small
enough that rounding and the strings' `other` are reached."""

import functools
import json
import random

import numpy as np
import pyarrow as pa
import pytest

from core.checks import rows as rows_lib
from core.reading import cells
from core.reading import report as reading
from core.settings import check_settings
from core.statistics import feature_profile
from core.statistics import profile as profile_lib
from tests import defects
from tests.paths import PROJECT_ROOT

pytestmark = pytest.mark.unit

SCHEMA = PROJECT_ROOT / "schema" / "v1" / "schema.pbtxt"


def _one_by_one(profiles):
    """merge_all as it was: each profile merged into the growing result (the reference)."""
    return functools.reduce(profile_lib.Profile.merge, profiles, profile_lib.Profile())


def _profiles(rng: random.Random, base, kinds, keys, domains):
    """Per-block profiles of random real rows, in blocks of random sizes; some float cells -0.0."""
    rows = rng.sample(base, rng.choice([200, 1500, 4000]))
    names = sorted(kinds)
    result = []
    start = 0
    while start < len(rows):
        size = rng.choice([1, 30, 300, 1000])
        block = rows[start:start + size]
        start += size
        texts = {n: [r.get(n, "") for r in block] for n in names}
        for n in names:
            if kinds[n] == cells.FLOAT and rng.random() < 0.2:
                texts[n] = ["-0.0" if rng.random() < 0.1 else t for t in texts[n]]
        read = {n: cells.read_column(pa.array(texts[n], pa.string()), kinds[n]) for n in names}
        judged = rows_lib.judge(read, kinds, [], reading.ReadingReport(), lambda i: ("f", i), lambda n: texts[n],
                                domains)
        profile = profile_lib.Profile()
        rows_lib.profile(judged, profile, keys)
        result.append(profile_lib.Profile.from_json(json.loads(json.dumps(profile.to_json()))) if rng.random() < 0.5
                      else profile.settle())
    return result


@pytest.mark.parametrize("caps", [None, (40, 12, 15)])
def test_merge_all_is_merging_one_by_one(caps, monkeypatch):
    if caps:
        numeric, sliced, strings = caps
        monkeypatch.setattr(profile_lib, "NUMERIC_CAP", numeric)
        monkeypatch.setattr(profile_lib, "SLICE_NUMERIC_CAP", sliced)
        monkeypatch.setattr(feature_profile, "STRING_CAP", strings)
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = text_format.Parse(SCHEMA.read_text(), schema_pb2.Schema())
    kinds, domains = reading.schema_kinds(schema), reading.schema_domains(schema)
    keys = check_settings.load(str(SCHEMA), list(kinds)).slices
    base = defects.base_rows(3, 5000) + defects.base_rows(2, 5000)
    rng = random.Random(37)
    rounded = 0
    for _ in range(6):
        profiles = _profiles(rng, base, kinds, keys, domains)
        expected = json.dumps(_one_by_one(profiles).to_json(), sort_keys=True)
        assert json.dumps(profile_lib.merge_all(profiles).to_json(), sort_keys=True) == expected
        rounded += '"digits": ' in expected and any(f.digits for f in _one_by_one(profiles).features.values())
    assert keys and (rounded if caps else True)
    assert json.dumps(profile_lib.merge_all([]).to_json()) == json.dumps(profile_lib.Profile().to_json())
