"""`tfxgate lineage` and `tfxgate history`: what a model came from, and distances over time.

Everything is read through MLMD's API: events link artifacts to the executions that wrote and
read them; pipeline_run contexts group a run's executions.
"""

import datetime
from typing import Dict, List, Optional

from core.common import names
from core.judging import policy as policy_lib
from mlmd import query, runs
from mlmd.runs import RunNotFound


def _type(store, artifact) -> str:
    return query.type_name(store, artifact)


def _resolve_model(store, which: str, pipeline: Optional[str] = None):
    """The PushedModel (or Model) artifact named by 'latest' (of `pipeline`, when given) or an id."""
    if which == "latest":
        pushed = [a for a in query.artifacts_of_type(store, names.PUSHED_MODEL_TYPE, pipeline)
                  if query.custom_value(a, names.PUSHED) == 1]
        if not pushed:
            where = f" of pipeline {pipeline!r}" if pipeline else ""
            raise RunNotFound(f"no pushed model{where} in this MLMD store yet")
        return max(pushed, key=lambda a: a.id)
    if not which.isdigit():
        raise RunNotFound(f"--model {which!r}: expected 'latest' or an artifact id")
    found = store.get_artifacts_by_id([int(which)])
    if not found or _type(store, found[0]) not in (names.PUSHED_MODEL_TYPE, names.MODEL_TYPE):
        raise RunNotFound(f"--model {which}: no Model or PushedModel artifact with that id")
    return found[0]


def _execution_json(store, execution_id: Optional[int]) -> Optional[dict]:
    if execution_id is None:
        return None
    [e] = store.get_executions_by_id([execution_id])
    return {"id": e.id, "node": query.node_id_of(store, e.id), "state": query.state_name(e.last_known_state)}


def model_lineage(store, which: str = "latest", pipeline: Optional[str] = None) -> dict:
    """From a model back to everything it came from, and the verdict on that data."""
    target = _resolve_model(store, which, pipeline)
    upstream = query.upstream_artifacts(store, target.id)
    by_type: Dict[str, list] = {}
    for artifact in [target] + upstream:
        by_type.setdefault(_type(store, artifact), []).append(artifact)
    model = next(iter(by_type.get(names.MODEL_TYPE, [])), None)
    trainer = query.producer_execution(store, model.id) if model else None
    graph = next(iter(by_type.get(names.TRANSFORM_GRAPH_TYPE, [])), None)
    transform = query.producer_execution(store, graph.id) if graph else None
    examples = [a for a in by_type.get(names.EXAMPLES_TYPE, []) if query.custom_value(a, names.SPAN) is not None]
    statistics = []
    for example in examples:
        for execution_id in query.consumers(store, example.id, names.STATISTICS_GEN):
            for artifact in query.outputs(store, execution_id):
                statistics.append({"artifact_id": artifact.id, "uri": artifact.uri})
    # The run whose Trainer wrote the model: its validators and gate judged this data.
    run_json = None
    if trainer is not None:
        context = query.context_of(store, trainer, names.RUN_CONTEXT)
        if context is not None:
            run = runs.load_run(store, context)
            run_json = {
                "run_id": run.run_id,
                "gate": run.gate,
                "evaluation": run.evaluation,  # the model gate on this model: metrics, baseline, why
                "anomalies": [
                    {"validator": v.node, "environment": v.environment,
                     "verdicts": [x.to_json() for x in policy_lib.unique(v.verdicts)]}  # splits agree: once each
                    for v in run.validations
                ],
            }
    return {
        "model": {"artifact_id": target.id, "type": _type(store, target), "uri": target.uri,
                  "pushed_destination": query.custom_value(target, names.PUSHED_DESTINATION)},
        "trainer": _execution_json(store, trainer),
        "transform": _execution_json(store, transform),
        "examples": [{"artifact_id": a.id, "uri": a.uri, "span": query.custom_value(a, names.SPAN),
                      "version": query.custom_value(a, names.VERSION),
                      "fingerprint": query.custom_value(a, names.FINGERPRINT)} for a in examples],
        "statistics": statistics,
        "schema_version": query.schema_version_of(store, target.id),
        "run": run_json,
    }


def models_trained_on_span(store, span: int) -> List[dict]:
    """The models trained on `span`, each told apart: its run, when it was made, the Examples'
    version and fingerprint (a re-ingested span has another), and where it was pushed."""
    result = []
    for model in store.get_artifacts_by_type(names.MODEL_TYPE):
        examples = [a for a in query.upstream_artifacts(store, model.id)
                    if _type(store, a) == names.EXAMPLES_TYPE and query.custom_value(a, names.SPAN) == span]
        if not examples:
            continue
        trainer = query.producer_execution(store, model.id)
        context = query.context_of(store, trainer, names.RUN_CONTEXT) if trainer is not None else None
        pushed = [a for a in store.get_artifacts_by_type(names.PUSHED_MODEL_TYPE)
                  if model.id in {u.id for u in query.upstream_artifacts(store, a.id)}
                  and query.custom_value(a, names.PUSHED)]
        result.append({
            "artifact_id": model.id, "uri": model.uri, "schema_version": query.schema_version_of(store, model.id),
            "run_id": context.name if context is not None else None,
            "created_ms": model.create_time_since_epoch,
            "examples_version": query.custom_value(examples[0], names.VERSION),
            "fingerprint": query.custom_value(examples[0], names.FINGERPRINT),
            "pushed_to": [query.custom_value(a, names.PUSHED_DESTINATION) for a in pushed],
        })
    return sorted(result, key=lambda m: m["created_ms"])


def format_models(models: List[dict], span: int) -> str:
    if not models:
        return f"no model was trained on span {span}"
    lines = []
    for m in models:
        made = datetime.datetime.fromtimestamp(m["created_ms"] / 1000, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        lines.append(f"model {m['artifact_id']} (schema {m['schema_version']}), run {m['run_id']}, made {made}: {m['uri']}")
        lines.append(f"  span {span} version {m['examples_version']}, input fingerprint {m['fingerprint']}")
        lines.append(f"  pushed to: {', '.join(m['pushed_to']) if m['pushed_to'] else 'not pushed'}")
    return "\n".join(lines)


def runs_blocked_on_feature(store, feature: str) -> List[dict]:
    result = []
    for run in runs.all_runs(store):
        if run.gate.get("decision") != names.BLOCK:
            continue
        hits = [v for val in run.validations for v in val.verdicts
                if v.finding.feature == feature and v.severity == names.BLOCK]
        if hits:
            result.append({"run_id": run.run_id, "spans": [e["span"] for e in run.examples],
                           "anomalies": sorted({t for v in hits for t in v.finding.types}),
                           "summary": run.gate.get("summary")})
    return result


def history(store, feature: Optional[str] = None, pipeline: Optional[str] = None) -> List[dict]:
    """Every recorded skew and drift measurement of the whole batch (and of a slice where it
    crossed its threshold), oldest run first, each validation once. The serving batch has no
    span: its rows say `serving`; a drift row names the span it was measured against."""
    rows, seen = [], set()
    for run in runs.all_runs(store, pipeline):
        for validation in run.validations:
            if validation.artifact_id in seen:
                continue  # a cached validator re-uses the artifact of an earlier run
            seen.add(validation.artifact_id)
            for d in validation.distances:
                if feature and d["feature"] != feature:
                    continue
                if d.get("slice") and (not d["value"] > d["threshold"] or d.get("within_noise")):
                    continue  # a slice's measurement is history where it was a finding
                serving = validation.environment == names.SERVING
                against = ("training" if d["check"] == "skew" else
                           f"span {validation.drift_baseline_span}" if validation.drift_baseline_span is not None else None)
                rows.append({"run_id": run.run_id, "created_ms": run.created_ms,
                             "span": "serving" if serving else validation.span, "against": against,
                             "environment": validation.environment, **d,
                             "over": d["value"] >= d["threshold"]})
    return rows


def format_lineage(data: dict) -> str:
    lines = [f"model {data['model']['artifact_id']} ({data['model']['type']}): "
             f"{data['model'].get('pushed_destination') or data['model']['uri']}"]
    for key in ("trainer", "transform"):
        if data[key]:
            lines.append(f"  {key}: execution {data[key]['id']} ({data[key]['state']})")
    for ex in data["examples"]:
        lines.append(f"  examples {ex['artifact_id']}: span {ex['span']}, version {ex['version']}, "
                     f"fingerprint {ex['fingerprint']}")
    for st in data["statistics"]:
        lines.append(f"  statistics {st['artifact_id']}: {st['uri']}")
    lines.append(f"  schema version: {data['schema_version']}")
    if data["run"]:
        lines.append(f"  run {data['run']['run_id']}: gate {data['run']['gate'].get('decision')}"
                     f" ({data['run']['gate'].get('summary')})")
        lines += _evaluation_lines(data["run"].get("evaluation"))
        for a in data["run"]["anomalies"]:
            lines.append(f"    {a['validator']} ({a['environment']}): {len(a['verdicts'])} anomalies")
            for v in a["verdicts"]:
                lines.append(f"      {v['severity']}: {v['feature']} {'/'.join(v['types'])}")
    return "\n".join(lines)


def _evaluation_lines(judged: Optional[dict]) -> List[str]:
    """The model gate on the model: each gated metric beside the baseline's, and why it was refused."""
    from core.common import evaluation

    if judged is None:
        return ["    model gate: none ran (no Evaluator in this run)"]
    lines = [f"    model gate: {evaluation.headline(judged)}"]
    lines += [f"      refused: {reason}" for reason in judged.get("reasons", [])]
    pushed = "pushed" if judged.get("pushed") else "not pushed"
    lines.append(f"      {pushed}; evaluation {judged.get('artifact_id')}, blessing {judged.get('blessing_id')}")
    return lines


def format_history(rows: List[dict]) -> str:
    if not rows:
        return "no skew or drift measurement recorded yet"
    header = (f"{'run':<28} {'span':>7} {'against':<9} {'env':<8} {'split':<7} {'check':<5} {'feature':<18} "
              f"{'measure':<26} {'value':>8} {'threshold':>9}")
    lines = [header]
    for r in rows:
        flag = "  OVER" if r["over"] else ""
        feature = r["feature"] + (f" [{r['slice']}]" if r.get("slice") else "")
        lines.append(f"{r['run_id']:<28} {str(r['span']):>7} {str(r['against'] or '-'):<9} {r['environment']:<8} "
                     f"{r['split']:<7} {r['check']:<5} {feature:<18} {r['type']:<26} {r['value']:>8.4f} "
                     f"{r['threshold']:>9.4f}{flag}")
    return "\n".join(lines)
