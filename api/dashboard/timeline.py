"""The endpoint page's timeline as plain data for the chart: past runs (planned slot, actual start,
duration, status, source) and the next planned runs from `explain`, plus bands for what is steering it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cronicorn.producer.records import Endpoint, PlannedRun, Run

GROUPS = ("baseline", "hint", "manual", "dependency", "retry")
"""The colors of the chart: each run source (`PlanSource` and the coordination's) falls in one."""
_GROUP_OF = {
    "ai-oneshot": "hint",
    "ai-interval": "hint",
    "manual": "manual",
    "backfill": "manual",
    "retry": "retry",
    "retry-after": "retry",
}


def source_group(source: str | None) -> str:
    """Which color a run's or a plan's source is drawn in."""
    if not source:
        return "baseline"
    if source in _GROUP_OF:
        return _GROUP_OF[source]
    if any(word in source for word in ("depend", "upstream", "trigger", "gate")):
        return "dependency"
    return "baseline"


def _s(at: datetime) -> float:
    return round(at.timestamp(), 3)


def timeline_data(
    endpoint: Endpoint,
    runs: list[Run],
    planned: list[PlannedRun],
    now: datetime,
    history: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """What `static/timeline.js` draws: one point per run at its actual start (y: duration in seconds) and
    per planned run (y: 0), each with its planned slot, status and source group; and the active bands."""
    points = [
        {
            "at": _s(run.started_at),
            "slot": _s(run.scheduled_at),
            "lag_s": round(max(0.0, (run.started_at - run.scheduled_at).total_seconds()), 3),
            "duration_s": round((run.duration_ms or 0) / 1000, 3),
            "status": run.status,
            "source": run.source or "",
            "group": source_group(run.source),
            "id": run.id,
        }
        for run in sorted(runs, key=lambda r: r.started_at)
    ]
    future = [{"at": _s(p.at), "source": p.source, "group": source_group(p.source), "planned": True} for p in planned]
    return {
        "now": _s(now),
        "groups": list(GROUPS),
        "runs": points,
        "planned": future,
        "bands": past_bands(history, now) + _bands(endpoint, now),
    }


def _bands(endpoint: Endpoint, now: datetime) -> list[dict[str, Any]]:
    """Intervals shaded behind the points: an active pause, an active hint, and a backoff after failures."""
    bands = []
    if endpoint.paused_until and endpoint.paused_until > now:
        bands.append({"kind": "pause", "from": _s(now), "to": _s(endpoint.paused_until), "by": endpoint.paused_by})
    if endpoint.ai_hint_expires_at and endpoint.ai_hint_expires_at > now:
        bands.append({"kind": "hint", "from": _s(now), "to": _s(endpoint.ai_hint_expires_at)})
    if endpoint.failure_count > 0 and endpoint.last_run_at and endpoint.next_run_at:
        bands.append({"kind": "backoff", "from": _s(endpoint.last_run_at), "to": _s(endpoint.next_run_at)})
    return bands


_ENDED_BY = {"pause": ("resume",), "interval": ("clear", "interval"), "oneshot": ("clear", "oneshot")}


def past_bands(history: Sequence[Mapping[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Pauses and hints from the steering history (oldest first), each until it expired or was lifted,
    cut at `now` (what is still active is drawn from the endpoint's state, from now on)."""
    bands = []
    for i, event in enumerate(history):
        lifted_by = _ENDED_BY.get(event["action"])
        if lifted_by is None or event["expires_at"] is None:
            continue
        end = min(event["expires_at"], now)
        for later in history[i + 1 :]:
            if later["action"] in lifted_by:
                end = min(end, later["at"])
                break
        if end > event["at"]:
            kind = "pause" if event["action"] == "pause" else "hint"
            bands.append({"kind": kind, "from": _s(event["at"]), "to": _s(end), "by": event["actor"]})
    return bands
