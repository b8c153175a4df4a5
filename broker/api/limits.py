"""A cap on request bodies, enforced while reading, so an oversized body is refused before it is stored."""

from __future__ import annotations

import json

from starlette.types import Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    pass


def limited_receive(scope: Scope, receive: Receive, max_bytes: int) -> Receive | None:
    """The request's ``receive`` under the cap (``broker.api.edge``): as it is when there is no body or
    a declared length within the cap (the server reads exactly that length), counting when the body is
    chunked (``BodyTooLarge`` past the cap); None when the declared length is past the cap."""
    declared = chunked = None
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            declared = value
        elif name == b"transfer-encoding":
            chunked = value
    if declared is None and chunked is None:
        # No body at all (RFC 9112 §6.3: a request with neither header has none): a GET's, as a login's
        # /authorize and callback are; nothing to count, nothing to wrap.
        return receive
    if declared is not None and declared.isdigit():
        return None if int(declared) > max_bytes else receive
    seen = 0

    async def counting_receive() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > max_bytes:
                raise BodyTooLarge()
        return message

    return counting_receive


async def refuse(send: Send) -> None:
    """413, as a token endpoint's error (JSON, never cached)."""
    body = json.dumps({"error": "invalid_request", "error_description": "request body too large"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # An error answer of the token endpoint like any other (RFC 6749 §5.1): never cached.
                (b"cache-control", b"no-store"),
                (b"pragma", b"no-cache"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
