"""The anomaly report of a run as one self-contained HTML file, for `tfxgate report`.

The file makes no network request: no scripts, no external fonts or styles, figures as inline SVG
(their text stays text), and a Content-Security-Policy that forbids loading anything. Every string
that comes from data (feature names, category values, descriptions, URIs) is escaped, and set
apart for right-to-left text (`unicode-bidi: isolate`). Tables come from tfxgate/reports/tables.py,
figures from tfxgate/reports/figures.py (as in the notebook), the lineage diagram from
tfxgate/reports/diagram.py.
"""

import html
import os
import pathlib
import re
from typing import List, Optional

from core.common import names
from core.statistics import noise
from core.settings import schema_files
from mlmd import lineage, runs
from mlmd import store as store_lib
from tfxgate.common import files
from tfxgate.reports import bins, diagram, evidence, figures, tables, verdict

# The page's style, shared with the notebook (scoped there to its output cell).
CSS = """
body{font-family:sans-serif;margin:2em;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f2f2f2}.block{color:#fff;background:#c0392b;padding:1px 5px}
.warn{background:#f4d03f;padding:1px 5px}.pass{color:#fff;background:#27ae60;padding:1px 5px}
code{font-size:12px}pre{white-space:pre-wrap;font-size:12px}
section.headline{padding:12px 18px;margin:0 0 1.5em;border-left:12px solid #27ae60;background:#eafaf1;color:#222}
section.headline.warn{border-color:#d4ac0d;background:#fef9e7}section.headline.block{border-color:#c0392b;background:#fdedec}
.verdict{font-size:48px;font-weight:bold;letter-spacing:2px}.counts{font-size:20px;margin:4px 0}
.judged{font-size:14px;color:#444}.reasons{padding-left:1.2em}.reason{margin:.4em 0}
.reason-warn{opacity:.75}.next{font-size:13px;color:#333}
.evidence{border-left:4px solid #ccc;padding-left:12px;margin:1em 0}.evidence.reason-block{border-color:#c0392b}
td,th{overflow-wrap:anywhere;max-width:420px;unicode-bidi:isolate}img{max-width:100%}
h3,li,p{overflow-wrap:anywhere}b,h3 span,td{unicode-bidi:isolate}
svg.figure{display:block;max-width:100%;height:auto;margin:.5em 0}
svg.lineage{display:block;max-width:100%;height:auto;margin:.5em 0 1.5em;font-family:sans-serif}
svg.lineage a:hover rect{stroke-width:3}tr:target{background:#fef9e7}
th{overflow-wrap:normal}td span.block,td span.warn,td span.pass{white-space:nowrap}summary{cursor:pointer;margin:.5em 0}
"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def table(rows: List[dict], columns: Optional[List[str]] = None) -> str:
    """Rows as an HTML table, every value escaped (shared with the notebook)."""
    if not rows:
        return "<p>(none)</p>"
    columns = columns or list(rows[0])
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            value = row.get(c)
            if c == "severity" or c == "decision":
                cells.append(f'<td><span class="{_e(value)}">{_e(value)}</span></td>')
            elif isinstance(value, float):
                cells.append(f"<td>{_e(bins.number(value))}</td>")
            else:
                cells.append(f"<td>{_e(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


CLOSEST = 12  # distances shown before the full table (folded)
MAX_FIGURES = 10  # evidence figures per report: it stays small (under 1 MB) however many findings


def evidence_html(found: List[tuple]) -> List[str]:
    """Beside each reason, blocking first: its evidence (tfxgate/reports/evidence.py), from
    `found`, [(verdict, Evidence or None)]: shared with the notebook (tfxgate/notebook/shown.py)."""
    if not found:
        return []
    parts, drawn = ["<h2>The evidence for each reason</h2>"], 0
    for i, (v, found_one) in enumerate(found, 1):
        parts.append(f'<div class="evidence reason-{_e(v.severity)}" id="evidence-{i}">'
                     f'<h3><span class="{_e(v.severity)}">{_e(v.severity)}</span> {_e(v.line())}</h3>')
        if found_one is None:
            parts.append(f"<p>{_e(v.finding.description)}</p></div>")
            continue
        parts.append(f"<p>{_e(found_one.summary)}</p>{table(found_one.rows)}")
        if found_one.figure is not None and drawn < MAX_FIGURES:
            parts.append(figures.svg(found_one.figure(), "evidence-figure", f"evidence: {v.finding.feature}"))
            drawn += 1
        parts.append("</div>")
    return parts


def _evidence_section(run: runs.Run, headline) -> List[str]:
    return evidence_html([(v, evidence.for_verdict(run, v)) for v, _ in headline.reasons])


def _model_gate_section(run: runs.Run) -> List[str]:
    """Beside the data gate: whether the model earned its push, its metrics against the baseline
    model's and the thresholds, and why it was refused."""
    from core.common import evaluation

    judged = run.evaluation
    if judged is None:
        return []
    blessed = judged.get("blessed")
    word = {True: ("pass", "blessed and pushed" if judged.get("pushed") else "blessed"),
            False: ("block", "refused: not pushed")}.get(blessed, ("warn", "not judged"))
    parts = [f'<h2 id="model-gate">Model gate: <span class="{word[0]}">{_e(word[1])}</span></h2>']
    if judged.get("reasons"):
        parts.append('<ul class="model-reasons">' + "".join(f"<li>{_e(r)}</li>" for r in judged["reasons"]) + "</ul>")
    baseline = judged.get("baseline_model")
    if baseline:
        parts.append(f"<p>Against the baseline model: the latest blessed model, MLMD artifact "
                     f"#{_e(baseline.get('artifact_id'))} of run {_e(baseline.get('run_id') or '?')} "
                     f"(<code>{_e(baseline.get('uri'))}</code>), on this run's eval split.</p>")
    else:
        parts.append("<p>No baseline model yet (no earlier model was blessed): judged by the floors only.</p>")
    parts.append(table(tables.model_gate_rows(run), ["metric", "this model", "baseline model", "threshold", "result"]))
    slices = tables.model_slice_rows(run)
    if slices:
        parts.append(f"<details><summary>This model's metrics in {len(slices)} slices (shown, not gated: "
                     "small slices are noise)</summary>" + table(slices) + "</details>")
    parts.append(f"<p>{_e(evaluation.headline(judged))}</p>")
    return parts


def _artifact_table(run: runs.Run) -> str:
    """Every artifact of the run with its MLMD id, type and URI; each row is the target of its
    node in the lineage diagram. A local path is a link."""
    rows = diagram.artifact_rows(run)
    if not rows:  # a run read without its executions (a Kubeflow report task): what the findings name
        rows = [{"node": f"examples (span {e['span']})", "type": "Examples", "id": e.get("artifact_id"), "uri": e["uri"]}
                for e in run.examples]
        rows += [{"node": v.node, "type": "anomalies", "id": v.artifact_id, "uri": v.uri} for v in run.validations]
        rows += [{"node": v.node, "type": "statistics", "id": None, "uri": v.statistics_uri} for v in run.validations]
    body = []
    for row in rows:
        uri = str(row["uri"] or "")
        shown = f'<a href="{_e(pathlib.Path(uri).as_uri())}">{_e(uri)}</a>' if uri.startswith("/") else _e(uri)
        anchor = f' id="artifact-{_e(row["id"])}"' if row["id"] is not None else ""
        body.append(f"<tr{anchor}><td>{_e(row['node'])}</td><td>{_e(row['type'])}</td><td>{_e(row['id'])}</td>"
                    f"<td>{shown}</td></tr>")
    return ("<table><tr><th>node</th><th>type</th><th>MLMD id</th><th>uri</th></tr>" + "".join(body) + "</table>")


def _sections(run: runs.Run, history: Optional[List[dict]], source: str) -> List[str]:
    """The report's body, section by section (`render_html`'s page, `fragment`'s notebook cell)."""
    headline = verdict.of_run(run)
    parts = [f"<h1>tfxgate anomaly report: run {_e(run.run_id)}</h1>", verdict.to_html(headline)]
    if run.gate.get("summary") and not headline.reasons:  # with reasons, the headline says it all
        parts.append(f"<p>Gate: {_e(run.gate.get('summary'))}</p>")
    parts += _model_gate_section(run)
    parts += _evidence_section(run, headline)
    lineage_svg = diagram.svg(run)
    if lineage_svg:
        parts.append("<h2>Lineage: from the data to the model</h2>")
        parts.append("<p>Each box is what this run recorded in MLMD; a click leads to its artifact below.</p>")
        parts.append(lineage_svg)

    parts.append("<h2>Anomalies, with the policy's verdict</h2>")
    parts.append(table(tables.anomaly_rows(run), ["dataset", "feature", "slice", "types", "check", "severity",
                                                   "description"]))
    skipped = tables.skipped_slice_rows(run)
    if skipped:
        parts.append(f"<details><summary>{len(skipped):,} slices not judged (too few rows for their noise, or beyond "
                     "the largest)</summary>")
        parts.append(table(skipped, ["environment", "slice", "rows", "why"]) + "</details>")

    rows = tables.distance_rows(run)
    parts.append("<h2>Skew and drift: every measured distance against its threshold</h2>")
    parts.append("<p>Noise: the distance sampling noise alone gives a clean batch of this size drawn from "
                 f"the baseline ({noise.QUANTILE:.0%} of draws stay below it); a distance counts only beyond "
                 f"its threshold and {noise.MARGIN:g}&times; its noise.</p>")
    columns = ["environment", "check", "feature", "slice", "type", "value", "threshold", "noise"]
    if rows:
        parts.append(figures.svg(figures.distances_figure(rows), "distances", "distances against thresholds"))
    closest = rows[:CLOSEST]
    parts.append(f"<h3>The {len(closest)} closest to their threshold (or over it)</h3>")
    parts.append(table(closest, columns))
    if len(rows) > CLOSEST:
        parts.append(f"<details><summary>All {len(rows):,} measured distances</summary>{table(rows, columns)}</details>")

    stats = tables.run_statistics(run)
    if names.TRAINING in stats and names.SERVING in stats:
        parts.append("<h2>Training versus serving: the features that moved most</h2>")
        units = evidence.units_of(run)
        for feature in tables.moved_most(run):
            parts.append(figures.svg(figures.distribution_figure(stats[names.TRAINING], stats[names.SERVING], feature,
                                                                 units=units), "distribution", feature))

    quarantined = sum(e.get("quarantined_rows") or 0 for e in run.examples)
    parts.append(f"<h2>Rows left out: {quarantined:,} quarantined by ExampleGen</h2>")
    parts.append("<p>A row with a value its schema type cannot hold, or that breaks a rule across columns "
                 "(<code>constraints.yaml</code>), is never written to the splits; it is in the quarantine (<code>Quarantine/</code> inside the Examples), with its file, "
                 "line and reasons.</p>")
    parts.append(table(tables.quarantine_rows(run)))

    parts.append(f"<h2>Curated schema {_e(run.schema_version)} and its environments</h2>")
    if run.schema_file and os.path.isfile(run.schema_file):
        parts.append(table(tables.schema_rows(schema_files.load(run.schema_file, "curated schema"))))
        parts.append("<p><small>A unit shows where the schema gives one: <code>annotation { tag: \"unit:USD\" }</code> "
                     "on a feature, or a time domain.</small></p>")
    parts.append("<h3>What the curated schema says that the schema inferred from this span does not</h3>")
    parts.append(table(tables.schema_difference_rows(run)))

    if history is not None:
        parts.append("<h2>History: distance over threshold, per run</h2>")
        parts.append(figures.svg(figures.history_figure(history), "history", "distance over threshold per run"))
    parts.append("<h2>Artifacts</h2>")
    parts.append(table([{
        "pipeline": run.pipeline, "run": run.run_id, "spans": ", ".join(str(e["span"]) for e in run.examples),
        "schema version": run.schema_version, "decision": run.gate.get("decision"),
        "pushed model": (run.pushed_model or {}).get("destination") or "(none)",
    }]))
    parts.append(_artifact_table(run))
    if source:
        parts.append(f"<p><small>From {_e(source)}.</small></p>")
    return parts



def render_html(run: runs.Run, history: Optional[List[dict]] = None, source: str = "") -> str:
    """The whole report as one self-contained HTML document. `history`: the rows of
    `mlmd.lineage.history` for the history figure (none: no such section, as in a Kubeflow run's
    report task, which sees no store); `source`: where the run was read from, for the footer."""
    return document(f"tfxgate report {run.run_id}", _sections(run, history, source))


def document(title: str, parts: List[str]) -> str:
    """`parts` as one self-contained HTML document that loads nothing (shared with the notebook)."""
    csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    return (
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>"
    )


_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")


def fragment(run: runs.Run, history: Optional[List[dict]] = None, source: str = "") -> str:
    """The same report as one element inside someone else's page (a notebook's output): its
    styles scoped to that element (the page's own `body`, `table` and `th` left alone)."""
    scope = "div.tfxgate-report"
    css = _RULE.sub(lambda m: ",".join(scope if s.strip() == "body" else f"{scope} {s.strip()}"
                                       for s in m.group(1).split(",")) + "{" + m.group(2) + "}", CSS)
    return f'<div class="tfxgate-report"><style>{css}</style>' + "\n".join(_sections(run, history, source)) + "</div>"


def page_of(store, run: runs.Run, store_description: str) -> str:
    """The report of `run` read from `store` (described by `store_description`): what `tfxgate
    report` writes and what `--mlflow-tracking-uri` logs (tfxgate/experiments/tracking.py)."""
    return render_html(run, lineage.history(store, pipeline=run.pipeline or None), f"MLMD store {store_description}")


def write_report(metadata_path, which: str, out: str, pipeline: Optional[str] = None) -> str:
    """Writes the report of run `which` ('latest' of `pipeline`, when given, or a run id) to `out`."""
    store = runs.open_store(metadata_path)
    run = runs.find_run(store, which, pipeline)
    page = page_of(store, run, store_lib.as_settings(metadata_path).describe())
    return files.write_atomic(out, page)  # never a half-written report
