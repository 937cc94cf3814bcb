"""The chaos suite's figures, from what the target received and what the database recorded.

Measured at the target (each request's Idempotency-Key `<endpoint>:<slot>`, arrival and end):
calls per slot, calls of one endpoint in flight at once, dispatch lag (arrival minus slot), when
each endpoint ran again after the last fault, how soon calls flowed normally after each fault.
Read from the database: the attempts recorded per slot (a second call of a slot is a *recorded
retry* when an earlier attempt of it is recorded as abandoned, with the same key), abandoned
attempts, and each attempt's lease end (a call arriving after the last lease of its slot left
after its attempt's lease had ended).
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bench.harness import percentile
from cronicorn.store.attempts import idempotency_key

Record = tuple[str, str, float, float]  # (Idempotency-Key, path, arrived, ended), wall-clock seconds
LAG_OK_S = 2.0  # a call this close to its slot is on time (a tick is 0.5 s, lag p99 is ≈ 1 s)
HEALTHY_WINDOW_S = 2.0  # recovered: calls flow, nearly all on time, for this long
HEALTHY_SHARE = 0.9  # (retries of abandoned slots are late by nature: a few may be in the window)
RUN_AGAIN_S = 5.0  # after faults stop, every active endpoint runs within this + its interval
EXAMPLES = 20


def slot_of(key: str) -> float:
    return datetime.strptime(key.split(":", 1)[1], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def report(
    *,
    records: Sequence[Record],
    runs: Sequence[dict[str, Any]],
    endpoint_rows: Sequence[dict[str, Any]],
    job_rows: Sequence[dict[str, Any]],
    registered: dict[str, dict[str, Any]],
    faults: list[dict[str, Any]],
    exits: list[dict[str, Any]],
    steering: list[dict[str, Any]],
    last_clear: float,
    end: float,
    lease_s: float,
) -> dict[str, Any]:
    keyed = [r for r in records if r[0]]
    by_slot: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in sorted(runs, key=lambda r: r["attempt"]):
        by_slot[idempotency_key(run["endpoint_id"], run["scheduled_at"])].append(run)
    slots = _slots(keyed, by_slot)
    figures: dict[str, Any] = {
        "calls": len(records),
        "calls_without_key": len(records) - len(keyed),
        "runs_by_status": dict(Counter(r["status"] for r in runs)),
        **slots,
        **_in_flight(keyed),
        **_after_lease(keyed, by_slot),
        **_abandoned(keyed, runs, by_slot, end, lease_s),
        **_after_last_fault(keyed, endpoint_rows, job_rows, registered, last_clear, end),
        **_lag(keyed),
        "unexpected_exits": exits,
        "faults": _recoveries(keyed, faults, end),
        "steering": _steering(keyed, faults, registered, lease_s),
        "steering_calls": steering,
    }
    figures["per_fault"] = _per_kind(figures["faults"])
    figures["verdict"] = {
        "max_in_flight_is_1": figures["max_in_flight"] <= 1,
        "no_unrecorded_duplicate": figures["unrecorded_duplicates"] == 0,
        "none_lost": not figures["lost_after_faults"],
        "none_late": not figures["late_after_faults"],
        "no_unexpected_exit": not exits,
    }
    figures["summary"] = _summary(figures)
    return figures


def _slots(keyed: Sequence[Record], by_slot: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Slots the target saw more than once, by what the database recorded of them:

    - recorded retry: every earlier attempt is recorded as abandoned (it died mid-call; the
      retry carries the same key): what DESIGN.md allows;
    - retry after a live attempt: each call has its attempt recorded, but an earlier attempt is
      recorded as finished (success/failed), so it did not die: its lease ran out while it was
      still going (a frozen worker), and a second call went out for the slot;
    - unrecorded duplicate: more calls than attempts recorded.
    """
    calls = Counter(r[0] for r in keyed)
    arrivals: dict[str, list[float]] = defaultdict(list)
    for key, _path, arrived, _ended in keyed:
        arrivals[key].append(arrived)
    repeated = []
    for key, n in calls.items():
        if n < 2:
            continue
        attempts = by_slot.get(key, [])
        statuses = [a["status"] for a in attempts]
        if n > len(attempts):
            kind = "unrecorded duplicate"
        elif all(s == "abandoned" for s in statuses[: n - 1]):
            kind = "recorded retry"
        else:
            kind = "retry after a live attempt"
        repeated.append(
            {
                "key": key,
                "kind": kind,
                "calls_arrived": [_clock(t) for t in sorted(arrivals[key])],
                "attempts": [_attempt(a) for a in attempts],
            }
        )
    by_kind = Counter(r["kind"] for r in repeated)
    return {
        "slots_called": len(calls),
        "calls_per_slot_max": max(calls.values(), default=0),
        "slots_called_more_than_once": len(repeated),
        "recorded_retries": by_kind["recorded retry"],
        "retries_after_a_live_attempt": by_kind["retry after a live attempt"],
        "unrecorded_duplicates": by_kind["unrecorded duplicate"],
        "repeated_slot_examples": sorted(repeated, key=lambda r: r["kind"] == "recorded retry")[:EXAMPLES],
        "calls_without_recorded_attempt": sum(1 for key in calls if key not in by_slot),
    }


def _clock(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S.%f")[:-3]


def _attempt(a: dict[str, Any]) -> dict[str, Any]:
    def at(name: str) -> str | None:
        return None if a[name] is None else _clock(a[name].timestamp())

    return {
        "attempt": a["attempt"],
        "status": a["status"],
        "started": at("started_at"),
        "lease_until": at("lease_until"),
        "finished": at("finished_at"),
        "superseded": a["superseded"],
        "error": a["error_kind"] and f"{a['error_kind']}: {(a['error_message'] or '')[:160]}",
    }


def _in_flight(keyed: Sequence[Record]) -> dict[str, Any]:
    per_endpoint: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for key, _path, arrived, ended in keyed:
        per_endpoint[key.split(":", 1)[0]].append((arrived, ended))
    worst: dict[str, int] = {}
    overlaps = []
    for eid, spans in per_endpoint.items():
        events = sorted([(a, 1) for a, _ in spans] + [(e, -1) for _, e in spans], key=lambda x: (x[0], x[1]))
        now = peak = 0
        for at, step in events:
            now += step
            if now > peak:
                peak = now
                if peak > 1:
                    overlaps.append({"endpoint": eid, "in_flight": peak, "at": at})
        worst[eid] = peak
    return {
        "max_in_flight": max(worst.values(), default=0),
        "endpoints_with_overlap": sum(1 for v in worst.values() if v > 1),
        "overlap_examples": overlaps[:EXAMPLES],
    }


def _after_lease(keyed: Sequence[Record], by_slot: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Calls that no attempt of their slot can account for inside its lease.

    The target cannot tell which attempt sent a call, so calls are matched to attempts (one call
    each) inside the attempts' windows [started, lease_until], as many as possible (earliest
    lease end first, which is optimal); a call left over arrived when no unmatched attempt of its
    slot held a lease: it left after its attempt's lease had ended.
    """
    arrivals: dict[str, list[float]] = defaultdict(list)
    for key, _path, arrived, _ended in keyed:
        arrivals[key].append(arrived)
    late = []
    for key, times in arrivals.items():
        windows = [
            (a["started_at"].timestamp(), a["lease_until"].timestamp())
            for a in by_slot.get(key, [])
            if a["lease_until"] is not None
        ]
        free = list(range(len(windows)))
        outside = []
        for t in sorted(times):
            inside = [i for i in free if windows[i][0] <= t <= windows[i][1]]
            if inside:
                free.remove(min(inside, key=lambda i: windows[i][1]))
            else:
                outside.append(t)
        for t in outside[: len(free)]:  # beyond that, more calls than attempts: unrecorded duplicates
            ended = max((w[1] for w in windows if w[1] < t), default=None)
            late.append(
                {"key": key, "arrived": _clock(t), "after_lease_s": None if ended is None else round(t - ended, 3)}
            )
    return {"calls_after_lease": len(late), "calls_after_lease_examples": late[:EXAMPLES]}


def _abandoned(
    keyed: Sequence[Record],
    runs: Sequence[dict[str, Any]],
    by_slot: dict[str, list[dict[str, Any]]],
    end: float,
    lease_s: float,
) -> dict[str, Any]:
    calls = Counter(r[0] for r in keyed)
    abandoned = [r for r in runs if r["status"] == "abandoned"]
    given_up = [r for r in abandoned if (r["error_message"] or "").startswith("slot given up")]
    reached = 0
    for key, attempts in by_slot.items():
        n_abandoned = sum(1 for a in attempts if a["status"] == "abandoned")
        if n_abandoned:
            finished = sum(1 for a in attempts if a["status"] in ("success", "failed"))
            reached += min(n_abandoned, max(0, calls[key] - finished))
    stuck = [r for r in runs if r["status"] == "running" and r["lease_until"].timestamp() < end - lease_s]
    return {
        "abandoned_recorded": len(abandoned),
        "abandoned_given_up": len(given_up),
        "abandoned_whose_call_reached_target": reached,
        "abandoned_whose_call_never_arrived": len(abandoned) - reached,
        "running_past_lease_at_end": len(stuck),
    }


def _after_last_fault(
    keyed: Sequence[Record],
    endpoint_rows: Sequence[dict[str, Any]],
    job_rows: Sequence[dict[str, Any]],
    registered: dict[str, dict[str, Any]],
    last_clear: float,
    end: float,
) -> dict[str, Any]:
    active_jobs = {j["id"] for j in job_rows if j["status"] == "active"}
    first_after: dict[str, float] = {}
    for key, _path, arrived, _ended in keyed:
        eid = key.split(":", 1)[0]
        if arrived >= last_clear and arrived < first_after.get(eid, float("inf")):
            first_after[eid] = arrived
    late, lost = [], []
    for row in endpoint_rows:
        paused = row["paused_until"] is not None and row["paused_until"].timestamp() > end
        if row["job_id"] not in active_jobs or row["archived_at"] is not None or paused:
            continue
        deadline = last_clear + RUN_AGAIN_S + registered[row["id"]]["interval_s"]
        first = first_after.get(row["id"])
        if first is None:
            lost.append({"endpoint": row["id"], "interval_s": registered[row["id"]]["interval_s"], **_state(row)})
        elif first > deadline:
            late.append({"endpoint": row["id"], "late_s": round(first - deadline, 3)})
    return {
        "jobs_not_active_at_end": [j["id"] for j in job_rows if j["status"] != "active"],
        "active_endpoints": len(endpoint_rows),
        "tail_s": round(end - last_clear, 1),
        "late_after_faults": late,
        "lost_after_faults": lost,
    }


def _state(row: dict[str, Any]) -> dict[str, Any]:
    """What the database says of an endpoint that did not run: why it is not due."""
    names = ("job_id", "next_run_at", "next_run_source", "claimed_slot", "lease_until", "fence", "paused_until")
    return {name: (str(row[name]) if row[name] is not None else None) for name in names}


def _lag(keyed: Sequence[Record]) -> dict[str, Any]:
    lags = [arrived - slot_of(key) for key, _p, arrived, _e in keyed]
    return {
        "lag_p50_s": round(percentile(lags, 50), 3),
        "lag_p99_s": round(percentile(lags, 99), 3),
        "lag_max_s": round(max(lags, default=0.0), 3),
    }


def _recoveries(keyed: Sequence[Record], faults: list[dict[str, Any]], end: float) -> list[dict[str, Any]]:
    """Per fault: how long it lasted, and from its clearing until calls flowed on time again
    (a HEALTHY_WINDOW_S stretch with calls, HEALTHY_SHARE of them within LAG_OK_S of their slot)."""
    timeline = sorted((arrived, arrived - slot_of(key)) for key, _p, arrived, _e in keyed)
    times = [t for t, _ in timeline]
    out = []
    for i, f in enumerate(faults):
        until = faults[i + 1]["started"] if i + 1 < len(faults) else end
        recovered_at = None
        start = bisect.bisect_left(times, f["cleared"])
        for j in range(start, bisect.bisect_left(times, until)):
            stop = bisect.bisect_right(times, times[j] + HEALTHY_WINDOW_S)
            window = timeline[j:stop]
            on_time = sum(1 for _, lag in window if lag <= LAG_OK_S)
            if times[j] + HEALTHY_WINDOW_S <= until and on_time >= HEALTHY_SHARE * len(window):
                recovered_at = times[j]
                break
        during = [lag for t, lag in timeline if f["started"] <= t < until]
        out.append(
            {
                "kind": f["kind"],
                "target": f["target"],
                "at": _clock(f["started"]),
                "fault_s": round(f["cleared"] - f["started"], 2),
                "recovery_s": None if recovered_at is None else round(max(0.0, recovered_at - f["cleared"]), 2),
                "lag_max_s": round(max(during, default=0.0), 2),
            }
        )
    return out


def _per_kind(faults: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for kind in sorted({f["kind"] for f in faults}):
        mine = [f for f in faults if f["kind"] == kind]
        recovered = [f["recovery_s"] for f in mine if f["recovery_s"] is not None]
        rows.append(
            {
                "fault": kind,
                "count": len(mine),
                "fault_s_max": max(f["fault_s"] for f in mine),
                "recovery_s_max": max(recovered, default=None),
                "unrecovered": len(mine) - len(recovered),
            }
        )
    return rows


def _steering(
    keyed: Sequence[Record], faults: list[dict[str, Any]], registered: dict[str, dict[str, Any]], lease_s: float
) -> dict[str, Any]:
    """How long steering took to show at the target, and calls of a paused job after the pause
    (beyond one lease: a call claimed just before the pause may still run)."""
    run_now: list[float | None] = []
    edits: list[float | None] = []
    while_paused: list[dict[str, Any]] = []
    for f in faults:
        s = f["steering"]
        if "run_now" in s:
            run_now.append(_delay(keyed, s["run_now"]["subject"], s["run_now"]["done_at"]))
        if "edit_url" in s:
            edits.append(_delay(keyed, s["edit_url"]["subject"], s["edit_url"]["done_at"], s["edit_url"]["new_path"]))
        if "pause" in s and "resume" in s:
            members = {eid for eid, ep in registered.items() if ep["job_id"] == s["pause"]["subject"]}
            start, stop = s["pause"]["done_at"] + lease_s, s["resume"]["at"]
            while_paused += [
                {"key": k, "arrived": _clock(a), "paused": _clock(s["pause"]["done_at"]), "resumed": _clock(stop)}
                for k, _p, a, _e in keyed
                if start < a < stop and k.split(":", 1)[0] in members
            ]
    return {
        "run_now_to_call_s": run_now,
        "url_edit_to_call_s": edits,
        "calls_of_a_paused_job_past_one_lease": len(while_paused),
        "paused_job_call_examples": while_paused[:EXAMPLES],
        "steering_failures_retried": sum(
            v.get("failures", 0) for f in faults for v in f["steering"].values() if isinstance(v, dict)
        ),
    }


def _delay(keyed: Sequence[Record], endpoint: str, after: float, path: str | None = None) -> float | None:
    """Seconds from `after` to the endpoint's first call (to `path`, if given) arriving later."""
    first = min(
        (a for k, p, a, _e in keyed if a > after and k.startswith(endpoint) and (path is None or p == path)),
        default=None,
    )
    return None if first is None else round(first - after, 2)


def _summary(f: dict[str, Any]) -> list[str]:
    v = f["verdict"]
    mark = {True: "ok  ", False: "FAIL"}
    return [
        f"{mark[v['max_in_flight_is_1']]} max in flight per endpoint: {f['max_in_flight']} "
        f"({f['endpoints_with_overlap']} endpoints overlapped)",
        f"{mark[v['no_unrecorded_duplicate']]} calls per slot max {f['calls_per_slot_max']}; slots called twice or "
        f"more: {f['slots_called_more_than_once']} ({f['recorded_retries']} recorded retries of abandoned attempts, "
        f"{f['retries_after_a_live_attempt']} after a live attempt, {f['unrecorded_duplicates']} unrecorded "
        "duplicates)",
        f"{mark[v['none_lost']]} endpoints lost after the last fault: {len(f['lost_after_faults'])}",
        f"{mark[v['none_late']]} endpoints late after the last fault (> 5 s + interval): {len(f['late_after_faults'])}",
        f"{mark[v['no_unexpected_exit']]} worker processes that exited unexpectedly: {len(f['unexpected_exits'])}",
        f"     calls {f['calls']}, slots {f['slots_called']}, calls after their slot's lease: {f['calls_after_lease']}",
        f"     abandoned attempts recorded {f['abandoned_recorded']} (given up {f['abandoned_given_up']}); their "
        f"calls reached the target: {f['abandoned_whose_call_reached_target']}, never arrived: "
        f"{f['abandoned_whose_call_never_arrived']}; running past their lease at the end: "
        f"{f['running_past_lease_at_end']}",
        f"     dispatch lag p50 {f['lag_p50_s']} s, p99 {f['lag_p99_s']} s, max {f['lag_max_s']} s",
        f"     steering: { ({k: v for k, v in f['steering'].items() if not k.endswith('examples')}) }",
    ]
