"""QR login routes: the login page's QR code and its polling, and the page that plays the phone.

The login page (``GET /authorize``) offers a fresh QR request and shows its code as an image,
``GET /qr/image/{poll_id}``, drawn only when a browser asks for it; ``GET /qr/status/{poll_id}`` tells the page
whether the phone answered; ``POST /qr/finish`` turns an approval into an authorization code exactly as
the password form does. ``/phone`` stands in for the VNeID app: pick a seeded citizen, approve or reject.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import JSONResponse

from mock_vneid.context import MockContext
from mock_vneid.deps import ContextDep
from mock_vneid.html import error_page, render
from mock_vneid.qr_requests import QR_TTL, QrRequest, QrStatus, qr_svg
from mock_vneid.redirects import authorization_response
from mock_vneid.store import AuthorizationCode

router = APIRouter()

NO_STORE = {"Cache-Control": "no-store"}
EXPIRED_TITLE = "Phiên đăng nhập đã hết hạn"
EXPIRED_MESSAGE = "Phiên đăng nhập đã hết hạn hoặc không tồn tại. Vui lòng quay lại dịch vụ và thử lại."


def phone_url(ctx: MockContext, qr: QrRequest) -> str:
    """What the QR code carries: the phone's page for this request's scan token."""
    return f"{ctx.settings.issuer}/phone?{urlencode({'scan': qr.scan_token})}"


def qr_context(ctx: MockContext, request_id: str) -> dict[str, Any]:
    """What the login page needs to show a new QR code for the pending request ``request_id``."""
    qr = ctx.qr.offer(request_id, ctx.now(), QR_TTL)
    return {
        "qr_poll_id": qr.poll_id,
        "qr_phone_url": phone_url(ctx, qr),
        "qr_ttl_seconds": int(QR_TTL.total_seconds()),
    }


def client_display_name(ctx: MockContext, client_id: str) -> str:
    """People read the service's name, never its client id."""
    return ctx.settings.client_name if client_id == ctx.settings.client_id else client_id


@router.get("/qr/login")
async def login_page_with_new_code(request: Request, ctx: ContextDep, request_id: str = "") -> Response:
    """The "new code" button: the same login page, with a fresh QR request."""
    # Imported here: authorize's login form embeds qr_context, so the modules refer to each other.
    from mock_vneid.routes.authorize import INVALID_REQUEST_TITLE, _login_form

    auth_request = ctx.store.pending.get(request_id, ctx.now())
    if auth_request is None:
        return error_page(ctx, request, INVALID_REQUEST_TITLE, EXPIRED_MESSAGE, 400)
    return _login_form(ctx, request, request_id, auth_request, auth_request.login_hint, error=None)


@router.get("/qr/image/{poll_id}")
async def qr_image(poll_id: str, ctx: ContextDep) -> Response:
    """The QR code of a live request, as an SVG image. Drawn here, not inline in the login page: drawing
    it was a quarter of the mock's CPU per login page, paid by every client that never looks at it (the
    benchmark's load generator shares a core with the mock; bench/README.md, tenth round)."""
    qr = ctx.qr.polled(poll_id)
    if qr is None or qr.status_at(ctx.now()) != QrStatus.PENDING:
        return Response(status_code=404, headers=NO_STORE)
    svg = qr_svg(phone_url(ctx, qr))
    return Response(svg, media_type="image/svg+xml", headers=NO_STORE)


@router.get("/qr/status/{poll_id}")
async def qr_status(poll_id: str, ctx: ContextDep) -> Response:
    now = ctx.now()
    qr = ctx.qr.polled(poll_id)
    if qr is None:
        return JSONResponse({"status": QrStatus.EXPIRED.value, "expires_in": 0}, headers=NO_STORE)
    remaining = max(0, int((qr.expires_at - now).total_seconds()))
    return JSONResponse({"status": qr.status_at(now).value, "expires_in": remaining}, headers=NO_STORE)


@router.post("/qr/finish")
async def qr_finish(request: Request, ctx: ContextDep, poll_id: Annotated[str, Form()] = "") -> Response:
    now = ctx.now()
    qr = ctx.qr.consume(poll_id, now)
    auth_request = ctx.store.pending.get(qr.request_id, now) if qr is not None else None
    if qr is None or auth_request is None or qr.citizen_number is None:
        return error_page(ctx, request, EXPIRED_TITLE, EXPIRED_MESSAGE, 400)
    ctx.store.pending.discard(qr.request_id)
    code = ctx.store.codes.add(
        AuthorizationCode(auth_request, qr.citizen_number, auth_time=now),
        now + timedelta(seconds=ctx.settings.code_ttl_seconds),
        now,
    )
    return authorization_response(
        auth_request.redirect_uri, ctx.settings.issuer, auth_request.state, {"code": code}, 303
    )


@router.get("/phone")
async def phone_page(request: Request, ctx: ContextDep, scan: str = "") -> Response:
    qr = ctx.qr.scanned(scan) if scan else None
    if qr is not None and qr.status_at(ctx.now()) != QrStatus.PENDING:
        qr = None
    auth_request = ctx.store.pending.get(qr.request_id, ctx.now()) if qr is not None else None
    citizens = sorted(ctx.citizens.by_number.values(), key=lambda c: c.name)
    context = {
        "scan": scan if qr is not None else "",
        "unknown_code": bool(scan) and qr is None,
        "client_name": client_display_name(ctx, auth_request.client_id) if auth_request else None,
        "citizens": [(c.identification_number, c.name, _masked(c.identification_number)) for c in citizens],
        "done": None,
    }
    return render(ctx, request, "phone.html", context)


@router.post("/phone")
async def phone_answer(
    request: Request,
    ctx: ContextDep,
    scan: Annotated[str, Form()] = "",
    citizen: Annotated[str, Form()] = "",
    decision: Annotated[str, Form()] = "",
) -> Response:
    approve = decision == "approve"
    if approve and ctx.citizens.get(citizen) is None:
        return error_page(ctx, request, "Chưa chọn công dân", "Hãy chọn một công dân để xác nhận.", 400)
    decided = ctx.qr.decide(scan, citizen if approve else None, approve, ctx.now())
    if decided is None:
        return error_page(ctx, request, EXPIRED_TITLE, "Mã QR đã hết hạn hoặc đã được dùng.", 400)
    context: dict[str, Any] = {
        "done": "approved" if approve else "rejected",
        "scan": "",
        "citizens": [],
        "unknown_code": False,
    }
    return render(ctx, request, "phone.html", context)


def _masked(number: str) -> str:
    return number[:3] + "*" * 6 + number[-3:]
