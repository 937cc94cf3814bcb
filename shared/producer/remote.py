"""The remote Python client: the same methods as `Cronicorn`, over the REST API with an API key.

    from cronicorn.producer.remote import RemoteCronicorn

    cron = RemoteCronicorn("https://scheduler.internal", api_key="ck_...")
    job, endpoints = cron.register(
        {"name": "billing"}, [{"name": "sync", "url": "...", "baseline_interval_ms": 60_000}]
    )

A producer writes the same code against either client; errors are the same classes
(`InvalidInput` naming snake_case fields, `NotFound`, `Conflict`), plus `RateLimited`.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any, TypeVar

import requests
from pydantic import BaseModel

from cronicorn.core.casing import to_camel, to_snake
from cronicorn.core.errors import Conflict, CronicornError, FieldError, InvalidInput, NotFound
from cronicorn.producer.records import Endpoint, Job, PlannedRun, Run, RunPage
from cronicorn.producer.specs import EndpointPatch, EndpointSpec, JobPatch, JobSpec

T = TypeVar("T")


class RateLimited(CronicornError):
    """The API refused the call for now; `retry_after_s` says when to try again."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def _parse(value: Any, name: str) -> Any:
    if isinstance(value, str) and (name.endswith("_at") or name.endswith("_until")):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    if name == "notes" and isinstance(value, list):
        return tuple(value)  # as the direct client returns them
    return value


def _record(cls: type[T], data: dict[str, Any]) -> T:
    values = {to_snake(k): v for k, v in data.items()}
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{n: _parse(values.get(n), n) for n in names if n in values})


def _known(model: type[BaseModel], data: Any, prefix: str = "") -> dict[str, Any]:
    """`data` if every key is one of `model`'s fields in our names; the direct client refuses the same keys."""
    if not isinstance(data, dict):
        raise InvalidInput.one(prefix.rstrip(".") or "input", "must be a mapping of field names to values")
    unknown = [k for k in data if k not in model.model_fields]
    if unknown:
        # A camelCase key sent as it is would be read by the API as its own name: refused here, as directly.
        raise InvalidInput([FieldError(f"{prefix}{k}", "unknown field") for k in unknown])
    return data


def _body(data: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in data.items():
        out[to_camel(key)] = value.isoformat() if isinstance(value, datetime) else value
    return out


class RemoteCronicorn:
    """Producer client over HTTP. Args: base_url (e.g. http://127.0.0.1:8000), api_key, timeout_s."""

    def __init__(
        self, base_url: str, api_key: str, *, timeout_s: float = 30.0, session: requests.Session | None = None
    ) -> None:
        self.base = base_url.rstrip("/") + "/api"
        self.timeout_s = timeout_s
        self.http = session or requests.Session()
        self.http.headers.update({"x-api-key": api_key, "User-Agent": "cronicorn-remote/0.1"})

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None, **params: Any) -> Any:
        query = {
            to_camel(k): (v.isoformat() if isinstance(v, datetime) else v) for k, v in params.items() if v is not None
        }
        response = self.http.request(method, self.base + path, json=body, params=query, timeout=self.timeout_s)
        if response.status_code == 204:
            return None
        data = response.json() if response.content else {}
        if response.ok:
            return data
        message = data.get("error", response.text) if isinstance(data, dict) else response.text
        if response.status_code == 422:
            raise InvalidInput(
                [FieldError(to_snake(d["field"]), d["reason"]) for d in data.get("details", [])]
                or [FieldError("input", message)]
            )
        if response.status_code == 404:
            raise NotFound("object", path.rsplit("/", 1)[-1])
        if response.status_code == 409:
            raise Conflict(message)
        if response.status_code == 429:
            raise RateLimited(message, int(response.headers.get("Retry-After", "60")))
        raise CronicornError(f"{method} {path}: HTTP {response.status_code}: {message}")

    # --- jobs -------------------------------------------------------------------------
    def create_job(self, spec: dict[str, Any] | None = None, **fields_: Any) -> Job:
        data = _known(JobSpec, {**(spec or {}), **fields_})
        return _record(Job, self._call("POST", "/jobs", _body(data)))

    def get_job(self, job_id: str) -> Job:
        return _record(Job, self._call("GET", f"/jobs/{job_id}"))

    def list_jobs(self, *, status: str | None = None, limit: int = 100, offset: int = 0) -> list[Job]:
        return [_record(Job, j) for j in self._call("GET", "/jobs", status=status, limit=limit, offset=offset)["jobs"]]

    def update_job(self, job_id: str, **fields_: Any) -> Job:
        return _record(Job, self._call("PATCH", f"/jobs/{job_id}", _body(_known(JobPatch, fields_))))

    def pause_job(self, job_id: str) -> Job:
        return _record(Job, self._call("POST", f"/jobs/{job_id}/pause"))

    def resume_job(self, job_id: str) -> Job:
        return _record(Job, self._call("POST", f"/jobs/{job_id}/resume"))

    def archive_job(self, job_id: str) -> Job:
        self._call("DELETE", f"/jobs/{job_id}")
        return self.get_job(job_id)

    # --- endpoints --------------------------------------------------------------------
    def add_endpoint(self, job_id: str, spec: dict[str, Any] | None = None, **fields_: Any) -> Endpoint:
        data = _known(EndpointSpec, {**(spec or {}), **fields_})
        return _record(Endpoint, self._call("POST", f"/jobs/{job_id}/endpoints", _body(data)))

    def get_endpoint(self, endpoint_id: str) -> Endpoint:
        return _record(Endpoint, self._call("GET", f"/endpoints/{endpoint_id}"))

    def list_endpoints(
        self, job_id: str | None = None, *, include_archived: bool = False, limit: int = 100, offset: int = 0
    ) -> list[Endpoint]:
        data = self._call(
            "GET",
            "/endpoints",
            job_id=job_id,
            include_archived=str(include_archived).lower(),
            limit=limit,
            offset=offset,
        )
        return [_record(Endpoint, e) for e in data["endpoints"]]

    def update_endpoint(self, endpoint_id: str, **fields_: Any) -> Endpoint:
        _known(EndpointPatch, fields_)
        job_id = self.get_endpoint(endpoint_id).job_id
        return _record(Endpoint, self._call("PATCH", f"/jobs/{job_id}/endpoints/{endpoint_id}", _body(fields_)))

    def archive_endpoint(self, endpoint_id: str) -> Endpoint:
        job_id = self.get_endpoint(endpoint_id).job_id
        return _record(Endpoint, self._call("POST", f"/jobs/{job_id}/endpoints/{endpoint_id}/archive"))

    def pause_endpoint(self, endpoint_id: str, until: datetime, reason: str | None = None) -> Endpoint:
        return _record(
            Endpoint,
            self._call("POST", f"/endpoints/{endpoint_id}/pause", _body({"paused_until": until, "reason": reason})),
        )

    def resume_endpoint(self, endpoint_id: str) -> Endpoint:
        return _record(Endpoint, self._call("POST", f"/endpoints/{endpoint_id}/pause", {"pausedUntil": None}))

    def reset_failures(self, endpoint_id: str) -> Endpoint:
        return _record(Endpoint, self._call("POST", f"/endpoints/{endpoint_id}/reset-failures"))

    def run_now(self, endpoint_id: str) -> Endpoint:
        return _record(Endpoint, self._call("POST", f"/endpoints/{endpoint_id}/run-now"))

    def set_interval_hint(
        self, endpoint_id: str, interval_ms: int, ttl_minutes: float = 60, reason: str | None = None
    ) -> Endpoint:
        body = _body({"interval_ms": interval_ms, "ttl_minutes": ttl_minutes, "reason": reason})
        return _record(Endpoint, self._call("POST", f"/endpoints/{endpoint_id}/hints/interval", body))

    def set_oneshot_hint(
        self,
        endpoint_id: str,
        *,
        next_run_at: datetime | None = None,
        next_run_in_ms: int | None = None,
        ttl_minutes: float = 30,
        reason: str | None = None,
    ) -> Endpoint:
        body = _body(
            {"next_run_at": next_run_at, "next_run_in_ms": next_run_in_ms, "ttl_minutes": ttl_minutes, "reason": reason}
        )
        return _record(
            Endpoint,
            self._call(
                "POST", f"/endpoints/{endpoint_id}/hints/oneshot", {k: v for k, v in body.items() if v is not None}
            ),
        )

    def clear_hints(self, endpoint_id: str) -> Endpoint:
        return _record(Endpoint, self._call("DELETE", f"/endpoints/{endpoint_id}/hints"))

    def backfill(self, endpoint_id: str, since: datetime, until: datetime) -> Endpoint:
        body = _body({"since": since, "until": until})
        return _record(Endpoint, self._call("POST", f"/endpoints/{endpoint_id}/backfill", body))

    def explain(self, endpoint_id: str, n: int = 5) -> list[PlannedRun]:
        return [_record(PlannedRun, p) for p in self._call("GET", f"/endpoints/{endpoint_id}/explain", n=n)["planned"]]

    # --- runs and sessions --------------------------------------------------------------
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
        data = self._call(
            "GET",
            "/runs",
            endpoint_id=endpoint_id,
            job_id=job_id,
            status=status,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
        return RunPage(runs=[_record(Run, r) for r in data["runs"]], total=int(data["total"]))

    def get_run(self, run_id: str) -> Run:
        return _record(Run, self._call("GET", f"/runs/{run_id}"))

    def list_sessions(self, endpoint_id: str, *, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
        return list(self._call("GET", f"/endpoints/{endpoint_id}/sessions", limit=limit, offset=offset)["sessions"])

    def get_session(self, session_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/sessions/{session_id}"))

    def list_conflicts(
        self,
        endpoint_id: str | None = None,
        *,
        job_id: str | None = None,
        include_closed: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        found = self._call(
            "GET",
            "/conflicts",
            endpoint_id=endpoint_id,
            job_id=job_id,
            include_closed=str(include_closed).lower(),
            limit=limit,
            offset=offset,
        )
        return list(found["conflicts"])

    # --- deploy-time registration --------------------------------------------------------
    def register(
        self, job: dict[str, Any], endpoint_specs: list[dict[str, Any]], on_conflict: str = "update"
    ) -> tuple[Job, list[Endpoint]]:
        """Create or bring up to date a job and its endpoints by name, like `Cronicorn.register`.

        One request, one transaction on the server: invalid input (named `endpoints[i].field`), a tier
        limit or a conflict writes nothing.
        """
        if on_conflict not in ("update", "skip", "error"):
            raise InvalidInput.one("on_conflict", "must be update, skip or error")
        if not isinstance(endpoint_specs, (list, tuple)):
            raise InvalidInput.one("endpoints", "must be a list of endpoint specs")
        _known(JobSpec, job, "job.")
        for i, spec in enumerate(endpoint_specs):
            _known(EndpointSpec, spec, f"endpoints[{i}].")
        body = {"job": _body(job), "endpoints": [_body(s) for s in endpoint_specs], "onConflict": on_conflict}
        data = self._call("POST", "/register", body)
        return _record(Job, data["job"]), [_record(Endpoint, e) for e in data["endpoints"]]
