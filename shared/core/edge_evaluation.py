"""The last evaluation of one dependency edge, read from its downstream's record of decisions.

Every upstream run that finishes is evaluated on each edge it feeds (`cronicorn.store.dependency_edges`):
the downstream's bounded record gets an `upstream-counted` or `upstream-ignored` entry naming the upstream
and its run and, when the run counted, the downstream's readiness right after it (`dependency-met` or
`dependency-not-met`). A downstream run that its gate held back is recorded as `skipped`. This reads, per
edge, what the newest of those came to: one word, when, the upstream run and the reason. It is the same
record the endpoint page lists as "last decisions", so the graph and that card never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from cronicorn.core.dependencies import Result


class EdgeResult(str, Enum):
    FIRED = "fired"  # counted and met a trigger: the downstream was asked to run
    GATE_OPEN = "gate-open"  # counted and met a gate-only dependency: its next scheduled run may go
    WAITING = "waiting-for-fan-in"  # counted; the downstream still waits for its other upstreams
    GATED = "gated"  # a downstream run was skipped while this edge had no run that counts
    CONDITION_FALSE = Result.CONDITION.value
    OUTCOME = Result.OUTCOME.value
    KEY_MISSING = Result.KEY_MISSING.value
    KEY_RAN = Result.KEY_RAN.value
    IGNORED = "ignored"  # a record written before decisions carried their result
    NONE = "not-evaluated"  # no run of the upstream in the record yet (or it scrolled out of it)


@dataclass(frozen=True)
class Evaluation:
    result: EdgeResult
    reason: str
    at: str | None = None  # ISO time of the decision, as recorded
    upstream_run_id: str | None = None  # the upstream run it came from


_EVALUATED = ("upstream-counted", "upstream-ignored")
_READINESS = ("dependency-met", "dependency-not-met")


def last_evaluation(
    decisions: Sequence[Mapping[str, Any]], upstream_endpoint_id: str, *, waiting: bool, trigger: bool
) -> Evaluation:
    """What the newest decision about this edge came to.

    `waiting`: the edge has no upstream run that counts now; `trigger`: the dependency triggers runs.
    A skip recorded after the edge's own evaluation, while it still waits, is what the edge did last:
    it held the gate.
    """
    own = _last_index(decisions, upstream_endpoint_id)
    start = 0 if own is None else own + 1
    skipped = [d for d in decisions[start:] if d.get("kind") == "skipped"]
    if waiting and skipped:
        return Evaluation(EdgeResult.GATED, str(skipped[-1].get("reason", "")), skipped[-1].get("at"))
    if own is None:
        return Evaluation(EdgeResult.NONE, "no run of this upstream evaluated yet")
    entry = decisions[own]
    run, at = entry.get("upstream_run_id"), entry.get("at")
    if entry.get("kind") == "upstream-ignored":
        result = _result_of(entry.get("result"))
        return Evaluation(result, str(entry.get("reason", "")), at, run)
    # The readiness note follows the counted runs of its finishing transaction (record_upstream_results).
    ready = next((d for d in decisions[start:] if d.get("kind") in _READINESS), None)
    if ready is None or ready.get("kind") == "dependency-not-met":
        reason = str((ready or entry).get("reason", ""))
        return Evaluation(EdgeResult.WAITING, reason, at, run)
    met = EdgeResult.FIRED if trigger else EdgeResult.GATE_OPEN
    return Evaluation(met, str(ready.get("reason", "")), at, run)


def _last_index(decisions: Sequence[Mapping[str, Any]], upstream_endpoint_id: str) -> int | None:
    for i in range(len(decisions) - 1, -1, -1):
        d = decisions[i]
        if d.get("kind") in _EVALUATED and d.get("upstream_endpoint_id") == upstream_endpoint_id:
            return i
    return None


def _result_of(recorded: Any) -> EdgeResult:
    try:
        return EdgeResult(recorded)
    except ValueError:
        return EdgeResult.IGNORED
