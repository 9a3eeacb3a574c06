"""The verdict first: what the report, the notebook and `tfxgate validate` show before anything
else, from one function, so that the three tell the same story.

A headline holds the decision, how many findings block and warn, what was judged (datasets,
spans, rows), against which schema version and policy, and each reason (blocking first, then the
warnings) with the one sentence that says what to do about it (`core/judging/next_steps.py`).
"""

import dataclasses
import html
from typing import List, Optional, Tuple

from core.common import names
from core.judging import next_steps
from core.judging import policy as policy_lib
from mlmd import runs

_ORDER = {names.BLOCK: 0, names.WARN: 1}


@dataclasses.dataclass
class Headline:
    decision: str  # pass | warn | block (or why there is none: "not reached")
    blocking: int
    warnings: int
    judged: List[str]  # "training span 3, 12,345 rows"
    schema_version: Optional[str]
    policy_digest: Optional[str]
    reasons: List[Tuple[policy_lib.Verdict, str]]  # (verdict, what to do), blocking first

    @property
    def counts(self) -> str:
        return f"{self.blocking:,} blocking, {self.warnings:,} warning{'s' if self.warnings != 1 else ''}"

    @property
    def against(self) -> str:
        policy = f"policy {self.policy_digest}" if self.policy_digest else "policy (unknown)"
        return f"curated schema {self.schema_version or '(unknown)'}, {policy}"


def headline(verdicts: List[policy_lib.Verdict], judged: List[str], schema_version: Optional[str],
             policy_digest: Optional[str], decision: Optional[str] = None) -> Headline:
    """The headline of these verdicts; `decision` where one was recorded (the gate's), else the
    policy's decision on the verdicts."""
    unique = policy_lib.unique(verdicts)
    ranked = sorted((v for v in unique if v.severity in _ORDER), key=lambda v: (_ORDER[v.severity], v.dataset))
    return Headline(
        decision=decision or policy_lib.decision(verdicts),
        blocking=sum(v.severity == names.BLOCK for v in unique),
        warnings=sum(v.severity == names.WARN for v in unique),
        judged=judged, schema_version=schema_version, policy_digest=policy_digest,
        reasons=[(v, next_steps.next_step(v)) for v in ranked],
    )


def _rows(validation: runs.Validation) -> int:
    return sum(int(doc.get("num_examples") or 0) for doc in validation.splits.values())


def judged_in(run: runs.Run) -> List[str]:
    """'training span 3, 12,345 rows' and 'serving batch, 1,000 rows': what a run judged."""
    judged = []
    for validation in run.validations:
        what = "training" if validation.environment == names.TRAINING else "serving batch"
        span = f" span {validation.span}" if validation.environment == names.TRAINING and validation.span is not None else ""
        judged.append(f"{what}{span}, {_rows(validation):,} rows")
    return judged


def of_run(run: runs.Run) -> Headline:
    """A pipeline run's headline: the gate's recorded decision, the policy's verdicts."""
    verdicts = [v for validation in run.validations for v in validation.verdicts]
    recorded = run.gate.get("decision")
    return headline(verdicts, judged_in(run), run.schema_version, run.policy_digest,
                    decision=recorded if recorded not in (None, "unknown") else None)


def text_lines(h: Headline) -> List[str]:
    """The headline as plain lines (`tfxgate validate`, the notebook)."""
    lines = [f"{h.decision.upper()}: {h.counts}; judged {'; '.join(h.judged) or 'nothing'}; against {h.against}"]
    for verdict, step in h.reasons:
        lines.append(f"  {verdict.severity.upper():<5} {verdict.line()}")
        lines.append(f"        next: {step}")
    return lines


def to_html(h: Headline) -> str:
    """The headline as the first thing on the report's page: the decision in large type."""
    e = lambda value: html.escape("" if value is None else str(value), quote=True)  # noqa: E731
    parts = [f'<section class="headline {e(h.decision)}" id="verdict">',
             f'<div class="verdict">{e(h.decision.upper())}</div>',
             f'<div class="counts">{e(h.counts)}</div>',
             f'<div class="judged">Judged: {e("; ".join(h.judged) or "nothing")}. Against: {e(h.against)}.</div>']
    if h.reasons:
        items = []
        for verdict, step in h.reasons:
            items.append(f'<li class="reason reason-{e(verdict.severity)}"><span class="{e(verdict.severity)}">'
                         f'{e(verdict.severity)}</span> <b>{e(verdict.line())}</b><br>'
                         f'<span class="next">Next: {e(step)}</span></li>')
        parts.append(f'<ol class="reasons">{"".join(items)}</ol>')
    else:
        parts.append('<p class="next">Nothing to do: no finding blocks or warns.</p>')
    parts.append("</section>")
    return "".join(parts)
