"""The audit trail's hash chain: each record carries the hash of the one before it and its own hash over
that and its content, so an edited, deleted, inserted or reordered record breaks the chain at a place that
``broker audit verify`` names.

Pure: the canonical form of a record is fixed here, once, for the writer, the verifier and the migration
that sealed the records written before the chain existed (0005). Changing it breaks every stored chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from broker.clock import naive_utc

GENESIS = "0" * 64

# ``json.dumps`` with these options, made once: ``dumps`` builds an encoder at every call given options.
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def canonical(
    *,
    at: datetime,
    actor: str,
    action: str,
    outcome: str,
    reason: str | None,
    sub: str | None,
    details: Mapping[str, Any] | None,
) -> str:
    """One line of JSON with sorted keys; the instant as naive UTC to the microsecond (as stored)."""
    instant = naive_utc(at) if at.tzinfo is not None else at
    # isoformat(timespec="microseconds") without its keyword (parsed at every call): the same text.
    stamp = instant.isoformat() if instant.microsecond else instant.isoformat() + ".000000"
    return _CANONICAL.encode(
        {
            "at": stamp,
            "actor": actor,
            "action": action,
            "outcome": outcome,
            "reason": reason,
            "sub": sub,
            "details": dict(details or {}),
        }
    )


def link(previous: str, content: str) -> str:
    """A record's hash: over the previous record's hash and its own canonical content."""
    return hashlib.sha256(f"{previous}\n{content}".encode()).hexdigest()
