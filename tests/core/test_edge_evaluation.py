"""An edge's last evaluation, read from its downstream's record of decisions: table-driven, as the
store writes the record (`cronicorn.store.dependency_edges`)."""

from __future__ import annotations

from typing import Any

import pytest

from cronicorn.core.edge_evaluation import EdgeResult, last_evaluation


def counted(up: str, run: str, at: str = "t1") -> dict[str, Any]:
    return {
        "at": at,
        "kind": "upstream-counted",
        "reason": f"upstream run {run}: counts",
        "result": "counts",
        "upstream_run_id": run,
        "upstream_endpoint_id": up,
    }


def ignored(up: str, run: str, result: str | None, reason: str = "condition $.ok not met") -> dict[str, Any]:
    entry = {
        "at": "t1",
        "kind": "upstream-ignored",
        "reason": reason,
        "upstream_run_id": run,
        "upstream_endpoint_id": up,
    }
    return entry if result is None else {**entry, "result": result}


MET = {"at": "t1", "kind": "dependency-met", "reason": "all 1 upstreams met; latest run r1: triggers a run"}
NOT_MET = {"at": "t1", "kind": "dependency-not-met", "reason": "waiting for upstream B"}
SKIPPED = {"at": "t2", "kind": "skipped", "reason": "gate closed: waiting for upstream A"}
RAN = {"at": "t2", "kind": "ran", "reason": "dependency met (...); run as dependency", "upstream_run_id": "r1"}


@pytest.mark.parametrize(
    ("decisions", "waiting", "trigger", "result", "run"),
    [
        ([], True, True, EdgeResult.NONE, None),
        ([counted("A", "r1"), MET], False, True, EdgeResult.FIRED, "r1"),
        ([counted("A", "r1"), MET, RAN], True, True, EdgeResult.FIRED, "r1"),  # consumed: still what it did
        ([counted("A", "r1"), MET], False, False, EdgeResult.GATE_OPEN, "r1"),
        ([counted("A", "r1"), NOT_MET], False, True, EdgeResult.WAITING, "r1"),
        ([counted("A", "r1"), counted("B", "r2"), MET], False, True, EdgeResult.FIRED, "r1"),  # one transaction
        ([ignored("A", "r1", "condition-false")], True, True, EdgeResult.CONDITION_FALSE, "r1"),
        ([ignored("A", "r1", "outcome-not-wanted")], True, True, EdgeResult.OUTCOME, "r1"),
        ([ignored("A", "r1", "batch-key-ran")], True, True, EdgeResult.KEY_RAN, "r1"),
        ([ignored("A", "r1", None)], True, True, EdgeResult.IGNORED, "r1"),  # written before results were
        ([counted("A", "r1"), MET, RAN, SKIPPED], True, False, EdgeResult.GATED, None),
        ([SKIPPED], True, False, EdgeResult.GATED, None),
        ([counted("A", "r1"), NOT_MET, SKIPPED], False, False, EdgeResult.WAITING, "r1"),  # it had counted
        ([counted("B", "r2"), MET], True, True, EdgeResult.NONE, None),  # another edge's evaluation
        (
            [counted("A", "r1"), MET, ignored("A", "r3", "condition-false")],
            True,
            True,
            EdgeResult.CONDITION_FALSE,
            "r3",
        ),
    ],
)
def test_the_newest_decision_about_the_edge_says_what_it_came_to(
    decisions: list[dict[str, Any]], waiting: bool, trigger: bool, result: EdgeResult, run: str | None
) -> None:
    evaluation = last_evaluation(decisions, "A", waiting=waiting, trigger=trigger)
    assert (evaluation.result, evaluation.upstream_run_id) == (result, run)


def test_a_waiting_edge_says_what_it_waits_for_and_when() -> None:
    evaluation = last_evaluation(
        [counted("A", "r1", at="2026-01-01T00:00:00+00:00"), NOT_MET], "A", waiting=False, trigger=True
    )
    assert evaluation.reason == "waiting for upstream B" and evaluation.at == "2026-01-01T00:00:00+00:00"
