"""Poll delivery of SETs (RFC 8936): the receiver acknowledges (``ack``) or rejects (``setErrs``) what it
got, then receives up to ``maxEvents`` pending SETs, oldest first, signed now with their fixed claims.
What is not acknowledged comes again on the next poll (at least once; deduplicate by ``jti``). Without
``returnImmediately`` the request waits up to ``ssf_long_poll_seconds`` for something to arrive."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from broker.login import ssf_fanout
from broker.oidc import security_events, set_poll, ssf
from broker.registry import Registry
from broker.store import ssf as streams
from broker.store.tables import Client, SsfSet

log = logging.getLogger(__name__)
_WAIT_STEP_SECONDS = 0.25


async def poll(registry: Registry, client: Client, stream_id: str, body: Any) -> dict[str, Any]:
    request = set_poll.parse(body)
    async with registry.db.read() as session:
        stream = await streams.stream_of(session, client.client_id)
    if stream is None or stream.stream_id != stream_id or stream.delivery_method != ssf.POLL:
        raise ssf.StreamNotFound("no such poll stream for this receiver")
    async with registry.db.transaction() as session:
        acked = await streams.settle(session, stream_id, request.ack)
        rejected = await streams.settle(session, stream_id, request.set_errs)
    for jti, (err, description) in request.set_errs.items():
        log.warning("SET %s rejected by the receiver of stream %s: %s %s", jti, stream_id, err, description)
    registry.metrics.ssf_sets.labels("poll", streams.ACKED).inc(acked)
    registry.metrics.ssf_sets.labels("poll", streams.REJECTED).inc(rejected)
    if request.max_events == 0:
        return set_poll.response({}, False)
    deadline = time.monotonic() + (
        0 if request.return_immediately else registry.settings.ssf_long_poll_seconds
    )
    while True:
        await ssf_fanout.sequence_pending(registry)
        await ssf_fanout.fan_out_stream(registry, stream_id, wait=True)
        rows, enabled = await _pending(registry, client, stream_id, request.max_events + 1)
        if rows or time.monotonic() >= deadline:
            break
        await asyncio.sleep(_WAIT_STEP_SECONDS)
    ring = await registry.keyring()
    sets = {
        row.jti: ring.sign(row.claims, client.id_token_signed_response_alg, typ=security_events.TYP)
        for row in rows[: request.max_events]
    }
    return set_poll.response(sets, enabled and len(rows) > request.max_events)


async def _pending(
    registry: Registry, client: Client, stream_id: str, limit: int
) -> tuple[list[SsfSet], bool]:
    """A paused or disabled stream transmits nothing (SSF §8.1.2)."""
    async with registry.db.read() as session:
        stream = await streams.stream_of(session, client.client_id)
        if stream is None or stream.stream_id != stream_id:
            raise ssf.StreamNotFound("the stream was deleted")
        if stream.status != streams.ENABLED:
            return [], False
        return await streams.pending(session, stream_id, limit), True
