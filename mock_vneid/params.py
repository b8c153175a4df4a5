"""Request parameters as OAuth reads them (RFC 6749 §3.1)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl

from fastapi import Request

from mock_vneid.errors import InvalidRequest


@dataclass(frozen=True)
class Params:
    """Parameters once each; a parameter sent without a value counts as omitted."""

    values: dict[str, str]
    repeated: frozenset[str]

    @classmethod
    def of(cls, items: Sequence[tuple[str, str]]) -> Params:
        values: dict[str, str] = {}
        repeated: set[str] = set()
        for name, value in items:
            if name in values:
                repeated.add(name)
            else:
                values[name] = value
        return cls({k: v for k, v in values.items() if v != ""}, frozenset(repeated))

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self.values


def repeated_message(params: Params) -> str:
    return f"parameters sent more than once: {', '.join(sorted(params.repeated))}"


FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 64 * 1024


def parse_form(content_type: str | None, body: bytes) -> Params:
    """A form-encoded body with each parameter once (RFC 6749 §3.1, §3.2), or an invalid request."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != FORM_CONTENT_TYPE:
        raise InvalidRequest(f"the body must be {FORM_CONTENT_TYPE}")
    if len(body) > MAX_FORM_BYTES:
        raise InvalidRequest("the body is too large")
    try:
        params = Params.of(parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("the body is not valid UTF-8 form encoding") from None
    if params.repeated:
        raise InvalidRequest(repeated_message(params))
    return params


async def read_form(request: Request) -> Params:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise InvalidRequest("the body is too large")
    return parse_form(request.headers.get("content-type"), bytes(body))
