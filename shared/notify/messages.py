"""What a notification says: a subject line and a few lines of text, from its event and payload."""

from __future__ import annotations

from typing import Any

from cronicorn.core.notifications import NotifyEvent


def subject(event: str, payload: dict[str, Any]) -> str:
    name = payload.get("endpoint_name") or payload.get("endpoint_id")
    return {
        NotifyEvent.FAILING.value: f"[cronicorn] {name} is failing ({payload.get('consecutive_failures')} in a row)",
        NotifyEvent.RECOVERED.value: f"[cronicorn] {name} recovered",
        NotifyEvent.AI_PAUSED.value: f"[cronicorn] {name} was paused by the AI planner",
        NotifyEvent.AUTO_PAUSED.value: f"[cronicorn] {name} was auto-paused after too many failures",
    }.get(event, f"[cronicorn] {name}: {event}")


def text(event: str, payload: dict[str, Any]) -> str:
    lines = [subject(event, payload).removeprefix("[cronicorn] ") + ".", ""]
    for key in ("endpoint_id", "job_id", "run_id", "consecutive_failures", "error", "paused_until", "reason", "at"):
        if payload.get(key) is not None:
            lines.append(f"{key}: {payload[key]}")
    if event == NotifyEvent.AUTO_PAUSED.value:
        lines += ["", f"Resume it with: cronicorn endpoints resume {payload.get('endpoint_id')}"]
    return "\n".join(lines) + "\n"
