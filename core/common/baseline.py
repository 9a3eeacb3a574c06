"""What "the accepted baseline" means, once, for the pipeline and the command line alike.

A span is accepted when the data gate let its run go on: the gate wrote a GateDecision (pass or
warn) recording the span and the training statistics it accepted; a blocked run has none. So:
- the drift baseline of span N is the newest decision of the largest accepted span below N
  (a re-run of an earlier span counts as that span's latest word);
- the baseline of a batch with no span (a serving batch checked by `tfxgate validate`) is the
  newest decision of all.

Decisions are passed as any objects with an accessor for their span and id, so that TFX
artifacts (the Resolver, the executors) and MLMD protos (the command line) share this rule.
"""

from typing import Callable, Iterable, Optional, TypeVar

T = TypeVar("T")


def accepted_baseline(
    decisions: Iterable[T],
    span_of: Callable[[T], Optional[int]],
    id_of: Callable[[T], int],
    before_span: Optional[int] = None,
    any_span: bool = False,
) -> Optional[T]:
    """The baseline decision among `decisions`, or None.

    Args:
      decisions: gate decisions (each the record of an accepted span).
      span_of, id_of: how to read a decision's span and its id (ids grow with time).
      before_span: the span being judged; only decisions of earlier spans qualify.
      any_span: no span is being judged: the newest decision of all.
    """
    decisions = list(decisions)
    if any_span:
        return max(decisions, key=id_of, default=None)
    if before_span is None:
        return None
    earlier = [d for d in decisions if span_of(d) is not None and span_of(d) < before_span]
    return max(earlier, key=lambda d: (span_of(d), id_of(d)), default=None)
