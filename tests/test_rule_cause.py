"""A broken rule across columns names the column that changed (core/checks/rule_cause.py), through
`tfxgate validate`'s own functions (those `/v1/validate` calls) and its command line.

Every batch is span 3 of the shipped sample, every row of it, with one column damaged as a source
could damage it, judged against span 2 (TRAINING, drift). For each shipped rule
(schema/v1/constraints.yaml): its left-hand column damaged, its right-hand column (the start
timestamp) damaged, and values moved between rows. No number is typed by hand: each defect is a
function of the real cell.
"""

import csv
import datetime
import json
import zoneinfo

import pytest

from core import rules as rules_lib
from core.common import findings as findings_lib
from core.statistics import profile as profile_lib
from core.checks import rule_cause
from core.common.names import BLOCK, TRAINING
from tests.paths import DATA_ROOT, PROJECT_ROOT
from tfxgate.command import cli

from tfxgate.reports import evidence, figures
from tfxgate.validation import validate
pytestmark = pytest.mark.unit

SCHEMA = PROJECT_ROOT / "schema" / "v1" / "schema.pbtxt"
POLICY = PROJECT_ROOT / "schema" / "policy.yaml"
BASELINE = DATA_ROOT / "train" / "span-2" / "data.csv"
BATCH = DATA_ROOT / "train" / "span-3" / "data.csv"
HOUR, DAY, MONTH, TS = "trip_start_hour", "trip_start_day", "trip_start_month", "trip_start_timestamp"
RULE_OF = {HOUR: "hour_of_start_timestamp", DAY: "weekday_of_start_timestamp", MONTH: "month_of_start_timestamp"}
CHICAGO = zoneinfo.ZoneInfo("America/Chicago")
DAY_SECONDS, HOUR_SECONDS = 86400, 3600


def _cell(column, change):
    def damage(rows):
        return [dict(row, **{column: change(row[column])}) if row[column] else dict(row) for row in rows]
    return damage


def _moved_between_rows(column):
    """Each row gets the value of the row half the batch away: every value is real, only its row is wrong."""
    def damage(rows):
        values = [row[column] for row in rows]
        half = len(values) // 2
        return [dict(row, **{column: value}) for row, value in zip(rows, values[half:] + values[:half])]
    return damage


def _local_time(cell: str) -> str:
    seconds = int(cell)
    return str(seconds + int(datetime.datetime.fromtimestamp(seconds, CHICAGO).utcoffset().total_seconds()))


# {defect: (damage, {rule's left-hand column: the feature its finding must name})}
LEFT = {
    "hour_shifted_by_six_hours": (_cell(HOUR, lambda v: str((int(v) + 6) % 24)), {HOUR: HOUR}),
    "hour_recoded_as_twelve_hour_clock": (_cell(HOUR, lambda v: str(int(v) % 12)), {HOUR: HOUR}),
    "hour_truncated_to_its_first_digit": (_cell(HOUR, lambda v: v[0]), {HOUR: HOUR}),
    "hour_rounded_to_six_hour_blocks": (_cell(HOUR, lambda v: str(round(int(v) / 6) * 6 % 24)), {HOUR: HOUR}),
    "weekday_shifted_by_one_day": (_cell(DAY, lambda v: str(int(v) % 7 + 1)), {DAY: DAY}),
    "weekday_recoded_from_monday": (_cell(DAY, lambda v: str((int(v) - 2) % 7 + 1)), {DAY: DAY}),
    "month_shifted_by_one_month": (_cell(MONTH, lambda v: str(int(v) % 12 + 1)), {MONTH: MONTH}),
    "month_recoded_as_quarter": (_cell(MONTH, lambda v: str((int(v) + 2) // 3)), {MONTH: MONTH}),
    "month_truncated_to_its_first_digit": (_cell(MONTH, lambda v: v[0]), {MONTH: MONTH}),
}
RIGHT = {
    "timestamp_rounded_to_the_day": (_cell(TS, lambda v: str(round(int(v) / DAY_SECONDS) * DAY_SECONDS)),
                                     {HOUR: TS, DAY: TS, MONTH: TS}),
    "timestamp_truncated_to_the_day": (_cell(TS, lambda v: str(int(v) // DAY_SECONDS * DAY_SECONDS)), {HOUR: TS}),
    "timestamp_shifted_by_six_hours": (_cell(TS, lambda v: str(int(v) - 6 * HOUR_SECONDS)),
                                       {HOUR: TS, DAY: TS, MONTH: TS}),
    "timestamp_recoded_as_chicago_local_time": (_cell(TS, _local_time), {HOUR: TS, DAY: TS, MONTH: TS}),
}
TOGETHER = {left: rule_cause.TOGETHER.join([left, TS]) for left in RULE_OF}
MOVED = {
    # The timestamp moved between rows: every rule reading it breaks, no column's profile changed.
    "timestamp_moved_between_rows": (_moved_between_rows(TS), TOGETHER),
    # A left-hand column moved between rows: its profile is unchanged too, but the two other rules
    # reading the timestamp held, which vouches for it: the moved column is the cause.
    "hour_moved_between_rows": (_moved_between_rows(HOUR), {HOUR: HOUR}),
    "weekday_moved_between_rows": (_moved_between_rows(DAY), {DAY: DAY}),
    "month_moved_between_rows": (_moved_between_rows(MONTH), {MONTH: MONTH}),
}
CASES = {**LEFT, **RIGHT, **MOVED}
# Damage that keeps a biased share of the rows (those whose hour still agrees: the night's, or the
# hours 0, 6, 12, 18): besides the rule, the checks of slices judge what is kept, and may block.
SLICES_MAY_BLOCK = {"hour_truncated_to_its_first_digit", "hour_rounded_to_six_hour_blocks"}


@pytest.fixture(scope="module")
def checks():
    return validate.load_checks(str(SCHEMA), str(POLICY))


@pytest.fixture(scope="module")
def baseline(checks):
    return validate.load_baseline(str(BASELINE), None, None, checks.kinds, ",", checks.settings.slices)


@pytest.fixture(scope="module")
def rows():
    with open(BATCH, newline="") as f:
        return list(csv.DictReader(f))


def _write(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _judged(checks, baseline, path):
    return validate.judge(checks, str(path), validate.read_batch(checks, str(path)), TRAINING, baseline)


def _rule_findings(outcome):
    return {v.finding.rule: v for v in outcome.verdicts if v.finding.check == findings_lib.CONSTRAINT}


@pytest.mark.parametrize("defect", sorted(CASES))
def test_a_broken_rule_names_the_column_that_changed(defect, checks, baseline, rows, tmp_path):
    damage, expected = CASES[defect]
    outcome = _judged(checks, baseline, _write(tmp_path / f"{defect}.csv", damage(rows)))
    found = _rule_findings(outcome)
    for left, cause in expected.items():
        verdict = found[RULE_OF[left]]
        assert verdict.finding.feature == cause, verdict.finding.description
        assert verdict.severity == BLOCK
        columns = verdict.finding.columns
        assert [c["feature"] for c in columns if c["changed"]] == ([] if cause == TOGETHER[left] else [cause])
        assert {c["feature"] for c in columns} == {left, TS}
        if cause == TOGETHER[left]:
            assert "No column changed alone" in verdict.finding.description
        else:
            other = TS if cause == left else left
            assert f"{other} is unchanged" in verdict.finding.description
            assert columns[0]["feature"] == cause  # the changed one first
    blocking = [v for v in outcome.verdicts if v.severity == BLOCK]
    others = [v.line() for v in blocking if v.finding.check != findings_lib.CONSTRAINT
              and not (defect in SLICES_MAY_BLOCK and v.finding.slice is not None)]
    assert blocking and not others


def test_the_clean_span_breaks_no_rule_and_passes(checks, baseline):
    outcome = _judged(checks, baseline, BATCH)
    assert not _rule_findings(outcome)
    assert outcome.exit_code == 0


def test_without_a_baseline_the_first_column_is_named_and_the_cause_not_judged(rows, tmp_path, capfd):
    damage, _ = RIGHT["timestamp_shifted_by_six_hours"]
    path = _write(tmp_path / "timestamp_shifted_by_six_hours.csv", damage(rows))
    code = cli.main(["validate", "--data", str(path), "--environment", TRAINING, "--baseline", "none",
                     "--format", "json"])
    report = json.loads(capfd.readouterr().out)
    rule = next(a for a in report["anomalies"] if a.get("rule") == RULE_OF[HOUR])
    assert code != 0
    assert rule["feature"] == HOUR  # today's behaviour: the first column of the expression
    assert "the cause could not be judged" in rule["description"]
    assert "columns" not in rule


def test_the_command_line_names_the_cause_in_its_json(rows, tmp_path, capfd):
    damage, _ = RIGHT["timestamp_truncated_to_the_day"]
    path = _write(tmp_path / "timestamp_truncated_to_the_day.csv", damage(rows))
    code = cli.main(["validate", "--data", str(path), "--environment", TRAINING, "--baseline", str(BASELINE),
                     "--format", "json"])
    report = json.loads(capfd.readouterr().out)
    rule = next(a for a in report["anomalies"] if a.get("rule") == RULE_OF[HOUR])
    assert code != 0
    assert rule["feature"] == TS
    assert [c["feature"] for c in rule["columns"]] == [TS, HOUR]
    assert f"{HOUR} is unchanged" in rule["description"]


def test_two_rules_with_one_cause_stay_two_verdicts(checks, baseline, rows, tmp_path):
    damage, _ = RIGHT["timestamp_shifted_by_six_hours"]
    outcome = _judged(checks, baseline, _write(tmp_path / "timestamp_shifted_by_six_hours.csv", damage(rows)))
    from core.judging import policy

    unique = [v for v in policy.unique(outcome.verdicts) if v.finding.check == findings_lib.CONSTRAINT]
    assert sorted(v.finding.rule for v in unique) == sorted(RULE_OF.values())
    assert {v.finding.feature for v in unique} == {TS}


def test_the_evidence_shows_each_column_beside_its_baseline_the_changed_first(checks, baseline, rows, tmp_path):
    damage, _ = LEFT["hour_recoded_as_twelve_hour_clock"]
    outcome = _judged(checks, baseline, _write(tmp_path / "hour_recoded_as_twelve_hour_clock.csv", damage(rows)))
    verdict = _rule_findings(outcome)[RULE_OF[HOUR]]
    shown = evidence.rule_columns(verdict)
    assert [r["column"] for r in shown.rows] == [HOUR, TS]
    assert [r["judged"] for r in shown.rows] == ["changed", "unchanged"]
    fig = shown.figure()
    assert len(fig.axes) == 2
    assert figures.png_bytes(fig)[:8] == b"\x89PNG\r\n\x1a\n"
    # the batch's hours past noon are gone (a twelve-hour clock), the baseline's are there
    hours = verdict.finding.columns[0]["bins"]
    assert all(batch == 0 for label, _, batch in hours if int(label) >= 12)
    assert all(base > 0 for label, base, _ in hours if int(label) >= 12)


def test_the_profile_keeps_the_rows_left_out_for_a_rule_and_reads_them_back(checks, rows, tmp_path):
    damage, _ = RIGHT["timestamp_truncated_to_the_day"]
    path = _write(tmp_path / "timestamp_truncated_to_the_day.csv", damage(rows))
    batch = validate.read_batch(checks, str(path))
    broken = batch.report.constraints[RULE_OF[HOUR]]["rows"]
    assert batch.profile.broken[HOUR].present == broken
    assert set(batch.profile.broken) == {HOUR, DAY, MONTH, TS}
    assert batch.profile.as_read(TS).present == len(rows)
    again = profile_lib.Profile.from_json(json.loads(json.dumps(batch.profile.to_json())))
    assert again.as_read(TS).value_counts() == batch.profile.as_read(TS).value_counts()
    merged = again.merge(profile_lib.Profile())
    assert merged.broken[HOUR].present == broken


def test_any_rule_on_any_columns(checks, baseline, rows, tmp_path):
    """The attribution takes any rule and two profiles: a rule of this test's own, between fare
    and tips, where tips were written in cents."""
    (rule,) = rules_lib.parse("rules:\n  - name: tips_within_fare\n    expect: tips <= fare\n")
    cents = [dict(row, tips=str(round(float(row["tips"]) * 100))) if row["tips"] else dict(row) for row in rows]
    path = _write(tmp_path / "tips_in_cents.csv", cents)
    batch = validate.read_batch(validate.Checks(**{**checks.__dict__, "rules": [rule]}), str(path))
    assert batch.report.constraints[rule.name]["rows"]
    cause = rule_cause.cause(rule, batch.profile, baseline[1], checks.schema)
    assert cause.feature == "tips"
    assert cause.changed == ["tips"]
    unjudged = rule_cause.cause(rule, batch.profile, None)
    assert not unjudged.judged and unjudged.feature == "tips"
