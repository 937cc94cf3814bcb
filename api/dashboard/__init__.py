"""The web dashboard: server-rendered pages (Jinja2 + htmx) over the producer client, under `/`."""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from cronicorn.api.dashboard import actions, auth, docs, graph, pages
from cronicorn.api.dashboard.auth import BadCsrf, SignedOut, signed_out_redirect
from cronicorn.api.dashboard.render import HERE, error_page
from cronicorn.api.deps import storable_params


def install_dashboard(app: FastAPI) -> None:
    """Mount the pages, their static files and the offline API docs on the API app."""
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="dashboard-static")
    app.include_router(docs.router)
    for module in (auth, pages, graph, actions):
        app.include_router(module.router, dependencies=[Depends(storable_params)])

    @app.exception_handler(SignedOut)
    async def signed_out(request: Request, exc: SignedOut) -> Response:
        return signed_out_redirect(request, exc)

    @app.exception_handler(BadCsrf)
    async def bad_csrf(request: Request, _: BadCsrf) -> Response:
        return error_page(request, 403, "This form is out of date or was not sent by this dashboard; reload the page.")
