"""`schema/evaluation.yaml`: the model gate's reviewed settings, and what its outcome means.

    version: 1
    model: {signature: serving_default, preprocessing: transform_features, label: tips_xf}
    metrics:
      auc: {floor: 0.85, drop: 0.02}       # at least 0.85, at most 0.02 below the baseline model
      calibration: {floor: 0.8, ceiling: 1.25}
      mean_absolute_error: {rise: 0.5}     # an error: at most 0.5 above the baseline model's

`parse` checks the file (one-line ConfigError); `eval_config` turns it into the EvalConfig (as
proto JSON) the Evaluator runs, thresholds on the whole eval split and metrics per slice; `reason`
says in one line why a metric failed, in the words of the file. No TFMA here: the components
build the proto from the JSON.
"""

import dataclasses
import json
import math
from typing import Dict, Iterable, List, Optional, Tuple

import yaml

from core.common.errors import ConfigError

# Our name -> TFMA's metric class and how a person reads it.
METRICS = {
    "auc": ("AUC", "AUC"),
    "binary_accuracy": ("BinaryAccuracy", "accuracy"),
    "calibration": ("Calibration", "calibration"),
    "example_count": ("ExampleCount", "eval examples"),
    "precision": ("Precision", "precision"),
    "recall": ("Recall", "recall"),
    "mean_label": ("MeanLabel", "mean label"),
    "mean_prediction": ("MeanPrediction", "mean prediction"),
    "sparse_categorical_accuracy": ("SparseCategoricalAccuracy", "accuracy"),  # multiclass (Keras's)
    "mean_absolute_error": ("MeanAbsoluteError", "mean absolute error"),
    "mean_squared_error": ("MeanSquaredError", "mean squared error"),
}
# Metrics where lower is better (errors): they take `rise`, how far above the baseline model's
# value they may go; every other metric takes `drop`.
LOWER_IS_BETTER = frozenset({"mean_absolute_error", "mean_squared_error"})
CLASS_TO_NAME = {cls.lower(): name for name, (cls, _) in METRICS.items()}
_BOUNDS = ("floor", "ceiling", "drop", "rise")
_MODEL_KEYS = ("signature", "preprocessing", "label")


@dataclasses.dataclass(frozen=True)
class MetricGate:
    name: str  # a key of METRICS
    floor: Optional[float] = None
    ceiling: Optional[float] = None
    drop: Optional[float] = None  # the largest fall below the baseline model's value allowed
    rise: Optional[float] = None  # an error's largest rise above the baseline model's value allowed

    @property
    def label(self) -> str:
        return METRICS[self.name][1]


@dataclasses.dataclass(frozen=True)
class EvalSettings:
    signature: str
    preprocessing: str
    label: str
    metrics: Tuple[MetricGate, ...]


def parse(text: str, source: str = "evaluation.yaml") -> EvalSettings:
    """The settings in an evaluation.yaml text; ConfigError in one line when invalid."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{source}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict) or not data["metrics"]:
        raise ConfigError(f"{source}: expected a mapping with a 'metrics' mapping (metric: {{floor, ceiling, drop}})")
    unknown = set(data) - {"version", "model", "metrics"}
    if unknown:
        raise ConfigError(f"{source}: unknown key {sorted(unknown)[0]!r} (expected version, model, metrics)")
    model = data.get("model") or {}
    if not isinstance(model, dict) or set(model) - set(_MODEL_KEYS) or not all(
            isinstance(model.get(k), str) and model.get(k) for k in _MODEL_KEYS):
        raise ConfigError(f"{source}: 'model' needs exactly signature, preprocessing and label, each a name")
    gates = []
    for name, bounds in data["metrics"].items():
        if name not in METRICS:
            raise ConfigError(f"{source}: metric {name!r} is not one tfxgate knows ({', '.join(METRICS)})")
        change = "rise" if name in LOWER_IS_BETTER else "drop"
        if not isinstance(bounds, dict) or not bounds or set(bounds) - {"floor", "ceiling", change}:
            raise ConfigError(f"{source}: metric {name!r} needs floor, ceiling or {change} (and nothing else)")
        for key, value in bounds.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(f"{source}: {name}.{key} must be a finite number, not {value!r}")
        if bounds.get(change) is not None and bounds[change] < 0:
            raise ConfigError(f"{source}: {name}.{change} is how far the value may {'rise above' if change == 'rise' else 'fall below'} "
                              f"the baseline's: 0 or more, not {bounds[change]}")
        if None not in (bounds.get("floor"), bounds.get("ceiling")) and bounds["floor"] > bounds["ceiling"]:
            raise ConfigError(f"{source}: {name}: floor {bounds['floor']} is above ceiling {bounds['ceiling']}")
        gates.append(MetricGate(name, *(None if bounds.get(k) is None else float(bounds[k]) for k in _BOUNDS)))
    return EvalSettings(model["signature"], model["preprocessing"], model["label"], tuple(gates))


def read(path: str) -> str:
    """The file's text, checked to parse."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"--evaluation {path}: cannot read it ({getattr(e, 'strerror', None) or e})") from None
    parse(text, path)
    return text


def eval_config(text: str, slice_features: Iterable[str] = ()) -> dict:
    """TFMA's EvalConfig (as proto JSON) for the settings in `text`: every metric overall and per
    value of each slice feature; the thresholds on the overall slice only."""
    settings = parse(text)
    overall = {}  # SlicingSpec() is the whole eval split
    metrics = []
    for gate in settings.metrics:
        config = {"class_name": METRICS[gate.name][0]}
        threshold = {}
        if gate.floor is not None or gate.ceiling is not None:
            threshold["value_threshold"] = {
                **({"lower_bound": gate.floor} if gate.floor is not None else {}),
                **({"upper_bound": gate.ceiling} if gate.ceiling is not None else {}),
            }
        if gate.drop is not None:
            threshold["change_threshold"] = {"direction": "HIGHER_IS_BETTER", "absolute": -gate.drop}
        if gate.rise is not None:
            threshold["change_threshold"] = {"direction": "LOWER_IS_BETTER", "absolute": gate.rise}
        if threshold:
            config["per_slice_thresholds"] = [{"slicing_specs": [overall], "threshold": threshold}]
        metrics.append(config)
    return {
        "model_specs": [{"signature_name": settings.signature, "label_key": settings.label,
                         "preprocessing_function_names": [settings.preprocessing]}],
        "slicing_specs": [overall] + [{"feature_keys": [f]} for f in dict.fromkeys(slice_features)],
        "metrics_specs": [{"metrics": metrics}],
    }


def eval_config_json(text: str, slice_features: Iterable[str] = ()) -> str:
    return json.dumps(eval_config(text, slice_features), sort_keys=True)


def number(value: Optional[float]) -> str:
    """A metric value as people read it: 0.7134 -> '0.713', 1043.0 -> '1043'."""
    if value is None:
        return "none"
    if float(value).is_integer() and abs(value) >= 1:
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".") if abs(value) >= 0.001 else f"{value:.2g}"


def reasons(settings: EvalSettings, values: Dict[str, Dict[str, Optional[float]]],
            failed: Iterable[Tuple[str, bool]]) -> List[str]:
    """One line per failed threshold. `values`: {metric: {"candidate": v, "baseline": v or None}}
    on the whole eval split; `failed`: (metric, is_change) pairs TFMA reported as failing."""
    gates = {g.name: g for g in settings.metrics}
    lines = []
    for name, is_change in dict.fromkeys(failed):
        gate = gates.get(name)
        if gate is None:
            continue
        got = values.get(name, {})
        candidate, baseline = got.get("candidate"), got.get("baseline")
        if is_change and gate.drop is not None:
            lines.append(f"{gate.label} {number(candidate)} < baseline {number(baseline)} - {number(gate.drop)}")
        elif is_change and gate.rise is not None:
            lines.append(f"{gate.label} {number(candidate)} > baseline {number(baseline)} + {number(gate.rise)}")
        elif gate.floor is not None and candidate is not None and candidate < gate.floor:
            lines.append(f"{gate.label} {number(candidate)} < floor {number(gate.floor)}")
        elif gate.ceiling is not None and candidate is not None and candidate > gate.ceiling:
            lines.append(f"{gate.label} {number(candidate)} > ceiling {number(gate.ceiling)}")
        else:
            lines.append(f"{gate.label} {number(candidate)} failed its threshold")
    return lines


def headline(judged: dict) -> str:
    """One line of a read-back evaluation (`mlmd.runs.Run.evaluation`): blessed or not, the gated
    metrics, and the baseline they were compared with."""
    metrics = judged.get("metrics", {})
    shown = []
    for name, (_, label) in METRICS.items():
        if name in metrics and name != "example_count":
            value = metrics[name]
            base = value.get("baseline")
            shown.append(f"{label} {number(value.get('candidate'))}"
                         + (f" (baseline {number(base)})" if base is not None else ""))
    baseline = judged.get("baseline_model")
    against = (f"against the model of run {baseline.get('run_id') or baseline.get('uri')}" if baseline
               else "no baseline model yet: floors only")
    if judged.get("blessed") is None:
        return "not judged: " + ("; ".join(judged.get("reasons", [])) or judged.get("state", "unknown").lower())
    word = "blessed" if judged["blessed"] else "NOT blessed"
    return f"{word}; {', '.join(shown)}; {against}"
