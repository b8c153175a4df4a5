"""The demo relying party: logs citizens in through the broker (OIDC code flow + PKCE) and shows the claims.

Run: ``uvicorn demo_rp.app:create_app --factory --app-dir examples --port 8080``.
"""

import json
import logging
import secrets
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from authlib.integrations.starlette_client import OAuth, OAuthError
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from .settings import DemoRPSettings

log = logging.getLogger("demo_rp")

TIME_CLAIMS = frozenset({"exp", "iat", "auth_time", "nbf", "updated_at"})
MAX_LOGINS = 1000  # the in-memory login store forgets the oldest beyond this
HINTS = {  # what an error code means to a citizen; anything else gets the generic sentence
    "access_denied": "Đăng nhập bị từ chối hoặc đã bị huỷ. (Login was refused or cancelled.)",
    "login_required": "Bạn cần đăng nhập lại. (Please log in again.)",
    "client_not_configured": "Trang demo chưa được đăng ký với broker: chạy `broker clients create` "
    "(make run tự làm việc này) rồi khởi động lại. (This demo is not registered with the broker.)",
    "broker_unavailable": "Không kết nối được tới broker đăng nhập. (The login broker cannot be reached.)",
}
GENERIC_HINT = "Đăng nhập không thành công. (Login did not succeed.)"


def vietnam_tz() -> tzinfo:
    try:
        return ZoneInfo("Asia/Ho_Chi_Minh")
    except ZoneInfoNotFoundError:  # no tz database on this machine; Vietnam keeps UTC+7 all year
        return timezone(timedelta(hours=7), "ICT")


def claim_rows(claims: dict[str, Any], tz: tzinfo) -> list[tuple[str, str, str]]:
    """(name, value as text, the time in Vietnam if the claim is a timestamp) for each claim."""
    rows = []
    for name, value in claims.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        when = ""
        if name in TIME_CLAIMS and isinstance(value, int | float) and not isinstance(value, bool):
            try:
                when = datetime.fromtimestamp(value, tz).strftime("%d/%m/%Y %H:%M:%S %Z")
            except (OverflowError, OSError, ValueError):  # a timestamp no calendar holds: show it raw
                when = ""
        rows.append((name, text, when))
    return rows


def create_app(
    settings: DemoRPSettings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """Build the demo RP; ``transport`` lets tests reach an in-process broker."""
    settings = settings or DemoRPSettings()
    base_url = settings.base_url.rstrip("/")
    client_id, client_secret = settings.client_credentials()
    tz = vietnam_tz()
    client_kwargs: dict[str, Any] = {
        "scope": settings.scope,
        "code_challenge_method": "S256",
        "token_endpoint_auth_method": "client_secret_basic",
        "timeout": 10.0,
    }
    if transport is not None:
        client_kwargs["transport"] = transport
    broker = OAuth().register(
        name="broker",
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=settings.issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs=client_kwargs,
    )
    # Tokens and claims stay on the server: the cookie would outgrow 4 kB. The cookie holds only a key.
    logins: dict[str, dict[str, Any]] = {}
    templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
    templates.env.globals["title"] = settings.title

    app = FastAPI(title=settings.title, docs_url=None, redoc_url=None, openapi_url=None)
    # A cookie name of its own: broker and mock VNeID share the host 127.0.0.1, and cookies ignore ports.
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.session_secret,
        session_cookie="demo_rp_session",
        same_site="lax",
        https_only=base_url.startswith("https://"),
    )

    @app.middleware("http")
    async def no_referrer(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def current_login(request: Request) -> dict[str, Any] | None:
        return logins.get(request.session.get("login", ""))

    def error_page(request: Request, error: str, description: str | None, status: int) -> Response:
        context = {"error": error, "description": description or "", "hint": HINTS.get(error, GENERIC_HINT)}
        return templates.TemplateResponse(request, "error.html", context, status_code=status)

    @app.get("/")
    async def home(request: Request) -> Response:
        return templates.TemplateResponse(request, "index.html", {"login": current_login(request)})

    @app.get("/login")
    async def login(request: Request) -> Response:
        if request.url.netloc != urlsplit(base_url).netloc:
            # The session cookie belongs to one host name: begin on the one the callback returns to.
            return RedirectResponse(f"{base_url}/login", status_code=303)
        if not client_id:
            return error_page(request, "client_not_configured", f"{settings.client_file}", 503)
        try:
            return await broker.authorize_redirect(request, f"{base_url}/callback")
        except Exception as exc:
            log.warning("cannot reach the broker's discovery document: %r", exc)
            return error_page(request, "broker_unavailable", settings.issuer, 502)

    @app.get("/callback")
    async def callback(request: Request) -> Response:
        try:  # authlib checks state, then the ID token: signature (broker's JWKS), iss, aud, exp, nonce
            token = await broker.authorize_access_token(request)
            if "userinfo" not in token:
                raise OAuthError(error="missing_id_token", description="The broker returned no ID token.")
            userinfo = await broker.userinfo(token=token)
        except Exception as exc:
            if not isinstance(exc, OAuthError):
                log.warning("login through the broker failed: %s", type(exc).__name__)
            error = getattr(exc, "error", None) or "login_failed"
            description = getattr(exc, "description", None) or f"{type(exc).__name__}: {exc}"
            return error_page(request, str(error), str(description), 400)
        login_id = secrets.token_urlsafe(24)
        logins[login_id] = {
            "claims": dict(token["userinfo"]),
            "userinfo": dict(userinfo),
            "id_token": token["id_token"],
        }
        if len(logins) > MAX_LOGINS:
            logins.pop(next(iter(logins)))
        request.session["login"] = login_id
        return RedirectResponse("/me", status_code=303)

    @app.get("/me")
    async def me(request: Request) -> Response:
        login = current_login(request)
        if login is None:
            return RedirectResponse("/", status_code=303)
        context = {
            "login": login,
            "claims": claim_rows(login["claims"], tz),
            "userinfo": claim_rows(login["userinfo"], tz),
        }
        return templates.TemplateResponse(request, "me.html", context)

    @app.get("/logout")
    async def logout(request: Request) -> Response:
        login = logins.pop(request.session.get("login", ""), None)
        request.session.clear()
        try:
            metadata = await broker.load_server_metadata()
        except Exception:  # broker down: the local logout still counts
            metadata = {}
        if not metadata.get("end_session_endpoint"):
            return RedirectResponse("/", status_code=303)
        return await broker.logout_redirect(
            request,
            post_logout_redirect_uri=f"{base_url}/",
            id_token_hint=login["id_token"] if login else None,
            client_id=client_id,
        )

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
