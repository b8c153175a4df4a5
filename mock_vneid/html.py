"""HTML pages: templates, and the headers that keep them out of frames and referrers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib.resources import files
from typing import Any

from fastapi import Request, Response
from fastapi.templating import Jinja2Templates

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


async def add_security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
