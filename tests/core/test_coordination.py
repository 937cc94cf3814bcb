"""The pure coordination policy: directions, thrash, the precedence between decisions, trigger loops."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cronicorn.core.coordination import (
    ConflictKind,
    Decision,
    Direction,
    Neighbourhood,
    interval_direction,
    is_thrash,
    judge,
    loop_in,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
F, S, N = Direction.FASTER, Direction.SLOWER, Direction.NEUTRAL


def decided(
    direction: Direction,
    *,
    ago: timedelta = MIN,
    actor: str = "ai",
    cause: str | None = None,
    session: str | None = None,
) -> Decision:
    return Decision("x", NOW - ago, actor, direction, NOW + HOUR, cause, session)


def around(
    *,
    own: Decision | None = None,
    ups: dict[str, Decision | None] | None = None,
    paused: frozenset[str] = frozenset(),
    downs: dict[str, Decision | None] | None = None,
    sibs: dict[str, Decision | None] | None = None,
    damped_until: datetime | None = None,
    gate: str | None = None,
) -> Neighbourhood:
    return Neighbourhood(own, ups or {}, paused, downs or {}, sibs or {}, damped_until, gate)


@pytest.mark.parametrize(
    ("interval_ms", "baseline", "planned_in", "expected"),
    [
        (10_000, 60_000, None, F),
        (600_000, 60_000, None, S),
        (60_000, 60_000, None, N),
        (10_000, None, 300_000, F),  # cron: against the time to its planned run
        (900_000, None, 300_000, S),
        (10_000, None, None, N),  # nothing to compare with
    ],
)
def test_an_interval_hint_steers_against_what_the_endpoint_would_do_without_it(
    interval_ms: int, baseline: int | None, planned_in: int | None, expected: Direction
) -> None:
    assert interval_direction(interval_ms, baseline_interval_ms=baseline, planned_in_ms=planned_in) is expected


@pytest.mark.parametrize(
    ("directions", "thrash"),
    [
        ([F, S, F, S], True),  # three reversals
        ([F, S, F], False),  # two
        ([F, F, S, S], False),  # one
        ([F, N, S, N, F, N, S], True),  # neutral decisions do not break the pattern
        ([], False),
    ],
)
def test_thrash_is_repeated_reversal_within_the_window(directions: list[Direction], thrash: bool) -> None:
    decisions = [decided(d, ago=(len(directions) - i) * MIN) for i, d in enumerate(directions)]
    assert is_thrash(decisions, NOW, window=HOUR, limit=3) is thrash


def test_decisions_older_than_the_window_do_not_count_towards_thrash() -> None:
    decisions = [decided(d, ago=HOUR + (5 - i) * MIN) for i, d in enumerate([F, S, F])] + [decided(S)]
    assert not is_thrash(decisions, NOW, window=HOUR, limit=3)


def test_one_sessions_decisions_count_once_its_last() -> None:
    # A model that corrects itself within a session is not thrashing.
    decisions = [decided(d, ago=(10 - i) * MIN, session="one") for i, d in enumerate([F, S, F, S, F])]
    assert not is_thrash(decisions, NOW, window=HOUR, limit=3)


def test_a_persons_live_decision_beats_the_ais_opposite_one() -> None:
    verdict = judge("x", F, around(own=decided(S, actor="user")), NOW, cause=None, window=HOUR)
    assert not verdict.allowed and verdict.refusal is not None and "person" in verdict.refusal


def test_a_damped_endpoint_holds_its_hint_against_the_other_direction_only() -> None:
    n = around(own=decided(S), damped_until=NOW + HOUR)
    assert not judge("x", F, n, NOW, cause=None, window=HOUR).allowed
    assert judge("x", S, n, NOW, cause=None, window=HOUR).allowed


CLOSED = "waiting for upstream traffic"


@pytest.mark.parametrize(
    ("direction", "gate", "own", "allowed", "kind"),
    [
        (F, CLOSED, None, False, ConflictKind.GATE_CLOSED),  # sped up (or run now) behind a closed gate
        (F, None, None, True, None),  # no gate, or it is open
        (S, CLOSED, None, True, None),  # slowing a gated endpoint contradicts nothing
        (N, CLOSED, None, True, None),
        (
            F,
            CLOSED,
            decided(F, actor="user"),
            False,
            ConflictKind.GATE_CLOSED,
        ),  # a person's faster hint lends the AI no way past the gate
        (S, CLOSED, decided(F, actor="user"), False, None),  # a person first: refused before the gate is read
    ],
)
def test_the_gate_wins_over_the_ai_and_a_person_over_both(
    direction: Direction, gate: str | None, own: Decision | None, allowed: bool, kind: ConflictKind | None
) -> None:
    verdict = judge("x", direction, around(own=own, gate=gate), NOW, cause=None, window=HOUR)
    assert verdict.allowed is allowed
    assert [f.kind for f in verdict.findings] == ([kind] if kind else [])
    if kind is ConflictKind.GATE_CLOSED:
        [finding] = verdict.findings
        assert finding.endpoint_id == "x" and CLOSED in finding.detail and "gate wins" in finding.resolution
        assert verdict.refusal is not None and CLOSED in verdict.refusal and "precedence 2" in verdict.refusal


def test_a_closed_gate_is_judged_before_a_closed_upstream_or_damping() -> None:
    n = around(ups={"up": None}, paused=frozenset({"up"}), own=decided(S), damped_until=NOW + HOUR, gate=CLOSED)
    [finding] = judge("x", F, n, NOW, cause=None, window=HOUR).findings
    assert finding.kind is ConflictKind.GATE_CLOSED


@pytest.mark.parametrize("how", ["paused", "slowed"])
def test_the_upstream_wins_a_faster_downstream_is_refused(how: str) -> None:
    n = around(ups={"up": None}, paused=frozenset({"up"})) if how == "paused" else around(ups={"up": decided(S)})
    verdict = judge("x", F, n, NOW, cause=None, window=HOUR)
    assert not verdict.allowed
    [finding] = verdict.findings
    assert finding.kind is ConflictKind.GRAPH and finding.other_endpoint_id == "up" and how in finding.detail


def test_a_slowed_upstream_clears_its_downstreams_faster_ai_hints_but_not_a_persons() -> None:
    n = around(downs={"ai-down": decided(F), "person-down": decided(F, actor="user"), "idle": None})
    verdict = judge("x", S, n, NOW, cause=None, window=HOUR)
    assert verdict.allowed and verdict.clear == ("ai-down",)
    assert [(f.kind, f.endpoint_id) for f in verdict.findings] == [(ConflictKind.GRAPH, "ai-down")]


def test_siblings_opposed_for_the_same_cause_the_slower_wins() -> None:
    slowed = around(sibs={"sib": decided(S, cause="up")})
    refused = judge("x", F, slowed, NOW, cause="up", window=HOUR)
    assert not refused.allowed and refused.findings[0].kind is ConflictKind.SIBLINGS
    sped = around(sibs={"sib": decided(F, cause="up")})
    wins = judge("x", S, sped, NOW, cause="up", window=HOUR)
    assert wins.allowed and wins.clear == ("sib",)


def test_siblings_opposed_for_different_causes_are_recorded_and_both_stand() -> None:
    # The flash-sale tiers: one sibling faster, another slower, on purpose.
    verdict = judge("x", F, around(sibs={"sib": decided(S, cause="a")}), NOW, cause="b", window=HOUR)
    assert verdict.allowed and verdict.clear == ()
    assert [f.kind for f in verdict.findings] == [ConflictKind.SIBLINGS]


def test_lapsed_or_neutral_decisions_conflict_with_nothing() -> None:
    lapsed = Decision("up", NOW - 2 * HOUR, "ai", S, NOW - HOUR)
    assert judge("x", F, around(ups={"up": lapsed}, sibs={"s": decided(N)}), NOW, cause=None, window=HOUR).allowed


@pytest.mark.parametrize(
    ("chain", "watcher", "loops"),
    [
        (["a"], "b", False),
        (["a", "b"], "a", True),
        (["a", "b", "c"], "b", True),
        (list("abcdefgh"), "z", True),  # longer than the limit
    ],
)
def test_a_cascade_that_reaches_itself_or_runs_too_long_is_a_loop(chain: list[str], watcher: str, loops: bool) -> None:
    assert (loop_in(chain, watcher, limit=8) is not None) is loops


def test_a_loop_is_named_along_its_path() -> None:
    assert loop_in(["a", "b", "c"], "b", limit=8) == "the runs cascade back to themselves: b → c → b"
