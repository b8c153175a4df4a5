"""The account-event feed (deprecated: the Shared Signals transmitter replaces it; kept for one release as
a view of the same outbox): relying parties read links, merges and freezes after a cursor.

The cursor is the last event ``position`` a relying party has seen. Positions are handed out in commit
order (broker.store.events.sequence), never to an event whose transaction may still be overtaken, so
reading ``after`` the cursor never skips nor repeats an event (tests/flows/test_ssf_commit_order.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC
from typing import Any

from broker.errors import InvalidRequest
from broker.login import client_authentication, ssf_fanout, subjects
from broker.oidc import client_auth
from broker.oidc.params import single_valued
from broker.registry import Registry
from broker.store import events
from broker.store.tables import AccountEvent

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_MAX_CURSOR = 2**63 - 1  # a BIGINT: beyond it a cursor cannot name an event
_NUMBER = re.compile(r"[0-9]{1,19}")


async def read(
    registry: Registry, authorization: str | None, query: Iterable[tuple[str, str]]
) -> dict[str, Any]:
    """Only client_secret_basic: a GET has no body to carry client_secret_post."""
    client = await client_authentication.authenticate(
        registry,
        client_auth.credentials(authorization, {}),
        f"{registry.settings.issuer}/events",
        allow_public=False,
    )
    params = single_valued(query)
    cursor = _integer(params, "after", default=0, low=0, high=_MAX_CURSOR)
    limit = _integer(params, "limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
    await ssf_fanout.sequence_pending(registry)
    async with registry.db.read() as session:
        found = await events.after(session, cursor, limit, client_id=client.client_id)
    return {
        "events": [
            _event(event, lambda sub: subjects.of_public_sub(registry, client, sub)) for event in found
        ],
        "next_cursor": found[-1].position if found else cursor,
    }


def _integer(params: dict[str, str], name: str, *, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not _NUMBER.fullmatch(raw) or not low <= int(raw) <= high:
        raise InvalidRequest(f"{name} must be an integer from {low} to {high}")
    return int(raw)


def _event(event: AccountEvent, sub_for_client: Callable[[str], str]) -> dict[str, Any]:
    """Every sub in the event as this client knows it (pairwise clients never see public subs)."""
    data = {
        key: sub_for_client(value) if key.endswith("_sub") and isinstance(value, str) else value
        for key, value in event.data.items()
    }
    return {
        "id": event.position,
        "type": event.type,
        "sub": sub_for_client(event.sub),
        "data": data,
        "created_at": event.created_at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
