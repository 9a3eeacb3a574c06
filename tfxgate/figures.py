"""The figures of a run's anomaly report, drawn with matplotlib's object API (no pyplot, no
global backend): shared by the HTML report and the notebook."""

import base64
import datetime
import io
import math
from typing import Dict, List, Tuple

from core import names
from tfxgate.tables import feature_statistics


def literal(text) -> str:
    """A string from data as matplotlib should draw it: as it is. Matplotlib reads `$...$` as
    math markup (`$x_$` fails to render, `Cab $5 to $10` is drawn as math); an escaped dollar is
    drawn as a dollar."""
    return str(text).replace("$", r"\$")


def number(value: float, digits: int = 3) -> str:
    """`value` with `digits` significant digits, in plain notation with thousands separators
    (1,740 not 1.74e+03; -87.63; 0.00125)."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(value)))))
    rounded = round(value, decimals)
    return f"{rounded:,.{decimals}f}"


def bin_labels(edges: List[Tuple[float, float]]) -> List[str]:
    """'low–high' per bin, with the fewest significant digits (3 at least) that tell every bin
    apart and show each bin's two edges apart where they differ: longitude bins read
    -87.632–-87.626, not -87.6--87.6."""
    for digits in range(3, 16):
        labels = [number(low, digits) + "–" + number(high, digits) for low, high in edges]
        distinct_edges = all(number(low, digits) != number(high, digits) for low, high in edges if low != high)
        if len(set(labels)) == len(labels) and distinct_edges:
            return labels
    return labels


def _distribution(feature) -> Tuple[List[str], List[float]]:
    """Labels and shares: equal-width histogram for numbers, top values for strings."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    if feature.HasField("num_stats"):
        for h in feature.num_stats.histograms:
            if h.type == statistics_pb2.Histogram.QUANTILES:
                total = sum(b.sample_count for b in h.buckets) or 1
                return (bin_labels([(b.low_value, b.high_value) for b in h.buckets]),
                        [b.sample_count / total for b in h.buckets])
    if feature.HasField("string_stats"):
        values = feature.string_stats.top_values[:10]
        total = feature.string_stats.common_stats.num_non_missing or 1
        return [v.value for v in values], [v.frequency / total for v in values]
    return [], []


def distribution(feature) -> Tuple[List[str], List[float]]:
    """(labels, shares) of a feature's statistics: its deciles for a number, its top values for a string."""
    return _distribution(feature)


def share_in_deciles(base_f, batch_f) -> List[float]:
    """The batch's share of rows in each of the baseline's deciles."""
    return _share_in_training_deciles(base_f, batch_f)


def categories_figure(values: List[Tuple[str, float]], known: set, name: str):
    """A feature's most frequent values, those outside the schema's domain in red."""
    fig, ax = _figure(6, 2.6)
    shown = values[:12]
    total = sum(count for _, count in values) or 1
    ax.bar(range(len(shown)), [count / total for _, count in shown],
           color=["#2e86c1" if value in known else "#c0392b" for value, _ in shown])
    ax.set_xticks(list(range(len(shown))))
    ax.set_xticklabels([literal(value) for value, _ in shown], rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("share of rows")
    ax.set_title(literal(f"{name}: red = outside the schema's domain"), fontsize=10)
    fig.tight_layout()
    return fig


def distribution_figure(training, serving, name: str, sides: Tuple[str, str] = ("training", "serving")):
    """Two distributions of one feature overlaid, from statistics: training versus serving, or a
    baseline versus a batch (`sides` names them)."""
    fig, ax = _figure(6, 2.6)
    train_f, serve_f = feature_statistics(training, name), feature_statistics(serving, name)
    if train_f is not None and train_f.HasField("num_stats") and serve_f is not None:
        # Serving mass in the training deciles: the same boundaries for both sides.
        labels, train_share = _distribution(train_f)
        serve_share = _share_in_training_deciles(train_f, serve_f)
    else:
        labels, train_share = _distribution(train_f) if train_f is not None else ([], [])
        serve_counts = dict(zip(*_distribution(serve_f))) if serve_f is not None else {}
        serve_share = [serve_counts.get(label, 0.0) for label in labels]
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], train_share, width=0.4, label=sides[0])
    ax.bar([x + 0.2 for x in xs], serve_share, width=0.4, label=sides[1])
    ax.set_xticks(list(xs))
    ax.set_xticklabels([literal(label) for label in labels], rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("share of rows")
    ax.set_title(literal(name), fontsize=10)
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


_COMPARATORS = ("L_INFTY", "JENSEN_SHANNON_DIVERGENCE")  # the schema's comparators: one scale, 0 to 1


def distances_figure(rows: List[dict]):
    rows = [r for r in rows if r["type"] in _COMPARATORS and r.get("slice") in (None, "(all rows)")][:16]
    fig, ax = _figure(6.5, 0.32 * max(len(rows), 3) + 0.8)
    labels = [literal(f"{r['check']} {r['feature']}") for r in rows]
    ax.barh(labels, [r["value"] for r in rows], color=["#c0392b" if r["ratio"] >= 1 else "#2e86c1" for r in rows])
    ax.scatter([r["threshold"] for r in rows], labels, marker="|", s=200, color="black", label="threshold")
    ax.invert_yaxis()
    ax.set_xlabel("distance (L-infinity or Jensen-Shannon)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def run_label(row: dict) -> str:
    """A run on the history axis: when it ran (UTC) and what it judged ('2026-12-02 14:05\nspan 3')."""
    when = datetime.datetime.fromtimestamp((row.get("created_ms") or 0) / 1000, datetime.timezone.utc)
    span = row.get("span")
    judged = "serving" if span == "serving" else (f"span {span}" if span is not None else "")
    return f"{when:%Y-%m-%d %H:%M}\n{judged}".strip()


def history_figure(rows: List[dict]):
    """Per feature and check, the distance over its threshold across runs, oldest first; each run
    labelled by its time and span on the axis, the threshold (1.0) drawn. One run is one labelled
    point."""
    fig, ax = _figure(6.5, 3.0)
    series: Dict[Tuple[str, str], List[Tuple[int, float]]] = {}
    runs_seen: List[str] = []
    labels: List[str] = []
    for r in rows:
        if r["type"] not in _COMPARATORS or r.get("slice") or r["split"] not in (names.BASELINE_SPLIT, names.SERVING_SPLIT):
            continue
        if r["run_id"] not in runs_seen:
            runs_seen.append(r["run_id"])
            labels.append(run_label(r))
        series.setdefault((r["check"], r["feature"]), []).append((runs_seen.index(r["run_id"]), r["value"] / r["threshold"]))
    for (check, feature), points in sorted(series.items()):
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=literal(f"{check} {feature}"))
    ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label="threshold")
    ax.set_xticks(list(range(len(labels))))
    ax.set_xticklabels([literal(label) for label in labels], fontsize=7)
    ax.set_xlim(-0.5, max(len(labels) - 0.5, 0.5))
    ax.set_xlabel("run (oldest first): time (UTC) and what it judged")
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


def data_url(fig) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(fig)).decode("ascii")

