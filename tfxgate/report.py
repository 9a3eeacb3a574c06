"""The anomaly report of a run, from MLMD and statistics (never raw rows): tables and figures
for the notebook, and one self-contained HTML file for `tfxgate report`.

The HTML file makes no network request: no scripts, no external fonts or styles, figures inline
as PNG data, and a Content-Security-Policy that forbids loading anything. Every string that
comes from data (feature names, category values, descriptions) is escaped.
"""

import base64
import html
import io
import os
from typing import Dict, List, Optional, Tuple

from tfxgate import files, lineage, runs, schema_versions
from tfxgate import store as store_lib

MAX_MOVED = 4


# ---- tables -------------------------------------------------------------------------------

def schema_rows(schema) -> List[dict]:
    """One row per feature: type, domain, presence, environments, comparators."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    domains = {d.name: list(d.value) for d in schema.string_domain}
    rows = []
    for f in schema.feature:
        kind = f.WhichOneof("domain_info")
        if kind == "int_domain":
            domain = f"{f.int_domain.min} to {f.int_domain.max}" + (" (categorical)" if f.int_domain.is_categorical else "")
        elif kind == "float_domain":
            lo = f"{f.float_domain.min:.6g}" if f.float_domain.HasField("min") else "-inf"
            hi = f"{f.float_domain.max:.6g}" if f.float_domain.HasField("max") else "inf"
            domain = f"{lo} to {hi}"
        elif kind in ("domain", "string_domain"):
            values = domains.get(f.domain, []) if kind == "domain" else list(f.string_domain.value)
            domain = f"{len(values)} values: " + ", ".join(values[:6]) + (" ..." if len(values) > 6 else "")
        else:
            domain = ""
        comparators = []
        for label, comparator in (("skew", f.skew_comparator), ("drift", f.drift_comparator)):
            if comparator.HasField("infinity_norm"):
                comparators.append(f"{label}: L-inf {comparator.infinity_norm.threshold:g}")
            if comparator.HasField("jensen_shannon_divergence"):
                comparators.append(f"{label}: JSD {comparator.jensen_shannon_divergence.threshold:g}")
        envs = list(f.in_environment) or list(schema.default_environment)
        envs = [e for e in envs if e not in f.not_in_environment]
        rows.append({
            "feature": f.name,
            "type": schema_pb2.FeatureType.Name(f.type),
            "domain": domain,
            "min fill": f.presence.min_fraction if f.HasField("presence") else "",
            "environments": ", ".join(envs),
            "comparators": "; ".join(comparators),
            "lifecycle": "deprecated" if f.lifecycle_stage == schema_pb2.DEPRECATED else "",
        })
    return rows


def anomaly_rows(run: runs.Run) -> List[dict]:
    rows = []
    for validation in run.validations:
        for v in validation.verdicts:
            f = v.finding
            rows.append({"dataset": v.dataset, "feature": f.feature, "types": ", ".join(f.types),
                         "check": f.rule or f.check, "severity": v.severity, "description": f.description})
    return rows


def distance_rows(run: runs.Run) -> List[dict]:
    rows = []
    for validation in run.validations:
        for d in validation.distances:
            if d["split"] not in ("train", "serving"):
                continue  # one split per dataset keeps the table readable; eval is in MLMD
            rows.append({"environment": validation.environment, **d,
                         "ratio": d["value"] / d["threshold"] if d["threshold"] else 0.0})
    return sorted(rows, key=lambda r: -r["ratio"])


def moved_most(run: runs.Run, n: int = MAX_MOVED) -> List[str]:
    seen, result = set(), []
    for row in distance_rows(run):
        if row["check"] == "skew" and row["feature"] not in seen:
            seen.add(row["feature"])
            result.append(row["feature"])
    return result[:n]


def schema_differences(run: runs.Run) -> List[str]:
    """What the curated schema says that the schema inferred from this span does not."""
    if not run.schema_file or not run.inferred_schema_uri:
        return []
    if not os.path.isfile(run.schema_file):
        return [f"(curated schema file {run.schema_file} is not on this machine)"]
    inferred = os.path.join(run.inferred_schema_uri, "schema.pbtxt")
    return schema_versions.diff(schema_versions.load(run.schema_file), schema_versions.load(inferred),
                                f"curated {run.schema_version}", "inferred")[1:]


# ---- statistics and figures -------------------------------------------------------------

def _load_stats(uri: str, split: str):
    import tensorflow_data_validation as tfdv

    return tfdv.load_stats_binary(os.path.join(uri, f"Split-{split}", "FeatureStats.pb"))


def run_statistics(run: runs.Run) -> Dict[str, object]:
    """{'TRAINING': stats of the train split, 'SERVING': stats of the serving batch}."""
    result = {}
    for validation in run.validations:
        split = "serving" if validation.environment == "SERVING" else "train"
        path = os.path.join(validation.statistics_uri or "", f"Split-{split}", "FeatureStats.pb")
        if os.path.isfile(path):
            result[validation.environment] = _load_stats(validation.statistics_uri, split)
    return result


def _feature(stats, name: str):
    for f in stats.datasets[0].features:
        if (f.path.step and f.path.step[-1] == name) or f.name == name:
            return f
    return None


def _distribution(feature) -> Tuple[List[str], List[float]]:
    """Labels and shares: equal-width histogram for numbers, top values for strings."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    if feature.HasField("num_stats"):
        for h in feature.num_stats.histograms:
            if h.type == statistics_pb2.Histogram.QUANTILES:
                total = sum(b.sample_count for b in h.buckets) or 1
                return [f"{b.low_value:.3g}-{b.high_value:.3g}" for b in h.buckets], [b.sample_count / total for b in h.buckets]
    if feature.HasField("string_stats"):
        values = feature.string_stats.top_values[:10]
        total = feature.string_stats.common_stats.num_non_missing or 1
        return [v.value for v in values], [v.frequency / total for v in values]
    return [], []


def distribution_figure(training, serving, name: str):
    """Training versus serving distribution of one feature, from statistics."""
    fig, ax = _figure(6, 2.6)
    train_f, serve_f = _feature(training, name), _feature(serving, name)
    if train_f is not None and train_f.HasField("num_stats") and serve_f is not None:
        # Serving mass in the training deciles: the same boundaries for both sides.
        labels, train_share = _distribution(train_f)
        serve_share = _share_in_training_deciles(train_f, serve_f)
    else:
        labels, train_share = _distribution(train_f) if train_f is not None else ([], [])
        serve_counts = dict(zip(*_distribution(serve_f))) if serve_f is not None else {}
        serve_share = [serve_counts.get(label, 0.0) for label in labels]
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], train_share, width=0.4, label="training")
    ax.bar([x + 0.2 for x in xs], serve_share, width=0.4, label="serving")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("share of rows")
    ax.set_title(name, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _share_in_training_deciles(train_f, serve_f) -> List[float]:
    from tensorflow_metadata.proto.v0 import statistics_pb2

    def quantile_buckets(f):
        for h in f.num_stats.histograms:
            if h.type == statistics_pb2.Histogram.QUANTILES:
                return h.buckets
        return []

    train_b, serve_b = quantile_buckets(train_f), quantile_buckets(serve_f)
    total = sum(b.sample_count for b in serve_b) or 1
    shares = []
    for tb in train_b:
        mass = 0.0
        for sb in serve_b:
            width = sb.high_value - sb.low_value
            overlap = min(tb.high_value, sb.high_value) - max(tb.low_value, sb.low_value)
            if width <= 0:
                mass += sb.sample_count if tb.low_value <= sb.low_value <= tb.high_value else 0.0
            elif overlap > 0:
                mass += sb.sample_count * overlap / width
        shares.append(mass / total)
    return shares


def distances_figure(rows: List[dict]):
    rows = [r for r in rows if r["type"] != "scale_shift"][:16]
    fig, ax = _figure(6.5, 0.32 * max(len(rows), 3) + 0.8)
    labels = [f"{r['check']} {r['feature']}" for r in rows]
    ax.barh(labels, [r["value"] for r in rows], color=["#c0392b" if r["ratio"] >= 1 else "#2e86c1" for r in rows])
    ax.scatter([r["threshold"] for r in rows], labels, marker="|", s=200, color="black", label="threshold")
    ax.invert_yaxis()
    ax.set_xlabel("distance (L-infinity or Jensen-Shannon)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def history_figure(rows: List[dict]):
    fig, ax = _figure(6.5, 2.8)
    series: Dict[Tuple[str, str], List[Tuple[int, float]]] = {}
    runs_seen = []
    for r in rows:
        if r["type"] == "scale_shift" or r["split"] not in ("train", "serving"):
            continue
        if r["run_id"] not in runs_seen:
            runs_seen.append(r["run_id"])
        series.setdefault((r["check"], r["feature"]), []).append((runs_seen.index(r["run_id"]), r["value"] / r["threshold"]))
    for (check, feature), points in sorted(series.items()):
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=f"{check} {feature}")
    ax.axhline(1.0, color="black", linestyle="--", linewidth=1)
    ax.set_xlabel("run (oldest first)")
    ax.set_ylabel("distance / threshold")
    if series:
        ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return fig


def _figure(width: float, height: float):
    """A figure from matplotlib's object API: no pyplot, no global backend, nothing to close."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.subplots()


def png_bytes(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


def _png(fig) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(fig)).decode("ascii")


# ---- HTML -----------------------------------------------------------------------------------

_CSS = """
body{font-family:sans-serif;margin:2em;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f2f2f2}.block{color:#fff;background:#c0392b;padding:1px 5px}
.warn{background:#f4d03f;padding:1px 5px}.pass{color:#fff;background:#27ae60;padding:1px 5px}
code{font-size:12px}pre{white-space:pre-wrap;font-size:12px}
"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _table(rows: List[dict], columns: Optional[List[str]] = None) -> str:
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
                cells.append(f"<td>{value:.4g}</td>")
            else:
                cells.append(f"<td>{_e(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def render_html(store, run: runs.Run, metadata_path: str) -> str:
    """The whole report as one self-contained HTML document."""
    from tfxgate import schema_versions as sv

    parts = [f"<h1>tfxgate anomaly report: run {_e(run.run_id)}</h1>"]
    gate = run.gate
    parts.append(_table([{
        "pipeline": run.pipeline, "run": run.run_id, "spans": ", ".join(str(e["span"]) for e in run.examples),
        "schema version": run.schema_version, "decision": gate.get("decision"),
        "pushed model": (run.pushed_model or {}).get("destination") or "(none)",
    }]))
    parts.append(f"<p>Gate: {_e(gate.get('summary'))}</p>")
    parts.append("<h3>Artifacts</h3>")
    artifacts = [{"artifact": "examples (span %s)" % e["span"], "uri": e["uri"]} for e in run.examples]
    artifacts += [{"artifact": f"{v.node} anomalies", "uri": v.uri} for v in run.validations]
    artifacts += [{"artifact": f"{v.node} statistics", "uri": v.statistics_uri} for v in run.validations]
    parts.append(_table(artifacts))

    parts.append(f"<h2>Curated schema {_e(run.schema_version)} and its environments</h2>")
    if run.schema_file and os.path.isfile(run.schema_file):
        parts.append(_table(schema_rows(sv.load(run.schema_file))))
    differences = schema_differences(run)
    parts.append("<h3>What the curated schema says that the schema inferred from this span does not</h3>")
    parts.append("<pre>" + _e("\n".join(differences) or "(no difference)") + "</pre>")

    parts.append("<h2>Anomalies, with the policy's verdict</h2>")
    parts.append(_table(anomaly_rows(run), ["dataset", "feature", "types", "check", "severity", "description"]))

    rows = distance_rows(run)
    parts.append("<h2>Skew and drift: every measured distance against its threshold</h2>")
    parts.append(_table(rows, ["environment", "check", "feature", "type", "value", "threshold"]))
    if rows:
        parts.append(f'<img alt="distances" src="{_png(distances_figure(rows))}">')

    stats = run_statistics(run)
    if "TRAINING" in stats and "SERVING" in stats:
        parts.append("<h2>Training versus serving: the features that moved most</h2>")
        for feature in moved_most(run):
            parts.append(f'<img alt="{_e(feature)}" src="{_png(distribution_figure(stats["TRAINING"], stats["SERVING"], feature))}">')

    history = lineage.history(store)
    parts.append("<h2>History: distance over threshold, per run</h2>")
    parts.append(f'<img alt="history" src="{_png(history_figure(history))}">')
    parts.append(f"<p><small>From MLMD store {_e(store_lib.as_settings(metadata_path).describe())}.</small></p>")

    csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    return (
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        f"<title>tfxgate report {_e(run.run_id)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>"
    )


def write_report(metadata_path: str, which: str, out: str) -> str:
    store = runs.open_store(metadata_path)
    run = runs.find_run(store, which)
    return files.write_atomic(out, render_html(store, run, metadata_path))  # never a half-written report
