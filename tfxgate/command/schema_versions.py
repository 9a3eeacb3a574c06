"""Schema versions as a workflow: a proposed next version, checked and accepted (the diff of two
versions is tfxgate/reports/schema_diff.py).

A proposal never edits an existing version, and never becomes one by itself: it writes a draft,
schema/drafts/v<N+1>/ (schema.pbtxt and a changelog stub), which no run or command uses; only
`tfxgate schema accept`, a person's action after review, moves it to schema/v<N+1>/. The reviewed files beside the schema
(constraints.yaml, checks.yaml) are carried over unchanged; rules across columns mined from the
latest span's rows that the current rules lack are written apart, to constraints.proposed.yaml,
which nothing reads: a person moves the ones they accept into constraints.yaml.
"""

import os
from typing import Dict, List, Optional, Tuple


from core.settings import layout
from core.common import names
from core.settings import schema_files
from core.common.errors import InputError
from core.common.findings import FILL_RATE, SCHEMA
from mlmd import store as store_lib
from tfxgate.reports import schema_diff

_SCHEMA_CHECKS = (SCHEMA, FILL_RATE)


def _latest_run_evidence(metadata_path: str) -> Tuple[dict, Optional[str]]:
    """The newest TrainValidator findings (train split) and the inferred schema's uri."""
    from mlmd import query

    settings = store_lib.as_settings(metadata_path)
    metadata_path = settings.describe()
    store = settings.open()
    validated = [
        a for a in store.get_artifacts_by_type(names.ANOMALIES_TYPE)
        if query.custom_value(a, names.ENVIRONMENT) == names.TRAINING
    ]
    if not validated:
        raise InputError(f"{metadata_path}: no validated training span yet (run the pipeline first)")
    anomalies = max(validated, key=lambda a: a.id)
    findings = layout.read_findings(anomalies.uri, [names.BASELINE_SPLIT])[names.BASELINE_SPLIT]
    findings["statistics_uri"] = query.custom_value(anomalies, names.STATISTICS_URI)
    findings["examples_uri"] = query.custom_value(anomalies, names.EXAMPLES_URI)
    findings["span"] = query.span_of(anomalies)
    inferred = [
        a for a in store.get_artifacts_by_type(names.SCHEMA_TYPE)
        if query.node_id_of(store, query.producer_execution(store, a.id)) == names.INFERRED_SCHEMA
    ]
    inferred_uri = max(inferred, key=lambda a: a.id).uri if inferred else None
    return findings, inferred_uri


def propose(metadata_path, schema_dir: str) -> str:
    """Writes the draft schema/drafts/v<N+1>/ (schema.pbtxt, CHANGELOG.stub.md, the reviewed files
    carried over, mined rule candidates) from the latest run's evidence."""
    import tensorflow_data_validation as tfdv

    versions = schema_files.versions(schema_dir)
    if not versions:
        raise InputError(f"{schema_dir}: no curated schema version to start from")
    number, current_path = versions[-1]
    current = schema_diff.load(current_path)
    evidence, inferred_uri = _latest_run_evidence(metadata_path)
    statistics = layout.read_statistics(evidence["statistics_uri"], names.BASELINE_SPLIT)
    proposed, notes = _relax(current, tfdv.update_schema(current, statistics), evidence, inferred_uri)
    notes = _bound_warnings(current, proposed) + notes
    folder = os.path.join(schema_dir, schema_files.DRAFTS, f"v{number + 1}")
    if os.path.exists(os.path.join(schema_dir, f"v{number + 1}")):
        raise InputError(f"{os.path.join(schema_dir, f'v{number + 1}')} exists already: a proposal never overwrites a version")
    if os.path.exists(folder):
        raise InputError(f"{folder} exists already: review it and `tfxgate schema accept`, or delete it, before "
                         "proposing again (a proposal never overwrites a draft)")
    os.makedirs(folder)
    schema_path = os.path.join(folder, names.SCHEMA_FILE)
    tfdv.write_schema_text(proposed, schema_path)
    changes = schema_diff.diff(current, proposed, f"v{number}", f"v{number + 1}")
    written = [schema_path] + _carry_over(os.path.dirname(current_path), folder)
    mined = _mined_rules(evidence.get("examples_uri"), current, current_path, folder)
    notes += mined["notes"]
    written += mined["written"]
    stub_path = os.path.join(folder, "CHANGELOG.stub.md")
    with open(stub_path, "w") as f:
        f.write(_changelog_stub(number + 1, evidence, notes, changes, store_lib.as_settings(metadata_path).describe()))
    warnings = [n for n in notes if n.startswith("- WARNING")]
    return "\n".join([f"wrote the draft {folder}: {', '.join(os.path.basename(w) for w in written)} and "
                      f"{os.path.basename(stub_path)}",
                      "nothing uses a draft: review it, then `tfxgate schema accept` makes it "
                      f"schema/v{number + 1}/", *warnings, *changes])


# Values a feature cannot mean, whatever the data says, by what its name says it is.
_MEANING = (("hour", 0, 23, "an hour"), ("month", 1, 12, "a month"), ("day", 1, 7, "a weekday"),
            ("latitude", -90, 90, "a latitude"), ("longitude", -180, 180, "a longitude"))


def _bound_warnings(current, proposed) -> List[str]:
    """Reviewer warnings for every numeric bound the proposal relaxes: past the current
    version's declared limit always, and louder past what the feature's name says it can mean."""
    warnings = []
    before = {f.name: f for f in current.feature}
    for feature in proposed.feature:
        old = before.get(feature.name)
        if old is None:
            continue
        for kind in ("int_domain", "float_domain"):
            if not (feature.HasField(kind) and old.HasField(kind)):
                continue
            new_domain, old_domain = getattr(feature, kind), getattr(old, kind)
            for bound, looser in (("min", lambda a, b: a < b), ("max", lambda a, b: a > b)):
                if not (new_domain.HasField(bound) and old_domain.HasField(bound)):
                    continue
                new_value, old_value = getattr(new_domain, bound), getattr(old_domain, bound)
                if not looser(new_value, old_value):
                    continue
                line = (f"- WARNING `{feature.name}`: {bound} relaxed from {old_value:g} to {new_value:g}, past the "
                        "current version's declared limit")
                for word, low, high, what in _MEANING:
                    if word in feature.name.lower() and not low <= new_value <= high:
                        line += f", and past what {what} can be ({low:g} to {high:g})"
                warnings.append(line + ": is the data right, or broken?")
    return warnings


def accept(schema_dir: str, version: Optional[str] = None, metadata=None, policy_path: Optional[str] = None,
           force: bool = False, pipeline: Optional[str] = None) -> str:
    """Moves a reviewed draft schema/drafts/v<N>/ to schema/v<N>/: the person's act that makes a
    proposal a version. N must be the next version; `version` ('v2') names the draft, by default
    the only one.

    The draft is checked as a whole first (`check_draft`); then proven on the statistics of the
    span the data gate accepted last (in `metadata`, judged under `policy_path`): a draft that
    would block that span is refused unless `force`."""
    import shutil

    number, folder = _the_draft(schema_dir, version)
    schema_path = check_draft(folder, f"draft v{number}")
    proof = _prove_on_accepted_span(schema_path, f"draft v{number}", metadata, policy_path, pipeline, force)
    target = os.path.join(schema_dir, f"v{number}")
    shutil.move(folder, target)
    return "\n".join([
        f"accepted: {target}/ is now the newest schema version; runs and commands use it from now on. "
        f"Move its CHANGELOG.stub.md entry into {os.path.join(schema_dir, 'CHANGELOG.md')} and commit.", proof])


def _the_draft(schema_dir: str, version: Optional[str]) -> Tuple[int, str]:
    """(N, folder) of the draft to accept; an InputError naming why there is none, including a
    version accepted already."""
    versions = schema_files.versions(schema_dir)
    found = schema_files.drafts(schema_dir)
    if version is not None:
        found = [(n, folder) for n, folder in found if f"v{n}" == version]
        if not found and version in {f"v{n}" for n, _ in versions}:
            raise InputError(f"{version} is accepted already ({os.path.join(schema_dir, version)}/); a version is "
                             "never accepted twice: propose the next one")
    if not found:
        newest = f" (the newest version, v{versions[-1][0]}, is accepted already)" if versions and version is None else ""
        raise InputError(f"{os.path.join(schema_dir, schema_files.DRAFTS)}: no draft"
                         f"{' ' + version if version else ''} to accept{newest} (`tfxgate schema propose` writes one)")
    if len(found) > 1:
        raise InputError(f"several drafts ({', '.join(f'v{n}' for n, _ in found)}): name the one to accept")
    number, folder = found[0]
    expected = (versions[-1][0] + 1) if versions else 1
    if number != expected:
        raise InputError(f"draft v{number} is not the next version (that is v{expected}): propose again from the newest")
    return number, folder


def check_draft(folder: str, label: str) -> str:
    """The draft's schema.pbtxt path once the draft holds together as a whole: a schema in text
    format without a structural problem (core.settings.schema_files.structure_problems), and its
    constraints.yaml and checks.yaml still parsing against its features. An InputError, one
    line naming every problem, otherwise."""
    schema_path = os.path.join(folder, names.SCHEMA_FILE)
    schema = schema_files.load(schema_path, label)  # still a schema after the review's edits
    problems = schema_files.structure_problems(schema)
    if problems:
        raise InputError(f"{label} ({schema_path}) cannot become a version: {len(problems)} problem(s): "
                         + "; ".join(problems))
    schema_files.read_version(schema_path)  # constraints.yaml, checks.yaml: a one-line ConfigError naming the file
    return schema_path


def _prove_on_accepted_span(schema_path: str, label: str, metadata, policy_path: Optional[str],
                            pipeline: Optional[str], force: bool) -> str:
    """What the draft makes of the last accepted span's statistics, in a line; an InputError when
    it would block that span and `force` is not given."""
    from core.settings import check_settings
    from core.judging import policy as policy_lib
    from core.checks import validation
    from tfxgate.validation import validate

    settings = store_lib.as_settings(metadata) if metadata is not None else None
    if settings is None or not settings.exists() or not policy_path:
        return f"not proven on an accepted span: no MLMD store at {settings.describe() if settings else '(none)'}"
    statistics, profile, baseline = validate.load_baseline("auto", settings, pipeline)
    if statistics is None:
        return f"not proven on an accepted span: {baseline['description']}"
    schema = schema_files.load(schema_path, label)
    checks = check_settings.load(schema_path, [f.name for f in schema.feature])
    report = validation.validate(statistics, schema, names.TRAINING, profile=profile, settings=checks)
    verdicts = policy_lib.judge_all(names.TRAINING.lower(), report.findings, policy_lib.load(policy_path))
    blocking = [v.line() for v in verdicts if v.severity == policy_lib.BLOCK]
    span = f"span {baseline['span']} (accepted by the data gate in run {baseline['run']})"
    if not blocking:
        return f"proven on {span}: the draft passes it"
    if not force:
        raise InputError(f"{label} would block {span}, the last accepted: {'; '.join(blocking)}. Fix the draft, or "
                         "accept it anyway with --force")
    return f"accepted with --force although it blocks {span}: {'; '.join(blocking)}"


PROPOSED_CONSTRAINTS = "constraints.proposed.yaml"


def _carry_over(current_folder: str, folder: str) -> List[str]:
    """Copies the reviewed files beside the current version into the proposal, unchanged."""
    import shutil

    copied = []
    for file_name in (names.CONSTRAINTS_FILE, names.CHECKS_FILE):
        source = os.path.join(current_folder, file_name)
        if os.path.isfile(source):
            shutil.copyfile(source, os.path.join(folder, file_name))
            copied.append(os.path.join(folder, file_name))
    return copied


def _mined_rules(examples_uri: Optional[str], schema, current_path: str, folder: str) -> dict:
    """Mines rules across columns from the span's training rows (core.rules.mine); writes
    those the current constraints.yaml lacks to constraints.proposed.yaml, for review."""
    from core.settings import check_settings
    from core import rules as rules_lib

    if not examples_uri:
        return {"notes": ["- rules across columns: not mined (the run recorded no Examples)"], "written": []}
    columns = _training_columns(examples_uri, schema)
    if not columns:
        return {"notes": ["- rules across columns: not mined (no training rows found)"], "written": []}
    existing = rules_lib.load(check_settings.path_beside(current_path, names.CONSTRAINTS_FILE))
    known = {(r.expect, r.when) for r in existing}
    candidates = [r for r in rules_lib.mine(columns) if (r.expect, r.when) not in known]
    if not candidates:
        return {"notes": ["- rules across columns: every rule mined from the span's rows is in constraints.yaml already"],
                "written": []}
    path = os.path.join(folder, PROPOSED_CONSTRAINTS)
    header = ("Candidate rules across columns, mined from the latest training span's rows (each held on every row).\n"
              "Nothing reads this file: review each rule, and move the ones that are true of the data's meaning,\n"
              "not of this sample alone, into constraints.yaml.")
    with open(path, "w") as f:
        f.write(rules_lib.to_yaml(candidates, header))
    note = (f"- rules across columns: {len(candidates)} candidate(s) mined and written to {PROPOSED_CONSTRAINTS} "
            f"(not applied): " + "; ".join(f"`{r.text()}`" for r in candidates))
    return {"notes": [note], "written": [path]}


def _training_columns(examples_uri: str, schema) -> Dict[str, object]:
    """The train split's rows as dense columns (core.rules' input), read from the Examples."""
    import numpy as np
    import tensorflow as tf
    from tfx.dsl.io import fileio

    files = fileio.glob(os.path.join(layout.split_dir(examples_uri, names.TRAIN_SPLIT), "*.gz"))
    if not files:
        return {}
    kinds = {f.name: f.type for f in schema.feature}
    values: Dict[str, list] = {name: [] for name in kinds}
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP").as_numpy_iterator():
        example = tf.train.Example.FromString(record)
        for name in kinds:
            feature = example.features.feature.get(name)
            kind = feature.WhichOneof("kind") if feature is not None else None
            listed = getattr(feature, kind).value if kind else []
            if not listed:
                values[name].append(None)
            elif kind == "bytes_list":
                values[name].append(listed[0].decode("utf-8", "replace"))
            else:
                values[name].append(float(listed[0]))
    columns = {}
    for name, column in values.items():
        if any(isinstance(v, str) for v in column):
            columns[name] = np.array(column, dtype=object)
        else:
            columns[name] = np.array([np.nan if v is None else v for v in column], dtype=np.float64)
    return columns


def _relax(current, relaxed, evidence: dict, inferred_uri: Optional[str]):
    """(the proposed schema, notes for the reviewer): `current` relaxed where the latest span's
    schema findings ask for it; other findings are left to thresholds and the policy."""
    proposed = type(current)()
    proposed.CopyFrom(current)
    notes, relaxed_domains = [], set()
    relaxed_features = {f.name: f for f in relaxed.feature}
    for finding in evidence["findings"]:
        name, types = finding["feature"], finding["types"]
        if finding["check"] not in _SCHEMA_CHECKS:
            notes.append(f"- `{name}` {'/'.join(types)} ({finding['check']}): not a schema matter; "
                         "left to the comparator thresholds and the policy.")
            continue
        if "SCHEMA_MISSING_COLUMN" in types:
            notes.append(f"- `{name}` was missing: unchanged. If the source dropped it for good, deprecate it.")
            continue
        if "SCHEMA_NEW_COLUMN" in types and inferred_uri:
            inferred = schema_files.load(layout.schema_path(inferred_uri), "inferred schema")
            new = next((f for f in inferred.feature if f.name == name), None)
            if new is not None:
                proposed.feature.add().CopyFrom(new)
                notes.append(f"- `{name}` is new in the data: added as inferred. Review its domain and presence.")
            continue
        target = next((f for f in proposed.feature if f.name == name), None)
        if target is None or name not in relaxed_features:
            notes.append(f"- `{name}` {'/'.join(types)}: no feature of that name in the current schema; nothing "
                         f"relaxed. TFDV said: {finding['description']}")
            continue
        if finding["check"] == FILL_RATE and finding.get("value") is not None:
            target.presence.min_fraction = max(0.0, round(float(finding["value"]) - 0.05, 2))
            notes.append(f"- `{name}` was filled in {finding['value']:.1%} of rows: min_fraction lowered to "
                         f"{target.presence.min_fraction}. Is the drop real, or an upstream bug?")
            continue
        target.CopyFrom(relaxed_features[name])
        if target.domain:
            relaxed_domains.add(target.domain)
        notes.append(f"- `{name}` {'/'.join(types)}: relaxed to fit span {evidence.get('span')}. "
                     f"TFDV said: {finding['description']}")
    new_domains = {d.name: d for d in relaxed.string_domain if d.name in relaxed_domains}
    for existing in proposed.string_domain:
        if existing.name in new_domains:
            existing.CopyFrom(new_domains[existing.name])
    return proposed, notes


def _changelog_stub(version: int, evidence: dict, notes: List[str], changes: List[str], store: str) -> str:
    return "\n".join([
        f"## v{version} — PROPOSED by `tfxgate schema propose`, not yet reviewed",
        "",
        f"Drafted from the latest validated training span ({evidence.get('span')}) in {store}.",
        "Review every line, edit the schema, then move this entry into schema/CHANGELOG.md.",
        "",
        "Evidence and what was done:",
        *([] if evidence.get("findings") else ["- the latest run met no anomaly"]),
        *notes,
        "",
        "Semantic diff:",
        "```",
        *changes,
        "```",
        "",
    ])
