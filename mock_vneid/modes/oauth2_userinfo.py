"""MOCK_VNEID_MODE=oauth2-userinfo: the national portal's SSO as its public client code shows it (DVCQG).

``/oauth2/authorize`` (the same login form; nonce and PKCE optional), ``/oauth2/token`` (client secret in
the body or Basic; an access token, no ID token), ``/oauth2/userinfo`` with the Vietnamese field names, and
``/oauth2/logout?token=…``, the ``logoutUri`` that ends the citizen's session here.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from mock_vneid.citizens import Citizen
from mock_vneid.context import MockContext
from mock_vneid.deps import ContextDep
from mock_vneid.errors import OAuthError
from mock_vneid.modes.common import (
    NO_STORE,
    bearer,
    issue_access_token,
    oauth_error,
    spoil,
    token_endpoint_fault,
)
from mock_vneid.routes.authorize import authorization_request

router = APIRouter(prefix="/oauth2", tags=["oauth2-userinfo mode"])
router.add_api_route("/authorize", authorization_request, methods=["GET"])

ACCOUNT_TYPE_CITIZEN = "1"
LOGIN_IDP_VNEID = "BCA"  # the Ministry of Public Security: the citizen came through VNeID


@router.post("/token")
async def token(request: Request, ctx: ContextDep) -> Response:
    plan = ctx.faults.take()
    if (failed := await token_endpoint_fault(plan)) is not None:
        return failed
    try:
        value, _ = await issue_access_token(request, ctx, plan)
    except OAuthError as exc:
        return oauth_error(exc)
    body = {
        "access_token": value,
        "token_type": "Bearer",
        "expires_in": ctx.settings.access_token_ttl_seconds,
    }
    return JSONResponse(body, headers=NO_STORE)


@router.api_route("/userinfo", methods=["GET", "POST"])
async def userinfo(request: Request, ctx: ContextDep) -> Response:
    try:
        value, access_token, citizen = bearer(request, ctx)
    except OAuthError as exc:
        return oauth_error(exc)
    claims = spoil(portal_claims(ctx, citizen, value), access_token, "sub")
    return JSONResponse(claims, headers=NO_STORE)


@router.get("/logout")
async def logout(request: Request, ctx: ContextDep) -> Response:
    token = ctx.store.access_tokens.get(request.query_params.get("token", ""), ctx.now())
    if token is not None and not token.revoked:
        token.revoked = True
        ctx.store.upstream_logouts += 1
    return HTMLResponse("<!doctype html><title>Đã đăng xuất</title><h1>Đã đăng xuất</h1>", headers=NO_STORE)


def portal_claims(ctx: MockContext, citizen: Citizen, access_token: str) -> dict[str, object]:
    issuer = ctx.settings.issuer
    return {
        "sub": _portal_subject(citizen, ctx.settings.subject_secret),
        "TechID": _portal_subject(citizen, ctx.settings.subject_secret + ":techid"),
        "LoaiTaiKhoan": ACCOUNT_TYPE_CITIZEN,
        "HoVaTen": citizen.name,
        "SoDinhDanh": citizen.identification_number,
        "NgayThangNamSinh": citizen.birthdate.strftime("%Y%m%d"),
        "loginIdp": LOGIN_IDP_VNEID,
        "acr": f"LoA{citizen.level}",
        "userProfileUri": f"{issuer}/oauth2/profile",
        "logoutUri": f"{issuer}/oauth2/logout?token={access_token}",
    }


def _portal_subject(citizen: Citizen, secret: str) -> str:
    """The portal's own opaque subject: not VNeID's, and not the identification number."""
    digest = hmac.new(("dvcqg:" + secret).encode(), citizen.identification_number.encode(), hashlib.sha256)
    return digest.hexdigest()[:32]
