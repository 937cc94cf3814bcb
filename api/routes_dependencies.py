"""Dependencies between endpoints, and why an endpoint did or did not run.

Field names in and out are the Python client's top-level ones in camelCase (`upstreamEndpointIds`,
`fanIn`, `batchKey`); the template's own names (headers, query and body fields) are kept as written.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response

from cronicorn.api.deps import client_for, tenant
from cronicorn.api.schemas import ERRORS
from cronicorn.core.casing import camel_word, to_snake
from cronicorn.core.errors import InvalidInput, NotFound

router = APIRouter(tags=["dependencies"], responses=ERRORS)
_JSON_BODY = Body(default=None)  # any JSON: the client's own validation names each bad field


def _out(declared: dict[str, Any]) -> dict[str, Any]:
    spec = {camel_word(k): v for k, v in declared["spec"].items()}
    upstreams = [{camel_word(k): v for k, v in u.items()} for u in declared["upstreams"]]
    return {camel_word(k): v for k, v in {**declared, "spec": spec, "upstreams": upstreams}.items()}


@router.put("/endpoints/{endpoint_id}/dependency")
def set_dependency(endpoint_id: str, request: Request, body: Any = _JSON_BODY, t: str = Depends(tenant)) -> Any:
    """Declare (or replace) what this endpoint waits for: upstreams, outcome, condition, fan-in,
    batch key, trigger and gate, and the template that hands the upstream's data down."""
    if not isinstance(body, dict):
        raise InvalidInput.one("body", "must be a JSON object with the dependency's fields")
    return _out(client_for(request, t).set_dependency(endpoint_id, {to_snake(k): v for k, v in body.items()}))


@router.get("/endpoints/{endpoint_id}/dependency")
def get_dependency(endpoint_id: str, request: Request, t: str = Depends(tenant)) -> Any:
    declared = client_for(request, t).get_dependency(endpoint_id)
    if declared is None:
        raise NotFound("dependency of endpoint", endpoint_id)
    return _out(declared)


@router.delete("/endpoints/{endpoint_id}/dependency", status_code=204)
def clear_dependency(endpoint_id: str, request: Request, t: str = Depends(tenant)) -> Response:
    if not client_for(request, t).clear_dependency(endpoint_id):
        raise NotFound("dependency of endpoint", endpoint_id)
    return Response(status_code=204)


@router.get("/endpoints/{endpoint_id}/decisions")
def decisions(endpoint_id: str, request: Request, t: str = Depends(tenant)) -> Any:
    """Why it ran or did not, newest last: upstream runs counted or ignored, dependency met or not,
    runs triggered, gated runs skipped (the last 20)."""
    return {"decisions": client_for(request, t).decisions(endpoint_id)}
