"""The figures of a run's anomaly report, drawn with matplotlib's object API (no pyplot, no
global backend): shared by the HTML report and the notebook.

The report embeds each figure as inline SVG whose text stays text (`svg(fig)`): a reader can
select and search a bin label, a browser renders it in the page's fonts, and a test reads it
from the rendered page. The notebook shows the same figure as PNG (`png_bytes`). What a figure
shows of a feature's statistics, in shares per bin, is bins.py's."""

import base64
import contextlib
import datetime
import io
import itertools
import re
import warnings
from typing import Dict, List, Optional, Tuple

from core.common import names
from tfxgate.reports import bins
from tfxgate.reports.tables import feature_statistics


LABEL_CHARS = 40  # a label from data longer than this is cut, with an ellipsis: a figure keeps its shape


def literal(text, limit: Optional[int] = None) -> str:
    """A string from data as matplotlib should draw it: as it is. Matplotlib reads `$...$` as
    math markup (`$x_$` fails to render, `Cab $5 to $10` is drawn as math); an escaped dollar is
    drawn as a dollar. With `limit`, a longer string is cut to that many characters."""
    text = str(text)
    if limit is not None and len(text) > limit:
        text = text[:limit - 1] + "…"
    return text.replace("$", r"\$")


def tick_labels(labels: List[str]) -> List[str]:
    """Labels from data as ticks of one axis: each at most LABEL_CHARS long, and as distinct as
    they were (two long values with one beginning are cut in the middle, then numbered)."""
    shown = [literal(label, LABEL_CHARS) for label in labels]
    if len(set(shown)) < len(set(labels)):
        half = LABEL_CHARS // 2
        shown = [literal(label) if len(label) <= LABEL_CHARS else literal(label[:half] + "…" + label[-(half - 1):])
                 for label in labels]
    seen: Dict[str, int] = {}
    for i, label in enumerate(shown):
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            shown[i] = f"{label} #{seen[label]}"
    return shown


def with_unit(name: str, units: Optional[Dict[str, str]]) -> str:
    """'fare (USD)' where the schema gives a unit (core.settings.schema_files.units), else the name."""
    unit = (units or {}).get(name)
    return f"{name} ({unit})" if unit else name


def categories_figure(values: List[Tuple[str, float]], known: set, name: str):
    """A feature's most frequent values, those outside the schema's domain in red."""
    fig, ax = _figure(6, 2.6)
    shown = values[:12]
    total = sum(count for _, count in values) or 1
    ax.bar(range(len(shown)), [count / total for _, count in shown],
           color=["#2e86c1" if value in known else "#c0392b" for value, _ in shown])
    ax.set_xticks(list(range(len(shown))))
    ax.set_xticklabels(tick_labels([value for value, _ in shown]), rotation=30, ha="right", rotation_mode="anchor", fontsize=7)
    ax.set_ylabel("share of rows")
    ax.yaxis.set_major_formatter(_percent_axis())
    ax.set_title(literal(name, LABEL_CHARS * 2) + ": red = outside the schema's domain", fontsize=10)
    _finish(fig)
    return fig


def shares_figure(bars: List[Tuple[str, float]], title: str, floor: Optional[float] = None, bad: frozenset = frozenset()):
    """Shares of rows as horizontal bars (0 to 100 %), those labelled in `bad` in red, with the
    schema's floor drawn where one applies: a fill rate against its minimum, the rows left out."""
    fig, ax = _figure(6, 0.42 * max(len(bars), 2) + 0.9)
    labels = tick_labels([label for label, _ in bars])
    ax.barh(labels, [share for _, share in bars],
            color=["#c0392b" if label in bad else "#2e86c1" for label, _ in bars])
    for y, (_, share) in enumerate(bars):
        ax.text(min(share, 1.0) + 0.01, y, f"{share:.1%}", va="center", fontsize=8)
    if floor is not None:
        ax.axvline(floor, color="black", linestyle="--", linewidth=1, label=f"schema minimum {floor:.0%}")
        ax.legend(fontsize=7, loc="lower right")
    ax.set_xlim(0, 1.15)
    ax.xaxis.set_major_formatter(_percent_axis())
    ax.invert_yaxis()
    ax.set_title(literal(title, LABEL_CHARS * 2), fontsize=10)
    _finish(fig)
    return fig


def distribution_figure(training, serving, name: str, sides: Tuple[str, str] = ("training", "serving"),
                        units: Optional[Dict[str, str]] = None):
    """Two distributions of one feature overlaid, from statistics: training versus serving, or a
    baseline versus a batch (`sides` names them), on the first side's bins (`aligned`)."""
    fig, ax = _figure(6, 2.6)
    train_f, serve_f = feature_statistics(training, name), feature_statistics(serving, name)
    if train_f is not None and serve_f is not None:
        labels, train_share, serve_share = bins.aligned(train_f, serve_f)
    else:
        labels, train_share = bins.distribution(train_f) if train_f is not None else ([], [])
        serve_share = [0.0] * len(labels)
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], train_share, width=0.4, label=sides[0])
    ax.bar([x + 0.2 for x in xs], serve_share, width=0.4, label=sides[1])
    ax.set_xticks(list(xs))
    ax.set_xticklabels(tick_labels(labels), rotation=30, ha="right", rotation_mode="anchor", fontsize=7)
    ax.set_ylabel("share of rows")
    ax.yaxis.set_major_formatter(_percent_axis())
    ax.set_title(literal(with_unit(name, units), LABEL_CHARS * 2), fontsize=10)
    ax.legend(fontsize=8)
    _finish(fig)
    return fig


def rule_columns_figure(columns: List[dict], rule: str):
    """Each column of a broken rule against its baseline, side by side, the changed first: the
    part of the rule that reads it (core/checks/rule_cause.py), the baseline's shares beside the batch's."""
    columns = [c for c in columns if c.get("bins")][:4]
    fig = _figure(4.2 * max(len(columns), 1), 2.8)[0]
    fig.clear()
    axes = fig.subplots(1, max(len(columns), 1), squeeze=False)[0]
    for ax, column in zip(axes, columns):
        labels = [str(b[0]) for b in column["bins"]]
        xs = range(len(labels))
        ax.bar([x - 0.2 for x in xs], [b[1] for b in column["bins"]], width=0.4, label="baseline")
        ax.bar([x + 0.2 for x in xs], [b[2] for b in column["bins"]], width=0.4, label="batch",
               color="#c0392b" if column.get("changed") else "#2e86c1")
        ax.set_xticks(list(xs))
        ax.set_xticklabels(tick_labels(labels), rotation=30, ha="right", rotation_mode="anchor", fontsize=7)
        ax.yaxis.set_major_formatter(_percent_axis())
        state = "changed" if column.get("changed") else "unchanged"
        ax.set_title(literal(f"{column.get('part') or column['feature']}: {state}", LABEL_CHARS * 2), fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(literal(f"rule {rule}: each column against its baseline", LABEL_CHARS * 3), fontsize=10)
    _finish(fig)
    return fig


_COMPARATORS = ("L_INFTY", "JENSEN_SHANNON_DIVERGENCE")  # the schema's comparators: one scale, 0 to 1


def distances_figure(rows: List[dict]):
    rows = [r for r in rows if r["type"] in _COMPARATORS and r.get("slice") in (None, "(all rows)")][:16]
    fig, ax = _figure(6.5, 0.32 * max(len(rows), 3) + 0.8)
    labels = tick_labels([f"{r['check']} {r['feature']}" for r in rows])
    ax.barh(labels, [r["value"] for r in rows], color=["#c0392b" if r["ratio"] >= 1 else "#2e86c1" for r in rows])
    ax.scatter([r["threshold"] for r in rows], labels, marker="|", s=200, color="black", label="threshold")
    ax.invert_yaxis()
    ax.set_xlabel("distance (L-infinity or Jensen-Shannon)")
    ax.legend(fontsize=8)
    _finish(fig)
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
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=literal(f"{check} {feature}", LABEL_CHARS))
    ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label="threshold")
    ax.set_xticks(list(range(len(labels))))
    ax.set_xticklabels([literal(label) for label in labels], fontsize=7)
    ax.set_xlim(-0.5, max(len(labels) - 0.5, 0.5))
    ax.set_xlabel("run (oldest first): time (UTC) and what it judged")
    ax.set_ylabel("distance / threshold")
    if series:
        ax.legend(fontsize=6, ncol=2)
    _finish(fig)
    return fig


def _figure(width: float, height: float):
    """A figure from matplotlib's object API: no pyplot, no global backend, nothing to close."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.subplots()


def _percent(value, _position) -> str:
    return f"{value:.0%}"


def _percent_axis():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(_percent)


@contextlib.contextmanager
def _no_glyph_warnings():
    """DejaVu has no emoji and few scripts: matplotlib warns per missing glyph while it lays text
    out. The SVG keeps the text (the browser draws it); the warning is noise in a notebook."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from")
        warnings.filterwarnings("ignore", message=r"Matplotlib currently does not support")
        yield


def _finish(fig) -> None:
    with _no_glyph_warnings():
        fig.tight_layout()


def png_bytes(fig) -> bytes:
    buffer = io.BytesIO()
    with _no_glyph_warnings():
        fig.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


_FIGURE_IDS = itertools.count(1)
_FONTS = re.compile(r"font-family: 'DejaVu Sans'[^\";]*")
_PREAMBLE = re.compile(r"^.*?(?=<svg)|<metadata>.*?</metadata>", re.S)


def svg(fig, kind: str, label: str) -> str:
    """The figure as inline SVG markup for an HTML page: its text as text (searchable, drawn in the
    page's fonts), its ids prefixed so that several figures share one page, `kind` as a class
    (`figure <kind>`) and `label` as its accessible name. Text from data is escaped by matplotlib's
    SVG writer like any XML text; the label is escaped here."""
    import html

    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "tfxgate"}), _no_glyph_warnings():
        fig.savefig(buffer, format="svg")
    prefix = f"f{next(_FIGURE_IDS)}-"
    text = _PREAMBLE.sub("", buffer.getvalue())
    text = _FONTS.sub("font-family: 'DejaVu Sans', sans-serif", text)  # the font matplotlib measured with
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', text)
    text = re.sub(r'(href="|url\()#([^")]+)', lambda m: f"{m.group(1)}#{prefix}{m.group(2)}", text)
    return text.replace("<svg ", f'<svg class="figure {html.escape(kind, quote=True)}" role="img" '
                        f'aria-label="{html.escape(label, quote=True)}" ', 1).strip()


def data_url(fig) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(fig)).decode("ascii")

