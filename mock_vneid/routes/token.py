"""The token endpoint, and the faults the tests may inject into its responses."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

from mock_vneid.client_auth import authenticate_client
from mock_vneid.deps import ContextDep
from mock_vneid.errors import InvalidClient, OAuthError
from mock_vneid.params import read_form
from mock_vneid.token_exchange import exchange

router = APIRouter()

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_MAINTENANCE_PAGE = "<!doctype html><html><body><h1>Hệ thống đang bảo trì</h1></body></html>"


@router.post("/token")
async def token(request: Request, ctx: ContextDep) -> Response:
    plan = ctx.faults.take()
    fault = plan.token_endpoint if plan else None
    # These two answer before the request is read, so the code stays unused, as behind a broken proxy.
    if fault == "http_500":
        return PlainTextResponse("Internal Server Error", status_code=500)
    if fault == "html_200":
        return HTMLResponse(_MAINTENANCE_PAGE, status_code=200)
    if fault == "slow" and plan is not None:
        await asyncio.sleep(plan.slow_seconds)
    try:
        form = await read_form(request)
        client_id = authenticate_client(request.headers.get("authorization"), form, ctx.settings)
        body = exchange(ctx, form, client_id, plan)
    except OAuthError as exc:
        return _token_error(exc)
    return JSONResponse(body, headers=NO_STORE)


def _token_error(exc: OAuthError) -> JSONResponse:
    """RFC 6749 §5.2."""
    headers = dict(NO_STORE)
    if isinstance(exc, InvalidClient) and exc.basic_challenge:
        headers["WWW-Authenticate"] = 'Basic realm="mock-vneid"'
    body = {"error": exc.error, "error_description": exc.description}
    return JSONResponse(body, status_code=exc.status_code, headers=headers)
