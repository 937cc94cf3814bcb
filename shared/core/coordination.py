"""Pure coordination policy: which way a decision steers, and when decisions conflict.

Precedence, highest first (docs/coordination.md, "The planner and conflicts"):
1. a person: the AI never contradicts a person's fresh hint or pause on the same endpoint;
2. dependencies and gates (declared, deterministic): the AI never speeds up an endpoint whose
   gate is closed (its runs would be skipped anyway: the gate wins, the hint is refused);
3. the AI, by a deterministic rule: along the graph the upstream wins; between siblings steered
   by the same cause the more conservative (slower) decision wins; an endpoint that thrashes is
   damped. Losing AI decisions are refused (the new one) or cleared (an older one).
Everything here takes `now` and plain values; the callers read and write the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum


class Direction(str, Enum):
    FASTER = "faster"
    SLOWER = "slower"
    NEUTRAL = "neutral"


class ConflictKind(str, Enum):
    THRASH = "thrash"
    """The AI's hints on one endpoint reverse direction again and again within the window."""
    GRAPH = "graph-contradiction"
    """A downstream pushed to run faster while an upstream is paused or slowed."""
    SIBLINGS = "siblings-opposed"
    """Two endpoints of one job hinted in opposite directions within the window."""
    TRIGGER_LOOP = "trigger-loop"
    """An endpoint's AI-driven runs lead, through the watch graph, back to an analysis of itself."""
    GATE_CLOSED = "gate-closed"
    """An endpoint sped up (or run now) by the AI while its dependency's gate is closed."""


def interval_direction(interval_ms: int, *, baseline_interval_ms: int | None, planned_in_ms: int | None) -> Direction:
    """An interval hint against what the endpoint would do without it: its baseline interval, or
    (cron, one-off) the time to its planned run."""
    reference = baseline_interval_ms if baseline_interval_ms is not None else planned_in_ms
    if reference is None or interval_ms == reference:
        return Direction.NEUTRAL
    return Direction.FASTER if interval_ms < reference else Direction.SLOWER


def opposed(a: Direction, b: Direction) -> bool:
    return {a, b} == {Direction.FASTER, Direction.SLOWER}


@dataclass(frozen=True)
class Decision:
    """A hint, pause, resume or clear as recorded (`hint_events`)."""

    endpoint_id: str
    at: datetime
    actor: str  # user | ai
    direction: Direction
    expires_at: datetime | None
    cause: str | None = None  # the upstream whose result started the session that decided it
    session: str | None = None  # the AI session that decided it

    def live(self, now: datetime) -> bool:
        """Still steering: not neutral, and not lapsed."""
        return self.direction is not Direction.NEUTRAL and (self.expires_at is None or self.expires_at > now)


def reversals(directions: Sequence[Direction]) -> int:
    """How often consecutive (non-neutral) directions flip."""
    steering = [d for d in directions if d is not Direction.NEUTRAL]
    return sum(1 for a, b in zip(steering, steering[1:], strict=False) if a is not b)


def is_thrash(ai_decisions: Sequence[Decision], now: datetime, *, window: timedelta, limit: int) -> bool:
    """The AI's decisions on one endpoint within `window` before `now` (any order) flip `limit` times or more."""
    recent = sorted((d for d in ai_decisions if now - window <= d.at <= now), key=lambda d: d.at)
    # A session's decisions count as one, its last: a model that corrects itself is not thrashing.
    last_of_session = [d for i, d in enumerate(recent) if not _same_session(d, recent[i + 1 : i + 2])]
    return reversals([d.direction for d in last_of_session]) >= limit


def _same_session(d: Decision, after: Sequence[Decision]) -> bool:
    return bool(after) and d.session is not None and d.session == after[0].session


@dataclass(frozen=True)
class Finding:
    kind: ConflictKind
    endpoint_id: str  # the endpoint the conflict is recorded on
    other_endpoint_id: str | None
    resolution: str
    detail: str


@dataclass(frozen=True)
class Verdict:
    """What to do with a new AI decision: apply it or not, what it conflicts with, whose AI hints lose."""

    allowed: bool
    refusal: str | None = None
    findings: tuple[Finding, ...] = ()
    clear: tuple[str, ...] = ()  # endpoints whose AI hint loses to this decision


@dataclass(frozen=True)
class Neighbourhood:
    """The current decisions around one endpoint (each the latest of its endpoint, or None)."""

    own: Decision | None
    upstreams: dict[str, Decision | None]
    upstream_paused: frozenset[str]  # upstreams paused now, by anyone
    downstreams: dict[str, Decision | None]
    siblings: dict[str, Decision | None]
    damped_until: datetime | None  # an open thrash conflict damps the endpoint until then
    gate_closed: str | None = None  # why the endpoint's gate is closed now (None: no gate, or it is open)


def judge(
    endpoint_id: str,
    direction: Direction,
    neighbourhood: Neighbourhood,
    now: datetime,
    *,
    cause: str | None,
    window: timedelta,
) -> Verdict:
    """Apply the precedence to a new AI decision on `endpoint_id` steering `direction`."""
    n = neighbourhood
    own = n.own if n.own is not None and n.own.live(now) else None
    if own is not None and own.actor == "user" and opposed(own.direction, direction):
        return Verdict(False, f"a person's {own.direction.value} decision on this endpoint stands (precedence 1)")
    if direction is Direction.FASTER and n.gate_closed is not None:
        return _gate_refusal(endpoint_id, n.gate_closed)
    if n.damped_until is not None and n.damped_until > now and own is not None and opposed(own.direction, direction):
        return Verdict(
            False,
            f"this endpoint's hints thrashed: its current {own.direction.value} hint is held until "
            f"{n.damped_until.isoformat()}",
        )
    if direction is Direction.NEUTRAL:
        return Verdict(True)
    if direction is Direction.FASTER:
        refused = _upstream_refusal(endpoint_id, n, now)
        if refused is not None:
            return refused
        graph: list[Finding] = []
    else:
        graph = _downstreams_beaten(endpoint_id, n, now)
    siblings = _sibling_findings(endpoint_id, direction, n, now, cause=cause, window=window)
    refusal = next((f for f in siblings if f.endpoint_id == endpoint_id and "refused" in f.resolution), None)
    if refusal is not None:
        why = f"sibling {refusal.other_endpoint_id} was slowed for the same cause; the slower decision wins"
        return Verdict(False, why, (refusal,))
    findings = (*graph, *siblings)
    beaten = [f.endpoint_id for f in findings if f.endpoint_id != endpoint_id and "cleared" in f.resolution]
    return Verdict(True, None, findings, tuple(dict.fromkeys(beaten)))


def _gate_refusal(endpoint_id: str, why: str) -> Verdict:
    """Dependencies and gates come before the AI: a faster hint would only make runs the gate skips."""
    finding = Finding(
        ConflictKind.GATE_CLOSED,
        endpoint_id,
        None,
        "the gate wins: the faster hint was refused (precedence 2)",
        f"hinted faster while its gate is closed ({why})",
    )
    return Verdict(False, f"its gate is closed ({why}); the gate wins over the AI (precedence 2)", (finding,))


def _upstream_refusal(endpoint_id: str, n: Neighbourhood, now: datetime) -> Verdict | None:
    """Along the graph the upstream wins: no faster downstream while an upstream is paused or slowed."""
    for up, decision in sorted(n.upstreams.items()):
        slowed = decision is not None and decision.live(now) and decision.direction is Direction.SLOWER
        if up in n.upstream_paused or slowed:
            what = "paused" if up in n.upstream_paused else "slowed"
            finding = Finding(
                ConflictKind.GRAPH,
                endpoint_id,
                up,
                "the upstream wins: the faster hint was refused",
                f"hinted faster while its upstream {up} is {what}",
            )
            return Verdict(False, f"upstream {up} is {what}; the upstream wins", (finding,))
    return None


def _downstreams_beaten(endpoint_id: str, n: Neighbourhood, now: datetime) -> list[Finding]:
    """A slowed or paused upstream beats its downstreams' faster AI hints."""
    return [
        Finding(
            ConflictKind.GRAPH,
            down,
            endpoint_id,
            "the upstream wins: the downstream's faster AI hint was cleared",
            f"hinted faster while its upstream {endpoint_id} was slowed or paused",
        )
        for down, d in sorted(n.downstreams.items())
        if d is not None and d.live(now) and d.actor == "ai" and d.direction is Direction.FASTER
    ]


def _sibling_findings(
    endpoint_id: str, direction: Direction, n: Neighbourhood, now: datetime, *, cause: str | None, window: timedelta
) -> list[Finding]:
    """Siblings' live AI decisions the other way within the window: the slower one wins when both
    had the same cause (an upstream's result); otherwise both stand and the conflict is recorded."""
    found = []
    for sib, d in sorted(n.siblings.items()):
        if (
            d is None
            or not d.live(now)
            or d.at < now - window
            or d.actor != "ai"
            or not opposed(d.direction, direction)
        ):
            continue
        detail = f"hinted {direction.value} while sibling {sib} was hinted {d.direction.value}"
        if cause is None or d.cause != cause:
            found.append(
                Finding(ConflictKind.SIBLINGS, endpoint_id, sib, "recorded: both stand (different causes)", detail)
            )
        elif direction is Direction.FASTER:
            found.append(
                Finding(
                    ConflictKind.SIBLINGS, endpoint_id, sib, "the slower decision wins: refused", detail + f" ({cause})"
                )
            )
        else:
            found.append(
                Finding(
                    ConflictKind.SIBLINGS,
                    sib,
                    endpoint_id,
                    "the slower decision wins: its faster hint was cleared",
                    detail + f" ({cause})",
                )
            )
    return found


def loop_in(chain: Sequence[str], watcher: str, *, limit: int) -> str | None:
    """Why passing an upstream's result on to `watcher` along `chain` would loop, or None."""
    if watcher in chain:
        path = [*chain[chain.index(watcher) :], watcher]
        return "the runs cascade back to themselves: " + " → ".join(path)
    if len(chain) >= limit:
        return f"the runs cascade through more than {limit} endpoints"
    return None
