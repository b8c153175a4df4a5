"""Request parameter grammar shared by the endpoints (RFC 6749 §3.1, §3.2)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl

from broker.errors import InvalidRequest

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def single_valued(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """RFC 6749 §3.1/§3.2: parameters MUST NOT be included more than once; empty ones count as absent."""
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise InvalidRequest(f"parameter '{name}' is repeated")
        params[name] = value
    return {name: value for name, value in params.items() if value != ""}


def parse_form(body: bytes, content_type: str | None) -> dict[str, str]:
    """Parses an ``application/x-www-form-urlencoded`` body strictly: UTF-8 only, no repeats."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != FORM_CONTENT_TYPE:
        raise InvalidRequest(f"the body must be {FORM_CONTENT_TYPE}")
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest("the body is not valid UTF-8 form data") from exc
    return single_valued(pairs)
