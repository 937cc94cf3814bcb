"""Cronicorn: an adaptive HTTP job scheduler on Celery.

The producer API: register and steer jobs from Python, on the database (`Cronicorn`) or over the
REST API (`RemoteCronicorn`), with the same methods and the same errors. Receivers of scheduled
calls check their signature with `verify_signature`. This package never imports Celery; the
Celery app lives in `cronicorn.workers`.
"""

from cronicorn.core.errors import Conflict, CronicornError, FieldError, InvalidInput, NotFound
from cronicorn.http.signing import verify as verify_signature
from cronicorn.producer.client import Cronicorn
from cronicorn.producer.records import Endpoint, Job, PlannedRun, Run, RunPage
from cronicorn.producer.remote import RemoteCronicorn
from cronicorn.producer.specs import EndpointSpec, JobSpec

__all__ = [
    "Conflict",
    "Cronicorn",
    "CronicornError",
    "Endpoint",
    "EndpointSpec",
    "FieldError",
    "InvalidInput",
    "Job",
    "JobSpec",
    "NotFound",
    "PlannedRun",
    "RemoteCronicorn",
    "Run",
    "RunPage",
    "verify_signature",
]
