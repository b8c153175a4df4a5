"""HTML pages: templates, and the headers that keep them out of frames and referrers."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import Request, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_vneid.context import MockContext

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

HOTLINE = "1900.0368"


def make_templates() -> Jinja2Templates:
    return Jinja2Templates(directory=str(files("mock_vneid").joinpath("templates")))


def render(
    ctx: MockContext, request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    # Login pages carry a one-time request id: never let a cache keep them.
    return ctx.templates.TemplateResponse(
        request,
        name,
        {"hotline": HOTLINE, **context},
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )


def error_page(ctx: MockContext, request: Request, title: str, message: str, status_code: int) -> Response:
    return render(ctx, request, "error.html", {"title": title, "message": message}, status_code)


class SecurityHeaders:
    """Every response's ``SECURITY_HEADERS``, unless the route set its own. Plain ASGI: Starlette's
    ``BaseHTTPMiddleware`` ran each request in a task group with memory streams, a tenth of the mock's
    CPU per login (bench/README.md, tenth round)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)
