"""Headers on every response: pages cannot be framed (RFC 9700 §4.16), nothing leaks by Referer."""

from __future__ import annotations

from collections.abc import Iterable

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


def with_security_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """An answer's headers and the security headers it does not set itself (the HTML ones for HTML), in
    one pass over its own (``broker.api.edge`` adds them to every answer)."""
    kept = list(headers)
    names = set()
    content_type = None
    for name, value in kept:
        lowered = name.lower()
        names.add(lowered)
        if lowered == b"content-type" and content_type is None:
            content_type = value
    html = content_type is not None and content_type.startswith(b"text/html")
    kept.extend((name, value) for name, value in (_ALWAYS_AND_HTML if html else _ALWAYS) if name not in names)
    return kept
