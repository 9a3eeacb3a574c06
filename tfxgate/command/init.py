"""`tfxgate init DIR --data DATA_ROOT --label COLUMN [--task ...]`: a user's CSV spans and label
become a project (core/common/project.py) that runs the whole pipeline.

It reads every training span with the same typed reading as ExampleGen and `tfxgate validate`
(core/reading/cells.py), chooses each column's role and writes, for review:
- `schema/v1/`: the first schema version (core/settings/inference.py), `checks.yaml` (slices over the
  low-cardinality columns), `constraints.yaml` (no rule yet) and `constraints.proposed.yaml`
  (rules across columns mined from the latest span, live only once moved into constraints.yaml);
- `schema/policy.yaml` (the shipped defaults) and `schema/evaluation.yaml` (by task, relative to
  the baseline model; floors commented, with the trivial model's figure beside them);
- `models/`: features.py (every list with the reason for it) and the Transform and Trainer
  modules that read it;
- `tfxgate.yaml` and `schema/CHANGELOG.md`.
The project is written to a temporary folder beside DIR and renamed into place: whole or not at
all. An existing project is refused unless --force, which never touches an accepted schema
version (a new first schema then goes to schema/drafts/ for `tfxgate schema accept`).
"""

import datetime
import os
import pathlib
import re
import shutil
import sys
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

from core.reading import cells
from core.reading.sources import csv_structure
from core.common import names
from core.common import project as project_lib
from core.settings import schema_files
from core.common.errors import ConfigError, InputError
from core.settings.inference import CATEGORY, IDENTIFIER, LABEL, NUMERIC, PERIOD, TEXT
from tfxgate.command import project_files

TEMPLATES = pathlib.Path(__file__).resolve().parent / "templates"
LAYOUT = "expected DATA_ROOT/train/span-N/*.csv (N = 1, 2, ...) and optionally DATA_ROOT/serving/*.csv"
MINED_ROWS = 200_000  # rules across columns are mined on at most this many rows of the latest span


def spans(data_root: str) -> Dict[int, str]:
    """{span number: folder} of the data root's training spans.

    Raises:
        ConfigError: the data root is not laid out as `LAYOUT` says (one line showing it).
    """
    if not os.path.isdir(data_root):
        raise ConfigError(f"--data {data_root}: no such folder ({LAYOUT})")
    train = os.path.join(data_root, names.TRAIN_FOLDER)
    if not os.path.isdir(train):
        raise ConfigError(f"--data {data_root}: no train/ folder ({LAYOUT})")
    found = {int(m.group(1)): os.path.join(train, d) for d in os.listdir(train)
             if (m := re.fullmatch(names.SPAN_FOLDER_PATTERN, d)) and os.path.isdir(os.path.join(train, d))}
    if not found:
        raise ConfigError(f"--data {data_root}: train/ has no span-N folder ({LAYOUT})")
    for number, folder in sorted(found.items()):
        if not csv_structure.folder_files(folder):
            raise ConfigError(f"--data {data_root}: train/span-{number} holds no .csv file ({LAYOUT})")
    return dict(sorted(found.items()))


def _headers(found: Dict[int, str], serving: Optional[str], label: str, delimiter: str) -> List[str]:
    """The training spans' columns (the first span's order); every span must have the same set,
    the serving batch the same with or without the label."""
    columns: Optional[List[str]] = None
    first = None
    for number, folder in found.items():
        _, header = csv_structure.files_and_header(folder, delimiter)
        if columns is None:
            columns, first = header, number
            continue
        extra, missing = sorted(set(header) - set(columns)), sorted(set(columns) - set(header))
        if extra or missing:
            said = "; ".join(p for p in (f"has {', '.join(extra)}" if extra else "",
                                         f"lacks {', '.join(missing)}" if missing else "") if p)
            raise InputError(f"train/span-{number}: its columns differ from span-{first}'s: it {said}")
    if label not in columns:
        import difflib

        near = difflib.get_close_matches(label, columns, n=1)
        raise ConfigError(f"--label {label}: no such column in the training spans"
                          + (f" (did you mean {near[0]}?)" if near else f" (columns: {', '.join(columns)})"))
    if serving:
        _, header = csv_structure.files_and_header(serving, delimiter)
        extra = sorted(set(header) - set(columns))
        missing = sorted(set(columns) - set(header) - {label})
        if extra or missing:
            said = "; ".join(p for p in (f"has {', '.join(extra)}" if extra else "",
                                         f"lacks {', '.join(missing)}" if missing else "") if p)
            raise InputError(f"serving/: its columns differ from the training spans': it {said}")
    return columns


def _kinds(found: Dict[int, str], columns: Sequence[str], delimiter: str) -> Dict[str, Optional[str]]:
    """Each column's kind over every span: the narrowest of INT, FLOAT, BYTES holding them all."""
    from core.batch import batch_stats

    order = [cells.INT, cells.FLOAT, cells.BYTES]
    kinds: Dict[str, Optional[str]] = {c: None for c in columns}
    for folder in found.values():
        for name, kind in batch_stats.column_kinds(folder, None, delimiter).items():
            if kind is not None and (kinds[name] is None or order.index(kind) > order.index(kinds[name])):
                kinds[name] = kind
    return kinds


def _read(folder: str, kinds: Dict[str, Optional[str]], delimiter: str, keep: int):
    """(the span's profile, its first `keep` rows as dense columns) read as `kinds` say."""
    import numpy as np

    from core.batch import batch_stats
    from core.statistics import profile as profile_lib

    profile = profile_lib.Profile()
    kept: Dict[str, list] = {}
    files, header = csv_structure.files_and_header(folder, delimiter)
    held = 0
    for path in files:
        for block in batch_stats.text_blocks(path, header, delimiter):
            columns = {n: (kinds[n], profile_lib.dense(cells.read_column(block.column(n), kinds[n]), kinds[n]))
                       for n in header if kinds.get(n) is not None}
            profile.add(columns)
            if held < keep and columns:
                for name, (_, values) in columns.items():
                    kept.setdefault(name, []).append(values[:keep - held])
                held += min(block.num_rows, keep - held)
    return profile.settle(), {n: np.concatenate(parts) for n, parts in kept.items()}


def _check_label(label, task: Optional[str]) -> str:
    from core.settings import inference

    if label.role != LABEL or label.present == 0:
        raise InputError(f"--label {label.name}: the column is empty in every training row")
    if label.min_fill < 0.5:
        raise InputError(f"--label {label.name}: missing in {1 - label.min_fill:.0%} of a span's rows; a label must "
                         "be there in (nearly) every training row")
    if label.distinct < 2:
        raise InputError(f"--label {label.name}: one value throughout ({label.values[0] if label.values else label.low}); "
                         "a constant label cannot be learned")
    inferred = inference.task_of(label)
    chosen = task or inferred
    if chosen == "binary" and label.distinct != 2:
        raise ConfigError(f"--task binary: the label {label.name} has {label.distinct} values, not 2")
    if chosen == "regression" and label.kind == cells.BYTES:
        raise ConfigError(f"--task regression: the label {label.name} holds text, not numbers")
    if chosen == "multiclass" and label.distinct > inference.CLASSES_MAX:
        raise ConfigError(f"--task multiclass: the label {label.name} has {label.distinct} values (at most "
                          f"{inference.CLASSES_MAX}); for numbers say --task regression")
    return chosen


def build(target: pathlib.Path, data_root: str, label_name: str, task: Optional[str], name: str, delimiter: str,
          say) -> pathlib.Path:
    """Writes the project into `target` (a new, empty folder); returns it. `say` prints a line."""
    from core import rules as rules_lib
    from core.settings import inference

    found_spans = spans(data_root)
    serving = os.path.join(data_root, names.SERVING_FOLDER)
    serving = serving if os.path.isdir(serving) and csv_structure.folder_files(serving) else None
    for folder in list(found_spans.values()) + ([serving] if serving else []):
        csv_structure.check_folder(folder, delimiter)  # one line naming the file and line of a broken record
    columns = _headers(found_spans, serving, label_name, delimiter)
    kinds = _kinds(found_spans, columns, delimiter)
    profiles, latest = [], {}
    for i, folder in enumerate(found_spans.values()):
        profile, rows = _read(folder, kinds, delimiter, MINED_ROWS if i == len(found_spans) - 1 else 0)
        profiles.append(profile)
        latest = rows or latest
    found = inference.columns(profiles, kinds, label_name)
    label = project_files.found_label(found)
    chosen = _check_label(label, task)
    label_classes = inference.classes(label) if chosen != "regression" else []
    positive = None
    if chosen == "binary":
        counts = {}
        merged = {}
        for p in profiles:
            f = p.features.get(label.name)
            if f is not None:
                for k, v in (f.strings.items() if not f.numeric else zip(f.values, f.counts)):
                    merged[str(k)] = merged.get(str(k), 0) + int(v)
        counts = merged
        positive = label_classes[1] if len(label_classes) == 2 else None
        if counts and label.kind == cells.BYTES:  # the rarer class is the one a probability is of
            positive = min(label_classes, key=lambda c: (counts.get(c, 0), c))
    say(f"task: {chosen}" + (" (inferred: " + _task_reason(label, chosen) + ")" if not task else " (as given)"))
    schema = inference.schema(found, chosen)
    version = target / project_lib.SCHEMA_FOLDER / "v1"
    version.mkdir(parents=True)
    schema_files.write(schema, str(version / names.SCHEMA_FILE))
    import yaml

    slices = inference.slices([c for c in found if c.name != label.name])
    (version / names.CHECKS_FILE).write_text(
        "# Checks beyond TFDV's, written by `tfxgate init`: skew, drift, tails and fill rates are also\n"
        "# judged within each slice (a slice under 50 rows on either side is skipped, said so).\n"
        + yaml.safe_dump({"version": 1, "slices": slices}, sort_keys=False, allow_unicode=True))
    (version / names.CONSTRAINTS_FILE).write_text(
        "# Rules across columns, reviewed like the schema: none yet. Candidates mined from the latest\n"
        "# span are in constraints.proposed.yaml; move the ones true of the data's meaning here.\nversion: 1\nrules: []\n")
    mined = rules_lib.mine({n: v for n, v in latest.items() if n != label.name}) if latest else []
    if mined:
        (version / "constraints.proposed.yaml").write_text(rules_lib.to_yaml(mined, (
            "Candidate rules across columns, mined from the latest training span's rows (each held on every row).\n"
            "Nothing reads this file: review each rule, and move the ones that are true of the data's meaning,\n"
            "not of this sample alone, into constraints.yaml.")))
    shutil.copyfile(project_lib.SHIPPED / project_lib.SCHEMA_FOLDER / project_lib.POLICY_FILE,
                    target / project_lib.SCHEMA_FOLDER / project_lib.POLICY_FILE)
    trivial, floor = _trivial(label, chosen, profiles)
    evaluation = project_files.evaluation_yaml(chosen, label.name, trivial, floor, project_files.allowed_drop(min(p.rows for p in profiles)))
    (target / project_lib.SCHEMA_FOLDER / project_lib.EVALUATION_FILE).write_text(evaluation)
    models = target / project_lib.MODELS_FOLDER
    models.mkdir()
    rows = sum(p.rows for p in profiles)
    (models / "features.py").write_text(project_files.feature_lists(found, chosen, label_classes, positive, rows))
    for module in (project_lib.TRANSFORM_MODULE, project_lib.TRAINER_MODULE):
        shutil.copyfile(TEMPLATES / project_lib.MODELS_FOLDER / module, models / module)
    (target / "Dockerfile").write_text(project_files.DOCKERFILE)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    span_rows = {f"span-{n}": p.rows for n, p in zip(found_spans, profiles)}
    (target / project_lib.SCHEMA_FOLDER / "CHANGELOG.md").write_text(project_files.changelog(name, found, chosen, span_rows, now))
    (target / project_lib.FILE).write_text(project_lib.to_yaml(
        name, os.path.abspath(data_root), label.name, chosen,
        header="# A tfxgate project (see core/common/project.py): written by `tfxgate init`.\n"))
    _say_roles(found, say)
    say(f"the trivial model: {trivial}")
    if mined:
        say(f"rules across columns: {len(mined)} candidate(s) in schema/v1/constraints.proposed.yaml (not live until "
            "moved into constraints.yaml)")
    return target


def _task_reason(label, task: str) -> str:
    if task == "binary":
        return f"{label.name} has two values"
    if task == "multiclass":
        return f"{label.name} has {label.distinct} values"
    return f"{label.name} holds {label.distinct} distinct numbers"


def _trivial(label, task: str, profiles) -> Tuple[str, float]:
    """(what the trivial model scores, in words; its score: the majority class's share, rounded
    to two decimals, or the error of always answering the mean, to two significant digits)."""
    from core.settings import inference

    if task == "regression":
        mean, deviation = inference.label_spread(label, profiles)
        return (f"always answering the mean {mean:.4g} has a mean absolute error of {deviation:.4g} on the training "
                f"spans", float(f"{deviation:.2g}"))
    value, share = inference.majority(label, profiles)
    return f"always answering {value!r} has an accuracy of {share:.3f} on the training spans", round(share, 2)


def _say_roles(found, say) -> None:
    by_role: Dict[str, List[str]] = {}
    for c in found:
        by_role.setdefault(c.role, []).append(c.name)
    model = by_role.get(NUMERIC, []) + by_role.get(CATEGORY, [])
    say(f"model inputs ({len(model)}): numeric {', '.join(by_role.get(NUMERIC, [])) or 'none'}; "
        f"categories {', '.join(by_role.get(CATEGORY, [])) or 'none'}")
    for c in found:
        if c.role not in (NUMERIC, CATEGORY, LABEL):
            say(f"left out of the model: {c.name} ({c.role}: {c.why})")


def run(folder: str, data_root: str, label: str, task: Optional[str], name: Optional[str], delimiter: Optional[str],
        force: bool, say=print) -> int:
    """The `init` command; 0 when the project was written."""
    target = pathlib.Path(folder).expanduser().resolve()
    name = name or re.sub(r"[^A-Za-z0-9_-]", "-", target.name).strip("-_") or "project"
    project_lib.parse(project_lib.to_yaml(name, "data", label, task or "binary"), target, "--name")  # a usable name
    existing = target.exists()
    if existing and not force:
        raise ConfigError(f"{folder}: already exists; say --force to rewrite its generated files (accepted schema "
                          "versions are kept)")
    if existing and not target.is_dir():
        raise ConfigError(f"{folder}: exists and is not a folder")
    from core.reading.sources import csv_structure as _

    delimiter = delimiter or csv_structure.folder_delimiter(os.path.join(data_root, names.TRAIN_FOLDER)) or ","
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{target.name}.init-", dir=target.parent))
    try:
        build(staging, data_root, label, task, name, delimiter, say)
        if existing:
            _merge_into(staging, target, say)
        else:
            os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    say(f"wrote the project {target}")
    say("review schema/v1/schema.pbtxt, schema/policy.yaml and schema/evaluation.yaml, then run the pipeline:")
    say(f"  python {project_lib.SHIPPED / 'runner_local.py'} --project {target}")
    return 0


def _merge_into(staging: pathlib.Path, target: pathlib.Path, say) -> None:
    """--force: the generated files replace the project's own; accepted schema versions stay, and
    a first schema unlike the accepted ones goes to schema/drafts/ for review."""
    accepted = schema_files.versions(str(target / project_lib.SCHEMA_FOLDER)) \
        if (target / project_lib.SCHEMA_FOLDER).is_dir() else []
    if accepted:
        newest = accepted[-1][0]
        draft = target / project_lib.SCHEMA_FOLDER / "drafts" / f"v{newest + 1}"
        if draft.exists():
            raise ConfigError(f"{draft}: a draft is there already; accept or remove it first")
        draft.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging / project_lib.SCHEMA_FOLDER / "v1"), str(draft))
        say(f"kept the accepted schema versions (newest v{newest}); the inferred schema is the draft {draft} "
            "(`tfxgate schema diff`, then `tfxgate schema accept`)")
    for path in sorted(staging.rglob("*")):
        if path.is_file():
            destination = target / path.relative_to(staging)
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, destination)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use `tfxgate init`")
