"""Push delivery of SETs (RFC 8935) from a background worker on every replica.

A worker leases a due stream (``push_due_at``, claimed with SKIP LOCKED on PostgreSQL) and pushes its
pending SETs one after another in queue order, signed at send time with the stream's fixed claims (the
same ``jti`` on every attempt). 202 settles a SET; a 400 with an RFC 8935 §2.3 error rejects it for good;
anything else (or no answer) stops the stream's round and retries it after a backoff that doubles up to
``ssf_push_backoff_max_seconds``, so order holds and nothing is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from broker.errors import StoreConflict, StoreUnavailable
from broker.login import ssf_fanout
from broker.oidc import security_events, ssf
from broker.outbound import endpoints
from broker.outbound.rp_http import FetchFailed
from broker.registry import Registry
from broker.store import clients
from broker.store import ssf as streams
from broker.store.tables import SsfStream

log = logging.getLogger(__name__)
STREAMS_PER_ROUND = 10
SETS_PER_STREAM = 100


async def deliver_due(registry: Registry) -> int:
    """Claims due push streams and pushes their queues; returns how many streams were served."""
    now = registry.clock()
    lease_until = now + timedelta(seconds=registry.settings.ssf_push_lease_seconds)
    async with registry.db.read() as session:
        if not await streams.push_due(session, ssf.PUSH, now):
            return 0
    async with registry.db.transaction() as session:
        due = await streams.claim_push_streams(session, ssf.PUSH, now, lease_until, STREAMS_PER_ROUND)
    if due:
        await asyncio.gather(*(_push_stream(registry, stream) for stream in due))
    return len(due)


def _backoff(registry: Registry, failures: int) -> timedelta:
    settings = registry.settings
    seconds = settings.ssf_push_backoff_seconds * 2 ** min(failures - 1, 30)
    return timedelta(seconds=min(seconds, settings.ssf_push_backoff_max_seconds))


async def _push_stream(registry: Registry, stream: SsfStream) -> None:
    settings = registry.settings
    async with registry.db.read() as session:
        queue = await streams.pending(session, stream.stream_id, SETS_PER_STREAM)
        client = await clients.get(session, stream.client_id)
    ring = await registry.keyring()
    alg = client.id_token_signed_response_alg if client is not None else "RS256"
    error: str | None = None
    for row in queue:
        url = stream.endpoint_url or ""
        try:
            await endpoints.check_public(
                url,
                allow_internal=settings.ssf_push_allow_private_addresses,
                require_https=settings.environment == "production",
            )
            token = ring.sign(row.claims, alg, typ=security_events.TYP)
            status, body = await registry.rp_http.post_secevent(url, token, stream.authorization_header)
        except FetchFailed as exc:
            error = str(exc)
            break
        if status == 202:
            outcome, reason = streams.DELIVERED, None
        elif status == 400 and isinstance(body, dict) and isinstance(body.get("err"), str):
            outcome, reason = streams.REJECTED, f"{body['err']}: {body.get('description', '')}"[:200]
            log.warning("SET %s rejected by the receiver of stream %s: %s", row.jti, stream.stream_id, reason)
        else:
            error = f"HTTP {status}"
            break
        async with registry.db.transaction() as session:
            await streams.settle(session, stream.stream_id, [row.jti])
        registry.metrics.ssf_sets.labels("push", outcome).inc()
    now = registry.clock()
    failures = 0 if error is None else stream.push_failures + 1
    async with registry.db.transaction() as session:
        await streams.push_outcome(
            session,
            stream.stream_id,
            due_at=now if error is None else now + _backoff(registry, failures),
            failures=failures,
            error=error,
        )
    if error is not None:
        log.warning("SET push for stream %s failed (failure %d): %s", stream.stream_id, failures, error)


async def run_worker(registry: Registry) -> None:
    """Until cancelled: fan the outbox out to the streams, then push what is due."""
    while True:
        busy = 0
        try:
            if await streams.work_waiting(registry.db, ssf.PUSH, registry.clock()):
                busy = await ssf_fanout.fan_out(registry) + await deliver_due(registry)
        except (StoreUnavailable, StoreConflict) as exc:
            log.warning("SSF worker: database unavailable (%s)", exc)
        except Exception:
            log.exception("SSF worker failed; continuing")
        if not busy:
            await asyncio.sleep(registry.settings.ssf_worker_interval_seconds)
