"""Row-level constraints (`core/rules/`) on real Chicago taxi rows: mining, evaluation,
the file format and its errors. Defects are real rows changed, never hand-typed numbers."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from core import rules as rules_lib
from core.rules import mining
from core.common.errors import ConfigError
from tests import datasets
from tests.paths import DATA_ROOT

pytestmark = pytest.mark.unit

SPANS = sorted((DATA_ROOT / "train").glob("span-*/data.csv"))
TIMESTAMP_RULES = {
    "trip_start_hour == hour(trip_start_timestamp)",
    "trip_start_month == month(trip_start_timestamp)",
    "trip_start_day == day_of_week(trip_start_timestamp)",
}


def _columns(frame: pd.DataFrame) -> dict:
    """What `evaluate` and `mine` take: numbers as float64 with NaN, text as objects with None."""
    columns = {}
    for name in frame:
        if frame[name].dtype.kind in "if":
            columns[name] = frame[name].to_numpy(dtype=np.float64)
        else:
            columns[name] = frame[name].astype(object).where(frame[name].notna(), None).to_numpy()
    return columns


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    assert len(SPANS) == 3
    return pd.concat([pd.read_csv(path) for path in SPANS], ignore_index=True)


@pytest.fixture(scope="module")
def columns(frame) -> dict:
    return _columns(frame)


@pytest.fixture(scope="module")
def mined(columns):
    return rules_lib.mine(columns)


def _one(rule: rules_lib.Rule, columns: dict, rows: int) -> rules_lib.Evaluation:
    return rules_lib.evaluate([rule], columns, rows)[rule.name]


def _rule(text: str) -> rules_lib.Rule:
    (rule,) = rules_lib.parse(text, "test.yaml")
    return rule


# ---------------------------------------------------------------- mining


def test_mining_the_real_spans_proposes_the_timestamp_rules_and_nothing_else(mined):
    assert {r.expect for r in mined} == TIMESTAMP_RULES
    assert {r.name for r in mined} == {
        "hour_of_trip_start_timestamp", "month_of_trip_start_timestamp", "day_of_week_of_trip_start_timestamp",
    }
    assert all(r.why == "held on all 14,169 training rows" for r in mined)


@pytest.mark.parametrize("span", SPANS, ids=lambda p: p.parent.name)
def test_mining_each_span_alone_proposes_the_same(span):
    assert {r.expect for r in rules_lib.mine(_columns(pd.read_csv(span)))} == TIMESTAMP_RULES


def test_every_mined_rule_holds_on_the_rows_it_was_mined_from(frame, columns, mined):
    for name, result in rules_lib.evaluate(mined, columns, len(frame)).items():
        assert result.evaluated.sum() == len(frame), name
        assert not result.violating.any(), name


def test_mining_derived_real_columns(frame):
    """Columns made from real ones: an end timestamp, minutes, a copy under an odd name, and a
    distance in km: an ordering, a proportion, a duplicate, a proportion with a fraction."""
    data = frame.copy()
    data["trip_end_timestamp"] = data["trip_start_timestamp"] + data["trip_seconds"]
    data["trip_minutes"] = data["trip_seconds"] / 60
    data["fare (copy)"] = data["fare"]
    data["trip_km"] = data["trip_miles"] * 1.609344
    columns = _columns(data)
    mined = rules_lib.mine(columns)
    by_expect = {r.expect: r for r in mined}
    assert set(by_expect) == TIMESTAMP_RULES | {
        "trip_start_timestamp <= trip_end_timestamp",
        "trip_seconds == 60 * trip_minutes",
        "`fare (copy)` == fare",
        "trip_km == 1.609344 * trip_miles",
    }
    ordering = by_expect["trip_start_timestamp <= trip_end_timestamp"]
    assert ordering.name == "trip_end_after_start"
    assert ordering.why == "held on all 14,163 training rows where its columns have a value (of 14,169)"
    assert len({r.name for r in mined}) == len(mined)
    for name, result in rules_lib.evaluate(mined, columns, len(data)).items():
        assert result.evaluated.sum() >= 14_163 and not result.violating.any(), name
    assert rules_lib.parse(rules_lib.to_yaml(mined)) == mined


def test_mining_proposes_no_ordering_of_disjoint_ranges(columns, mined):
    """longitude <= latitude and month <= timestamp hold on every row and mean nothing."""
    assert np.all(columns["pickup_longitude"][np.isfinite(columns["pickup_latitude"])] <= 0)
    assert not [r for r in mined if "<=" in r.expect]


@pytest.fixture(scope="module")
def own_data(tmp_path_factory) -> dict:
    """{dataset: [its training spans' frames]} of the real datasets of tests/datasets.py."""
    found = {}
    for dataset in (datasets.SEATTLE, datasets.PENGUINS):
        root = dataset.build(tmp_path_factory.mktemp(dataset.name))
        found[dataset.name] = [pd.read_csv(path) for path in sorted((root / "train").glob("span-*/data.csv"))]
    return found


@pytest.mark.parametrize("year", range(3))
def test_mining_a_seattle_span_proposes_the_days_low_at_most_its_high(own_data, year):
    """Each day's low is at most its high: a rule of each row, which pairing days at random would
    break (a summer low above a winter high), though the two ranges overlap by under half."""
    frame = own_data["seattle"][year]
    low, high = frame["temp_min"].to_numpy(), frame["temp_max"].to_numpy()
    assert mining._crossed_share(low, high) >= rules_lib.CROSSED_MIN
    (rule,) = rules_lib.mine(_columns(frame))
    assert (rule.name, rule.expect) == ("temp_min_at_most_temp_max", "temp_min <= temp_max")
    assert rule.why == f"held on all {len(frame):,} training rows"


def test_mining_penguins_proposes_no_ordering_their_ranges_alone_make_true(own_data):
    """A bill's depth is below its length, a flipper below a body's mass, in grams: true of any
    pairing of the values, so no rule."""
    frame = pd.concat(own_data["penguins"], ignore_index=True)
    columns = _columns(frame)
    assert np.all(columns["bill_depth_mm"][np.isfinite(columns["bill_length_mm"])] <
                  columns["bill_length_mm"][np.isfinite(columns["bill_length_mm"])])
    assert rules_lib.mine(columns) == []


def test_mining_needs_min_rows_and_epoch_seconds(frame):
    small = _columns(frame.head(99))
    assert rules_lib.mine(small, min_rows=100) == []
    assert {r.expect for r in rules_lib.mine(small, min_rows=99)} == TIMESTAMP_RULES
    in_milliseconds = frame.assign(trip_start_timestamp=frame["trip_start_timestamp"] * 1000)
    assert rules_lib.mine(_columns(in_milliseconds)) == []


def test_mining_leaves_out_a_rule_one_row_breaks(frame):
    broken = frame.copy()
    broken.loc[7, "trip_start_hour"] = (broken.loc[7, "trip_start_hour"] + 1) % 24
    expects = {r.expect for r in rules_lib.mine(_columns(broken))}
    assert expects == TIMESTAMP_RULES - {"trip_start_hour == hour(trip_start_timestamp)"}


# ---------------------------------------------------------------- evaluation on real rows


@pytest.mark.parametrize("share", [0.03, 0.2])
def test_shifted_hours_violate_exactly_on_the_rows_shifted(frame, share):
    rng = np.random.default_rng(7)
    shifted = rng.random(len(frame)) < share
    missing = ~shifted & (rng.random(len(frame)) < 0.01)
    data = frame.copy()
    data.loc[shifted, "trip_start_hour"] = (data.loc[shifted, "trip_start_hour"] + 1) % 24
    data["trip_start_timestamp"] = data["trip_start_timestamp"].astype(float).mask(missing)
    rule = _rule("rules: [{name: hour_of_ts, expect: 'trip_start_hour == hour(trip_start_timestamp)'}]")
    result = _one(rule, _columns(data), len(data))
    assert np.array_equal(result.violating, shifted)
    assert np.array_equal(result.evaluated, ~missing)
    assert 0 < missing.sum() and abs(shifted.mean() - share) < 0.01


def test_timestamp_functions_agree_with_pandas_on_real_timestamps(frame):
    moments = pd.to_datetime(frame["trip_start_timestamp"], unit="s", utc=True)
    data = frame.assign(
        expected_year=moments.dt.year, expected_day=moments.dt.day, expected_month=moments.dt.month,
        expected_hour=moments.dt.hour, expected_weekday=(moments.dt.dayofweek + 1) % 7 + 1,  # Monday 0 -> 2
    )
    rule = _rule("""
        rules:
          - name: all_parts
            expect: >-
              year(trip_start_timestamp) == expected_year and day(trip_start_timestamp) == expected_day
              and month(trip_start_timestamp) == expected_month and hour(trip_start_timestamp) == expected_hour
              and day_of_week(trip_start_timestamp) == expected_weekday
    """)
    result = _one(rule, _columns(data), len(data))
    assert result.evaluated.all() and not result.violating.any()
    assert set(data["expected_year"]) == {2013, 2014, 2015} and set(data["expected_weekday"]) == set(range(1, 8))


def test_day_of_week_counts_from_sunday_as_bigquery(frame):
    """1970-01-01 was a Thursday (5); each real timestamp a day later is one day further on."""
    start = frame[["trip_start_timestamp"]].head(300).astype(float)
    epoch = start.assign(trip_start_timestamp=start["trip_start_timestamp"] % 86400)  # same time, on 1970-01-01
    thursday = _rule("rules: [{name: thursday, expect: 'day_of_week(trip_start_timestamp) == 5'}]")
    assert not _one(thursday, _columns(epoch), 300).violating.any()
    later = start.assign(next_day=start["trip_start_timestamp"] + 86400)
    rule = _rule("rules: [{name: next, expect: 'day_of_week(next_day) == day_of_week(trip_start_timestamp) % 7 + 1'}]")
    result = _one(rule, _columns(later), 300)
    assert result.evaluated.all() and not result.violating.any()


def test_a_rule_on_a_feature_the_batch_lacks_evaluates_nothing(frame, columns):
    rule = _rule("rules: [{name: r, expect: 'trip_end_timestamp >= trip_start_timestamp'}]")
    result = _one(rule, columns, len(frame))
    assert not result.evaluated.any() and not result.violating.any()


def test_division_by_zero_leaves_the_row_out_without_warnings(frame, columns):
    rule = _rule("rules: [{name: fare_per_mile, expect: 'fare / trip_miles < 20 and trip_seconds // trip_miles >= 0'}]")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = _one(rule, columns, len(frame))
    usable = (frame["trip_miles"] != 0) & frame["trip_seconds"].notna()
    assert np.array_equal(result.evaluated, usable.to_numpy())
    ratio = frame["fare"] / frame["trip_miles"]
    assert np.array_equal(result.violating, (usable & ~(ratio < 20)).to_numpy())
    assert (frame["trip_miles"] == 0).sum() > 1000 and result.violating.sum() > 0


def test_when_limits_the_rows_evaluated(frame, columns):
    rule = _rule("""
        rules:
          - name: tips_when_cash
            when: "payment_type == 'Cash'"
            expect: "tips == 0"
    """)
    result = _one(rule, columns, len(frame))
    cash = (frame["payment_type"] == "Cash").to_numpy()
    assert np.array_equal(result.evaluated, cash)
    assert np.array_equal(result.violating, cash & (frame["tips"] != 0).to_numpy())
    assert 0 < result.violating.sum() < 10 < cash.sum()


def test_a_row_where_when_reads_a_missing_value_is_not_evaluated(frame, columns):
    rule = _rule("rules: [{name: r, when: 'dropoff_latitude > 41.9', expect: 'fare >= 0'}]")
    result = _one(rule, columns, len(frame))
    assert np.array_equal(result.evaluated, (frame["dropoff_latitude"] > 41.9).to_numpy())
    assert frame["dropoff_latitude"].isna().sum() == 462


def test_isnull_reads_a_column_without_requiring_a_value(frame, columns):
    rule = _rule("rules: [{name: r, when: 'isnull(company)', expect: 'not isnull(fare) and fare >= 0'}]")
    result = _one(rule, columns, len(frame))
    assert np.array_equal(result.evaluated, frame["company"].isna().to_numpy())
    assert result.evaluated.sum() == 4828 and not result.violating.any()


def test_allowed_combinations(frame, columns):
    pairs = frame.dropna(subset=["company"]).groupby(["payment_type", "company"]).size()
    allowed = sorted(pairs.sort_values().index[-5:])
    rule = rules_lib.Rule(
        name="payment_company", allowed_columns=("payment_type", "company"), allowed_values=tuple(allowed),
    )
    assert rule.text() == "(payment_type, company) in 5 allowed combinations"
    result = _one(rule, columns, len(frame))
    present = frame["company"].notna().to_numpy()
    combination = pd.Series(list(zip(frame["payment_type"], frame["company"])))
    assert np.array_equal(result.evaluated, present)
    assert np.array_equal(result.violating, present & ~combination.isin(allowed).to_numpy())
    assert 0 < result.violating.sum() < present.sum()


def test_allowed_values_of_a_number_and_text(frame, columns):
    days = sorted(int(d) for d in frame["trip_start_day"].unique() if d not in (1, 7))
    text = "rules:\n  - name: weekday_cash\n    when: \"payment_type == 'Cash'\"\n    allowed:\n"
    text += f"      columns: [trip_start_day]\n      values: {days}\n"
    rule = _rule(text)
    assert rule.allowed_values == tuple((d,) for d in days)
    assert rule.text() == "when payment_type == 'Cash': trip_start_day in 5 allowed values"
    result = _one(rule, columns, len(frame))
    cash = (frame["payment_type"] == "Cash").to_numpy()
    assert np.array_equal(result.evaluated, cash)
    assert np.array_equal(result.violating, cash & frame["trip_start_day"].isin([1, 7]).to_numpy())


def test_tolerance_of_equality(frame, columns):
    """trip_miles has two decimals: within 0.05 of its value to one decimal (a little more in binary
    floating point: 1.05 - 1.0 > 0.05), not within 1e-6."""
    loose = _rule("rules: [{name: r, expect: 'trip_miles == round(trip_miles, ndigits=1)', tolerance: 0.0501}]")
    strict = _rule("rules: [{name: r, expect: 'trip_miles == round(trip_miles, 1)'}]")
    different = _rule("rules: [{name: r, expect: 'trip_miles != round(trip_miles, 1)', tolerance: 0.0501}]")
    assert not _one(loose, columns, len(frame)).violating.any()
    off = (frame["trip_miles"] - frame["trip_miles"].round(1)).abs() > 1e-6 * frame["trip_miles"].abs().clip(lower=1)
    assert np.array_equal(_one(strict, columns, len(frame)).violating, off.to_numpy())
    assert 0 < off.sum() < len(frame)
    assert _one(different, columns, len(frame)).violating.all()


def test_default_tolerance_is_relative_to_the_larger_value(frame):
    nudged = frame.assign(
        near=frame["trip_start_timestamp"] + frame["trip_start_timestamp"] * 5e-7,
        far=frame["trip_start_timestamp"] + frame["trip_start_timestamp"] * 2e-6,
    )
    columns = _columns(nudged)
    near = _rule("rules: [{name: r, expect: 'near == trip_start_timestamp'}]")
    far = _rule("rules: [{name: r, expect: 'far == trip_start_timestamp'}]")
    assert not _one(near, columns, len(frame)).violating.any()
    assert _one(far, columns, len(frame)).violating.all()


def _never(frame):
    return pd.Series(False, index=frame.index)


@pytest.mark.parametrize(
    "expect, violating",
    [
        ("0 <= trip_start_hour <= 11", lambda f: f["trip_start_hour"] > 11),
        ("1 <= trip_start_day < trip_start_month <= 12", lambda f: f["trip_start_day"] >= f["trip_start_month"]),
        ("payment_type in ['Cash', 'Credit Card']", lambda f: ~f["payment_type"].isin(["Cash", "Credit Card"])),
        ("trip_start_day not in [1, 7]", lambda f: f["trip_start_day"].isin([1, 7])),
        ("trip_start_hour in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)", lambda f: f["trip_start_hour"] > 11),
        ("payment_type != 'Cash' or tips == 0", lambda f: (f["payment_type"] == "Cash") & (f["tips"] != 0)),
        ("not (fare > 50 and tips < 1)", lambda f: (f["fare"] > 50) & (f["tips"] < 1)),
        ("fare + tips >= fare and -fare <= 0 and fare ** 2 >= 0", _never),
        ("abs(fare - 10) < 5", lambda f: (f["fare"] - 10).abs() >= 5),
        ("max(fare, tips) == fare", lambda f: f["tips"] > f["fare"]),
        ("min(fare, tips, trip_miles) >= 0", lambda f: f[["fare", "tips", "trip_miles"]].min(axis=1) < 0),
        ("floor(trip_miles) == ceil(trip_miles)", lambda f: f["trip_miles"] % 1 != 0),
        ("trip_start_timestamp % 3600 == 0", lambda f: f["trip_start_timestamp"] % 3600 != 0),
        ("trip_start_timestamp // 86400 * 86400 + 3600 * trip_start_hour <= trip_start_timestamp", _never),
        ("company >= 'M'", lambda f: f["company"] < "M"),
        ("payment_type == company", lambda f: f["company"].notna()),
    ],
)
def test_expressions_on_real_rows(frame, columns, expect, violating):
    rule = rules_lib.Rule(name="r", expect=expect)
    result = _one(rule, columns, len(frame))
    expected = violating(frame).fillna(False).to_numpy(dtype=bool)
    readable = frame[sorted(rule.columns())].notna().all(axis=1).to_numpy()
    assert np.array_equal(result.evaluated, readable)
    assert np.array_equal(result.violating, expected & readable)


def test_backquoted_names(frame):
    data = frame.rename(columns={"fare": "fare (USD)", "tips": "class"})
    rule = _rule("""
        rules:
          - name: odd_names
            when: "`fare (USD)` > 0 and payment_type == 'it`s `not` a name'"
            expect: "`class` <= `fare (USD)`"
    """)
    assert rule.columns() == {"fare (USD)", "class", "payment_type"}
    assert rules_lib.parse(rules_lib.to_yaml([rule]), features=data.columns) == [rule]
    same = _rule("rules: [{name: r, expect: '`class` <= `fare (USD)`'}]")
    result = _one(same, _columns(data), len(data))
    assert np.array_equal(result.violating, (data["class"] > data["fare (USD)"]).to_numpy())
    assert result.violating.sum() == (frame["tips"] > frame["fare"]).sum() > 0


def test_a_text_feature_used_as_a_number_is_a_config_error(frame, columns):
    with pytest.raises(ConfigError, match=r"^rule text_sum: `payment_type \+ 1` needs a number: `payment_type` is text$"):
        rules_lib.evaluate([rules_lib.Rule(name="text_sum", expect="payment_type + 1 > 0")], columns, len(frame))
    with pytest.raises(ConfigError, match=r"^rule cmp: `fare == 'Cash'` compares text with a number$"):
        rules_lib.evaluate([rules_lib.Rule(name="cmp", expect="fare == 'Cash'")], columns, len(frame))


def test_rules_hold_on_every_row_of_a_million_and_a_half(frame):
    """Vectorised evaluation at the bench file's size (its speed is measured by `make bench`)."""
    big = _columns(pd.concat([frame] * 106, ignore_index=True))
    rows = len(big["fare"])
    rules = [rules_lib.Rule(name=f"r{i}", expect=e) for i, e in enumerate(sorted(TIMESTAMP_RULES))]
    results = rules_lib.evaluate(rules, big, rows)
    assert rows > 1_500_000 and all(r.evaluated.all() and not r.violating.any() for r in results.values())


# ---------------------------------------------------------------- the file

GOOD = """
# constraints of schema v1
version: 1
rules:
  - name: hour_of_timestamp
    expect: "trip_start_hour == hour(trip_start_timestamp)"
    why: "the hour is derived from the timestamp (UTC)"
  - name: tips_when_cash
    when: "payment_type == 'Cash'"
    expect: "tips == 0"
  - name: no_negative_duration
    expect: "trip_seconds >= 0"
    tolerance: 0.01
  - name: payment_company
    allowed:
      columns: [payment_type, company]
      values: [["Cash", "Flash Cab"], ["Credit Card", "Flash Cab"]]
"""


def test_parse_the_documented_example(frame):
    rules = rules_lib.parse(GOOD, "schema/v1/constraints.yaml", features=frame.columns)
    assert [r.name for r in rules] == ["hour_of_timestamp", "tips_when_cash", "no_negative_duration", "payment_company"]
    assert rules[0].why == "the hour is derived from the timestamp (UTC)"
    assert rules[1].columns() == {"payment_type", "tips"} and rules[1].text() == "when payment_type == 'Cash': tips == 0"
    assert rules[2].tolerance == 0.01
    assert rules[3].allowed_values == (("Cash", "Flash Cab"), ("Credit Card", "Flash Cab"))
    assert rules[3].text() == "(payment_type, company) in 2 allowed combinations"
    assert rules[3].columns() == {"payment_type", "company"}
    assert rules_lib.parse("") == [] and rules_lib.parse("# nothing yet\n") == []


def _file(*rules: str) -> str:
    return "version: 1\nrules:\n" + "".join(f"  - {r}\n" for r in rules)


ONE = _file("{name: r, expect: 'fare >= 0'}")
# A valid file beside an invalid one that differs in one thing, and what the message says after "f.yaml: ".
FILE_ERRORS = [
    ("bad_yaml", ONE, _file("{name: r, expect: 'fare >= 0}"), r"not valid YAML \(line 4: found unexpected end of stream\)"),
    ("rules_not_a_list", ONE, "rules: {name: r}", r"'rules' must be a list"),
    ("version", ONE, ONE.replace("version: 1", "version: 2"), r"version must be 1, not 2"),
    ("unknown_top_key", ONE, ONE + "default: block\n", r"unknown keys \['default'\] \(expected version, rules\)"),
    ("duplicate_name", _file("{name: a, expect: 'fare >= 0'}", "{name: b, expect: 'tips >= 0'}"),
     _file("{name: a, expect: 'fare >= 0'}", "{name: a, expect: 'tips >= 0'}"),
     r"rule 2 \(a\): the name is already used by rule 1"),
    ("missing_name", ONE, _file("{expect: 'fare >= 0'}"), r"rule 1: needs a name"),
    ("bad_name", _file("{name: fare_rule, expect: 'fare >= 0'}"), _file("{name: Fare Rule, expect: 'fare >= 0'}"),
     r"rule 1 \(Fare Rule\): the name must be lower-case letters, digits and _"),
]
# The same for one rule: (id, valid rule, invalid rule, message after "f.yaml: rule 1 (r): ").
RULE_ERRORS = [
    ("unknown_rule_key", "{name: r, expect: 'fare >= 0', why: w}", "{name: r, expect: 'fare >= 0', wy: w}",
     r"unknown keys \['wy'\] \(expected name, when, expect, allowed, tolerance, why\)"),
    ("neither_expect_nor_allowed", "{name: r, expect: 'fare >= 0'}", "{name: r, why: w}",
     r"needs expect \(an expression\) or allowed \(combinations\)"),
    ("both_expect_and_allowed", "{name: r, allowed: {columns: [fare], values: [[1]]}}",
     "{name: r, expect: 'fare >= 0', allowed: {columns: [fare], values: [[1]]}}",
     r"has both expect and allowed \(keep one\)"),
    ("dunder_import", "{name: r, expect: 'abs(fare) >= 0'}", "{name: r, expect: \"__import__('os')\"}",
     r"expect: unknown function __import__\(\) \(known: abs, ceil, day, day_of_week, .*\)"),
    ("method_call", "{name: r, expect: 'abs(fare) >= 0'}", "{name: r, expect: \"os.system('ls') == 0\"}",
     r"expect: `os\.system\('ls'\)`: only the functions .* may be called"),
    ("attribute", "{name: r, expect: 'fare > 0'}", "{name: r, expect: 'fare.real > 0'}",
     r"expect: `fare\.real`: attribute access is not allowed"),
    ("subscript", "{name: r, expect: 'fare > 0'}", "{name: r, expect: 'fare[0] > 0'}",
     r"expect: `fare\[0\]`: a subscript is not allowed"),
    ("lambda", "{name: r, expect: 'fare > 0'}", "{name: r, expect: '(lambda: 1) == fare'}",
     r"expect: `lambda: 1`: lambda is not allowed"),
    ("if_else", "{name: r, when: 'fare > 0', expect: 'tips >= 0'}",
     "{name: r, when: 'fare if tips else 1', expect: 'tips >= 0'}",
     r"when: `fare if tips else 1`: if-else is not allowed"),
    ("unknown_function", "{name: r, expect: 'ceil(fare) >= 0'}", "{name: r, expect: 'sqrt(fare) >= 0'}",
     r"expect: unknown function sqrt\(\) \(known: .*\)"),
    ("unknown_keyword", "{name: r, expect: 'round(fare, 2) >= 0'}", "{name: r, expect: 'round(fare, digits=2) >= 0'}",
     r"expect: `round\(fare, digits=2\)`: round\(\) takes no such keyword argument"),
    ("too_few_arguments", "{name: r, expect: 'min(fare, tips) >= 0'}", "{name: r, expect: 'min(fare) >= 0'}",
     r"expect: `min\(fare\)`: min\(\) takes two or more numbers"),
    ("unknown_feature", "{name: r, expect: 'fare >= 0'}", "{name: r, expect: 'fares >= 0'}", r"unknown feature 'fares'"),
    ("unknown_allowed_column", "{name: r, allowed: {columns: [payment_type], values: [Cash]}}",
     "{name: r, allowed: {columns: [payment], values: [Cash]}}", r"unknown feature 'payment'"),
    ("short_combination", "{name: r, allowed: {columns: [payment_type, company], values: [[Cash, Flash Cab]]}}",
     "{name: r, allowed: {columns: [payment_type, company], values: [[Cash]]}}",
     r"allowed combination 1 must list 2 values"),
    ("unquoted_yes", "{name: r, allowed: {columns: [payment_type], values: ['yes']}}",
     "{name: r, allowed: {columns: [payment_type], values: [yes]}}",
     r"allowed combination 1 holds True: only numbers and text \(quote text like yes, true, null or a date\)"),
    ("negative_tolerance", "{name: r, expect: 'fare == tips', tolerance: 0.5}",
     "{name: r, expect: 'fare == tips', tolerance: -1}",
     r"tolerance must be a number >= 0, not -1"),
    ("not_true_or_false", "{name: r, expect: 'fare + 1 > 0'}", "{name: r, expect: 'fare + 1'}",
     r"expect: `fare \+ 1` is not true or false \(compare it with something\)"),
    ("text_arithmetic", "{name: r, expect: \"payment_type == 'Cash'\"}", "{name: r, expect: \"'Cash' + 1 > 0\"}",
     r"expect: `'Cash' \+ 1`: `'Cash'` is text, expected number"),
    ("text_vs_number", "{name: r, expect: 'fare == 1'}", "{name: r, expect: \"'1' == 1\"}",
     r"expect: `'1' == 1` compares text with a number"),
    ("is_operator", "{name: r, expect: 'isnull(company)'}", "{name: r, expect: 'company is None'}",
     r"expect: `company is None`: `is` is not allowed \(use == or isnull\)"),
    ("in_without_list", "{name: r, expect: \"company in ['A', 'B']\"}", "{name: r, expect: 'company in payment_type'}",
     r"expect: `company in payment_type`: `in` needs a list of constants, like x in \[1, 2\]"),
    ("mixed_in_list", "{name: r, expect: \"company in ['A', 'B']\"}", "{name: r, expect: \"company in ['A', 1]\"}",
     r"expect: `company in \['A', 1\]`: the list after `in` mixes text and numbers"),
    ("chained_in", "{name: r, expect: \"payment_type in ['Cash'] and fare > 0\"}",
     "{name: r, expect: \"payment_type in ['Cash'] == fare\"}",
     r"expect: `payment_type in \['Cash'\] == fare`: `in` may not be chained with another comparison \(use and\)"),
    ("open_backquote", "{name: r, expect: '`fare` > 0'}", "{name: r, expect: '`fare > 0'}",
     r"expect: a backquote is not closed: `fare > 0"),
    ("syntax", "{name: r, expect: 'fare > 0'}", "{name: r, expect: 'fare >'}",
     r"expect: not a valid expression \(invalid syntax\): fare >"),
    ("too_deep", "{name: r, expect: '" + "-" * 90 + "fare < 0'}", "{name: r, expect: '" + "-" * 200 + "fare < 0'}",
     r"expect: the expression is nested too deeply \(over 100 levels\): -{117}\.\.\."),
]


@pytest.mark.parametrize(
    "valid, invalid, message",
    [pytest.param(valid, invalid, message, id=name) for name, valid, invalid, message in FILE_ERRORS]
    + [
        pytest.param(_file(valid), _file(invalid), r"rule 1 \(r\): " + message, id=name)
        for name, valid, invalid, message in RULE_ERRORS
    ],
)
def test_parse_errors_name_the_file_and_rule_in_one_line(frame, valid, invalid, message):
    features = list(frame.columns)
    assert rules_lib.parse(valid, "f.yaml", features=features)
    with pytest.raises(ConfigError) as error:
        rules_lib.parse(invalid, "f.yaml", features=features)
    assert re.fullmatch(r"f\.yaml: " + message, str(error.value)), str(error.value)


def test_unknown_features_are_allowed_without_a_feature_list():
    assert rules_lib.parse(_file("{name: r, expect: 'fares >= 0'}"))[0].columns() == {"fares"}


def test_round_trip(frame, mined):
    rules = [
        *mined,
        rules_lib.Rule(name="tips_when_cash", expect="tips == 0", when="payment_type == 'Cash'",
                         why="cash tips are not recorded: 'tips' is 0", tolerance=0.01),
        rules_lib.Rule(name="odd", expect='`fare (USD)` >= 0 and company != "it\'s"', tolerance=1.0),
        rules_lib.Rule(name="payment_company", allowed_columns=("payment_type", "company"),
                         allowed_values=(("Cash", "Flash Cab"), ("Credit Card", "1"), ("yes", "null"))),
        rules_lib.Rule(name="weekend_areas", when="trip_start_day in [1, 7]",
                         allowed_columns=("pickup_community_area", "trip_start_hour"),
                         allowed_values=((8, 23), (32.5, 0), (-1, 1e-07), (np.int64(6), np.float64(2.5)))),
    ]
    text = rules_lib.to_yaml(rules, header="constraints of schema v1\n# reviewed by: someone")
    assert text.startswith("# constraints of schema v1\n# reviewed by: someone\nversion: 1\n")
    assert rules_lib.parse(text) == rules
    assert rules_lib.to_yaml([]) == "version: 1\nrules: []\n" and rules_lib.parse(rules_lib.to_yaml([])) == []


def test_load(tmp_path, frame):
    assert rules_lib.load(str(tmp_path / "missing.yaml")) == []
    path = tmp_path / "constraints.yaml"
    path.write_text(GOOD)
    assert [r.name for r in rules_lib.load(str(path), features=frame.columns)][:1] == ["hour_of_timestamp"]
    with pytest.raises(ConfigError, match=r"cannot read the constraints"):
        rules_lib.load(str(tmp_path))
    path.write_text(GOOD.replace("tips == 0", "tipz == 0"))
    with pytest.raises(ConfigError, match=rf"^{path}: rule 2 \(tips_when_cash\): unknown feature 'tipz'$"):
        rules_lib.load(str(path), features=frame.columns)
