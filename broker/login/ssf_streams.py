"""The Shared Signals stream management API (SSF 1.0 §8.1): a relying party, authenticated as its client,
creates, reads, updates, replaces and deletes its one stream, reads and sets its status, and asks for a
verification event. Stream ids are random; a client only ever sees its own stream (others are 404)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from broker.errors import StoreConflict
from broker.login import client_authentication, ssf_fanout
from broker.login.ids import new_token
from broker.oidc import client_auth, security_events, ssf
from broker.outbound import endpoints
from broker.outbound.rp_http import FetchFailed
from broker.registry import Registry
from broker.store import events
from broker.store import ssf as streams
from broker.store.database import Session
from broker.store.tables import Client, SsfStream


async def receiver(registry: Registry, authorization: str | None, endpoint: str) -> Client:
    """HTTP Basic with the client's id and secret: a JSON body has no room for client_secret_post."""
    return await client_authentication.authenticate(
        registry, client_auth.credentials(authorization, {}), endpoint, allow_public=False
    )


def configuration(registry: Registry, stream: SsfStream) -> dict[str, Any]:
    """§8.1.1, as the receiver reads it (the push authorization header is never echoed)."""
    issuer = registry.settings.issuer
    delivery: dict[str, Any] = {"method": stream.delivery_method}
    delivery["endpoint_url"] = (
        stream.endpoint_url if stream.delivery_method == ssf.PUSH else f"{issuer}/ssf/poll/{stream.stream_id}"
    )
    body: dict[str, Any] = {
        "stream_id": stream.stream_id,
        "iss": issuer,
        "aud": stream.client_id,
        "delivery": delivery,
        "events_supported": list(ssf.EVENTS_SUPPORTED),
        "events_requested": list(stream.events_requested),
        "events_delivered": list(stream.events_delivered),
        "min_verification_interval": registry.settings.ssf_min_verification_interval_seconds,
    }
    if stream.description is not None:
        body["description"] = stream.description
    return body


async def _check_push_endpoint(registry: Registry, url: str | None) -> None:
    if url is None:
        return
    settings = registry.settings
    try:
        await endpoints.check_public(
            url,
            allow_internal=settings.ssf_push_allow_private_addresses,
            require_https=settings.environment == "production",
        )
    except FetchFailed as exc:
        raise ssf.InvalidStreamRequest(f"endpoint_url refused: {exc}") from exc


async def create(registry: Registry, client: Client, body: Any) -> dict[str, Any]:
    request = ssf.parse_stream_request(body)
    await _check_push_endpoint(registry, request.endpoint_url)
    await ssf_fanout.sequence_pending(registry)
    now = registry.clock()
    requested = request.events_requested or []
    try:
        async with registry.db.transaction() as session:
            stream = SsfStream(
                stream_id=uuid.uuid4().hex,
                client_id=client.client_id,
                delivery_method=request.delivery_method or ssf.POLL,  # §8.1.1.1: no delivery means poll
                endpoint_url=request.endpoint_url,
                authorization_header=request.authorization_header,
                events_requested=requested,
                events_delivered=ssf.events_delivered(requested),
                description=request.description,
                status=streams.ENABLED,
                # Events from now on: a new stream does not replay the past.
                cursor=await events.last_position(session),
                push_due_at=now,
                push_failures=0,
                created_at=now,
                updated_at=now,
            )
            await streams.add_stream(session, stream)
    except StoreConflict as exc:
        raise ssf.StreamExists("this receiver already has a stream") from exc
    return configuration(registry, stream)


async def _own(session: Session, client: Client, stream_id: str | None, *, lock: bool = False) -> SsfStream:
    stream = await streams.stream_of(session, client.client_id)
    if stream is None or (stream_id is not None and stream.stream_id != stream_id):
        raise ssf.StreamNotFound("no such stream for this receiver")
    if lock:
        locked = await streams.stream_for_update(session, stream.stream_id, skip_locked=False)
        if locked is None:
            raise ssf.StreamNotFound("no such stream for this receiver")
        return locked
    return stream


async def read(registry: Registry, client: Client, stream_id: str | None) -> dict[str, Any] | list[Any]:
    """§8.1.1.2: with ``stream_id`` the stream; without it, the list of this receiver's streams."""
    async with registry.db.read() as session:
        stream = await streams.stream_of(session, client.client_id)
    if stream_id is None:
        return [configuration(registry, stream)] if stream is not None else []
    if stream is None or stream.stream_id != stream_id:
        raise ssf.StreamNotFound("no such stream for this receiver")
    return configuration(registry, stream)


async def update(registry: Registry, client: Client, body: Any, *, replace: bool) -> dict[str, Any]:
    """PATCH (§8.1.1.3) changes what the body carries; PUT (§8.1.1.4) replaces every receiver-supplied
    field, absent ones deleted."""
    stream_id = ssf.stream_id_of(body)
    async with registry.db.read() as session:
        current = await _own(session, client, stream_id)
    request = ssf.parse_stream_request(body, expected=configuration(registry, current))
    await _check_push_endpoint(registry, request.endpoint_url)
    async with registry.db.transaction() as session:
        stream = await _own(session, client, stream_id, lock=True)
        if request.events_requested is not None or replace:
            stream.events_requested = request.events_requested or []
            stream.events_delivered = ssf.events_delivered(stream.events_requested)
        if request.has_description or replace:
            stream.description = request.description
        if request.has_delivery or replace:
            stream.delivery_method = request.delivery_method or ssf.POLL
            stream.endpoint_url = request.endpoint_url
            stream.authorization_header = request.authorization_header
            stream.push_failures = 0
            stream.push_due_at = registry.clock()
        stream.updated_at = registry.clock()
    return configuration(registry, stream)


async def delete(registry: Registry, client: Client, stream_id: str | None) -> None:
    """§8.1.1.5: the stream and everything still queued on it."""
    if not stream_id:
        raise ssf.InvalidStreamRequest("stream_id is required")
    async with registry.db.transaction() as session:
        stream = await _own(session, client, stream_id)
        await streams.delete_stream(session, stream.stream_id)


async def status(registry: Registry, client: Client, stream_id: str | None) -> dict[str, Any]:
    """§8.1.2.1."""
    if not stream_id:
        raise ssf.InvalidStreamRequest("stream_id is required")
    async with registry.db.read() as session:
        stream = await _own(session, client, stream_id)
    return _status(stream)


def _status(stream: SsfStream) -> dict[str, Any]:
    body: dict[str, Any] = {"stream_id": stream.stream_id, "status": stream.status}
    if stream.reason:
        body["reason"] = stream.reason
    return body


async def set_status(registry: Registry, client: Client, body: Any) -> dict[str, Any]:
    """§8.1.2.2: paused holds events; disabled drops what is queued and queues nothing more."""
    stream_id, new_status, reason = ssf.status_request(body)
    async with registry.db.transaction() as session:
        stream = await _own(session, client, stream_id, lock=True)
        stream.status = new_status
        stream.reason = reason
        stream.updated_at = registry.clock()
        if new_status == streams.DISABLED:
            await streams.drop_pending(session, stream.stream_id)
        if new_status == streams.ENABLED:
            stream.push_due_at = registry.clock()
    return _status(stream)


async def verify(registry: Registry, client: Client, body: Any) -> None:
    """§8.1.4.2: queues a verification SET; at most one per ``min_verification_interval`` (429 beyond),
    decided by one conditional UPDATE so concurrent requests cannot both pass."""
    stream_id, state = ssf.verification_request(body)
    now = registry.clock()
    interval = timedelta(seconds=registry.settings.ssf_min_verification_interval_seconds)
    async with registry.db.transaction() as session:
        stream = await _own(session, client, stream_id)
        if not await streams.claim_verification(session, stream.stream_id, now, now - interval):
            raise ssf.TooManyVerifications("verification requested too often")
        jti = new_token()
        claims = security_events.claims(
            issuer=registry.settings.issuer,
            audience=client.client_id,
            jti=jti,
            iat=int(now.timestamp()),
            txn=jti,
            event=security_events.verification(stream.stream_id, state),
        )
        await streams.enqueue(session, stream.stream_id, jti, claims, now)
