"""Who is calling the token, introspection or revocation endpoint (RFC 6749 §2.3, OIDC Core §9).

Each client has exactly one registered method (``token_endpoint_auth_method``); any other is refused with
``invalid_client``. private_key_jwt assertions are checked against the client's registered ``jwks`` or its
``jwks_uri`` (fetched with timeouts, cached), and each ``jti`` is accepted once.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from broker.errors import InvalidClient, StoreConflict
from broker.oidc import client_assertion, client_auth
from broker.oidc.client_auth import ClientCredentials
from broker.outbound.rp_http import FetchFailed
from broker.registry import Registry
from broker.store import assertions, clients
from broker.store.tables import Client

log = logging.getLogger(__name__)


async def authenticate(
    registry: Registry, credentials: ClientCredentials, endpoint: str, allow_public: bool = True
) -> Client:
    client = await clients.enabled(registry.db, credentials.client_id)
    return await authenticate_found(registry, credentials, client, endpoint, allow_public)


class Authenticating(Protocol):
    """What authenticating a client reads of it: a whole ``Client`` row or a narrower read of one."""

    @property
    def client_id(self) -> str: ...
    @property
    def secret_hash(self) -> str | None: ...
    @property
    def token_endpoint_auth_method(self) -> str: ...
    @property
    def jwks(self) -> dict[str, Any] | None: ...
    @property
    def jwks_uri(self) -> str | None: ...


Found = TypeVar("Found", bound=Authenticating)


async def authenticate_found(
    registry: Registry,
    credentials: ClientCredentials,
    client: Found | None,
    endpoint: str,
    allow_public: bool = True,
) -> Found:
    """``authenticate`` with the enabled client ``credentials.client_id`` already read (``None``: there
    is none), by a caller that read it together with what it needs next (introspection)."""
    if credentials.method in client_auth.SECRET_METHODS:
        # The hash is computed even for an unknown client, so timing does not tell which ids exist.
        key = registry.derived_key("client-secret")
        stored = client.secret_hash if client is not None else None
        if not client_auth.secret_matches(credentials.secret or "", stored, key):
            raise InvalidClient("client authentication failed")
    if client is None or client.token_endpoint_auth_method != credentials.method:
        raise InvalidClient("client authentication failed")
    if credentials.method == client_auth.NONE and not allow_public:
        raise InvalidClient("this endpoint needs an authenticated client")
    if credentials.method == client_auth.PRIVATE_KEY_JWT:
        assert credentials.assertion is not None
        await _check_assertion(registry, client, credentials.assertion, endpoint)
    return client


async def _check_assertion(registry: Registry, client: Authenticating, assertion: str, endpoint: str) -> None:
    settings = registry.settings
    issuer = settings.issuer
    now = registry.clock()

    async def verify(jwks: dict[str, Any]) -> client_assertion.VerifiedAssertion:
        return client_assertion.verify(
            assertion,
            jwks=jwks,
            client_id=client.client_id,
            audiences={issuer, f"{issuer}/token", endpoint},
            now=now,
            max_lifetime=timedelta(seconds=settings.client_assertion_max_lifetime_seconds),
            leeway=timedelta(seconds=settings.client_assertion_leeway_seconds),
        )

    try:
        verified = await verify(await _client_jwks(registry, client, refresh=False))
    except client_assertion.UnknownKey:
        if not client.jwks_uri:
            raise
        verified = await verify(await _client_jwks(registry, client, refresh=True))
    try:
        # Used jtis past their expiry go with `broker maintenance purge`, in batches, not here: a DELETE
        # per authentication grows with the traffic since the last one.
        async with registry.db.transaction() as session:
            await assertions.record(
                session,
                client.client_id,
                verified.jti,
                verified.expires_at + timedelta(seconds=settings.client_assertion_leeway_seconds),
            )
    except StoreConflict as exc:
        raise InvalidClient("client assertion already used") from exc


async def _client_jwks(registry: Registry, client: Authenticating, refresh: bool) -> dict[str, Any]:
    if client.jwks:
        return client.jwks
    if not client.jwks_uri:
        raise InvalidClient("the client has no registered keys")
    try:
        return await registry.client_jwks.get(client.jwks_uri, refresh=refresh)
    except FetchFailed as exc:
        log.warning("jwks_uri of client %s unavailable: %s", client.client_id, exc)
        raise InvalidClient("the client's keys could not be fetched") from exc
