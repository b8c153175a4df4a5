"""Exception handlers: every failure a person can meet is a page, every API failure a wire error.
Nothing reaches the client as a bare 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from broker.api.deps import get_pages, get_registry
from broker.errors import (
    ClientRedirect,
    InvalidAuthorizationRequest,
    LoginFlowError,
    OAuthError,
    Overloaded,
    PolicyRefused,
    StoreRejectedInput,
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

    @app.exception_handler(PolicyRefused)
    async def policy_refused(request: Request, error: PolicyRefused) -> Response:
        return get_pages(request).error(request, "refused", 403, reason=error.reason)

    @app.exception_handler(Overloaded)
    async def overloaded(request: Request, error: Overloaded) -> Response:
        log.warning("overloaded: %s", error)
        return _unavailable(request)

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(request: Request, error: StoreUnavailable) -> Response:
        log.error("database unavailable: %s", error)
        return _unavailable(request)

    def _unavailable(request: Request) -> Response:
        # RFC 9110 §10.2.3: when to try again; a saturated pool or a restarting database is brief.
        retry = {"Retry-After": str(get_registry(request).settings.unavailable_retry_after_seconds)}
        if _is_api(request):
            return JSONResponse({"error": "temporarily_unavailable"}, status_code=503, headers=retry)
        response = get_pages(request).error(request, "unavailable", 503)
        response.headers.update(retry)
        return response

    @app.exception_handler(StoreRejectedInput)
    async def store_rejected_input(request: Request, error: StoreRejectedInput) -> Response:
        # Bad input (a NUL byte, a value PostgreSQL cannot hold), not an outage: no ERROR line.
        log.info("input refused by the database (SQLSTATE %s) on %s", error, request.url.path)
        if _is_api(request):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        return get_pages(request).error(request, "invalid_request", 400, reason="invalid_request")

    @app.exception_handler(ClientDisconnect)
    async def client_disconnect(request: Request, error: ClientDisconnect) -> Response:
        # The client went away while sending its body: nobody is left to answer, and it is not a fault.
        log.info("client disconnected before its request body was read on %s", request.url.path)
        return Response(status_code=400)

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


def server_error(request: Request) -> Response:
    """The answer to a bug, for the last resort of broker.api.edge, which logs it once (never with input)."""
    if _is_api(request):
        return JSONResponse({"error": "server_error"}, status_code=500)
    return get_pages(request).error(request, "unavailable", 500)
