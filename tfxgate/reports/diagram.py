"""Lineage at a glance: a run as a small diagram, from the data span through its statistics,
validation and the gate to the model and its push, each node linked to its artifact in the
report's artifact table. Drawn by hand as inline SVG: no script, no request, no library.

Every node shows what the run recorded in MLMD: done, blocked (the gate failed), or not run (a
node after a blocking gate, or a run that stopped); a node's link leads to the artifact's row
(`#artifact-<MLMD id>`) with its type and URI.
"""

import dataclasses
import html
from typing import Dict, List, Optional, Tuple

from core.common import names
from mlmd import runs

# (column, lane) of each node; lane 0 the curated schema, 1 training, 2 serving.
_PLACES: Dict[str, Tuple[int, int]] = {
    names.CURATED_SCHEMA: (1, 0),
    names.EXAMPLE_GEN: (0, 1), names.STATISTICS_GEN: (1, 1), names.TRAIN_VALIDATOR: (2, 1),
    names.SERVING_EXAMPLE_GEN: (0, 2), names.SERVING_STATISTICS_GEN: (1, 2), names.SERVING_VALIDATOR: (2, 2),
    names.GATE: (3, 1), names.TRANSFORM: (4, 1), names.TRAINER: (5, 1),
    names.EVALUATOR: (6, 1), names.PUSHER: (7, 1),
}
_EDGES = [
    (names.EXAMPLE_GEN, names.STATISTICS_GEN), (names.STATISTICS_GEN, names.TRAIN_VALIDATOR),
    (names.SERVING_EXAMPLE_GEN, names.SERVING_STATISTICS_GEN),
    (names.SERVING_STATISTICS_GEN, names.SERVING_VALIDATOR),
    (names.CURATED_SCHEMA, names.TRAIN_VALIDATOR), (names.CURATED_SCHEMA, names.SERVING_VALIDATOR),
    (names.TRAIN_VALIDATOR, names.GATE), (names.SERVING_VALIDATOR, names.GATE),
    (names.GATE, names.TRANSFORM), (names.TRANSFORM, names.TRAINER),
    (names.TRAINER, names.EVALUATOR), (names.EVALUATOR, names.PUSHER),
]
# The artifact a node stands for, by type, where it writes several.
_MAIN_TYPE = {names.TRANSFORM: names.TRANSFORM_GRAPH_TYPE, names.TRAINER: "Model", names.PUSHER: "PushedModel",
              names.EVALUATOR: names.MODEL_BLESSING_TYPE,
              names.STATISTICS_GEN: names.STATISTICS_TYPE, names.SERVING_STATISTICS_GEN: names.STATISTICS_TYPE}
_COLUMN, _LANE, _WIDTH, _HEIGHT = 150, 62, 132, 44
_FILL = {"done": "#eafaf1", "blocked": "#fdedec", "warn": "#fef9e7", "not run": "#ffffff"}
_STROKE = {"done": "#27ae60", "blocked": "#c0392b", "warn": "#d4ac0d", "not run": "#aaaaaa"}


@dataclasses.dataclass
class Node:
    node: str
    title: str  # "Examples, span 5"
    status: str  # done | blocked | warn | not run
    artifact_id: Optional[int]
    detail: str  # "#12" or why there is none


def _main_artifact(run: runs.Run, node: str) -> Optional[dict]:
    written = run.artifacts.get(node) or []
    wanted = _MAIN_TYPE.get(node)
    return next((a for a in written if a["type"] == wanted), written[0] if written else None)


def _title(run: runs.Run, node: str) -> str:
    spans = [e["span"] for e in run.examples if e.get("span") is not None]
    return {
        names.CURATED_SCHEMA: f"schema {run.schema_version or ''}".strip(),
        names.EXAMPLE_GEN: "examples, span " + ", ".join(str(s) for s in spans) if spans else "training examples",
        names.STATISTICS_GEN: "training statistics", names.TRAIN_VALIDATOR: "training validation",
        names.SERVING_EXAMPLE_GEN: "serving batch", names.SERVING_STATISTICS_GEN: "serving statistics",
        names.SERVING_VALIDATOR: "serving validation", names.GATE: f"gate: {run.gate.get('decision') or '?'}",
        names.TRANSFORM: "transform", names.TRAINER: "model",
        names.EVALUATOR: "model gate: " + _blessing_word(run),
        names.PUSHER: "pushed model" if (run.pushed_model or {}).get("pushed") else "push",
    }[node]


def _blessing_word(run: runs.Run) -> str:
    blessed = (run.evaluation or {}).get("blessed")
    return {True: "blessed", False: "refused"}.get(blessed, "?")


def nodes(run: runs.Run) -> List[Node]:
    """The diagram's nodes for `run`, each with what MLMD recorded of it."""
    found = []
    for node in _PLACES:
        state = run.states.get(node)
        artifact = _main_artifact(run, node)
        if state is None:
            status, detail = "not run", "not run"
        elif node == names.GATE and run.gate.get("decision") == names.BLOCK:
            status, detail = "blocked", "blocked"
        elif node == names.EVALUATOR and (run.evaluation or {}).get("blessed") is False:
            status, detail = "blocked", f"refused: MLMD artifact #{artifact['id']}" if artifact else "refused"
        elif node == names.PUSHER and state in ("COMPLETE", "CACHED") and not (run.pushed_model or {}).get("pushed"):
            status, detail = "not run", "not pushed"
        elif state in ("COMPLETE", "CACHED"):
            status = "warn" if node == names.GATE and run.gate.get("decision") == names.WARN else "done"
            detail = f"MLMD artifact #{artifact['id']}" if artifact else state.lower()
        else:
            status, detail = ("blocked" if state == "FAILED" else "not run"), state.lower()
        found.append(Node(node, _title(run, node), status, artifact["id"] if artifact else None, detail))
    return found


def _center(node: str) -> Tuple[float, float]:
    column, lane = _PLACES[node]
    return 10 + column * _COLUMN + _WIDTH / 2, 10 + lane * _LANE + _HEIGHT / 2


def svg(run: runs.Run) -> str:
    """The run's lineage as inline SVG markup (class `lineage`), or '' for a run MLMD holds no
    executions of (a Kubeflow report task sees no store)."""
    if not run.artifacts:
        return ""
    e = lambda value: html.escape(str(value), quote=True)  # noqa: E731
    columns = max(column for column, _ in _PLACES.values())
    width, height = 20 + columns * _COLUMN + _WIDTH, 20 + 2 * _LANE + _HEIGHT
    parts = [f'<svg class="lineage" role="img" aria-label="lineage of run {e(run.run_id)}" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
             '<defs><marker id="lineage-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
             'markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="#777"/></marker></defs>']
    drawn = {n.node: n for n in nodes(run)}
    for source, target in _EDGES:
        (x1, y1), (x2, y2) = _center(source), _center(target)
        if _PLACES[source][0] == _PLACES[target][0]:  # the schema, above its validator's column
            continue
        if _PLACES[source][1] == 0:  # from the schema, down and right into each validator
            x1, y1 = x1 + _WIDTH / 2, y1
            x2, y2 = x2 - _WIDTH / 2, y2 - _HEIGHT / 4
        else:
            x1, x2 = x1 + _WIDTH / 2, x2 - _WIDTH / 2
        dashed = ' stroke-dasharray="4 3"' if drawn[target].status == "not run" else ""
        parts.append(f'<line x1="{x1:g}" y1="{y1:g}" x2="{x2:g}" y2="{y2:g}" stroke="#777"{dashed} '
                     'marker-end="url(#lineage-arrow)"/>')
    for n in drawn.values():
        x, y = _center(n.node)
        x, y = x - _WIDTH / 2, y - _HEIGHT / 2
        dash = ' stroke-dasharray="4 3"' if n.status == "not run" else ""
        box = (f'<rect x="{x:g}" y="{y:g}" width="{_WIDTH}" height="{_HEIGHT}" rx="6" fill="{_FILL[n.status]}" '
               f'stroke="{_STROKE[n.status]}"{dash}/>'
               f'<text x="{x + _WIDTH / 2:g}" y="{y + 18:g}" text-anchor="middle" font-size="12" '
               f'font-weight="bold">{e(n.title)}</text>'
               f'<text x="{x + _WIDTH / 2:g}" y="{y + 34:g}" text-anchor="middle" font-size="10" '
               f'fill="#555">{e(n.detail)}</text>')
        title = f"<title>{e(n.node)}: {e(n.status)}</title>"
        if n.artifact_id is not None:
            parts.append(f'<a href="#artifact-{n.artifact_id}" class="lineage-node" data-node="{e(n.node)}" '
                         f'data-status="{e(n.status)}">{title}{box}</a>')
        else:
            parts.append(f'<g class="lineage-node" data-node="{e(n.node)}" data-status="{e(n.status)}">{title}{box}</g>')
    parts.append("</svg>")
    return "".join(parts)


def artifact_rows(run: runs.Run) -> List[dict]:
    """Every artifact of the run, in the diagram's order: {node, type, id, uri}."""
    order = list(_PLACES) + sorted(set(run.artifacts) - set(_PLACES))
    return [{"node": node, "type": a["type"], "id": a["id"], "uri": a["uri"]}
            for node in order for a in run.artifacts.get(node, [])]
