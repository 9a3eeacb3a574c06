"""Reports people read: the HTML file in Chromium, the notebook, lineage and history, all from a
store made by real pipeline runs (the session's `runs`: clean span 3, drifted span 4, blocked 5)."""

import html as html_lib
import json
import os
import pathlib
import re
import shutil
import subprocess

import nbformat
import pytest
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from nbclient import NotebookClient

from core.judging import policy as policy_lib
from core.common.findings import Finding
from mlmd import lineage, query, runs as runs_lib
from tests.conftest import PROJECT_ROOT
from tfxgate.command import cli

from tfxgate.reports import report
pytestmark = [pytest.mark.pipeline, pytest.mark.services]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _store_path(runs):
    return str(runs["outputs"] / "metadata.sqlite")


@pytest.fixture(scope="module")
def report_file(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert cli.main(["report", "--metadata", _store_path(runs), "--out", str(out)]) == 0
    return out


def test_report_is_self_contained(report_file):
    text = report_file.read_text()
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text, re.I)
    assert "<script" not in text.lower() and "@import" not in text
    assert not re.search(r"url\((?!#)", text)  # only references inside the page (an SVG's clip paths)
    assert '<svg class="figure ' in text and "<image" not in text  # figures inline, their text as text
    # Written through a temporary file and a rename: nothing but the report is left beside it.
    assert sorted(os.listdir(report_file.parent)) == [report_file.name]


def test_report_shows_the_run_the_schema_and_the_verdicts(report_file):
    text = report_file.read_text()
    assert "schema version" in text and "v1" in text
    assert "tips SCHEMA_MISSING_COLUMN" in text  # the latest run: span 5, blocked
    assert "payment_type" in text and '<span class="block">block</span>' in text
    # Curated versus inferred from span 5 (no label there), as a table: environments and the label differ.
    assert ("<td>(schema)</td><td>default_environment</td><td>[&#x27;TRAINING&#x27;, &#x27;SERVING&#x27;]</td>"
            "<td>[]</td>") in text
    assert re.search(r"<td>tips</td><td>feature</td><td>[A-Z]+</td><td>\(absent\)</td>", text)
    # Span 5 has fractional trip_seconds: those rows are in ExampleGen's quarantine, counted here.
    assert "Rows left out:" in text and "trip_seconds" in text and "not_int" in text


SCREENSHOTS = PROJECT_ROOT / "outputs" / "test-artifacts"  # for a reviewer to look at
_PROBE = """<script>
const verdict = document.getElementById('verdict').getBoundingClientRect();
let wide = [];
for (const el of document.querySelectorAll('body *')) {
  if (el.closest('details:not([open])')) continue;
  if (el.getBoundingClientRect().right > window.innerWidth + 1) wide.push(el.tagName + ' ' + el.className);
}
const ticks = (svg, axis) => [...svg.querySelectorAll('g[id*="-' + axis + 'tick_"] > g[id*="-text_"]')]
  .map(g => [...g.querySelectorAll('text')].map(t => t.textContent).join(' / '));
const figures = [...document.querySelectorAll('svg.figure')].map(svg => ({
  kind: svg.getAttribute('class'), x: ticks(svg, 'x'), y: ticks(svg, 'y'),
  shown: svg.getBoundingClientRect().width > 100 && svg.getBoundingClientRect().height > 50}));
const evidence = [...document.querySelectorAll('.evidence.reason-block')].map(div => ({
  reason: div.querySelector('h3').innerText, figure: !!div.querySelector('svg.figure')}));
const lineage = [...document.querySelectorAll('svg.lineage .lineage-node')].map(a => ({
  node: a.getAttribute('data-node'), status: a.getAttribute('data-status'), href: a.getAttribute('href'),
  target: a.getAttribute('href') ? !!document.getElementById(a.getAttribute('href').slice(1)) : false}));
document.body.setAttribute('data-probe', JSON.stringify({top: verdict.top, bottom: verdict.bottom,
  height: window.innerHeight, width: window.innerWidth, wide: wide,
  text: document.querySelector('#verdict .verdict').innerText,
  fontSize: getComputedStyle(document.querySelector('#verdict .verdict')).fontSize,
  figures: figures, evidence: evidence, lineage: lineage, pwned: document.body.dataset.pwned || null,
  page: document.body.innerText}));
</script>"""


def _laid_out(page, tmp_path, name):
    """How Chromium lays the report out at 1280x800: measured in a copy that runs a probe (the
    report itself forbids every script), and a screenshot of the report itself under outputs/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = "--window-size=1280,800"
    shot = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 's'}", size,
                           f"--screenshot={SCREENSHOTS / f'report-{name}.png'}", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert shot.returncode == 0 and (SCREENSHOTS / f"report-{name}.png").stat().st_size > 10_000, shot.stderr[-2000:]
    text = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page.read_text())
    probe = tmp_path / f"{name}-probe.html"
    probe.write_text(text.replace("</body>", _PROBE + "</body>"))
    dom = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'p'}", size, "--dump-dom",
                          probe.as_uri()], capture_output=True, text=True, timeout=120).stdout
    found = re.search(r"data-probe=\"([^\"]*)\"", dom)
    assert found, dom[-2000:]
    return json.loads(html_lib.unescape(found.group(1)))


_WHEN = r"\d{4}-\d\d-\d\d \d\d:\d\d"


@pytest.mark.parametrize("which, decision", [("blocked", "BLOCK"), ("first", "PASS")])
def test_the_verdict_is_the_first_thing_on_the_screen(runs, tmp_path, which, decision):
    """At 1280x800, as Chromium lays the page out: the decision in large type and the whole
    headline inside the first screen; no element wider than the window; each blocking finding
    with its evidence figure; no two bin labels of one figure alike; the history's axis labelled
    by run time and span; the lineage diagram's nodes leading to their artifacts."""
    assert CHROMIUM, "Chromium is missing: `make test` installs Debian's chromium package"
    run_id = runs["first_runs"][0].name if which == "first" else "latest"
    page = tmp_path / f"{which}.html"
    report.write_report(_store_path(runs), run_id, str(page))
    layout = _laid_out(page, tmp_path, which)
    assert layout["text"] == decision and float(layout["fontSize"].rstrip("px")) >= 32
    assert 0 <= layout["top"] and layout["bottom"] <= layout["height"], layout
    assert layout["wide"] == [], layout["wide"]
    figures = layout["figures"]
    assert figures and all(f["shown"] for f in figures), figures
    for f in figures:
        assert len(f["x"]) == len(set(f["x"])), f  # bins or values told apart
    assert layout["evidence"] if decision == "BLOCK" else not layout["evidence"]
    assert all(e["figure"] for e in layout["evidence"]), layout["evidence"]
    [history] = [f for f in figures if "history" in f["kind"]]
    assert history["x"] and all(re.fullmatch(_WHEN + r" / (span \d+|serving)", label) for label in history["x"]), history
    distributions = [f for f in figures if "distribution" in f["kind"] or "evidence-figure" in f["kind"]]
    assert any(len(f["x"]) >= 5 for f in distributions), distributions
    nodes = {n["node"]: n for n in layout["lineage"]}
    assert nodes["TrainExampleGen"]["target"] and nodes["DataGate"]["status"] == ("blocked" if decision == "BLOCK" else "done")
    assert all(n["target"] for n in nodes.values() if n["href"]), nodes
    if decision == "BLOCK":
        assert nodes["Pusher"]["status"] == "not run" and not nodes["Pusher"]["href"]
    else:
        assert nodes["Pusher"]["status"] == "done" and nodes["Pusher"]["target"]
    source = page.read_text()
    if decision == "BLOCK":
        assert "Next: " in source and "payment_type" in source.split('id="verdict"')[1].split("</section>")[0]
        evidence = [block.split("</div>")[0] for block in source.split('<div class="evidence reason-block"')[1:]]
        [payment] = [e for e in evidence if "payment_type ENUM_TYPE_UNEXPECTED_STRING_VALUES" in e]
        assert 'class="figure evidence-figure"' in payment and "outside the schema&#x27;s domain" in payment
        # Where: the lines of the first rows holding the value, in the span's own file.
        lines = re.search(r"<td>Bitcoin</td><td>[\d,]+</td><td>[\d.]+%</td><td>data.csv: ([\d, ]+)</td>", payment)
        assert lines, payment[:3000]
        text = (runs["extra_data"] / "train" / "span-5" / "data.csv").read_text().splitlines()
        assert all("Bitcoin" in text[int(n) - 1] for n in lines.group(1).split(", ")), lines.group(1)
    assert len(source.encode()) < 1_000_000


def test_a_distance_has_its_evidence_beside_it(runs, tmp_path):
    """Span 4 drifted from span 3 (more card payments): beside the drift, the two distributions
    overlaid and the categories that moved most, with both shares and the noise level."""
    page = tmp_path / "warn.html"
    [warn_run] = [c.name for c in query.run_contexts(runs["store"])][-2:-1]
    report.write_report(_store_path(runs), warn_run, str(page))
    source = page.read_text()
    blocks = [b.split("</div>")[0] for b in source.split('<div class="evidence ')[1:]]
    distances = [b for b in blocks if " (drift " in b or " (skew " in b or "drift against" in b or "skew against" in b]
    assert distances, [b[:300] for b in blocks]
    assert any("<th>baseline share</th>" in b and " points</td>" in b and 'class="figure evidence-figure"' in b
               for b in distances), distances[0][:2000]


def test_report_renders_in_chromium_with_the_feature_names(report_file, tmp_path):
    assert CHROMIUM, "Chromium is missing: `make test` installs Debian's chromium package"
    proc = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", report_file.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    dom = proc.stdout
    assert proc.returncode == 0, proc.stderr[-2000:]
    for feature in ("payment_type", "tips", "fare", "trip_miles"):
        assert feature in dom
    assert "Anomalies, with the policy's verdict" in dom
    assert dom.count('<svg class="figure ') >= 3


def _empty_store():
    config = metadata_store_pb2.ConnectionConfig()
    config.fake_database.SetInParent()
    return metadata_store.MetadataStore(config)


def test_values_from_data_are_escaped(tmp_path):
    hostile = '<script>alert(1)</script><img src=x onerror="document.body.dataset.pwned=1">'
    finding = Finding(feature=hostile, types=["ENUM_TYPE_UNEXPECTED_STRING_VALUES"], check="schema",
                      description=f"Examples contain values missing from the schema: {hostile} (~5%).")
    run = runs_lib.Run(
        run_id=hostile, context_id=1, pipeline="tfxgate", created_ms=0, states={}, examples=[],
        schema_version="v1", schema_file=None, inferred_schema_uri=None,
        validations=[runs_lib.Validation(
            node="TrainValidator", environment="TRAINING", schema_version="v1", span=1, artifact_id=1,
            uri=hostile, statistics_uri="/nonexistent", drift_baseline_span=None, splits={},
            verdicts=[policy_lib.Verdict("training[train]", finding, "block", "default")])],
        gate={"decision": "block", "summary": hostile}, pushed_model=None)
    document = report.render_html(run, lineage.history(_empty_store(), pipeline="tfxgate"), "store")
    assert "<script>" not in document and "onerror=" not in document.replace("onerror=&quot;", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    assert CHROMIUM, "Chromium is missing: `make test` installs Debian's chromium package"
    page = tmp_path / "hostile.html"
    page.write_text(document)
    dom = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'p'}", "--dump-dom",
                          page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert "data-pwned" not in dom and "&lt;script&gt;alert(1)" in dom


def _project_on(runs, tmp_path):
    """A project whose store is a copy of the session's runs' store (the shipped project's settings)."""
    project = tmp_path / "project"
    (project / "outputs").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "tfxgate.yaml", project / "tfxgate.yaml")
    shutil.copytree(PROJECT_ROOT / "schema", project / "schema")
    shutil.copyfile(_store_path(runs), project / "outputs" / "metadata.sqlite")
    return project


def _self_contained(page: str) -> None:
    """Nothing loaded from outside the page: no address with a host, no stylesheet import, only
    the page's own data (`data:` URLs, fragments); nbconvert's require.js and MathJax left out."""
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.I)
    assert not re.search(r"""\bsrc\s*=\s*["'](?!data:|["'])""", page, re.I)
    assert "@import" not in page and not re.search(r"""url\((?!#|["']?data:)""", page)


def test_notebook_executes_on_the_api(runs, tmp_path, monkeypatch):
    """The data scientist's path (notebooks/anomaly_report.ipynb): a batch validated as a DataFrame,
    its verdict and evidence, the rows left out, the project's runs, a feature's history, the
    latest pushed model's run. It runs offline under nbclient without a line of library noise,
    leaves the project's store as it was, and its page (nbconvert) in Chromium at 1280x800 shows
    the verdict in the first screen and each blocking finding with its evidence figure.

    Awaits tfxgate/notebook/batch.py (`tfxgate.validate`), written beside this."""
    from nbconvert import HTMLExporter

    notebook = nbformat.read(str(PROJECT_ROOT / "notebooks" / "anomaly_report.ipynb"), as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), \
        "commit the notebook with its outputs cleared"
    project = _project_on(runs, tmp_path)
    store = project / "outputs" / "metadata.sqlite"
    before = store.read_bytes()
    monkeypatch.setenv("TFXGATE_PROJECT", str(project))  # the kernel inherits it
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(PROJECT_ROOT / "notebooks")}}).execute()
    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    noise = [o.get("text", "")[:300] for o in outputs if o.get("name") == "stderr"]
    assert not noise, noise  # library start-up lines and warnings stay out of what a reader sees
    text = "\n".join(str(o.get("text", "")) + json.dumps(o.get("data", {})) for o in outputs)
    assert "Bitcoin" in text and "payment_type" in text and "n/a" in text  # the batch's defects, found
    assert all(c.name in text for c in query.run_contexts(runs["store"]))  # every run, in tfxgate.runs()
    assert '<svg class=\\"figure history\\"' in text and 'class=\\"lineage\\"' in text
    assert store.read_bytes() == before  # read, never written
    page_text, _ = HTMLExporter(template_name="lab", require_js_url="", mathjax_url="").from_notebook_node(notebook)
    _self_contained(page_text)
    page = tmp_path / "notebook.html"
    page.write_text(page_text)
    layout = _laid_out(page, tmp_path, "notebook")
    assert layout["text"] == "BLOCK" and 0 <= layout["top"] and layout["top"] + 60 <= layout["height"], layout
    assert layout["evidence"] and all(e["figure"] for e in layout["evidence"]), layout["evidence"]
    assert any("payment_type" in e["reason"] for e in layout["evidence"]), layout["evidence"]


def test_lineage_of_the_latest_model(runs):
    store = runs["store"]
    data = lineage.model_lineage(store, "latest")
    assert data["model"]["type"] == "PushedModel"
    # Span 5 was blocked; span 4's model is the latest pushed unless the model gate refused it.
    warn_run = runs_lib.load_run(store, query.run_contexts(store)[-2])
    span = 4 if warn_run.evaluation["pushed"] else 3
    assert [e["span"] for e in data["examples"]] == [span]  # never the baseline's data too
    assert data["examples"][0]["fingerprint"].startswith("split:single_split")
    assert data["schema_version"] == "v1"
    assert data["trainer"]["node"] == "Trainer" and data["transform"]["node"] == "Transform"
    assert data["statistics"]
    if span == 4:
        assert data["run"]["gate"]["decision"] == "warn"
        severities = {(v["feature"], v["severity"]) for a in data["run"]["anomalies"] for v in a["verdicts"]}
        assert ("payment_type", "warn") in severities
    assert data["run"]["evaluation"]["blessed"] is True


def test_reverse_lineage_questions(runs, capfd):
    store = runs["store"]
    # Span 3's model, pushed, and the one-step model the model gate refused: never pushed, and no
    # push descends from it or from span 3's through the Evaluator's baseline.
    trained, refused = lineage.models_trained_on_span(store, 3)
    assert trained["pushed_to"] and refused["pushed_to"] == []
    assert refused["run_id"] == runs["refused_run"].name
    [model] = lineage.models_trained_on_span(store, 4)
    warn_run = runs_lib.load_run(store, query.run_contexts(store)[-2])
    assert model["run_id"] and model["fingerprint"].startswith("split:single_split")
    assert bool(model["pushed_to"]) == warn_run.evaluation["pushed"]  # as the model gate decided
    assert cli.main(["lineage", "--metadata", _store_path(runs), "--span", "4"]) == 0
    text = capfd.readouterr().out
    assert f"run {model['run_id']}" in text and "input fingerprint" in text
    assert ("pushed to: " if model["pushed_to"] else "pushed to: not pushed") in text
    assert lineage.models_trained_on_span(store, 5) == []
    [blocked] = lineage.runs_blocked_on_feature(store, "tips")
    assert blocked["spans"] == [5] and blocked["anomalies"] == ["SCHEMA_MISSING_COLUMN"]
    assert [r["spans"] for r in lineage.runs_blocked_on_feature(store, "payment_type")] == [[5]]
    assert lineage.runs_blocked_on_feature(store, "fare") == []


def test_history_reads_each_runs_distances_with_thresholds(runs, capfd):
    rows = lineage.history(runs["store"], "payment_type")
    drift = [r for r in rows if r["check"] == "drift" and r["split"] == "train" and r["type"] == "L_INFTY"
             and not r.get("slice")]
    assert [r["span"] for r in drift] == [4, 5]  # span 3 ran first: nothing to drift from
    assert [r["against"] for r in drift] == ["span 3", "span 4"]
    assert {r["span"] for r in rows if r["environment"] == "SERVING"} == {"serving"}
    # Span 4's payment mix drifted from span 3's (Credit Card 40 % -> 56 %): over its threshold.
    assert drift[0]["over"] and drift[0]["value"] > drift[0]["threshold"] == 0.15
    run5 = runs_lib.find_run(runs["store"], "latest")
    [train5] = [v for v in run5.validations if v.environment == "TRAINING"]
    assert train5.drift_baseline_span == 4  # span 4 passed the gate (with warnings): it is the baseline
    skew = [r for r in rows if r["check"] == "skew" and r["type"] == "L_INFTY"]
    assert skew and all(not r["over"] for r in skew)
    assert cli.main(["history", "--metadata", _store_path(runs), "--feature", "payment_type", "--format", "json"]) == 0
    printed = json.loads(capfd.readouterr().out)
    assert {r["feature"] for r in printed} == {"payment_type"}
    assert cli.main(["history", "--metadata", _store_path(runs), "--feature", "no_such_feature"]) == 2
    [line] = capfd.readouterr().err.strip().splitlines()
    assert "no schema version has such a feature" in line


@pytest.mark.parametrize("value", ["$x_$", "$\\undefinedcmd{x}$", "Cab $5 to $10"])
def test_a_value_with_dollar_signs_is_drawn_literally(value):
    """Matplotlib reads $...$ as math: a category or feature named so must neither break a figure
    nor be drawn as math."""
    from tfxgate.reports import figures

    assert figures.literal(value).replace("\\$", "$") == value
    rows = [{"check": "skew", "feature": value, "type": "L_INFTY", "value": 0.3, "threshold": 0.15, "ratio": 2.0}]
    assert figures.png_bytes(figures.distances_figure(rows)).startswith(b"\x89PNG")
    history = [{"run_id": "r", "check": "skew", "feature": value, "type": "L_INFTY", "split": "serving",
                "value": 0.1, "threshold": 0.15}]
    assert figures.png_bytes(figures.history_figure(history)).startswith(b"\x89PNG")


HOSTILE_VALUES = [
    "<script>document.body.dataset.pwned=1</script>",  # markup that would run
    "{{ 7*7 }} {% if x %}${7*7}",  # template syntax (Jinja, JavaScript template literals)
    "دفع نقدي عبر التطبيق",  # right-to-left text
    "💳🚕 pay by phone 🧾",  # emoji
    "Prepaid-" + "voucher" * 60,  # one very long word
    "Prepaid-" + "voucher" * 60 + "-b",  # another, alike for its first hundreds of characters
]
HOSTILE_COLUMN = "<b>{{ column }}</b> عمود 💥 " + "extra" * 40


def _run_of_batch(tmp_path, batch: pathlib.Path, name: str = "batch", states=None, artifacts=None):
    """A run as the report reads it, from real validation of a serving batch of real sample rows
    against span 3 by `tfxgate validate`'s own code, its statistics written where a run's
    artifacts are."""
    from core.batch import batch_stats
    from core.settings import layout
    from core.common import names as n
    from tests.paths import DATA_ROOT
    from tfxgate.validation import validate

    baseline_csv = DATA_ROOT / "train" / "span-3" / "data.csv"
    schema = PROJECT_ROOT / "schema" / "v1" / "schema.pbtxt"
    outcome = validate.run(str(batch), n.SERVING, str(schema), str(PROJECT_ROOT / "schema" / "policy.yaml"),
                           str(baseline_csv), None)
    stats = {}
    for side, path, split in (("train", baseline_csv, n.BASELINE_SPLIT), ("serving", batch, n.SERVING_SPLIT)):
        statistics, _ = batch_stats.statistics(str(path))
        target = pathlib.Path(layout.statistics_path(str(tmp_path / f"{side}-statistics"), split))
        target.parent.mkdir(parents=True)
        target.write_bytes(statistics.SerializeToString())
        stats[side] = str(tmp_path / f"{side}-statistics")
    document = {"environment": n.SERVING, "num_examples": outcome.rows, "distances": outcome.distances,
                "findings": [v.finding.to_json() for v in outcome.verdicts]}
    validations = [
        runs_lib.Validation(node=n.TRAIN_VALIDATOR, environment=n.TRAINING, schema_version="v1", span=3, artifact_id=3,
                            uri=str(tmp_path), statistics_uri=stats["train"], drift_baseline_span=None, splits={},
                            verdicts=[]),
        runs_lib.Validation(node=n.SERVING_VALIDATOR, environment=n.SERVING, schema_version="v1", span=None,
                            artifact_id=4, uri=str(tmp_path), statistics_uri=stats["serving"],
                            drift_baseline_span=None, splits={n.SERVING_SPLIT: document}, verdicts=outcome.verdicts)]
    return runs_lib.Run(
        run_id=name, context_id=1, pipeline="tfxgate", created_ms=0, states=states or {}, examples=[],
        schema_version="v1", schema_file=str(schema), inferred_schema_uri=None, validations=validations,
        gate={"decision": outcome.result, "summary": ""}, pushed_model=None, artifacts=artifacts or {})


def _hostile_run(tmp_path):
    """A serving batch whose payment types are hostile text in one row in eight, with an extra
    column of a hostile name; MLMD's records of it named with hostile text too."""
    from core.common import names as n
    from tests import defects

    rows = [dict(r, payment_type=HOSTILE_VALUES[(i // 8) % len(HOSTILE_VALUES)]) if i % 8 == 0 else r
            for i, r in enumerate(defects.base_rows(n=1600))]
    rows = [dict(r, **{HOSTILE_COLUMN: r["company"]}) for r in rows]
    batch = defects.write_rows(tmp_path / "hostile" / "batch.csv", rows, [*defects.SERVING_COLUMNS, HOSTILE_COLUMN])
    artifacts = {n.SERVING_EXAMPLE_GEN: [{"id": 5, "type": "Examples", "uri": HOSTILE_VALUES[1]}],
                 n.SERVING_VALIDATOR: [{"id": 4, "type": "ExampleAnomalies", "uri": HOSTILE_VALUES[0]}]}
    states = {n.SERVING_EXAMPLE_GEN: "COMPLETE", n.SERVING_VALIDATOR: "COMPLETE", n.GATE: "FAILED"}
    run = _run_of_batch(tmp_path, batch, HOSTILE_VALUES[3], states, artifacts)
    assert run.gate["decision"] == n.BLOCK
    assert any(v.finding.feature == "payment_type" for v in run.validations[1].verdicts)
    run.pipeline, run.gate["summary"] = HOSTILE_VALUES[2], HOSTILE_VALUES[1]
    history = [{"run_id": value, "created_ms": 1_700_000_000_000 + i * 86_400_000, "span": i + 3, "check": "skew",
                "feature": value, "type": "L_INFTY", "split": n.SERVING_SPLIT, "value": 0.1 + i / 50, "threshold": 0.15}
               for i, value in enumerate(HOSTILE_VALUES)]
    return run, history


def test_a_finding_in_one_slice_names_the_slice_beside_the_others(tmp_path):
    """One company's fares in cents: the evidence names that slice, with the same measure in the
    other slices judged, the flagged one first."""
    from tests import defects

    run = _run_of_batch(tmp_path, defects.write(tmp_path, "fare_in_cents_for_one_company_serving"))
    page = report.render_html(run)
    sliced = [v for v in run.validations[1].verdicts if v.finding.slice and v.finding.feature == "fare"]
    assert sliced, [v.line() for v in run.validations[1].verdicts]
    company = sliced[0].finding.slice
    blocks = [b.split("</div>")[0] for b in page.split('<div class="evidence ')[1:]]
    [block] = [b for b in blocks if html_lib.escape(company) in b.split("</h3>")[0] and "fare" in b.split("</h3>")[0]][:1]
    assert f"Found in slice {html_lib.escape(company, quote=True)}" in block
    cells = re.findall(r"<tr><td>([^<]*)</td>", block.split("<table>")[1])
    assert cells[0] == html_lib.escape(company, quote=True) and len(cells) >= 3  # the flagged slice first, others beside
    assert "this finding" in block


def test_hostile_values_render_as_text_and_keep_the_layout(tmp_path):
    """Markup, script, template syntax, right-to-left text, emoji and very long strings in values
    and names: in Chromium at 1280x800 they read as the text they are, nothing runs, nothing is
    wider than the window, and the figures keep their labels apart."""
    assert CHROMIUM, "Chromium is missing: `make test` installs Debian's chromium package"
    run, history = _hostile_run(tmp_path)
    page = tmp_path / "hostile.html"
    page.write_text(report.render_html(run, history, HOSTILE_VALUES[1]))
    source = page.read_text()
    assert "<script>" not in source and "<b>{{" not in source
    layout = _laid_out(page, tmp_path, "hostile")
    assert layout["pwned"] is None  # escaped, even in the probe's copy that may run scripts
    assert layout["text"] == "BLOCK" and 0 <= layout["top"] < layout["height"] / 2
    assert layout["wide"] == [], layout["wide"]
    text = layout["page"]
    for value in HOSTILE_VALUES[:4]:
        assert value in text, value  # as the text it is: not run, not templated, not dropped
    assert "<b>{{ column }}</b>" in text
    evidence_ticks = [label for f in layout["figures"] if "evidence-figure" in f["kind"] for label in f["x"]]
    assert "{{ 7*7 }} {% if x %}${7*7}" in evidence_ticks and "دفع نقدي عبر التطبيق" in evidence_ticks
    for f in layout["figures"]:
        labels = f["x"] if "distances" not in f["kind"] else f["y"]
        assert len(labels) == len(set(labels)) and all(len(label) <= 60 for label in labels), f
