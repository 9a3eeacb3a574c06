import pytest

from core.judging import policy as policy_lib
from core.common.findings import Finding
from pipeline import config as config_lib

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def policy():
    return policy_lib.load(str(config_lib.POLICY_PATH))


def _finding(**kw):
    base = {"feature": "f", "types": ["X"], "check": "schema", "description": "d"}
    base.update(kw)
    return Finding(**base)


@pytest.mark.parametrize(
    "finding, severity",
    [
        (_finding(types=["ENUM_TYPE_UNEXPECTED_STRING_VALUES"], fraction=0.004), "warn"),
        (_finding(types=["ENUM_TYPE_UNEXPECTED_STRING_VALUES"], fraction=0.05), "block"),
        (_finding(types=["ENUM_TYPE_UNEXPECTED_STRING_VALUES"]), "block"),  # share unknown: no leniency
        (_finding(types=["SCHEMA_MISSING_COLUMN"]), "block"),
        (_finding(types=["SCHEMA_NEW_COLUMN"]), "warn"),
        (_finding(types=["COMPARATOR_L_INFTY_HIGH"], check="skew"), "block"),
        (_finding(types=["COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH"], check="drift"), "warn"),
        (_finding(types=["CUSTOM_VALIDATION"], check="drift", rule="scale_shift"), "block"),
        (_finding(types=["FEATURE_TYPE_LOW_FRACTION_PRESENT"], check="fill_rate"), "block"),
        (_finding(types=["FLOAT_TYPE_STRING_NOT_FLOAT"], rule="typed_reading", fraction=0.0005), "warn"),
        (_finding(types=["FLOAT_TYPE_HAS_INF"], rule="typed_reading", fraction=0.0005), "warn"),  # when serving
        (_finding(types=["INT_TYPE_NOT_INT_STRING"], rule="typed_reading", fraction=0.02), "block"),
        (_finding(types=["CONSTRAINT_VIOLATED"], check="constraint", rule="hour_of_start_timestamp", fraction=0.0002), "warn"),
        (_finding(types=["CONSTRAINT_VIOLATED"], check="constraint", rule="hour_of_start_timestamp", fraction=0.03), "block"),
        (_finding(types=["FEATURE_CONSTANT"], check="degenerate", rule="constant"), "block"),
        (_finding(types=["FEATURE_PRECISION_LOST"], check="degenerate", rule="precision"), "block"),
        (_finding(types=["FEATURE_TAIL_SHARE_HIGH"], check="tails", fraction=0.05), "block"),
        (_finding(types=["COMPARATOR_L_INFTY_HIGH"], check="skew", slice="company=Flash Cab"), "block"),
        (_finding(types=["COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH"], check="drift", slice="company=Flash Cab"), "warn"),
        (_finding(types=["COMPARATOR_WASSERSTEIN_HIGH"], check="drift", rule="wasserstein"), "warn"),
        (_finding(types=["COMPARATOR_PSI_HIGH"], check="skew", rule="psi"), "block"),
    ],
)
def test_shipped_policy_defaults(policy, finding, severity):
    assert policy.judge(finding).action == severity


def test_feature_specific_rule_wins_when_listed_first():
    policy = policy_lib.parse(
        "rules:\n"
        "  - {feature: company, anomaly: ENUM_TYPE_UNEXPECTED_STRING_VALUES, action: warn}\n"
        "  - {action: block}\n"
    )
    assert policy.judge(_finding(feature="company", types=["ENUM_TYPE_UNEXPECTED_STRING_VALUES"])).action == "warn"
    assert policy.judge(_finding(feature="payment_type", types=["ENUM_TYPE_UNEXPECTED_STRING_VALUES"])).action == "block"


@pytest.mark.parametrize("types", [["FLOAT_TYPE_HAS_NAN"], ["FLOAT_TYPE_HAS_INF"]])
def test_non_finite_values_block_a_training_span_however_few(policy, types):
    finding = _finding(types=types, rule="typed_reading", fraction=0.0002)
    assert policy.judge(finding, "TRAINING").action == "block"
    assert policy.judge(finding, "SERVING").action == "warn"
    [verdict] = policy_lib.judge_all("training", [finding], policy)
    assert verdict.severity == "block"


def test_a_rule_can_name_a_slice_any_slice_or_the_whole_batch():
    policy = policy_lib.parse(
        "rules:\n"
        "  - {slice: company=Flash Cab, action: warn, why: a small fleet}\n"
        "  - {slice: any, check: skew, action: block}\n"
        "  - {slice: none, check: skew, action: warn}\n"
    )
    skew = dict(types=["COMPARATOR_L_INFTY_HIGH"], check="skew")
    assert policy.judge(_finding(slice="company=Flash Cab", **skew)).action == "warn"
    assert policy.judge(_finding(slice="company=Blue Ribbon", **skew)).action == "block"
    assert policy.judge(_finding(**skew)).action == "warn"
    verdict = policy_lib.Verdict("serving[serving]", _finding(slice="company=Blue Ribbon", **skew), "block", "")
    assert verdict.line().startswith("serving: f [company=Blue Ribbon] COMPARATOR_L_INFTY_HIGH")


def test_default_applies_when_no_rule_matches():
    policy = policy_lib.parse("default: warn\nrules: []\n")
    assert policy.judge(_finding()).action == "warn"


@pytest.mark.parametrize(
    "text, message",
    [
        ("rules: [", "not valid YAML"),
        ("- just a list", "mapping with a 'rules' list"),
        ("rules:\n  - {anomaly: X}\n", "rule 1 needs action"),
        ("rules:\n  - {action: block, colour: red}\n", "unknown keys"),
        ("default: maybe\n", "default must be block or warn"),
    ],
)
def test_bad_policy_is_a_one_line_error(text, message):
    with pytest.raises(policy_lib.PolicyError, match=message):
        policy_lib.parse(text, "p.yaml")


def test_summary_names_each_blocking_feature_and_type():
    verdicts = policy_lib.judge_all(
        "training",
        [
            _finding(feature="tips", types=["SCHEMA_MISSING_COLUMN"]),
            _finding(feature="payment_type", types=["ENUM_TYPE_UNEXPECTED_STRING_VALUES"], fraction=0.002),
        ],
        policy_lib.load(str(config_lib.POLICY_PATH)),
    )
    line = policy_lib.summary(verdicts)
    assert line.startswith("blocked by training: tips SCHEMA_MISSING_COLUMN")
    assert "warnings: training: payment_type ENUM_TYPE_UNEXPECTED_STRING_VALUES (schema, in 0.2% of rows)" in line
