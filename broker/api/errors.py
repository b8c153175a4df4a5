"""Exception handlers: every failure a person can meet is a page, every API failure a wire error.
Nothing reaches the client as a bare 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from broker.api.deps import get_pages, get_registry
from broker.errors import (
    ClientRedirect,
    InvalidAuthorizationRequest,
    LoginFlowError,
    OAuthError,
    StoreUnavailable,
)

log = logging.getLogger(__name__)

_API_PATHS = (
    "/token",
    "/userinfo",
    "/introspect",
    "/revoke",
    "/jwks",
    "/.well-known/",
    "/metrics",
    "/healthz",
    "/readyz",
    "/admin/",
    "/events",
    "/ssf/",
)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(_API_PATHS)


def install(app: FastAPI) -> None:
    @app.exception_handler(InvalidAuthorizationRequest)
    async def invalid_authorization_request(request: Request, error: InvalidAuthorizationRequest) -> Response:
        get_registry(request).metrics.logins.labels("authorize", "invalid_request").inc()
        return get_pages(request).error(request, "invalid_request", 400, reason=error.reason)

    @app.exception_handler(ClientRedirect)
    async def client_redirect(request: Request, error: ClientRedirect) -> Response:
        return RedirectResponse(error.url, status_code=303)

    @app.exception_handler(LoginFlowError)
    async def login_flow_error(request: Request, error: LoginFlowError) -> Response:
        get_registry(request).metrics.logins.labels("flow", "refused").inc()
        return get_pages(request).error(request, "flow", 400, reason=error.reason)

    @app.exception_handler(OAuthError)
    async def oauth_error(request: Request, error: OAuthError) -> Response:
        if _is_api(request):
            return JSONResponse(
                error.body(), status_code=error.status_code, headers={"Cache-Control": "no-store"}
            )
        return get_pages(request).error(request, "invalid_request", 400, reason=error.error)

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(request: Request, error: StoreUnavailable) -> Response:
        log.error("database unavailable: %s", error)
        if _is_api(request):
            return JSONResponse({"error": "temporarily_unavailable"}, status_code=503)
        return get_pages(request).error(request, "unavailable", 503)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> Response:
        if _is_api(request):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        return get_pages(request).error(request, "invalid_request", 400, reason="invalid_request")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if _is_api(request) or error.status_code not in (404, 405):
            return JSONResponse({"detail": error.detail}, status_code=error.status_code)
        return get_pages(request).error(request, "not_found", error.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        # The last line of defence: log the type only (the message may carry input), answer 503 closed.
        log.exception("unexpected error on %s", request.url.path)
        if _is_api(request):
            return JSONResponse({"error": "server_error"}, status_code=500)
        return get_pages(request).error(request, "unavailable", 500)
