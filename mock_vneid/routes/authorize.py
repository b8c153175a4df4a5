"""The authorization endpoint: the request (GET) and the citizen's login form (POST)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from mock_vneid.authorization_request import (
    UntrustedRedirect,
    parse_authorization_request,
    trusted_redirect,
)
from mock_vneid.claims import ACR_LEVEL2
from mock_vneid.context import MockContext
from mock_vneid.deps import ContextDep
from mock_vneid.errors import AccessDenied, OAuthError
from mock_vneid.html import error_page, render
from mock_vneid.modes import code_parameters
from mock_vneid.params import Params
from mock_vneid.redirects import authorization_response, error_response
from mock_vneid.routes import qr
from mock_vneid.store import AuthorizationCode, AuthorizationRequest

router = APIRouter()

# One message for an unknown number and a wrong password, so the page cannot enumerate citizens.
LOGIN_FAILED = "Số định danh cá nhân hoặc mật khẩu không đúng."
INVALID_REQUEST_TITLE = "Yêu cầu đăng nhập không hợp lệ"


@router.get("/authorize")
async def authorization_request(request: Request, ctx: ContextDep) -> Response:
    params = Params.of(request.query_params.multi_items())
    try:
        client_id, redirect_uri = trusted_redirect(params, ctx.settings)
    except UntrustedRedirect as exc:
        return error_page(ctx, request, INVALID_REQUEST_TITLE, str(exc), 400)
    try:
        auth_request = parse_authorization_request(
            params, client_id, redirect_uri, oidc=ctx.settings.mode == "oidc"
        )
    except OAuthError as exc:
        return error_response(redirect_uri, ctx.settings.issuer, params.get("state"), exc, 302)
    now = ctx.now()
    expires_at = now + timedelta(seconds=ctx.settings.login_ttl_seconds)
    request_id = ctx.store.pending.add(auth_request, expires_at, now)
    return _login_form(ctx, request, request_id, auth_request, auth_request.login_hint, error=None)


@router.post("/authorize")
async def login_submission(
    request: Request,
    ctx: ContextDep,
    request_id: Annotated[str, Form()] = "",
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "login",
) -> Response:
    now = ctx.now()
    auth_request = ctx.store.pending.get(request_id, now)
    if auth_request is None:
        message = "Phiên đăng nhập đã hết hạn hoặc không tồn tại. Vui lòng quay lại dịch vụ và thử lại."
        return error_page(ctx, request, INVALID_REQUEST_TITLE, message, 400)
    issuer = ctx.settings.issuer
    if action == "cancel":
        ctx.store.pending.discard(request_id)
        denied = AccessDenied("the citizen cancelled the login")
        return error_response(auth_request.redirect_uri, issuer, auth_request.state, denied, 303)
    number = username.strip()
    citizen = ctx.citizens.authenticate(number, password)
    if citizen is None:
        return _login_form(ctx, request, request_id, auth_request, number, error=LOGIN_FAILED)
    ctx.store.pending.discard(request_id)
    code = ctx.store.codes.add(
        AuthorizationCode(auth_request, citizen.identification_number, auth_time=now),
        now + timedelta(seconds=ctx.settings.code_ttl_seconds),
        now,
    )
    # 303, never 307: the browser must not re-send the password to the client.
    values = code_parameters(ctx, code)  # the gateway mode encrypts the code
    return authorization_response(auth_request.redirect_uri, issuer, auth_request.state, values, 303)


def _login_form(
    ctx: MockContext,
    request: Request,
    request_id: str,
    auth_request: AuthorizationRequest,
    username: str,
    error: str | None,
) -> Response:
    context = {
        "request_id": request_id,
        "client_id": auth_request.client_id,
        "client_name": qr.client_display_name(ctx, auth_request.client_id),
        **qr.qr_context(ctx, request_id),
        "level2_requested": ACR_LEVEL2 in auth_request.acr_values,
        "username": username,
        "error": error,
    }
    return render(ctx, request, "login.html", context)
