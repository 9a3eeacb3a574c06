"""The cause a broken rule names (core/checks/rule_cause.py) through every path that judges a batch,
for a rule of a second dataset, and under the policy.

- The pipeline's validators: a LocalDagRunner pipeline (ExampleGen, StatisticsGen, the curated
  schema, DataValidator) judges damaged serving batches against span 2's Examples and names the
  cause `tfxgate validate` names for the same files.
- `/v1/validate` of a real `tfxgate serve` (loopback) answers what `tfxgate validate` answers.
- A rule `tfxgate init` mines on seattle-weather (tests/datasets.py), accepted into the project's
  constraints.yaml as a reviewer would: each side damaged, and values moved between rows.
- A policy line `feature: X` matches a finding whose cause names X with other columns.

Every batch is real rows of a shipped sample, damaged as a source could damage them; no number is
typed by hand (shifts are the data's own: a day's median range of temperatures).
"""

import json
import shutil
import statistics
import subprocess
import sys

import pytest

from core import rules as rules_lib
from core.common import findings as findings_lib
from core.settings import layout
from core.common import names
from core.judging import policy as policy_lib
from core.common import project as project_lib
from core.common.names import BLOCK, SERVING, TRAINING, WARN
from tests import datasets
from tests.paths import DATA_ROOT, PROJECT_ROOT
from tests.test_rule_cause import CASES, DAY, HOUR, MONTH, RULE_OF, TOGETHER, TS
from tfxgate.command import cli

from tfxgate.validation import validate
pytestmark = pytest.mark.component

SCHEMA = PROJECT_ROOT / "schema" / "v1" / "schema.pbtxt"
POLICY = PROJECT_ROOT / "schema" / "policy.yaml"
SPAN_2 = DATA_ROOT / "train" / "span-2" / "data.csv"
SPAN_3 = DATA_ROOT / "train" / "span-3" / "data.csv"
SERVING_DATA = DATA_ROOT / "serving" / "data.csv"


def _rule_findings(findings) -> dict:
    """{rule: (feature named, [changed columns])} of the findings of broken rules."""
    return {f.rule: (f.feature, [c["feature"] for c in f.columns or [] if c["changed"]])
            for f in findings if f.check == findings_lib.CONSTRAINT}


def _expected(defect) -> dict:
    """{rule: (feature, [changed columns])} that tests/test_rule_cause.py's cases name."""
    _, causes = CASES[defect]
    return {RULE_OF[left]: (cause, [] if cause == TOGETHER[left] else [cause]) for left, cause in causes.items()}


@pytest.fixture(scope="module")
def checks():
    return validate.load_checks(str(SCHEMA), str(POLICY))


# ---- the pipeline's validators --------------------------------------------------------------------

PIPELINE_DEFECTS = ("timestamp_truncated_to_the_day", "hour_recoded_as_twelve_hour_clock", "timestamp_moved_between_rows")


@pytest.fixture(scope="module")
def by_the_pipeline(tmp_path_factory):
    """Each defect of PIPELINE_DEFECTS in the serving batch's real rows, one input split each, read
    by tfxgate's ExampleGen and judged by a SERVING DataValidator against span 2 (TrainExampleGen),
    run by LocalDagRunner: ({defect: the batch's file}, {defect: findings.json document})."""
    from tfx import v1 as tfx
    from tfx.proto import example_gen_pb2

    from components.csv_example_gen import CheckedCsvExampleGen, custom_config
    from components.validator.component import DataValidator
    from mlmd import query
    from pipeline import config as config_lib

    root = tmp_path_factory.mktemp("rule_cause_pipeline")
    (root / "training").mkdir()
    shutil.copy(SPAN_2, root / "training" / "data.csv")
    rows = datasets.read_rows(SERVING_DATA)
    files = {d: datasets.write_rows(root / "serving" / d / "data.csv", CASES[d][0](rows)) for d in PIPELINE_DEFECTS}
    version = SCHEMA.parent
    schema_text = config_lib.read_schema_text(str(SCHEMA))
    typed = custom_config(schema_text, constraints_text=(version / names.CONSTRAINTS_FILE).read_text(),
                          checks_text=(version / names.CHECKS_FILE).read_text())
    training = CheckedCsvExampleGen(input_base=str(root / "training"), custom_config=typed).with_id(names.EXAMPLE_GEN)
    training_statistics = tfx.components.StatisticsGen(examples=training.outputs["examples"]).with_id(
        names.STATISTICS_GEN)
    serving = CheckedCsvExampleGen(
        input_base=str(root / "serving"), custom_config=typed,
        input_config=example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name=d, pattern=f"{d}/*.csv")
                                                   for d in PIPELINE_DEFECTS]),
    ).with_id(names.SERVING_EXAMPLE_GEN)
    serving_statistics = tfx.components.StatisticsGen(examples=serving.outputs["examples"]).with_id(
        names.SERVING_STATISTICS_GEN)
    schema = tfx.components.ImportSchemaGen(schema_file=str(SCHEMA)).with_id(names.CURATED_SCHEMA)
    validator = DataValidator(
        statistics=serving_statistics.outputs["statistics"], schema=schema.outputs["schema"], environment=SERVING,
        schema_version="v1", checks=(version / names.CHECKS_FILE).read_text(), examples=serving.outputs["examples"],
        training_statistics=training_statistics.outputs["statistics"], training_examples=training.outputs["examples"],
    ).with_id(names.SERVING_VALIDATOR)
    store_path = root / "metadata.sqlite"
    tfx.orchestration.LocalDagRunner().run(tfx.dsl.Pipeline(
        pipeline_name="rule_cause", pipeline_root=str(root / "pipeline"),
        components=[training, training_statistics, serving, serving_statistics, schema, validator],
        enable_cache=False,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(str(store_path)),
        beam_pipeline_args=list(config_lib.beam_args_for(())),
    ))
    store = query.sqlite_store(str(store_path))
    [run] = query.run_contexts(store, "rule_cause")
    by_node = query.executions_by_node(store, run.id)
    [anomalies] = query.outputs_of_type(store, by_node[names.SERVING_VALIDATOR].id, names.ANOMALIES_TYPE)
    return files, layout.read_findings(anomalies.uri, PIPELINE_DEFECTS)


@pytest.mark.parametrize("defect", PIPELINE_DEFECTS)
def test_the_pipelines_validator_names_the_cause_validate_names(defect, by_the_pipeline, checks):
    files, documents = by_the_pipeline
    found = _rule_findings(findings_lib.Finding.from_json(f) for f in documents[defect]["findings"])
    baseline = validate.load_baseline(str(SPAN_2), None, None, checks.kinds, ",", checks.settings.slices)
    outcome = validate.judge(checks, str(files[defect]), validate.read_batch(checks, str(files[defect])), SERVING,
                             baseline)
    by_validate = _rule_findings(v.finding for v in outcome.verdicts)
    assert found == by_validate
    assert found == _expected(defect)


# ---- /v1/validate of tfxgate serve --------------------------------------------------------------------

SERVED_DEFECTS = ("timestamp_truncated_to_the_day", "timestamp_moved_between_rows")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A `tfxgate serve` on loopback whose MLMD store accepted span 2 (its statistics and profile)."""
    from tests import test_serve

    tmp = tmp_path_factory.mktemp("rule_cause_serve")
    store = tmp / "metadata.sqlite"
    test_serve._record_accepted_run(store, "run-2", 2, test_serve._accepted_statistics(tmp / "run-2", span=2))
    (tmp / "token").write_text(test_serve.TOKEN + "\n")
    service = test_serve._start(tmp, "--metadata", str(store), "--token-file", str(tmp / "token"))
    yield service, store
    assert test_serve._stop(service) == 0, service.log.read_text()
    assert "Traceback" not in service.log.read_text()


@pytest.mark.services
@pytest.mark.parametrize("defect", SERVED_DEFECTS)
def test_v1_validate_names_the_cause_validate_names(defect, served, tmp_path, capfd):
    from tests import test_serve

    service, store = served
    data = datasets.write_rows(tmp_path / f"{defect}.csv", CASES[defect][0](datasets.read_rows(SPAN_3)))
    code = cli.main(["validate", "--data", str(data), "--environment", TRAINING, "--metadata", str(store),
                     "--format", "json"])
    expected = json.loads(capfd.readouterr().out)
    assert code == 1 and expected["baseline"]["span"] == 2
    status, _, body = service.request("POST", f"/v1/validate?environment={TRAINING}&name={data}",
                                      data.read_bytes(), "text/csv")
    assert status == 200, body
    answer = json.loads(body)
    test_serve._assert_served_as(answer, expected)
    found = {a["rule"]: (a["feature"], [c["feature"] for c in a.get("columns", []) if c["changed"]])
             for a in answer["anomalies"] if a["check"] == findings_lib.CONSTRAINT}
    assert found == _expected(defect)


# ---- a rule mined on a second dataset ----------------------------------------------------------------

LOW, HIGH = "temp_min", "temp_max"
TOGETHER_TEMPS = ", ".join([LOW, HIGH])


@pytest.fixture(scope="module")
def seattle(tmp_path_factory):
    """seattle-weather made a project by `tfxgate init`; its one proposed rule moved into
    constraints.yaml, as a reviewer accepting it would: (checks, span 2 as baseline, span 3's rows, rule)."""
    base = tmp_path_factory.mktemp("seattle")
    root = datasets.SEATTLE.build(base)
    project = base / "project"
    proc = subprocess.run([sys.executable, "-m", "tfxgate.command.cli", "init", str(project), "--data", str(root),
                           "--label", datasets.SEATTLE.label], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert proc.returncode == 0, proc.stderr
    version = project / "schema" / "v1"
    (rule,) = rules_lib.load(str(version / "constraints.proposed.yaml"))
    assert rule.expect == f"{LOW} <= {HIGH}"
    (version / names.CONSTRAINTS_FILE).write_text(rules_lib.to_yaml([rule]))
    checks = validate.load_checks(str(version / names.SCHEMA_FILE), str(project_lib.load(project).policy_path))
    assert [r.name for r in checks.rules] == [rule.name]
    baseline = validate.load_baseline(str(root / "train" / "span-2" / "data.csv"), None, None, checks.kinds, ",",
                                      checks.settings.slices)
    return checks, baseline, datasets.read_rows(root / "train" / "span-3" / "data.csv"), rule


def _day_range(rows) -> float:
    """The median day's range of temperatures (temp_max - temp_min), rounded as the data is."""
    return round(statistics.median(float(r[HIGH]) - float(r[LOW]) for r in rows), 1)


def _temperature(column, change):
    def damage(rows):
        return [dict(r, **{column: change(r[column], rows)}) for r in rows]
    return damage


def _moved(column):
    def damage(rows):
        values = [r[column] for r in rows]
        half = len(values) // 2
        return [dict(r, **{column: v}) for r, v in zip(rows, values[half:] + values[:half])]
    return damage


# {defect: (damage, the feature the rule's finding names, features other blocking findings may name)}
# Half the rows left out for breaking the rule leaves the others biased (days of a wide range, dry
# ones): precipitation's top value takes over what is kept, and its own check says so.
SEATTLE = {
    "temp_min_recoded_as_fahrenheit": (_temperature(LOW, lambda v, _: repr(round(float(v) * 9 / 5 + 32, 1))), LOW, {LOW}),
    "temp_min_shifted_by_a_days_range": (_temperature(LOW, lambda v, rows: repr(round(float(v) + _day_range(rows), 1))),
                                         LOW, {LOW, "precipitation"}),
    "temp_min_rounded_to_tens": (_temperature(LOW, lambda v, _: repr(round(float(v), -1))), LOW, {LOW}),
    "temp_max_truncated_to_its_first_digit": (_temperature(HIGH, lambda v, _: v.lstrip("-")[0]), HIGH, {HIGH}),
    "temp_max_rounded_to_tens": (_temperature(HIGH, lambda v, _: repr(round(float(v), -1))), HIGH, {HIGH}),
    "temp_max_shifted_by_a_days_range": (_temperature(HIGH, lambda v, rows: repr(round(float(v) - _day_range(rows), 1))),
                                         HIGH, {HIGH, "precipitation"}),
    "temp_max_moved_between_rows": (_moved(HIGH), TOGETHER_TEMPS, set()),
    "temp_min_moved_between_rows": (_moved(LOW), TOGETHER_TEMPS, set()),
}


@pytest.mark.parametrize("defect", sorted(SEATTLE))
def test_a_mined_rule_of_seattle_weather_names_the_column_that_changed(defect, seattle, tmp_path):
    checks, baseline, rows, rule = seattle
    damage, cause, may_block = SEATTLE[defect]
    path = datasets.write_rows(tmp_path / f"{defect}.csv", damage(rows))
    outcome = validate.judge(checks, str(path), validate.read_batch(checks, str(path)), TRAINING, baseline)
    (verdict,) = [v for v in outcome.verdicts if v.finding.check == findings_lib.CONSTRAINT]
    assert (verdict.finding.rule, verdict.finding.feature, verdict.severity) == (rule.name, cause, BLOCK), \
        verdict.finding.description
    columns = verdict.finding.columns
    assert {c["feature"] for c in columns} == {LOW, HIGH}
    if cause == TOGETHER_TEMPS:
        assert not [c for c in columns if c["changed"]]
        assert "No column changed alone" in verdict.finding.description
    else:
        unchanged = HIGH if cause == LOW else LOW
        assert [c["feature"] for c in columns if c["changed"]] == [cause] == [columns[0]["feature"]]
        assert f"{unchanged} is unchanged" in verdict.finding.description
    others = {v.finding.feature for v in outcome.verdicts
              if v.severity == BLOCK and v.finding.check != findings_lib.CONSTRAINT}
    assert others <= may_block  # never the unchanged column


def test_the_clean_seattle_span_breaks_no_rule(seattle, tmp_path):
    checks, baseline, rows, rule = seattle
    path = datasets.write_rows(tmp_path / "clean.csv", rows)
    batch = validate.read_batch(checks, str(path))
    assert batch.report.constraints[rule.name]["rows"] == 0
    assert batch.report.constraints[rule.name]["evaluated"] == len(rows)
    outcome = validate.judge(checks, str(path), batch, TRAINING, baseline)
    assert not [v for v in outcome.verdicts if v.finding.check == findings_lib.CONSTRAINT]


# ---- the policy ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moved_and_truncated(checks, tmp_path_factory):
    """The findings of span 3 judged against span 2 with its timestamp moved between rows (every
    rule names its columns together) and truncated to the day (the hour's rule names the timestamp)."""
    tmp = tmp_path_factory.mktemp("policy")
    baseline = validate.load_baseline(str(SPAN_2), None, None, checks.kinds, ",", checks.settings.slices)
    rows = datasets.read_rows(SPAN_3)
    found = {}
    for defect in ("timestamp_moved_between_rows", "timestamp_truncated_to_the_day"):
        path = datasets.write_rows(tmp / f"{defect}.csv", CASES[defect][0](rows))
        outcome = validate.judge(checks, str(path), validate.read_batch(checks, str(path)), TRAINING, baseline)
        found[defect] = {v.finding.rule: v.finding for v in outcome.verdicts
                         if v.finding.check == findings_lib.CONSTRAINT}
    return found


def _policy(feature: str) -> policy_lib.Policy:
    return policy_lib.parse(f"version: 1\ndefault: block\nrules:\n  - feature: {feature}\n    check: constraint\n"
                            f"    action: warn\n    why: reviewed\n")


def test_a_policy_line_on_one_column_matches_a_cause_named_with_others(moved_and_truncated):
    moved = moved_and_truncated["timestamp_moved_between_rows"]
    hour = moved[RULE_OF[HOUR]]
    assert hour.feature == TOGETHER[HOUR] and hour.named() == [HOUR, TS]
    # Through the gate's path too: the findings as findings.json holds them.
    document = {"environment": TRAINING, "findings": [f.to_json() for f in moved.values()]}
    on_timestamp = {v.finding.rule: v.severity for v in policy_lib.judge_documents({"train": document}, _policy(TS))}
    assert on_timestamp == {RULE_OF[HOUR]: WARN, RULE_OF[DAY]: WARN, RULE_OF[MONTH]: WARN}
    on_hour = {v.finding.rule: v.severity for v in policy_lib.judge_documents({"train": document}, _policy(HOUR))}
    assert on_hour == {RULE_OF[HOUR]: WARN, RULE_OF[DAY]: BLOCK, RULE_OF[MONTH]: BLOCK}
    # The joined name itself still matches, as printed.
    assert _policy(f"'{TOGETHER[DAY]}'").judge(moved[RULE_OF[DAY]], TRAINING).action == WARN


def test_a_policy_line_on_a_column_said_unchanged_does_not_match(moved_and_truncated):
    hour = moved_and_truncated["timestamp_truncated_to_the_day"][RULE_OF[HOUR]]
    assert hour.feature == TS and hour.named() == [TS]
    assert _policy(HOUR).judge(hour, TRAINING).action == BLOCK
    assert _policy(TS).judge(hour, TRAINING).action == WARN
