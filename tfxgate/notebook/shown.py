"""What a `tfxgate.Result` shows, from the report's own functions (tfxgate/reports/): the verdict
headline (`verdict.py`), the evidence beside each reason (`evidence.py`, the figures of
`figures.py`), the page (`report.py`), and the findings and rows left out as DataFrames.

The report's evidence reads a pipeline run's statistics from its artifacts; a batch judged in
memory is laid out the same way for it: its statistics, and the baseline's, written under the
call's temporary folder as a run's statistics artifacts are (core/settings/layout.py), read back
once by `evidence.for_verdict` while the folder exists, and kept in the Result.
"""

import dataclasses
import html
import os
import re
from typing import List

FINDING_COLUMNS = ["feature", "check", "types", "severity", "slice", "value", "threshold", "noise",
                   "share_of_rows", "description", "next_step", "rule", "policy"]


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _swap(value, old: str, new: str):
    """`value` (text, or JSON of lists and dicts) with the path `old` named `new`."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {_swap(k, old, new): _swap(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_swap(v, old, new) for v in value]
    return value


def renamed(outcome, path: str, name: str):
    """`outcome` naming the data `name` where it names the temporary file `path`."""
    verdicts = [dataclasses.replace(v, why=_swap(v.why, path, name), finding=dataclasses.replace(
        v.finding, description=_swap(v.finding.description, path, name))) for v in outcome.verdicts]
    return dataclasses.replace(outcome, data=name, verdicts=verdicts, outside=_swap(outcome.outside, path, name),
                               notes=_swap(outcome.notes, path, name), left_out=_swap(outcome.left_out, path, name))


def headline(outcome):
    """The verdict headline, as `tfxgate validate` prints it (Outcome.to_text)."""
    from tfxgate.reports import verdict

    what = "training" if outcome.environment == "TRAINING" else "serving batch"
    return verdict.headline(outcome.verdicts, [f"{what} {outcome.data}, {outcome.rows:,} rows"],
                            outcome.schema_version, outcome.policy_digest)


def _write_statistics(statistics, uri: str, split: str) -> str:
    from core.settings import layout

    path = layout.statistics_path(uri, split)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(statistics.SerializeToString())
    return uri


def evidence_of(outcome, batch, baseline, folder: str, path: str, name: str) -> List[tuple]:
    """[(verdict, Evidence or None)] for each reason of the headline, blocking first, by
    `evidence.for_verdict` on the batch laid out as a run (the module's docstring)."""
    from core.common import names
    from mlmd import runs
    from tfxgate.reports import evidence

    reasons = headline(outcome).reasons
    if not reasons:
        return []
    serving = outcome.environment == names.SERVING
    split = names.SERVING_SPLIT if serving else names.BASELINE_SPLIT
    batch_uri = _write_statistics(batch.statistics, os.path.join(folder, "statistics"), split)
    baseline_uri = None
    if baseline[0] is not None:
        baseline_uri = _write_statistics(baseline[0], os.path.join(folder, "baseline"), names.BASELINE_SPLIT)
    examples = [{"typed_reading": _swap(batch.report.to_json(), path, name)}]

    def judged(environment, uri, verdicts, distances=()):
        return runs.Validation(node="tfxgate.validate", environment=environment, schema_version=outcome.schema_version,
                               span=None, artifact_id=0, uri="", statistics_uri=uri, drift_baseline_span=None,
                               splits={split: {"distances": list(distances)}}, verdicts=verdicts,
                               drift_baseline_uri=None if serving else baseline_uri)

    validations = [judged(outcome.environment, batch_uri, outcome.verdicts, outcome.distances)]
    if serving and baseline_uri:
        validations.append(judged(names.TRAINING, baseline_uri, []))
    run = runs.Run(run_id=name, context_id=0, pipeline="", created_ms=0, states={},
                   examples=[] if serving else examples, schema_version=outcome.schema_version,
                   schema_file=outcome.schema_path, inferred_schema_uri=None, validations=validations, gate={},
                   pushed_model=None, policy_digest=outcome.policy_digest, serving_examples=examples if serving else [])
    return [(v, evidence.for_verdict(run, v)) for v, _ in reasons]


def findings_frame(outcome):
    """One row per finding: what `tfxgate validate` lists, with the next step for each."""
    import pandas as pd
    from core.judging import next_steps

    rows = []
    for v in outcome.verdicts:
        f = v.finding
        rows.append({"feature": f.feature, "check": f.check, "types": ", ".join(f.types), "severity": v.severity,
                     "slice": f.slice, "value": f.value, "threshold": f.threshold, "noise": f.noise,
                     "share_of_rows": f.fraction, "description": f.description, "next_step": next_steps.next_step(v),
                     "rule": f.rule, "policy": v.why})
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def left_out_frame(rows_path: str, path: str, name: str):
    """The rows left out (core.reading.report's quarantine format: file, line, reasons, then the
    data's columns, every value as its text), `file` naming the data as the caller does."""
    import pandas as pd

    if not os.path.isfile(rows_path) or os.path.getsize(rows_path) == 0:
        return pd.DataFrame(columns=["file", "line", "reasons"])
    frame = pd.read_csv(rows_path, dtype=str, keep_default_na=False)
    frame["file"] = frame["file"].str.replace(path, name, regex=False)
    frame["line"] = pd.to_numeric(frame["line"], errors="coerce").astype("Int64")
    return frame


def _findings_table(findings) -> str:
    from tfxgate.reports import report

    rows = [{k: ("" if v is None or v != v else v) for k, v in row.items()}
            for row in findings.drop(columns=["policy"]).to_dict("records")]
    return report.table(rows)


def page(outcome, found: List[tuple], findings) -> str:
    """The report's page for this batch: headline, evidence, findings, as one self-contained document."""
    from tfxgate.reports import report, verdict

    parts = [f"<h1>tfxgate: {_e(outcome.data)}</h1>", verdict.to_html(headline(outcome))]
    parts += report.evidence_html(found)
    parts += ["<h2>Findings, with the policy's verdict</h2>", _findings_table(findings),
              f"<p><small>{_e(outcome.rows)} rows, environment {_e(outcome.environment)}, baseline: "
              f"{_e(outcome.baseline.get('description'))}.</small></p>"]
    return report.document(f"tfxgate: {outcome.data}", parts)


_SELECTORS = re.compile(r"([^{}]+)\{")


def inline(outcome, found: List[tuple]) -> str:
    """The headline, then the evidence with its figures, for a notebook's output cell: the report's
    style scoped to the cell, so that the notebook's own tables keep theirs."""
    from tfxgate.reports import report, verdict

    scoped = _SELECTORS.sub(lambda m: ",".join(f".tfxgate-result {s.strip()}" for s in m.group(1).split(",")) + "{",
                            report.CSS.replace("body{", ".tfxgate-result{"))
    scoped = scoped.replace(".tfxgate-result .tfxgate-result{", ".tfxgate-result{")
    body = [verdict.to_html(headline(outcome))] + report.evidence_html(found)
    return f'<div class="tfxgate-result"><style>{scoped}</style>{"".join(body)}</div>'
