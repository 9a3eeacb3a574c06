"""The verdict first (tfxgate/reports/verdict.py, core/judging/next_steps.py) and readable figures
(tfxgate/reports/figures.py): what the report, the notebook and `tfxgate validate` put on top, and labels
a person can tell apart. Findings come from real sample rows, named for their defect."""

import pathlib

import pytest

from core.batch import batch_stats
from core.common import names
from core.judging import next_steps
from core.judging import policy as policy_lib
from core.settings import schema_files
from core.checks import validation
from core.common.findings import Finding
from pipeline import config as config_lib
from tests import defects
from tests.conftest import DATA_ROOT
from tfxgate.reports import bins, figures, verdict
from tfxgate.reports.tables import feature_statistics

pytestmark = pytest.mark.unit


def _verdicts(tmp_path, defect):
    """The policy's verdicts on a training batch with `defect`, as `tfxgate validate` judges it."""
    schema = schema_files.load(config_lib.default_schema_path())
    batch = batch_stats.read(str(defects.write(tmp_path, defect)))
    report = validation.validate(batch.statistics, schema, names.TRAINING, reading=batch.report)
    return policy_lib.judge_all("training", report.findings, policy_lib.load(str(config_lib.POLICY_PATH)))


@pytest.mark.parametrize("defect, severity, feature, words", [
    ("hour_out_of_domain", names.BLOCK, "trip_start_hour", ("Fix", "upstream", "tfxgate schema propose")),
    ("rare_new_payment_type", names.WARN, "payment_type", ("Fix payment_type upstream", "schema/policy.yaml")),
    ("missing_trip_miles", names.BLOCK, "trip_miles", ("Restore column trip_miles", "tfxgate schema propose")),
])
def test_the_headline_puts_each_reason_with_what_to_do(tmp_path, defect, severity, feature, words):
    verdicts = _verdicts(tmp_path, defect)
    headline = verdict.headline(verdicts, ["training span 3, 1,000 rows"], "v1", "abc")
    assert headline.decision == severity
    [(reason, step)] = [(v, s) for v, s in headline.reasons if v.finding.feature == feature]
    assert reason.severity == severity and all(word in step for word in words), step
    lines = verdict.text_lines(headline)
    assert lines[0].startswith(f"{severity.upper()}: ") and "against curated schema v1, policy abc" in lines[0]
    assert f"        next: {step}" in lines
    page = verdict.to_html(headline)
    assert f'<div class="verdict">{severity.upper()}</div>' in page and f"Next: " in page


def test_blocking_reasons_come_before_warnings_and_every_check_has_a_next_step():
    finding = lambda check, **kw: Finding(feature="fare", types=["X"], check=check, description="", **kw)  # noqa: E731
    verdicts = [policy_lib.Verdict("serving[serving]", finding("skew"), names.WARN, "w"),
                policy_lib.Verdict("training[train]", finding("drift"), names.BLOCK, "b")]
    headline = verdict.headline(verdicts, [], "v1", None)
    assert [v.severity for v, _ in headline.reasons] == [names.BLOCK, names.WARN]
    assert headline.counts == "1 blocking, 1 warning" and "policy (unknown)" in headline.against
    for check in ("schema", "fill_rate", "skew", "drift", "degenerate", "tails", "constraint", "something new"):
        step = next_steps.next_step(policy_lib.Verdict("training[train]", finding(check, slice="company=Flash Cab"),
                                                       names.BLOCK, ""))
        assert "fare" in step and step.endswith(".") and "\n" not in step


def test_bin_labels_of_a_narrow_real_column_are_all_different():
    """Pickup longitudes span a few hundredths of a degree: at three significant digits every bin
    read -87.6--87.6."""
    stats, _ = batch_stats.statistics(str(DATA_ROOT / "train" / "span-3" / "data.csv"))
    labels, shares = bins._distribution(feature_statistics(stats, "pickup_longitude"))
    assert len(labels) == len(set(labels)) >= 5 and abs(sum(shares) - 1) < 1e-6
    assert all(label.count("-87.6") <= 2 for label in labels)
    fares, _ = bins._distribution(feature_statistics(stats, "trip_seconds"))
    assert not any("e+" in label for label in fares) and len(fares) == len(set(fares))
    assert bins.number(1740.0) == "1,740" and bins.number(0.001234) == "0.00123"


def test_one_run_in_the_history_is_one_labelled_point():
    rows = [{"run_id": "r1", "created_ms": 1_700_000_000_000, "span": 3, "type": "JENSEN_SHANNON_DIVERGENCE",
             "split": names.BASELINE_SPLIT, "check": "drift", "feature": "fare", "value": 0.05, "threshold": 0.1}]
    fig = figures.history_figure(rows)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2023-11-14 22:13\nspan 3"]
    low, high = ax.get_xlim()
    assert low < 0 < high and high - low >= 1


def test_a_value_filling_several_deciles_is_one_bin_and_the_batch_beyond_the_baseline_shows(tmp_path):
    """Tips are 0 in about half the rows: five deciles 0–0 read alike, and the batch's mass at 0
    was counted once per decile holding 0. Fares in cents lie above every baseline bin: that mass
    has a bin of its own, so both sides' shares sum to one."""
    stats, _ = batch_stats.statistics(str(DATA_ROOT / "train" / "span-3" / "data.csv"))
    tips = feature_statistics(stats, "tips")
    labels, shares = bins.distribution(tips)
    assert len(labels) == len(set(labels)) and labels[0] == "0" and shares[0] > 0.3
    assert abs(sum(shares) - 1) < 1e-6
    _, base, same = bins.aligned(tips, tips)
    assert max(abs(a - b) for a, b in zip(base, same)) < 1e-9  # a batch like its baseline: the same shares
    cents, _ = batch_stats.statistics(str(defects.write(tmp_path, "fare_in_cents_serving")))
    labels, base, batch = bins.aligned(feature_statistics(stats, "fare"), feature_statistics(cents, "fare"))
    assert labels[-1].startswith("above ") and batch[-1] > 0.5 and base[-1] == 0
    assert abs(sum(base) - 1) < 1e-6 and abs(sum(batch) - 1) < 1e-6


def test_labels_from_data_stay_short_and_apart():
    long_a, long_b = "voucher" * 50 + "-a", "voucher" * 50 + "-b"
    labels = figures.tick_labels([long_a, long_b, "Cash", "$5 cab"])
    assert len(set(labels)) == 4 and all(len(label) <= figures.LABEL_CHARS + 1 for label in labels)
    assert labels[2] == "Cash" and labels[3] == r"\$5 cab"


def test_units_come_from_the_schema_where_it_gives_them(tmp_path):
    """The schema proto has no unit field: a unit is an annotation tag `unit:<unit>` or a time
    domain; it shows in the schema table and beside a feature's bins."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    from tfxgate.reports import tables

    schema = schema_files.load(config_lib.default_schema_path())
    for feature in schema.feature:
        if feature.name == "fare":
            feature.annotation.tag.append("unit:USD")
        if feature.name == "trip_start_timestamp":
            feature.time_domain.integer_format = schema_pb2.TimeDomain.UNIX_SECONDS
    units = schema_files.units(schema)
    assert units == {"fare": "USD", "trip_start_timestamp": "seconds since 1970-01-01 UTC"}
    rows = {r["feature"]: r for r in tables.schema_rows(schema)}
    assert rows["fare"]["unit"] == "USD" and rows["tips"]["unit"] == ""
    stats, _ = batch_stats.statistics(str(DATA_ROOT / "train" / "span-3" / "data.csv"))
    fig = figures.distribution_figure(stats, stats, "fare", units=units)
    assert fig.axes[0].get_title() == "fare (USD)"
    assert schema_files.units(schema_files.load(config_lib.default_schema_path())) == {}  # v1 gives none


@pytest.mark.parametrize("defect, feature", [("hour_out_of_domain", "trip_start_hour"),
                                              ("rare_new_payment_type", "payment_type")])
def test_values_outside_the_domain_are_located_by_line(tmp_path, defect, feature):
    """TFDV counts values outside a domain in the statistics; the reading report says where they
    are: per value, its rows and the lines of the first few, which hold that very value."""
    import csv

    from core.reading import report as reading

    schema = schema_files.load(config_lib.default_schema_path())
    path = defects.write(tmp_path, defect)
    batch = batch_stats.read(str(path), reading.schema_kinds(schema), domains=reading.schema_domains(schema))
    entry = batch.report.outside[feature]
    assert entry["rows"] > 0 and entry["values"]
    with open(path, newline="") as f:
        lines = f.read().splitlines()
    for value, seen in entry["values"].items():
        assert seen["rows"] >= len(seen["examples"]) > 0
        for example in seen["examples"]:
            row = next(csv.DictReader([lines[0], lines[example["line"] - 1]]))
            assert row[feature] in (value, value + ".0"), (value, example)
    again = reading.ReadingReport.from_json(batch.report.to_json())
    assert again.outside == batch.report.outside and batch.report.merge(batch.report).outside[feature]["rows"] == 2 * entry["rows"]


def test_a_huge_value_outside_the_domain_is_named_briefly(tmp_path):
    """A 1 MB company name is located like any value, named by its beginning and its length."""
    from core.reading import report as reading

    schema = schema_files.load(config_lib.default_schema_path())
    rows = defects.base_rows(n=200)
    rows[7] = dict(rows[7], company="Taxi " + "x" * 1_000_000)
    path = defects.write_rows(tmp_path / "huge.csv", rows)
    batch = batch_stats.read(str(path), reading.schema_kinds(schema), domains=reading.schema_domains(schema))
    [(value, seen)] = batch.report.outside["company"]["values"].items()
    assert value.startswith("Taxi xxx") and value.endswith("(1,000,005 characters)") and len(value) < 300
    assert seen["rows"] == 1 and seen["examples"][0]["line"] == 9
