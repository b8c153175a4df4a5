"""Back-channel logout (OIDC Back-Channel Logout 1.0): queue a delivery per relying party when a session
ends, and deliver them from a background worker, so a citizen's logout never waits on a slow RP.

Each delivery POSTs ``logout_token`` (§2.5) signed at send time (fresh ``iat``/``exp``, the same ``jti``
on every attempt); 200 or 204 is success, anything else is retried with exponential backoff up to a bounded
number of attempts. Claims are leased rows (see broker.store.backchannel), so any number of replicas can
run the worker.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from broker.errors import StoreConflict, StoreUnavailable
from broker.login import subjects
from broker.login.ids import new_token
from broker.oidc import logout_token
from broker.outbound.rp_http import FetchFailed
from broker.registry import Registry
from broker.store import accounts, backchannel, clients, sessions
from broker.store.database import Session
from broker.store.tables import BackchannelDelivery

log = logging.getLogger(__name__)
BATCH = 20


async def enqueue_for_session(registry: Registry, session: Session, sid: str, now: datetime) -> int:
    sso = await sessions.get(session, sid)
    if sso is None:
        return 0
    account = await accounts.get(session, sso.account_id)
    if account is None:
        return 0
    queued = 0
    for client in await clients.get_many(session, await sessions.participants(session, sid)):
        if not client.backchannel_logout_uri or client.disabled_at is not None:
            continue
        await backchannel.enqueue(
            session,
            BackchannelDelivery(
                client_id=client.client_id,
                logout_uri=client.backchannel_logout_uri,
                sub=subjects.for_client(registry, client, account),
                sid=sid,
                jti=new_token(),
                status=backchannel.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            ),
        )
        queued += 1
    return queued


def retry_at(registry: Registry, attempts: int, now: datetime) -> datetime | None:
    settings = registry.settings
    if attempts >= settings.backchannel_max_attempts:
        return None
    return now + timedelta(seconds=settings.backchannel_backoff_seconds * 2 ** (attempts - 1))


async def deliver_due(registry: Registry) -> int:
    """Claims and delivers the deliveries due now; returns how many were attempted."""
    now = registry.clock()
    lease_until = now + timedelta(seconds=registry.settings.backchannel_lease_seconds)
    if not await backchannel.any_due(registry.db, now):
        return 0
    async with registry.db.transaction() as session:
        due = await backchannel.claim_due(session, now, lease_until, BATCH)
    if due:
        await asyncio.gather(*(_deliver(registry, delivery) for delivery in due))
    return len(due)


async def _deliver(registry: Registry, delivery: BackchannelDelivery) -> None:
    settings = registry.settings
    ring = await registry.keyring()
    async with registry.db.read() as session:
        client = await clients.get(session, delivery.client_id)
    alg = client.id_token_signed_response_alg if client is not None else "RS256"
    now = registry.clock()
    token = ring.sign(
        logout_token.claims(
            issuer=settings.issuer,
            client_id=delivery.client_id,
            sub=delivery.sub,
            sid=delivery.sid,
            jti=delivery.jti,
            now=now,
            ttl_seconds=settings.logout_token_ttl_seconds,
        ),
        alg,
        typ=logout_token.TYP,
    )
    error: str | None = None
    try:
        status = await registry.rp_http.post_form(delivery.logout_uri, {"logout_token": token})
        if status not in (200, 204):
            error = f"HTTP {status}"
    except FetchFailed as exc:
        error = str(exc)
    assert delivery.id is not None
    async with registry.db.transaction() as session:
        if error is None:
            await backchannel.delivered(session, delivery.id, registry.clock())
        else:
            await backchannel.failed_attempt(
                session, delivery.id, error, retry_at(registry, delivery.attempts, registry.clock())
            )
    outcome = "delivered" if error is None else "failed"
    registry.metrics.backchannel_deliveries.labels(outcome).inc()
    if error is not None:
        log.warning(
            "back-channel logout to client %s failed (attempt %d): %s",
            delivery.client_id,
            delivery.attempts,
            error,
        )


async def run_worker(registry: Registry) -> None:
    """Delivers until cancelled: at once when this replica queued something, else every poll interval."""
    wakeup = registry.backchannel_wakeup
    while True:
        wakeup.clear()
        try:
            attempted = await deliver_due(registry)
        except (StoreUnavailable, StoreConflict) as exc:
            log.warning("back-channel worker: database unavailable (%s)", exc)
            attempted = 0
        except Exception:
            log.exception("back-channel worker failed; continuing")
            attempted = 0
        if attempted:
            continue
        try:
            await asyncio.wait_for(wakeup.wait(), timeout=registry.settings.backchannel_poll_seconds)
        except TimeoutError:
            pass
