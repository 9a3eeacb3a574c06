"""The gate policy: which findings block a run and which only warn. Pure functions, no TFX."""

import dataclasses
import json
from typing import Dict, List, Optional, Sequence

import yaml

from core.common import names
from core.common.errors import PolicyError
from core.common.findings import Finding

BLOCK, WARN = names.BLOCK, names.WARN
_ACTIONS = (BLOCK, WARN)
_MATCH_KEYS = ("feature", "anomaly", "check", "rule", "slice", "environment", "below_fraction")
ANY_SLICE, NO_SLICE = "any", "none"  # `slice:` values matching every slice, or the whole batch only


@dataclasses.dataclass(frozen=True)
class Rule:
    action: str
    why: str = ""
    feature: Optional[str] = None
    anomaly: Optional[str] = None
    check: Optional[str] = None
    rule: Optional[str] = None
    slice: Optional[str] = None
    environment: Optional[str] = None  # TRAINING or SERVING (default: either)
    below_fraction: Optional[float] = None

    def matches(self, finding: Finding, environment: Optional[str] = None) -> bool:
        if self.environment is not None and (environment or "").upper() != self.environment.upper():
            return False
        if self.feature is not None and self.feature != finding.feature and self.feature not in finding.named():
            return False  # a rule's cause named with other columns matches each of them
        if self.anomaly is not None and self.anomaly not in finding.types:
            return False
        if self.check is not None and self.check != finding.check:
            return False
        if self.rule is not None and self.rule != finding.rule:
            return False
        if self.slice is not None and not _slice_matches(self.slice, finding.slice):
            return False
        if self.below_fraction is not None:
            return finding.fraction is not None and finding.fraction < self.below_fraction
        return True


def shown_name(name: str) -> str:
    """A feature's name as printed: quoted when spaces around it (or none at all) would hide it."""
    return repr(name) if not name or name != name.strip() else name


def _slice_matches(wanted: str, found: Optional[str]) -> bool:
    if wanted == ANY_SLICE:
        return found is not None
    if wanted == NO_SLICE:
        return found is None
    return wanted == found


@dataclasses.dataclass(frozen=True)
class Policy:
    rules: Sequence[Rule]
    default: str = BLOCK

    def judge(self, finding: Finding, environment: Optional[str] = None) -> Rule:
        """The first rule matching `finding`, found in `environment` (TRAINING or SERVING)."""
        for rule in self.rules:
            if rule.matches(finding, environment):
                return rule
        return Rule(action=self.default, why="no rule matched: the policy's default")


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A finding with the policy's judgement, and the dataset it was found in."""

    dataset: str
    finding: Finding
    severity: str
    why: str

    def line(self) -> str:
        """'serving: fare COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH (skew 0.94 > 0.25)'."""
        f = self.finding
        detail = f.rule or f.check
        if f.fraction is not None:
            detail += f", in {f.fraction:.1%} of rows"
        elif f.value is not None and f.threshold is not None:
            relation = "<" if f.check == "fill_rate" else ">="
            detail += f" {f.value:.3g} {relation} {f.threshold:.3g}"
            if f.noise is not None:
                detail += f", noise {f.noise:.2g}"
        where = f" [{f.slice}]" if f.slice else ""
        return f"{self.dataset.split('[')[0]}: {shown_name(f.feature)}{where} {'/'.join(f.types)} ({detail})"

    def to_json(self) -> dict:
        return {"dataset": self.dataset, "severity": self.severity, "why": self.why, **self.finding.to_json()}


def parse(text: str, source: str = "policy") -> Policy:
    """A Policy from the YAML (or JSON) text of a policy file."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise PolicyError(f"{source}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("rules", []), list):
        raise PolicyError(f"{source}: expected a mapping with a 'rules' list")
    default = data.get("default", BLOCK)
    if default not in _ACTIONS:
        raise PolicyError(f"{source}: default must be block or warn, not {default!r}")
    rules = []
    for i, raw in enumerate(data.get("rules", []), start=1):
        if not isinstance(raw, dict) or raw.get("action") not in _ACTIONS:
            raise PolicyError(f"{source}: rule {i} needs action: block or warn")
        unknown = set(raw) - set(_MATCH_KEYS) - {"action", "why"}
        if unknown:
            raise PolicyError(f"{source}: rule {i} has unknown keys {sorted(unknown)}")
        rules.append(Rule(**{k: raw.get(k) for k in ("action", "why", *_MATCH_KEYS) if k in raw}))
    return Policy(rules=tuple(rules), default=default)


def load(path: str) -> Policy:
    try:
        with open(path) as f:
            return parse(f.read(), path)
    except OSError as e:
        raise PolicyError(f"{path}: cannot read the policy ({e.strerror})") from None


def judge_all(dataset: str, findings: List[Finding], policy: Policy) -> List[Verdict]:
    """Verdicts on findings of `dataset` ('training', 'serving[serving]': its environment first)."""
    environment = dataset.split("[")[0].upper()
    verdicts = []
    for finding in findings:
        rule = policy.judge(finding, environment)
        verdicts.append(Verdict(dataset, finding, rule.action, rule.why))
    return verdicts


def judge_documents(documents: Dict[str, dict], policy: Policy) -> List[Verdict]:
    """Verdicts on the findings of a DataValidator output ({split: findings.json document}).

    The dataset of each verdict is `<environment>[<split>]`, e.g. `serving[serving]`."""
    verdicts = []
    for split, document in documents.items():
        dataset = f"{document['environment'].lower()}[{split}]"
        findings = [Finding.from_json(f) for f in document.get("findings", [])]
        verdicts += judge_all(dataset, findings, policy)
    return verdicts


def unique(verdicts: List[Verdict]) -> List[Verdict]:
    """One verdict per environment, feature, check, types and rule: splits of one dataset agree
    (two broken rules whose cause is one column stay two verdicts)."""
    seen, result = set(), []
    for v in verdicts:
        key = (v.dataset.split("[")[0], v.finding.feature, v.finding.check, tuple(v.finding.types), v.finding.slice,
               v.finding.rule)
        if key not in seen:
            seen.add(key)
            result.append(v)
    return result


def decision(verdicts: List[Verdict]) -> str:
    """block, warn or pass: the gate's decision on these verdicts."""
    severities = {v.severity for v in verdicts}
    return BLOCK if BLOCK in severities else (WARN if WARN in severities else names.PASS)


def summary(verdicts: List[Verdict]) -> str:
    """One line: what blocks, then what warns."""
    blocking = [v.line() for v in verdicts if v.severity == BLOCK]
    warning = [v.line() for v in verdicts if v.severity == WARN]
    parts = []
    if blocking:
        parts.append("blocked by " + "; ".join(blocking))
    if warning:
        parts.append("warnings: " + "; ".join(warning))
    return ". ".join(parts) or "no anomalies"


def digest(policy_text: str) -> str:
    """A policy's short fingerprint, the same for any formatting of the same rules (its canonical
    JSON's SHA-256, 10 hex digits): which policy judged a run, in reports."""
    import hashlib

    return hashlib.sha256(to_json_text(policy_text).encode()).hexdigest()[:10]


def to_json_text(policy_text: str) -> str:
    """The canonical JSON of a policy's text: what the pipeline passes to the gate."""
    parse(policy_text)
    return json.dumps(yaml.safe_load(policy_text), sort_keys=True)
