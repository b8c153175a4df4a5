"""Headers on every response: pages cannot be framed (RFC 9700 §4.16), nothing leaks by Referer."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_ALWAYS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
_HTML = [
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]

_ALWAYS_AND_HTML = _ALWAYS + _HTML


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                names = set()
                content_type = None
                for name, value in headers:  # one pass
                    lowered = name.lower()
                    names.add(lowered)
                    if lowered == b"content-type" and content_type is None:
                        content_type = value
                html = content_type is not None and content_type.startswith(b"text/html")
                headers.extend(
                    (name, value)
                    for name, value in (_ALWAYS_AND_HTML if html else _ALWAYS)
                    if name not in names
                )
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
