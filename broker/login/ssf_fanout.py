"""From the outbox to each stream's queue: every account event after the stream's cursor that concerns an
account the relying party has dealt with becomes one or more SETs (subjects as that client knows them),
queued and the cursor moved in one transaction, so a crash repeats nothing and loses nothing."""

from __future__ import annotations

from broker.login import subjects
from broker.login.ids import new_token
from broker.oidc import security_events
from broker.registry import Registry
from broker.store import client_accounts, clients, events, sessions
from broker.store import ssf as streams

BATCH = 500


async def sequence_pending(registry: Registry) -> None:
    """Gives committed events their position (a write only when some are waiting)."""
    async with registry.db.read() as session:
        waiting = await events.unsequenced(session)
    if waiting:
        async with registry.db.transaction() as session:
            await events.sequence(session)


async def fan_out(registry: Registry) -> int:
    """Every stream brought up to the outbox's head; returns how many SETs were queued."""
    await sequence_pending(registry)
    async with registry.db.read() as session:
        head = await events.last_position(session)
        behind = await streams.streams_behind(session, head)
    queued = 0
    for stream_id in behind:
        queued += await fan_out_stream(registry, stream_id)
    return queued


async def fan_out_stream(registry: Registry, stream_id: str, *, wait: bool = False) -> int:
    """``wait``: block while another replica fans this stream out (a poll must see its result); the
    background worker passes by instead."""
    queued = 0
    while True:
        async with registry.db.read() as session:  # up to date: no write transaction (a long poll waits)
            cursor = await streams.stream_cursor(session, stream_id)
            if cursor is None or cursor >= await events.last_position(session):
                return queued
        batch_queued, more = await _fan_out_batch(registry, stream_id, wait)
        queued += batch_queued
        if not more:
            return queued


async def _fan_out_batch(registry: Registry, stream_id: str, wait: bool) -> tuple[int, bool]:
    issuer = registry.settings.issuer
    now = registry.clock()
    async with registry.db.transaction() as session:
        stream = await streams.stream_for_update(session, stream_id, skip_locked=not wait)
        if stream is None:
            return 0, False
        found = await events.sequenced_after(session, stream.cursor, BATCH)
        if not found:
            return 0, False
        assert found[-1].position is not None
        stream.cursor = found[-1].position
        client = await clients.get_enabled(session, stream.client_id)
        if stream.status == streams.DISABLED or client is None:
            return 0, len(found) == BATCH
        subs = {event.sub for event in found} | {event.related_sub for event in found if event.related_sub}
        known = await client_accounts.known_subs(session, client.client_id, subs)
        queued = 0
        for event in found:
            if event.sub not in known and event.related_sub not in known:
                continue
            if event.type == "session.revoked" and client.client_id not in await sessions.participants(
                session, str(event.data.get("sid"))
            ):
                continue  # a session is revoked towards the relying parties that took part in it
            for item in security_events.events_for(
                event.type,
                event.sub,
                event.data,
                issuer=issuer,
                occurred_at=int(event.created_at.timestamp()),
                subject_of=lambda sub: subjects.of_public_sub(registry, client, sub),
            ):
                if item[0] not in stream.events_delivered:
                    continue
                jti = new_token()
                claims = security_events.claims(
                    issuer=issuer,
                    audience=client.client_id,
                    jti=jti,
                    iat=int(now.timestamp()),
                    txn=f"evt-{event.id}",
                    event=item,
                )
                await streams.enqueue(session, stream.stream_id, jti, claims, now)
                queued += 1
        return queued, len(found) == BATCH
