"""The Python producer client: register and steer jobs and endpoints straight on the database.

Example::

    from cronicorn.producer.client import Cronicorn

    cron = Cronicorn.from_url("postgresql+psycopg2://user@db/cronicorn")
    job, eps = cron.register(
        {"name": "billing", "description": "Invoices and their health"},
        [{"name": "sync", "url": "https://api.example.com/sync", "baseline_interval_ms": 60_000}],
    )
    cron.run_now(eps[0].id)

Every change takes effect at once: the endpoint's next run is re-planned in the same
transaction. Invalid input raises `InvalidInput` naming each bad field, and writes nothing.
Another tenant's objects raise `NotFound`, as if they did not exist. A change the object's
state does not allow (e.g. run-now on a paused endpoint, resuming an archived job) raises
`Conflict`. All three derive from `cronicorn.core.errors.CronicornError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine

from cronicorn.core.calls import HttpOutcome
from cronicorn.core.clock import utcnow
from cronicorn.core.errors import InvalidInput
from cronicorn.core.tiers import Tier
from cronicorn.http.call import HttpCaller
from cronicorn.producer import backfill as backfills
from cronicorn.producer import control, dependencies, endpoints, jobs, register
from cronicorn.producer import notifications as notify
from cronicorn.producer import runs as runs_query
from cronicorn.producer.dependency_specs import DependencySpec
from cronicorn.producer.endpoints import endpoint_row
from cronicorn.producer.explain import explain_row
from cronicorn.producer.input_caps import DEFAULT_CAPS, InputCaps
from cronicorn.producer.notifications import Notification, NotificationChannel
from cronicorn.producer.probe import probe_endpoint
from cronicorn.producer.records import Endpoint, Job, PlannedRun, Run, RunPage
from cronicorn.producer.specs import EndpointSpec, JobSpec
from cronicorn.producer.storable import check_ids
from cronicorn.store import analysis_sessions as sessions
from cronicorn.store import conflicts, run_stats
from cronicorn.store.declarations import read_decisions
from cronicorn.store.engine import make_engine
from cronicorn.store.signing_keys import KeyRing


def _fields(spec: BaseModel | dict[str, Any] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    if spec is None:
        return kwargs
    base = spec.model_dump(exclude_unset=True) if isinstance(spec, BaseModel) else dict(spec)
    return {**base, **kwargs}


class Cronicorn:
    """Producer-facing client for one tenant, working directly on the scheduler's database.

    Args:
        engine: a SQLAlchemy engine on the scheduler's database (see `from_url`).
        tenant_id: the tenant whose jobs this client sees and writes (default "default").
            Every query is scoped to it; other tenants' ids raise `NotFound`.
        clock: returns the current aware UTC time; defaults to the system clock. Tests pass a
            fixed one so that planned times are exact.
        tier: the tenant's limits (endpoints, minimum interval); None means unlimited, which is
            right for trusted producers on their own database. The REST API passes the caller's.
        caps: the size caps on an endpoint's body and headers (`InputCaps.of(settings)`); the
            defaults are the settings' defaults. The REST API and the CLI pass the configured ones.

    Returned objects are frozen records (`Job`, `Endpoint`, `Run`, `RunPage`, `PlannedRun`) from
    `cronicorn.producer.records`; datetimes in them are aware UTC. Secret header values (Authorization,
    Cookie, X-Api-Key, anything named like a token, key, secret or password) read as "***": they are
    write-only, and sending "***" back in an update keeps the stored value.

    Every string (names, ids, URLs, headers, JSON body text and keys at any depth) is refused with
    `InvalidInput` when it holds a NUL or an unpaired surrogate; times must lie in 1970-9000 (UTC).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        tenant_id: str = "default",
        clock: Callable[[], datetime] | None = None,
        tier: Tier | None = None,
        caps: InputCaps | None = None,
    ) -> None:
        check_ids(tenant_id=tenant_id)
        self.engine = engine
        self.tenant_id = tenant_id
        self.clock = clock or utcnow
        self.tier = tier
        self.caps = caps or DEFAULT_CAPS

    @classmethod
    def from_url(cls, database_url: str, **kwargs: Any) -> Cronicorn:
        """A client on the database at `database_url`.

        Args:
            database_url: SQLAlchemy URL, e.g. "postgresql+psycopg2://user@host/db" or
                "sqlite:////var/lib/cronicorn/cronicorn.db" (the schema must be migrated).
            **kwargs: `tenant_id`, `clock`, `tier` and `caps`, as for the constructor.
        """
        return cls(make_engine(database_url), **kwargs)

    def _now(self) -> datetime:
        return self.clock()

    # --- jobs ---------------------------------------------------------------------------
    def create_job(self, spec: JobSpec | dict[str, Any] | None = None, **fields: Any) -> Job:
        """Create an active job.

        Args:
            spec: a `JobSpec` or a dict; keyword arguments are merged over it.
            name: 1-255 characters (surrounding spaces are stripped).
            description: up to 1000 characters; the AI planner reads it as context.

        Raises:
            InvalidInput: a field is missing, too long, or unknown.
        """
        return jobs.create_job(self.engine, self.tenant_id, self._now(), _fields(spec, fields))

    def get_job(self, job_id: str) -> Job:
        """The job with this id. Raises NotFound (also for another tenant's job)."""
        return jobs.get_job(self.engine, self.tenant_id, job_id)

    def list_jobs(self, *, status: str | None = None, limit: int = 100, offset: int = 0) -> list[Job]:
        """This tenant's jobs, oldest first.

        Args:
            status: only jobs in this status: "active", "paused" or "archived".
            limit: page size, 1-1000. offset: how many to skip.
        """
        return jobs.list_jobs(self.engine, self.tenant_id, status=status, limit=limit, offset=offset)

    def update_job(self, job_id: str, **fields: Any) -> Job:
        """Change a job's `name` and/or `description` (description=None clears it).

        Raises:
            InvalidInput: bad or unknown field. NotFound: no such job. Conflict: the job is archived.
        """
        return jobs.update_job(self.engine, self.tenant_id, self._now(), job_id, fields)

    def pause_job(self, job_id: str) -> Job:
        """Stop every endpoint of the job at once (their next_run_at becomes NULL) until `resume_job`.

        An attempt already in flight finishes and then plans nothing. Raises Conflict if archived.
        """
        return jobs.pause_job(self.engine, self.tenant_id, self._now(), job_id)

    def resume_job(self, job_id: str) -> Job:
        """Make a paused job active again; each endpoint is re-planned from now. Conflict if archived."""
        return jobs.resume_job(self.engine, self.tenant_id, self._now(), job_id)

    def archive_job(self, job_id: str) -> Job:
        """Archive a job for good: its endpoints never run again; runs are kept. Idempotent."""
        return jobs.archive_job(self.engine, self.tenant_id, self._now(), job_id)

    # --- endpoints ----------------------------------------------------------------------
    def add_endpoint(self, job_id: str, spec: EndpointSpec | dict[str, Any] | None = None, **fields: Any) -> Endpoint:
        """Add an endpoint to an active or paused job; its first run is planned at once.

        Args:
            job_id: the job to add it to (not archived).
            spec: an `EndpointSpec` or dict; keyword arguments are merged over it.
            name: 1-255 characters. description: up to 2000 (the AI planner's instructions).
            url: http:// or https:// with a host. method: GET (default), POST, PUT, PATCH, DELETE.
            headers: {name: value}: token names, Latin-1 values without control characters, within
                the caps (CRONICORN_MAX_HEADERS, _HEADER_NAME_CHARS, _HEADER_VALUE_CHARS).
            body: any JSON (POST/PUT/PATCH only), at most CRONICORN_MAX_BODY_BYTES as compact JSON.
            baseline_interval_ms: run every N ms (>= 1000); or
            baseline_cron: a 5-field cron (or @daily...) evaluated in `timezone` (IANA, default "UTC").
                Exactly one of the two.
            min_interval_ms / max_interval_ms: guardrails every plan (hints too) is clamped into.
            timeout_ms: per request (default 30000, >= 1000, <= max_execution_time_ms).
            max_execution_time_ms: lease length (default 60000, <= 1800000).
            max_response_size_kb: largest response body stored (default 100, 1-10240).
            upstream_endpoint_ids: endpoints of other jobs the AI planner may read.
            retry_max_attempts: retries of a failed slot (0-10, default 0: none), each a new run of
                the same slot with the same Idempotency-Key; the failure counts once the slot is decided.
            retry_backoff_ms / retry_backoff_max_ms: retry k waits retry_backoff_ms x 2^(k-1) (default
                1000, >= 1000), at most retry_backoff_max_ms (default 60000, <= 1 day), and never less
                than a 429's or 503's Retry-After (or a spent rate limit's reset) says.
            retry_on: the failures retried, any of "timeout", "connection", "5xx", "429" (default all).
                A retry is its slot's: it counts once against max_runs, and none is made after ends_at.
            run_at: instead of a cron or interval baseline, run once at this aware time (a one-off:
                it ends after that run); no max_interval_ms or jitter_ms with it.
            catch_up: slots missed while the scheduler was down: "coalesce" (one run at once), "skip"
                (none: the next slot still ahead) or "all" (each, oldest first, within
                catch_up_window_ms: default 1 h, 1 s-24 h). Default: CRONICORN_CATCH_UP.
            overlap: a slot falling due while the endpoint's own call runs: "skip" (default) or
                "buffer_one" (one run right after the call).
            jitter_ms: move each slot later by a fixed offset in [0, jitter_ms] derived from the slot
                (0-3600000, at most the interval): endpoints sharing a schedule spread out.
            starts_at / ends_at: aware times: nothing runs before starts_at; after ends_at the
                endpoint has ended (next_run_at None, ended_at set).
            max_runs: run at most this many more times (1-1000000000); `runs_left` counts down and
                the endpoint ends at 0. Declaring the same value again does not restart the count.

        Raises:
            InvalidInput (nothing written), NotFound (no such job), Conflict (job archived, tier full).
        """
        return endpoints.add_endpoint(
            self.engine, self.tenant_id, self._now(), job_id, _fields(spec, fields), self.tier, self.caps
        )

    def get_endpoint(self, endpoint_id: str) -> Endpoint:
        """The endpoint with this id, including its schedule state (next_run_at, hints, pause). NotFound otherwise."""
        return endpoints.get_endpoint(self.engine, self.tenant_id, endpoint_id)

    def list_endpoints(
        self, job_id: str | None = None, *, include_archived: bool = False, limit: int = 100, offset: int = 0
    ) -> list[Endpoint]:
        """This tenant's endpoints, oldest first.

        Args:
            job_id: only this job's endpoints. include_archived: also list archived ones.
            limit: page size, 1-1000. offset: how many to skip.
        """
        return endpoints.list_endpoints(
            self.engine, self.tenant_id, job_id, include_archived=include_archived, limit=limit, offset=offset
        )

    def update_endpoint(self, endpoint_id: str, **fields: Any) -> Endpoint:
        """Change any fields of `add_endpoint`; the next run is re-planned at once.

        The merged result is validated as a whole. Setting one kind of schedule (`baseline_cron`,
        `baseline_interval_ms` or `run_at`) replaces the others. Fields that can be cleared
        (description, body, min/max_interval_ms, starts_at, ends_at, max_runs) take None; a new
        max_runs restarts the count, and a later ends_at or a new max_runs revives an ended
        endpoint. Nothing changes, and nothing is written, when the values equal the stored ones.
        `headers` replaces all headers; a secret header sent as "***" (as reads show it) keeps its
        stored value.

        Raises:
            InvalidInput (nothing written), NotFound, Conflict (the endpoint is archived).
        """
        return endpoints.update_endpoint(
            self.engine, self.tenant_id, self._now(), endpoint_id, fields, self.tier, self.caps
        )

    def archive_endpoint(self, endpoint_id: str) -> Endpoint:
        """Archive an endpoint for good: it never runs again; its runs are kept. Idempotent."""
        return endpoints.archive_endpoint(self.engine, self.tenant_id, self._now(), endpoint_id)

    def pause_endpoint(self, endpoint_id: str, until: datetime, reason: str | None = None) -> Endpoint:
        """Pause the endpoint until `until`; its next run moves to `until` at once.

        Args:
            until: aware datetime in the future (InvalidInput otherwise).
            reason: free text kept with the pause (up to 1000 characters).

        The pause is recorded as set by a person: the AI planner cannot lift or change it.
        """
        return control.pause_endpoint(self.engine, self.tenant_id, self._now(), endpoint_id, until, reason)

    def resume_endpoint(self, endpoint_id: str) -> Endpoint:
        """Lift a pause (whoever set it) and re-plan the next run from now."""
        return control.resume_endpoint(self.engine, self.tenant_id, self._now(), endpoint_id)

    def reset_failures(self, endpoint_id: str) -> Endpoint:
        """Forget consecutive failures (and their interval backoff); re-plans at once."""
        return endpoints.reset_failures(self.engine, self.tenant_id, self._now(), endpoint_id)

    def run_now(self, endpoint_id: str) -> Endpoint:
        """Run as soon as the guardrails allow: now, or `last_run_at + min_interval_ms` if later.

        If an attempt is in flight, the requested run follows it. Raises Conflict when the
        endpoint is paused or archived or its job is not active.
        """
        return control.run_now(self.engine, self.tenant_id, self._now(), endpoint_id)

    def set_interval_hint(
        self, endpoint_id: str, interval_ms: int, ttl_minutes: float = 60, reason: str | None = None
    ) -> Endpoint:
        """Run every `interval_ms` (clamped into min/max) instead of the baseline until the hint expires.

        Args:
            interval_ms: > 0 milliseconds. ttl_minutes: how long the hint stays fresh (default 60).
            reason: why, shown beside the endpoint.

        The next run only ever moves earlier because of a hint, never later.
        """
        return control.set_interval_hint(
            self.engine, self.tenant_id, self._now(), endpoint_id, interval_ms, ttl_minutes, reason
        )

    def set_oneshot_hint(
        self,
        endpoint_id: str,
        *,
        next_run_at: datetime | None = None,
        next_run_in_ms: int | None = None,
        ttl_minutes: float = 30,
        reason: str | None = None,
    ) -> Endpoint:
        """Run once at `next_run_at` (aware) or in `next_run_in_ms`, if that is earlier than planned.

        Give exactly one of the two. The hint stays fresh `ttl_minutes` (default 30) and at least
        until a minute after its time; it is consumed by the run it causes.
        """
        return control.set_oneshot_hint(
            self.engine,
            self.tenant_id,
            self._now(),
            endpoint_id,
            next_run_at=next_run_at,
            next_run_in_ms=next_run_in_ms,
            ttl_minutes=ttl_minutes,
            reason=reason,
        )

    def clear_hints(self, endpoint_id: str) -> Endpoint:
        """Drop the interval and one-shot hints; the next run is re-planned from the baseline."""
        return control.clear_hints(self.engine, self.tenant_id, self._now(), endpoint_id)

    def backfill(self, endpoint_id: str, since: datetime, until: datetime) -> Endpoint:
        """Run the endpoint's slots in [since, until) now, oldest first, one at a time.

        Each slot is its own run, with its own slot (so its own Idempotency-Key) and source
        "backfill"; the live schedule waits meanwhile and resumes from the end. Backfill runs do not
        count against max_runs and ignore starts_at/ends_at.

        Args:
            since, until: aware times; `until` not in the future, `since` before it; the range may
                hold at most 1000 slots of the baseline schedule (cron slots, or since + k x interval).

        Raises:
            InvalidInput (nothing written), NotFound, Conflict (archived, a one-off, or a backfill
            already in progress).
        """
        return backfills.backfill(self.engine, self.tenant_id, self._now(), endpoint_id, since, until)

    def explain(self, endpoint_id: str, n: int = 5) -> list[PlannedRun]:
        """The next `n` (1-100) run times with the governor rule behind each, assuming every run succeeds.

        Starts with the stored next run; each `PlannedRun.detail` says what else shaped it (jitter,
        runs left, a backfill) and, on the last one before the schedule ends, why it ends. Empty
        when the endpoint cannot run (archived, job paused) or has ended. Writes nothing.
        """
        with self.engine.connect() as conn:
            row = endpoint_row(conn, self.tenant_id, endpoint_id)
        return explain_row(row, self._now(), n)

    def decisions(self, endpoint_id: str) -> list[dict[str, Any]]:
        """Why it ran or did not, newest last: the last dependency decisions of the endpoint (upstream
        runs counted or ignored and why, dependency met or not, runs triggered, gated runs skipped).
        Empty when it has no dependency. NotFound for another tenant's endpoint."""
        with self.engine.connect() as conn:
            endpoint_row(conn, self.tenant_id, endpoint_id)
            return read_decisions(conn, endpoint_id)

    # --- dependencies -------------------------------------------------------------------
    def set_dependency(
        self, endpoint_id: str, spec: DependencySpec | dict[str, Any] | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Make an endpoint run on (or only after) runs of other endpoints of this tenant, in any job.

        Args:
            endpoint_id: the downstream endpoint; it keeps its own schedule (a gate can hold it).
            spec: a `DependencySpec` or its fields: `upstream_endpoint_ids`, `on` (success, failure,
                any), `condition` (e.g. '$.status == "done" and status < 300'), `fan_in` (all, any),
                `batch_key` (e.g. "$.batch_id"), `trigger`, `gate`, `template`
                ({"headers"|"query"|"body": {name: "run_id"|"key"|"$.path"|...}}).

        Returns the declaration as `get_dependency` does. Raises InvalidInput naming the field (a
        bad expression, a missing, archived or foreign upstream, a cycle), nothing written.
        """
        return dependencies.set_dependency(self.engine, self.tenant_id, self._now(), endpoint_id, _fields(spec, fields))

    def get_dependency(self, endpoint_id: str) -> dict[str, Any] | None:
        """The endpoint's dependency, the upstream runs that count now, keys run, last decisions; None if none."""
        return dependencies.get_dependency(self.engine, self.tenant_id, endpoint_id)

    def clear_dependency(self, endpoint_id: str) -> bool:
        """Remove the endpoint's dependency (it runs on its schedule alone again); False if it had none."""
        return dependencies.clear_dependency(self.engine, self.tenant_id, endpoint_id)

    def test_call(self, endpoint_id: str, http: HttpCaller, keyring: KeyRing) -> HttpOutcome:
        """Call the endpoint once, now, with `http`, signed with this tenant's keys from `keyring`.

        Nothing is stored and the schedule is untouched. Target problems come back as a failed
        outcome, not an exception. Raises NotFound (also for another tenant's endpoint).
        """
        return probe_endpoint(self.engine, self.tenant_id, endpoint_id, http, keyring)

    # --- runs ---------------------------------------------------------------------------
    def list_runs(
        self,
        *,
        endpoint_id: str | None = None,
        job_id: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> RunPage:
        """Runs newest first, one page, with the total number matching.

        Args:
            endpoint_id / job_id: only runs of this endpoint / job.
            status: running, success, failed, abandoned or canceled.
            since / until: aware datetimes bounding `started_at` (since inclusive, until exclusive).
            limit: page size, 1-1000 (default 50). offset: how many to skip.
        """
        return runs_query.list_runs(
            self.engine,
            self.tenant_id,
            endpoint_id=endpoint_id,
            job_id=job_id,
            status=status,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )

    def get_run(self, run_id: str) -> Run:
        """One run with its response (status code, body, error). NotFound otherwise."""
        return runs_query.get_run(self.engine, self.tenant_id, run_id)

    def endpoint_health(self, endpoint_id: str) -> run_stats.EndpointHealth:
        """The endpoint's finished runs over the last 1 h / 4 h / 24 h and its failure streak. NotFound otherwise."""
        endpoints.get_endpoint(self.engine, self.tenant_id, endpoint_id)  # scoped: another tenant's is NotFound
        return run_stats.endpoint_health(self.engine, endpoint_id, self._now())

    def dashboard_stats(self) -> run_stats.DashboardStats:
        """This tenant's jobs by status, live endpoints, and the last 24 h of runs by status."""
        return run_stats.dashboard_stats(self.engine, self.tenant_id, self._now())

    # --- AI planner sessions --------------------------------------------------------------
    def list_sessions(
        self, endpoint_id: str | None = None, *, limit: int = 20, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Planner sessions newest first: tool calls, reasoning, tokens, outcome and warnings."""
        check_ids(endpoint_id=endpoint_id)
        return sessions.list_sessions(self.engine, self.tenant_id, endpoint_id=endpoint_id, limit=limit, offset=offset)

    def get_session(self, session_id: str) -> dict[str, Any]:
        """One planner session with its tool calls. NotFound otherwise."""
        check_ids(session_id=session_id)
        return sessions.get_session(self.engine, self.tenant_id, session_id)

    # --- coordination -------------------------------------------------------------------
    def list_conflicts(
        self,
        endpoint_id: str | None = None,
        *,
        job_id: str | None = None,
        include_closed: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Conflicts between steering decisions, newest first (see docs/coordination.md).

        Args:
            endpoint_id: only conflicts recorded on, or naming, this endpoint.
            job_id: only conflicts recorded on this job's endpoints.
            include_closed: also those whose window has passed (default: open ones only).
            limit: 1-1000. offset: at least 0.

        Each has `kind` (thrash, graph-contradiction, siblings-opposed, gate-closed, trigger-loop), `endpoint_id`,
        `other_endpoint_id`, `detected_at`, `open_until`, `damp_until`, `resolution` and `detail`.
        """
        check_ids(endpoint_id=endpoint_id, job_id=job_id)
        if not isinstance(include_closed, bool):
            raise InvalidInput.one("include_closed", "must be true or false")
        return conflicts.list_conflicts(
            self.engine,
            self.tenant_id,
            self._now(),
            endpoint_id=endpoint_id,
            job_id=job_id,
            include_closed=include_closed,
            limit=limit,
            offset=offset,
        )

    # --- notifications ------------------------------------------------------------------
    def add_notification_channel(
        self,
        kind: str,
        target: str,
        *,
        name: str | None = None,
        job_id: str | None = None,
        events: list[str] | None = None,
        failure_threshold: int | None = None,
        secret: str | None = None,
    ) -> NotificationChannel:
        """Tell a webhook or an e-mail address about endpoints' state changes.

        Args:
            kind: "webhook" (a signed JSON POST) or "email" (SMTP, see CRONICORN_SMTP_HOST).
            target: the webhook's http(s) URL (the SSRF guard holds when it is called), or the address.
            name: shown in lists and in each notification (default: kind and target).
            job_id: only this job's endpoints (default: every job of the tenant).
            events: some of "failing" (consecutive failures reached `failure_threshold`), "recovered"
                (a success after that), "ai_paused", "auto_paused" (default: all four).
            failure_threshold: failures in a row that make "failing", 1-1000 (default 3).
            secret: a webhook's HMAC key, 16-256 characters (default: generated). Returned only here.

        Raises:
            InvalidInput: naming the field (an unknown event, a bad URL or address ...). NotFound: no such job.
        """
        given = {"name": name, "job_id": job_id, "events": events, "failure_threshold": failure_threshold}
        fields = {"kind": kind, "target": target, "secret": secret, **{k: v for k, v in given.items() if v is not None}}
        return notify.add_channel(self.engine, self.tenant_id, self._now(), fields)

    def list_notification_channels(self, *, job_id: str | None = None) -> list[NotificationChannel]:
        """The tenant's channels (secrets are never shown again), oldest first."""
        return notify.list_channels(self.engine, self.tenant_id, job_id=job_id)

    def remove_notification_channel(self, channel_id: str) -> None:
        """Remove a channel and its notifications. NotFound otherwise."""
        notify.remove_channel(self.engine, self.tenant_id, channel_id)

    def list_notifications(
        self,
        *,
        endpoint_id: str | None = None,
        channel_id: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[Notification]:
        """Notifications, newest first, with their delivery status (pending, sent, failed), attempts
        and last error."""
        return notify.list_notifications(
            self.engine, self.tenant_id, endpoint_id=endpoint_id, channel_id=channel_id, status=status, limit=limit
        )

    def set_auto_pause(
        self, *, after_failures: int | None, endpoint_id: str | None = None, job_id: str | None = None
    ) -> int | None:
        """Pause an endpoint (or each endpoint of a job) after `after_failures` consecutive failures.

        The pause lasts until a person resumes the endpoint (the AI cannot). None removes the policy;
        an endpoint's own policy wins over its job's. Give exactly one of `endpoint_id` or `job_id`.
        """
        return notify.set_auto_pause(
            self.engine,
            self.tenant_id,
            self._now(),
            endpoint_id=endpoint_id,
            job_id=job_id,
            after_failures=after_failures,
        )

    # --- deploy-time registration -------------------------------------------------------
    def register(
        self,
        job: JobSpec | dict[str, Any],
        endpoints: Sequence[EndpointSpec | dict[str, Any]],
        on_conflict: register.OnConflict = "update",
        dependencies: Mapping[str, DependencySpec | dict[str, Any]] | None = None,
    ) -> tuple[Job, list[Endpoint]]:
        """Create or bring up to date a job and its endpoints by name; safe to run on every deploy.

        Args:
            job: the job's spec; it is found by name among this tenant's jobs that are not archived.
            endpoints: endpoint specs, matched by name within the job.
            on_conflict: what to do with an existing endpoint whose fields differ: "update" it
                (default), "skip" it, or "error" (raise Conflict, write nothing).
            dependencies: {endpoint name: DependencySpec}; an upstream is an endpoint id or the
                name of an endpoint declared here. Declared (or replaced) in the same transaction.

        Returns the job and the declared endpoints in the order given. Endpoints of the job that
        are not declared are left alone. Running it again with the same input writes nothing.
        Everything happens in one transaction; invalid input (named `endpoints[i].field`) writes nothing.
        """
        return register.register(
            self.engine,
            self.tenant_id,
            self._now(),
            job,
            list(endpoints),
            on_conflict,
            self.tier,
            self.caps,
            dependencies=dependencies,
        )
