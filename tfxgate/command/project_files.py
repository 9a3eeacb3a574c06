"""The texts of the files `tfxgate init` writes beside the schema (init.py chooses what goes in
them): models/features.py, the lists the generic Transform and Trainer modules read;
schema/evaluation.yaml, the model gate by task with the trivial model's score as its live floor;
schema/CHANGELOG.md; and the project's Kubeflow Dockerfile.
"""

import math
from typing import Dict, List, Optional

from core.reading import cells
from core.settings.inference import CATEGORY, LABEL, NUMERIC

VOCAB_SIZE, OOV_SIZE = 100, 5
# The project's Kubeflow image: tfxgate's, plus the project's files where runner_kubeflow.py's spec
# looks for them (pipeline/kubeflow.py IMAGE_OWN_PROJECT), its models/ as top-level modules.
DOCKERFILE = """\
# The Kubeflow image of this project: tfxgate's image (built from tfxgate's own Dockerfile) plus
# this project's schema versions, settings and model code. From this folder:
#   docker build --build-arg BASE=REGISTRY/tfxgate@sha256:... -t REGISTRY/PROJECT .
#   python runner_kubeflow.py --project . --image REGISTRY/PROJECT@sha256:... --data-root s3://...
ARG BASE=tfxgate:latest
FROM ${BASE}
COPY tfxgate.yaml /pipeline/project/tfxgate.yaml
COPY schema/ /pipeline/project/schema/
COPY models/ /pipeline/project/models/
ENV PYTHONPATH=/pipeline/project/models
"""


def feature_lists(found, task: str, label_classes: List[str], positive: Optional[str], rows: int) -> str:
    """models/features.py: the lists the generic Transform and Trainer modules read."""
    numeric = [c for c in found if c.role == NUMERIC]
    int_categories = [c for c in found if c.role == CATEGORY and c.kind != cells.BYTES]
    vocab = [c for c in found if c.role == CATEGORY and c.kind == cells.BYTES]
    left_out = [c for c in found if c.role not in (NUMERIC, CATEGORY, LABEL)]
    width = 16 if rows < 2_000 else 32 if rows < 50_000 else 64  # small data, small model
    lines = ['"""Feature and label names of this project, in one place: written by `tfxgate init` from the',
             'training spans (schema v1), then yours to edit. preprocessing.py and model.py read only this."""',
             "", f"LABEL_KEY = {found_label(found).name!r}", f"TASK = {task!r}  # binary | multiclass | regression"]
    if task != "regression":
        lines.append(f"LABEL_CLASSES = {label_classes!r}  # a class's number is its place here")
    if task == "binary":
        lines.append(f"POSITIVE_CLASS = {positive!r}  # the class the model's probability is of")
    lines += ["", "# Numbers, standardised to z-scores (a missing value: the mean)."]
    lines += _listing("NUMERIC_FEATURE_KEYS", numeric)
    lines += ["", "# Whole-number categories, one-hot over their range (low, high) seen in training."]
    lines.append("INT_CATEGORY_RANGES = {" + "".join(f"\n    {c.name!r}: ({int(c.low)}, {int(c.high)}),  # {c.why}"
                                                     for c in int_categories) + ("\n}" if int_categories else "}"))
    lines += ["", "# Text categories through a vocabulary; values it lacks go to OOV_SIZE extra buckets."]
    lines += _listing("VOCAB_FEATURE_KEYS", vocab)
    lines += [f"VOCAB_SIZE = {VOCAB_SIZE}", f"OOV_SIZE = {OOV_SIZE}", "",
              "# Left out of the model, and why (the schema still checks each of them):"]
    lines += [f"#   {c.name}: {c.role}: {c.why}" for c in left_out] or ["#   nothing"]
    lines += ["", "# The model's size, for about {:,} training rows.".format(rows),
              f"HIDDEN_UNITS = [{width}, {max(4, width // 2)}]", "LEARNING_RATE = 0.003", "BATCH_SIZE = 32", "", "",
              "def transformed_name(key: str) -> str:",
              '    """The name Transform gives to the transformed version of feature `key`."""',
              '    return f"{key}_xf"', ""]
    return "\n".join(lines)


def found_label(found):
    return next(c for c in found if c.role == LABEL)


def _listing(name: str, columns) -> List[str]:
    if not columns:
        return [f"{name} = []"]
    return [f"{name} = ["] + [f"    {c.name!r},  # {c.why}" for c in columns] + ["]"]


EVAL_SHARE = 0.2  # ExampleGen's eval split: one row in five


def allowed_drop(span_rows: int) -> float:
    """How far a score may fall below the baseline model's before the model gate refuses: twice
    the standard error of an accuracy near 0.5 on an eval split of the smallest span's size, and
    at least 0.05. On 20 eval rows one row moves accuracy by 0.05, and two models trained on the
    same rows differ by more than that; on 20,000 the noise is far below 0.05."""
    n = max(1.0, EVAL_SHARE * span_rows)
    return max(0.05, math.ceil(200 * (0.25 / n) ** 0.5) / 100)


def evaluation_yaml(task: str, label: str, trivial: str, floor: Optional[float], drop: float) -> str:
    """schema/evaluation.yaml by task. TFX's Evaluator blesses no model without an absolute
    threshold (its executor validates nothing then), so one floor is live from the start: the
    trivial model's score, which a model worth pushing must beat; the rest is relative to the
    baseline model, with stricter floors commented for the user to set from the first run."""
    head = ("# tfxgate model gate: what a trained model must show before Pusher may push it. Written by\n"
            "# `tfxgate init`; review it like the policy beside it (see CHANGELOG.md).\n#\n"
            "#   floor / ceiling: the value must be at least / at most this (the first model too)\n"
            "#   drop: how far a score may fall below the baseline model's (the latest blessed one)\n"
            "#   rise: how far an error may rise above the baseline model's\n"
            "# The first model has no baseline and is judged by its floors only. The live floor is what\n"
            f"# the trivial model scores ({trivial}): a model must beat it.\n"
            "# Raise it once you have seen the first run's figures (`tfxgate lineage`).\n"
            f"# The allowed drop, {drop}, is twice the sampling noise of an accuracy on the eval split of the\n"
            "# smallest span (a fifth of its rows): a smaller one would refuse models for the rows drawn.\n"
            "version: 1\nmodel:\n  signature: serving_default\n  preprocessing: transform_features\n"
            f"  label: {label}_xf\nmetrics:\n")
    if task == "binary":
        return head + ("  auc:\n    floor: 0.5  # a ranking no better than chance scores 0.5; raise it (e.g. 0.75)\n"
                       f"    drop: {drop}\n"
                       f"  binary_accuracy:\n    # floor: {floor}  # the trivial model's accuracy: set yours above it\n"
                       f"    drop: {drop}\n")
    if task == "multiclass":
        return head + (f"  sparse_categorical_accuracy:\n    floor: {floor}  # the trivial model's accuracy\n"
                       f"    drop: {drop}\n")
    return head + (f"  mean_absolute_error:\n    ceiling: {floor}  # the trivial model's error\n"
                   f"    rise: {float(f'{floor * 0.1:.2g}')}  # a tenth of it\n")


def changelog(project: str, found, task: str, span_rows: Dict[int, int], now: str) -> str:
    roles = {}
    for c in found:
        roles.setdefault(c.role, []).append(c.name)
    lines = ["# Curated schema versions", "",
             "A version is a folder `schema/vN/` holding `schema.pbtxt`, `checks.yaml` and `constraints.yaml`.",
             "A version is never edited once accepted: a change is a draft (`tfxgate schema propose`),",
             "reviewed (`tfxgate schema diff`) and accepted (`tfxgate schema accept`), with an entry here.", "",
             f"## v1 — written by `tfxgate init` on {now}", "",
             f"Inferred from {sum(span_rows.values()):,} rows of training spans "
             + ", ".join(f"{n} ({r:,} rows)" for n, r in span_rows.items()) + f"; task: {task}. To review:", ""]
    for role, members in roles.items():
        lines.append(f"- {role}: {', '.join(members)}")
    lines += ["", "Thresholds of the comparators are the larger of the noise level of a span of this size and",
              "half again the largest change seen between any two spans:", ""]
    for c in found:
        if c.threshold is not None:
            change = "none measured (one span)" if c.span_change is None else f"{c.span_change:.3g}"
            lines.append(f"- `{c.name}`: {c.threshold:g} (largest change between spans: {change})")
    return "\n".join(lines) + "\n"
