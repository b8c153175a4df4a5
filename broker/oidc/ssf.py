"""OpenID Shared Signals Framework 1.0: transmitter metadata (§7.1), stream configuration (§8.1.1), the
subject identifiers (RFC 9493) and the errors of the management API, as plain data. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

SPEC_VERSION = "1_0"
PUSH = "urn:ietf:rfc:8935"
POLL = "urn:ietf:rfc:8936"
DELIVERY_METHODS = (PUSH, POLL)
# The management API and the poll endpoint take HTTP Basic with the client's own id and secret
# (RFC 6749 §2.3.1, the Basic scheme of RFC 7617).
AUTHORIZATION_SCHEMES = [{"spec_urn": "urn:ietf:rfc:7617"}]

RISC = "https://schemas.openid.net/secevent/risc/event-type/"
CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
SSF = "https://schemas.openid.net/secevent/ssf/event-type/"
BROKER = "urn:vneid-broker:secevent:event-type:"

IDENTIFIER_CHANGED = RISC + "identifier-changed"
ACCOUNT_DISABLED = RISC + "account-disabled"
ACCOUNT_ENABLED = RISC + "account-enabled"
SESSION_REVOKED = CAEP + "session-revoked"
ASSURANCE_LEVEL_CHANGE = CAEP + "assurance-level-change"
ACCOUNT_MERGED = BROKER + "account-merged"
ACCOUNT_LINKED = BROKER + "account-linked"
VERIFICATION = SSF + "verification"

EVENTS_SUPPORTED = (
    IDENTIFIER_CHANGED,
    ACCOUNT_DISABLED,
    ACCOUNT_ENABLED,
    SESSION_REVOKED,
    ASSURANCE_LEVEL_CHANGE,
    ACCOUNT_MERGED,
    ACCOUNT_LINKED,
)
STATUSES = ("enabled", "paused", "disabled")
_RECEIVER_SUPPLIED = ("events_requested", "delivery", "description")
_MAX_DESCRIPTION = 500
_MAX_URL = 2000


def metadata(issuer: str) -> dict[str, Any]:
    """§7.1: every endpoint listed here answers; only the delivery methods implemented are listed."""
    return {
        "spec_version": SPEC_VERSION,
        "issuer": issuer,
        "jwks_uri": f"{issuer}/jwks",
        "delivery_methods_supported": list(DELIVERY_METHODS),
        "configuration_endpoint": f"{issuer}/ssf/stream",
        "status_endpoint": f"{issuer}/ssf/status",
        "verification_endpoint": f"{issuer}/ssf/verify",
        "authorization_schemes": AUTHORIZATION_SCHEMES,
        # Every account the relying party has dealt with is a subject of its stream.
        "default_subjects": "ALL",
    }


def iss_sub(issuer: str, sub: str) -> dict[str, str]:
    """RFC 9493 §3.2.4."""
    return {"format": "iss_sub", "iss": issuer, "sub": sub}


def opaque(identifier: str) -> dict[str, str]:
    """RFC 9493 §3.2.3."""
    return {"format": "opaque", "id": identifier}


class StreamError(Exception):
    """An error of the stream management API: SSF §8.1 signals them by HTTP status code."""

    status_code: ClassVar[int] = 400
    error: ClassVar[str] = "invalid_request"

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": str(self)}


class InvalidStreamRequest(StreamError):
    pass


class StreamNotFound(StreamError):
    status_code = 404
    error = "not_found"


class StreamExists(StreamError):
    status_code = 409
    error = "conflict"


class TooManyVerifications(StreamError):
    status_code = 429
    error = "too_many_requests"


@dataclass(frozen=True)
class StreamRequest:
    """The receiver-supplied part of a stream configuration; ``None`` fields were absent."""

    delivery_method: str | None = None
    endpoint_url: str | None = None
    authorization_header: str | None = None
    events_requested: list[str] | None = None
    description: str | None = None
    has_delivery: bool = False
    has_description: bool = False


def events_delivered(requested: list[str]) -> list[str]:
    """§8.1.1: the intersection of what is supported and what was requested (unknown URIs ignored)."""
    return [uri for uri in EVENTS_SUPPORTED if uri in requested]


def parse_stream_request(body: Any, *, expected: dict[str, Any] | None = None) -> StreamRequest:
    """Validates a create (POST), update (PATCH) or replace (PUT) body. ``expected``: the stream's current
    configuration; transmitter-supplied fields present in the body must match it (§8.1.1.3)."""
    if not isinstance(body, dict):
        raise InvalidStreamRequest("the body must be a JSON object")
    if expected is not None:
        for name in ("iss", "aud", "events_supported", "events_delivered", "min_verification_interval"):
            if name in body and body[name] != expected.get(name):
                raise InvalidStreamRequest(f"{name} does not match the stream's value")
    requested: list[str] | None = None
    if "events_requested" in body:
        value = body["events_requested"]
        if not isinstance(value, list) or not all(isinstance(uri, str) and len(uri) <= 300 for uri in value):
            raise InvalidStreamRequest("events_requested must be an array of URIs")
        requested = list(dict.fromkeys(value))[:100]
    description = body.get("description")
    if description is not None and (not isinstance(description, str)):
        raise InvalidStreamRequest("description must be a string")
    method = endpoint = authorization = None
    if "delivery" in body:
        delivery = body["delivery"]
        if not isinstance(delivery, dict) or not isinstance(delivery.get("method"), str):
            raise InvalidStreamRequest("delivery must be an object with a method")
        method = delivery["method"]
        if method not in DELIVERY_METHODS:
            raise InvalidStreamRequest("unsupported delivery method")
        if method == PUSH:
            endpoint = delivery.get("endpoint_url")
            if not isinstance(endpoint, str) or not endpoint or len(endpoint) > _MAX_URL:
                raise InvalidStreamRequest("push delivery needs an endpoint_url")
            authorization = delivery.get("authorization_header")
            if authorization is not None and (
                not isinstance(authorization, str) or len(authorization) > 2000
            ):
                raise InvalidStreamRequest("authorization_header must be a string")
    return StreamRequest(
        delivery_method=method,
        endpoint_url=endpoint,
        authorization_header=authorization,
        events_requested=requested,
        description=description[:_MAX_DESCRIPTION] if isinstance(description, str) else None,
        has_delivery="delivery" in body,
        has_description="description" in body,
    )


def stream_id_of(body: Any) -> str:
    if not isinstance(body, dict) or not isinstance(body.get("stream_id"), str) or not body["stream_id"]:
        raise InvalidStreamRequest("stream_id is required")
    return str(body["stream_id"])


def status_request(body: Any) -> tuple[str, str, str | None]:
    """§8.1.2.2: stream_id, status, optional reason."""
    stream_id = stream_id_of(body)
    status = body.get("status")
    if status not in STATUSES:
        raise InvalidStreamRequest("status must be enabled, paused or disabled")
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise InvalidStreamRequest("reason must be a string")
    return stream_id, str(status), reason[:200] if reason else None


def verification_request(body: Any) -> tuple[str, str | None]:
    """§8.1.4.2: stream_id, optional state (echoed back)."""
    stream_id = stream_id_of(body)
    state = body.get("state")
    if state is not None and (not isinstance(state, str) or len(state) > 1000):
        raise InvalidStreamRequest("state must be a string")
    return stream_id, state
