"""Poll-Based SET delivery (RFC 8936 §2): the receiver's request, checked; the response, built."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from broker.oidc.ssf import InvalidStreamRequest

DEFAULT_MAX_EVENTS = 100
MAX_MAX_EVENTS = 1000


@dataclass(frozen=True)
class PollRequest:
    max_events: int = DEFAULT_MAX_EVENTS
    return_immediately: bool = False
    ack: list[str] = field(default_factory=list)
    set_errs: dict[str, tuple[str, str]] = field(default_factory=dict)  # jti -> (err, description)


def parse(body: Any) -> PollRequest:
    """§2.4: ``maxEvents`` (0: acknowledge only), ``returnImmediately``, ``ack`` and ``setErrs``."""
    if not isinstance(body, dict):
        raise InvalidStreamRequest("the body must be a JSON object")
    max_events = body.get("maxEvents", DEFAULT_MAX_EVENTS)
    if isinstance(max_events, bool) or not isinstance(max_events, int) or not 0 <= max_events:
        raise InvalidStreamRequest("maxEvents must be a non-negative integer")
    return_immediately = body.get("returnImmediately", False)
    if not isinstance(return_immediately, bool):
        raise InvalidStreamRequest("returnImmediately must be a boolean")
    ack = body.get("ack", [])
    if not isinstance(ack, list) or not all(isinstance(jti, str) for jti in ack):
        raise InvalidStreamRequest("ack must be an array of jti values")
    raw_errs = body.get("setErrs", {})
    if not isinstance(raw_errs, dict):
        raise InvalidStreamRequest("setErrs must be an object")
    set_errs: dict[str, tuple[str, str]] = {}
    for jti, error in raw_errs.items():
        if not isinstance(error, dict) or not isinstance(error.get("err"), str):
            raise InvalidStreamRequest("each setErrs member needs err")
        set_errs[jti] = (error["err"][:50], str(error.get("description", ""))[:140])
    return PollRequest(min(max_events, MAX_MAX_EVENTS), return_immediately, ack, set_errs)


def response(sets: dict[str, str], more_available: bool) -> dict[str, Any]:
    """§2.5: ``sets`` (jti -> SET) and ``moreAvailable``."""
    return {"sets": sets, "moreAvailable": more_available}
