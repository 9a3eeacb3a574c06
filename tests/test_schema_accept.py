"""`tfxgate schema accept` checks a draft as a whole before it becomes a version (issue 29, item 9).

Each broken draft is the shipped v1 schema with one defect, named for it; it is refused in one
line, exit 2, and stays a draft. A draft that would block the span the data gate accepted last
(span 3 of the sample, recorded in MLMD as the gate records it) needs `--force`; a version is
never accepted twice.
"""

import csv
import json
import pathlib
import shutil

import pytest

from core.common import names
from core.settings import schema_files
from tests.paths import DATA_ROOT, PROJECT_ROOT
from tfxgate.command import cli

pytestmark = pytest.mark.unit

ACCEPTED_SPAN = 3


def _run(capfd, *argv):
    code = cli.main(list(argv))
    out, err = capfd.readouterr()
    return code, out, err


def _schema_dir(tmp_path) -> pathlib.Path:
    schema_dir = tmp_path / "schema"
    shutil.copytree(PROJECT_ROOT / "schema", schema_dir)
    return schema_dir


def _draft(schema_dir: pathlib.Path, edit=None) -> pathlib.Path:
    """schema/drafts/v2/ as `propose` writes it: v1's schema (edited by `edit`) and the reviewed
    files beside it carried over."""
    from google.protobuf import text_format

    draft = schema_dir / "drafts" / "v2"
    draft.mkdir(parents=True)
    for name in (names.CONSTRAINTS_FILE, names.CHECKS_FILE):
        shutil.copyfile(schema_dir / "v1" / name, draft / name)
    schema = schema_files.load(str(schema_dir / "v1" / names.SCHEMA_FILE))
    if edit:
        edit(schema)
    (draft / names.SCHEMA_FILE).write_text(text_format.MessageToString(schema))
    return draft


def _feature(schema, name):
    return next(f for f in schema.feature if f.name == name)


def _fare_declared_twice_float_and_bytes(schema):
    from tensorflow_metadata.proto.v0 import schema_pb2

    twin = schema.feature.add()
    twin.CopyFrom(_feature(schema, "fare"))
    twin.type = schema_pb2.BYTES
    twin.ClearField("float_domain")


def _fare_without_a_type(schema):
    _feature(schema, "fare").ClearField("type")


def _payment_type_names_a_domain_not_defined(schema):
    _feature(schema, "payment_type").domain = "payment_types"


def _tips_not_in_a_misspelt_environment(schema):
    tips = _feature(schema, "tips")
    tips.ClearField("not_in_environment")
    tips.not_in_environment.append("SERVNG")


def _trip_start_hour_removed_while_constraints_use_it(schema):
    schema.feature.remove(_feature(schema, "trip_start_hour"))


def _trip_miles_removed_while_checks_test_it(schema):
    schema.feature.remove(_feature(schema, "trip_miles"))


BROKEN_DRAFTS = {
    "fare_declared_twice_float_and_bytes": (_fare_declared_twice_float_and_bytes,
                                            "feature 'fare' is declared 2 times (FLOAT, BYTES)"),
    "fare_without_a_type": (_fare_without_a_type, "feature 'fare' has no known type (TYPE_UNKNOWN"),
    "payment_type_names_a_domain_not_defined": (_payment_type_names_a_domain_not_defined,
                                                "names domain 'payment_types', which the schema does not define"),
    "tips_not_in_a_misspelt_environment": (_tips_not_in_a_misspelt_environment,
                                           "not_in_environment 'SERVNG' is not one of the schema's environments"),
    "trip_start_hour_removed_while_constraints_use_it": (_trip_start_hour_removed_while_constraints_use_it,
                                                         f"drafts/v2/{names.CONSTRAINTS_FILE}: rule 1 "
                                                         "(hour_of_start_timestamp): unknown feature 'trip_start_hour'"),
    "trip_miles_removed_while_checks_test_it": (_trip_miles_removed_while_checks_test_it,
                                                f"drafts/v2/{names.CHECKS_FILE}: tests: 'trip_miles' is not a feature of the schema"),
}


@pytest.mark.parametrize("defect", sorted(BROKEN_DRAFTS))
def test_accept_refuses_a_draft_broken_as_a_whole(tmp_path, capfd, defect):
    edit, message = BROKEN_DRAFTS[defect]
    schema_dir = _schema_dir(tmp_path)
    draft = _draft(schema_dir, edit)
    code, out, err = _run(capfd, "schema", "accept", "--schema-dir", str(schema_dir),
                          "--metadata", str(tmp_path / "no-store.sqlite"))
    assert code == 2, out + err
    [line] = err.strip().splitlines()
    assert message in line and "draft" in line, line
    assert draft.is_dir() and not (schema_dir / "v2").exists()  # still a draft, not a version


def test_the_shipped_versions_have_no_structural_problem():
    for _, path in schema_files.versions(PROJECT_ROOT / "schema"):
        assert schema_files.structure_problems(schema_files.load(path)) == []


# -- proven on the last accepted span -------------------------------------------------------------

def _accepted_span(tmp_path) -> pathlib.Path:
    """An MLMD store whose data gate accepted span 3 of the sample: its statistics as StatisticsGen
    writes them and its profile beside the Examples, recorded as the gate records them."""
    from ml_metadata.proto import metadata_store_pb2 as pb

    from core.batch import batch_stats
    from core.settings import check_settings
    from core import rules as rules_lib
    from core.settings import layout
    from core.reading import report as reading
    from mlmd import query

    schema_path = str(PROJECT_ROOT / "schema" / "v1" / names.SCHEMA_FILE)
    kinds = reading.schema_kinds(schema_files.load(schema_path))
    rules = rules_lib.load(check_settings.path_beside(schema_path, names.CONSTRAINTS_FILE), list(kinds))
    settings = check_settings.load(schema_path, list(kinds))
    batch = batch_stats.read(str(DATA_ROOT / "train" / f"span-{ACCEPTED_SPAN}"), kinds, rules=rules,
                             slice_keys=settings.slices)
    statistics = tmp_path / "artifacts" / "statistics"
    statistics_file = pathlib.Path(layout.statistics_path(str(statistics), names.BASELINE_SPLIT))
    statistics_file.parent.mkdir(parents=True)
    statistics_file.write_bytes(batch.statistics.SerializeToString())
    examples = tmp_path / "artifacts" / "examples"
    examples.mkdir()
    pathlib.Path(layout.profile_path(str(examples))).write_text(json.dumps(batch.profile.to_json()))

    path = tmp_path / "metadata.sqlite"
    store = query.sqlite_store(str(path), must_exist=False)
    decision = pb.Artifact(type_id=store.put_artifact_type(pb.ArtifactType(name=names.GATE_DECISION_TYPE)),
                           uri=str(tmp_path / "artifacts" / "decision"), state=pb.Artifact.LIVE)
    decision.custom_properties[names.SPAN].int_value = ACCEPTED_SPAN
    decision.custom_properties[names.TRAINING_STATISTICS_URI].string_value = str(statistics)
    decision.custom_properties[names.TRAINING_STATISTICS_SPLITS].string_value = json.dumps([names.BASELINE_SPLIT])
    decision.custom_properties[names.TRAINING_EXAMPLES_URI].string_value = str(examples)
    execution = pb.Execution(type_id=store.put_execution_type(pb.ExecutionType(name="tfxgate.DataGate")),
                             last_known_state=pb.Execution.COMPLETE)
    context = pb.Context(type_id=store.put_context_type(pb.ContextType(name=names.RUN_CONTEXT)), name="run-accepted")
    store.put_execution(execution, [(decision, pb.Event(type=pb.Event.OUTPUT))], [context])
    return path


def _most_common_payment_type() -> str:
    with open(DATA_ROOT / "train" / f"span-{ACCEPTED_SPAN}" / "data.csv", newline="") as f:
        values = [row["payment_type"] for row in csv.DictReader(f)]
    return max(set(values), key=values.count)


def test_a_draft_that_would_block_the_last_accepted_span_needs_force(tmp_path, capfd):
    common = _most_common_payment_type()

    def without_the_most_common_payment_type(schema):
        domain = next(d for d in schema.string_domain if d.name == "payment_type")
        kept = [v for v in domain.value if v != common]
        domain.ClearField("value")
        domain.value.extend(kept)

    schema_dir = _schema_dir(tmp_path)
    store = _accepted_span(tmp_path)
    draft = _draft(schema_dir, without_the_most_common_payment_type)
    argv = ["schema", "accept", "--schema-dir", str(schema_dir), "--metadata", str(store)]
    code, out, err = _run(capfd, *argv)
    assert code == 2, out + err
    [line] = err.strip().splitlines()
    assert f"draft v2 would block span {ACCEPTED_SPAN} (accepted by the data gate in run run-accepted)" in line
    assert "payment_type ENUM_TYPE_UNEXPECTED_STRING_VALUES" in line and "--force" in line
    assert draft.is_dir() and not (schema_dir / "v2").exists()

    code, out, err = _run(capfd, *argv, "--force")
    assert code == 0, err
    assert f"accepted with --force although it blocks span {ACCEPTED_SPAN}" in out
    assert (schema_dir / "v2" / names.SCHEMA_FILE).is_file() and not draft.exists()


def test_a_draft_that_passes_the_last_accepted_span_says_so_and_accepting_twice_is_refused(tmp_path, capfd):
    schema_dir = _schema_dir(tmp_path)
    store = _accepted_span(tmp_path)
    _draft(schema_dir)
    argv = ["schema", "accept", "--schema-dir", str(schema_dir), "--metadata", str(store)]
    code, out, err = _run(capfd, *argv, "v2")
    assert code == 0, err
    assert f"proven on span {ACCEPTED_SPAN} (accepted by the data gate in run run-accepted): the draft passes it" in out
    code, out, err = _run(capfd, *argv, "v2")
    assert code == 2 and "v2 is accepted already" in err and len(err.strip().splitlines()) == 1
    code, out, err = _run(capfd, *argv)
    assert code == 2 and "no draft to accept (the newest version, v2, is accepted already" in err
