"""The checks no whole-column distance makes (core/checks/profile_checks.py, core/rules/): one
test per class of defect, each on real span-3 rows with the defect injected, asserting the
finding's feature, check, rule and slice, and that nothing on another feature blocks; and the
same files through `tfxgate validate` as through the pipeline's shared code."""

import pytest

from core.batch import batch_stats
from core.settings import check_settings
from core import rules as rules_lib
from core.common import names
from core.judging import policy as policy_lib
from core.reading import report as reading
from core.settings import schema_files
from core.checks import validation
from core.common.findings import DRIFT, SKEW
from pipeline import config as config_lib
from tests import defects

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def setup():
    path = config_lib.default_schema_path()
    schema = schema_files.load(path)
    kinds = reading.schema_kinds(schema)
    rules = rules_lib.load(check_settings.path_beside(path, names.CONSTRAINTS_FILE), list(kinds))
    settings = check_settings.load(path, list(kinds))
    baseline = batch_stats.read(str(defects.DATA_ROOT / "train" / "span-3"), kinds, rules=rules,
                                slice_keys=settings.slices)
    return dict(schema=schema, kinds=kinds, rules=rules, settings=settings, baseline=baseline,
                policy=policy_lib.load(str(config_lib.POLICY_PATH)))


def judge(setup, path, environment):
    """(verdicts, report) of a CSV batch against span 3: skew when serving, drift when training."""
    batch = batch_stats.read(str(path), setup["kinds"], rules=setup["rules"], slice_keys=setup["settings"].slices)
    base = setup["baseline"]
    if environment == names.SERVING:
        kwargs = dict(training_statistics=base.statistics, baseline_profiles={SKEW: base.profile})
    else:
        kwargs = dict(previous_statistics=base.statistics, baseline_profiles={DRIFT: base.profile})
    report = validation.validate(batch.statistics, setup["schema"], environment, reading=batch.report,
                                 profile=batch.profile, settings=setup["settings"], **kwargs)
    return policy_lib.judge_all(environment.lower(), report.findings, setup["policy"]), report


def blocking(verdicts):
    return [v for v in verdicts if v.severity == policy_lib.BLOCK]


@pytest.mark.parametrize("defect, feature, rule", [
    ("fare_constant_serving", "fare", "constant"),
    ("fare_rounded_to_dollars_serving", "fare", "precision"),
    ("latitude_rounded_serving", "pickup_latitude", "precision"),
    ("fare_collapsed_to_four_values_serving", "fare", "distinct_collapse"),
    ("fare_placeholder_in_a_third_serving", "fare", "top_share"),
])
def test_degenerate_columns_block(setup, tmp_path, defect, feature, rule):
    verdicts, _ = judge(setup, defects.write(tmp_path, defect), names.SERVING)
    found = [v for v in verdicts if v.finding.check == "degenerate"]
    assert [(v.finding.feature, v.finding.rule, v.finding.slice, v.severity) for v in found] == \
        [(feature, rule, None, policy_lib.BLOCK)]
    assert {v.finding.feature for v in blocking(verdicts)} == {feature}


def test_rounding_is_invisible_to_the_distances_but_not_to_precision(setup, tmp_path):
    """Whole dollars keep the histogram: no comparator, scale or tail finding, only precision."""
    verdicts, _ = judge(setup, defects.write(tmp_path, "fare_rounded_to_dollars_serving"), names.SERVING)
    assert [(v.finding.check, v.finding.rule) for v in verdicts] == [("degenerate", "precision")]
    assert "whole numbers" in verdicts[0].finding.description


def test_a_constant_label_blocks_a_training_span(setup, tmp_path):
    verdicts, _ = judge(setup, defects.write(tmp_path, "label_constant_span"), names.TRAINING)
    [label] = [v for v in blocking(verdicts)]
    assert (label.finding.feature, label.finding.check, label.finding.rule) == ("tips", "degenerate", "constant")


def test_a_constant_label_blocks_without_any_baseline(setup, tmp_path):
    path = defects.write(tmp_path, "label_constant_span")
    batch = batch_stats.read(str(path), setup["kinds"], rules=setup["rules"], slice_keys=setup["settings"].slices)
    report = validation.validate(batch.statistics, setup["schema"], names.TRAINING, reading=batch.report,
                                 profile=batch.profile, settings=setup["settings"])
    assert [(f.feature, f.rule) for f in report.findings] == [("tips", "constant")]


def test_a_unit_change_in_one_company_shows_in_the_tails(setup, tmp_path):
    verdicts, report = judge(setup, defects.write(tmp_path, "fare_in_cents_for_one_company_serving"), names.SERVING)
    [tails] = [v for v in verdicts if v.finding.check == "tails" and v.finding.slice is None]
    assert tails.finding.feature == "fare" and tails.severity == policy_lib.BLOCK
    assert 0.03 < tails.finding.fraction < 0.15  # the company's share of rows, not the whole batch
    # the whole-batch Jensen-Shannon distance stays under its threshold: only the tails see it
    [js] = [d for d in report.distances if d["feature"] == "fare" and d["type"] == "JENSEN_SHANNON_DIVERGENCE"
            and "slice" not in d]
    assert js["value"] < js["threshold"]
    assert {v.finding.feature for v in blocking(verdicts)} == {"fare"}


def test_a_rule_across_columns_blocks_and_quarantines(setup, tmp_path):
    verdicts, _ = judge(setup, defects.write(tmp_path, "hour_disagrees_with_timestamp_span"), names.TRAINING)
    [v] = blocking(verdicts)
    assert (v.finding.feature, v.finding.check, v.finding.rule) == ("trip_start_hour", "constraint",
                                                                   "hour_of_start_timestamp")
    assert 0.02 < v.finding.fraction < 0.04 and "line" in v.finding.description


def test_a_single_row_breaking_a_rule_warns(setup, tmp_path):
    verdicts, _ = judge(setup, defects.write(tmp_path, "hour_disagrees_with_timestamp_once_span"), names.TRAINING)
    assert [(v.finding.rule, v.severity) for v in verdicts] == [("hour_of_start_timestamp", policy_lib.WARN)]


def test_a_defect_in_one_slice_is_found_in_that_slice(setup, tmp_path):
    verdicts, report = judge(setup, defects.write(tmp_path, "cash_only_for_one_company_serving"), names.SERVING)
    [v] = blocking(verdicts)
    company = defects._company(1)
    assert (v.finding.feature, v.finding.check, v.finding.slice) == ("payment_type", SKEW, f"company={company}")
    whole = [d for d in report.distances if d["feature"] == "payment_type" and d["type"] == "L_INFTY" and "slice" not in d]
    assert whole and whole[0]["value"] < whole[0]["threshold"]  # averaged away in the whole batch


def test_small_slices_are_skipped_and_say_so(setup, tmp_path):
    _, report = judge(setup, defects.write(tmp_path, "clean_serving"), names.SERVING)
    assert report.skipped_slices
    assert all(s["slice"].split("=")[0] in ("company", "payment_type", "trip_start_hour") and s["why"]
               for s in report.skipped_slices)


def test_wasserstein_chosen_in_checks_yaml_finds_a_shift_the_comparator_misses(setup, tmp_path):
    verdicts, report = judge(setup, defects.write(tmp_path, "miles_thirty_percent_longer_serving"), names.SERVING)
    [v] = blocking(verdicts)
    assert (v.finding.feature, v.finding.check, v.finding.rule) == ("trip_miles", SKEW, "wasserstein")
    assert v.finding.value > v.finding.threshold and v.finding.noise is not None
    [js] = [d for d in report.distances if d["feature"] == "trip_miles" and d["type"] == "JENSEN_SHANNON_DIVERGENCE"
            and "slice" not in d]
    assert js["value"] < js["threshold"]


def test_the_shipped_spans_in_order_give_the_changelogs_verdicts(setup):
    """schema/CHANGELOG.md: span 1 passes (no baseline), span 2 blocks on trip_miles' scale shift
    against span 1, span 3 passes against span 2, serving passes against span 3."""
    read = {}
    for name, folder in (("1", "train/span-1"), ("2", "train/span-2"), ("3", "train/span-3"), ("serving", "serving")):
        read[name] = batch_stats.read(str(defects.DATA_ROOT / folder), setup["kinds"], rules=setup["rules"],
                                      slice_keys=setup["settings"].slices)
    decisions = {}
    for name, base, environment in (("1", None, names.TRAINING), ("2", "1", names.TRAINING),
                                    ("3", "2", names.TRAINING), ("serving", "3", names.SERVING)):
        kwargs = {}
        if base is not None:
            key, kind = ("training_statistics", SKEW) if environment == names.SERVING else ("previous_statistics", DRIFT)
            kwargs = {key: read[base].statistics, "baseline_profiles": {kind: read[base].profile}}
        report = validation.validate(read[name].statistics, setup["schema"], environment, reading=read[name].report,
                                     profile=read[name].profile, settings=setup["settings"], **kwargs)
        verdicts = policy_lib.judge_all(environment.lower(), report.findings, setup["policy"])
        decisions[name] = (policy_lib.decision(verdicts), sorted({v.finding.feature for v in blocking(verdicts)}))
    assert decisions == {"1": ("pass", []), "2": ("block", ["trip_miles"]), "3": ("pass", []),
                         "serving": ("pass", [])}


def test_the_serving_batch_against_each_span_gives_the_changelogs_verdicts(setup):
    """schema/CHANGELOG.md: a run of span 1 with the shipped serving batch blocks on skew (2016
    serving against 2013 training: the payment mix and trip_miles' scale); spans 2 and 3 pass."""
    serving = batch_stats.read(str(defects.DATA_ROOT / "serving"), setup["kinds"], rules=setup["rules"],
                               slice_keys=setup["settings"].slices)
    verdicts = {}
    for span in (1, 2, 3):
        base = batch_stats.read(str(defects.DATA_ROOT / "train" / f"span-{span}"), setup["kinds"], rules=setup["rules"],
                                slice_keys=setup["settings"].slices)
        report = validation.validate(serving.statistics, setup["schema"], names.SERVING, reading=serving.report,
                                     profile=serving.profile, settings=setup["settings"],
                                     training_statistics=base.statistics, baseline_profiles={SKEW: base.profile})
        verdicts[span] = blocking(policy_lib.judge_all("serving", report.findings, setup["policy"]))
    assert {v.finding.feature for v in verdicts[1] if v.finding.slice is None} == {"payment_type", "trip_miles"}
    assert {(v.finding.feature, v.finding.rule) for v in verdicts[1] if v.finding.slice is None} >= {
        ("payment_type", None), ("trip_miles", "psi")}
    assert verdicts[2] == [] and verdicts[3] == []
