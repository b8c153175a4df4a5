"""What the two non-OIDC modes share: the authorization request at their own path, the code exchange
(client authenticated, code single use, PKCE checked when a challenge was sent) and the bearer token."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

from mock_vneid.citizens import Citizen
from mock_vneid.client_auth import authenticate_client
from mock_vneid.context import MockContext
from mock_vneid.errors import InvalidGrant, InvalidRequest, InvalidToken, OAuthError, UnsupportedGrantType
from mock_vneid.faults import FaultPlan
from mock_vneid.params import read_form
from mock_vneid.store import AccessToken
from mock_vneid.token_exchange import redeem

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def token_endpoint_fault(plan: FaultPlan | None) -> Response | None:
    """The token endpoint faults of the test controls, as the oidc mode's token endpoint has them."""
    fault = plan.token_endpoint if plan else None
    if fault == "http_500":
        return PlainTextResponse("Internal Server Error", status_code=500)
    if fault == "html_200":
        return HTMLResponse("<!doctype html><h1>Hệ thống đang bảo trì</h1>", status_code=200)
    if fault == "slow" and plan is not None:
        await asyncio.sleep(plan.slow_seconds)
    return None


async def issue_access_token(
    request: Request, ctx: MockContext, plan: FaultPlan | None
) -> tuple[str, AccessToken]:
    """The token endpoint's work; OAuthError for the wire."""
    form = await read_form(request)
    client_id = authenticate_client(request.headers.get("authorization"), form, ctx.settings)
    if form.get("grant_type") != "authorization_code":
        raise UnsupportedGrantType("only authorization_code is supported")
    code = redeem(ctx, form, client_id)
    now = ctx.now()
    token = AccessToken(code.citizen_number, client_id, code.request.scope, plan=plan)
    value = ctx.store.access_tokens.add(
        token, now + timedelta(seconds=ctx.settings.access_token_ttl_seconds), now
    )
    code.access_token = value
    return value, token


def bearer(request: Request, ctx: MockContext) -> tuple[str, AccessToken, Citizen]:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise InvalidRequest("a Bearer access token is required")
    token = ctx.store.access_tokens.get(value.strip(), ctx.now())
    if token is None or token.revoked:
        raise InvalidToken("the access token is unknown, expired or revoked")
    citizen = ctx.citizens.get(token.citizen_number)
    if citizen is None:
        raise InvalidGrant("the citizen is unknown")
    return value.strip(), token, citizen


def oauth_error(exc: OAuthError) -> JSONResponse:
    return JSONResponse(
        {"error": exc.error, "error_description": exc.description},
        status_code=exc.status_code,
        headers=NO_STORE,
    )


def spoil(claims: dict[str, object], token: AccessToken, subject_claim: str) -> dict[str, object]:
    """The userinfo faults the test controls armed with this token's plan."""
    plan = token.plan
    if plan is None:
        return claims
    spoiled = {name: value for name, value in claims.items() if name not in plan.drop_claims}
    if plan.userinfo_subject_changed and subject_claim in spoiled:
        spoiled[subject_claim] = f"changed-{spoiled[subject_claim]}"
    return spoiled
