"""Registering relying parties. The secret is shown once, at creation; only its keyed hash is stored."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from broker.oidc import client_auth
from broker.oidc.keys import SUPPORTED_ALGS
from broker.registry import Registry
from broker.store import clients as client_store
from broker.store.tables import Client


class ClientRegistrationError(ValueError):
    pass


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    client_secret: str
    name: str
    redirect_uris: list[str]


def _check_redirect_uri(uri: str) -> None:
    """OIDC Registration §2: absolute, no fragment; https except for loopback development hosts."""
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.fragment:
        raise ClientRegistrationError(
            f"redirect URI {uri!r} must be an absolute http(s) URL without fragment"
        )
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ClientRegistrationError(f"redirect URI {uri!r} must use https")


async def create(
    registry: Registry, *, name: str, redirect_uris: list[str], id_token_alg: str = "RS256"
) -> RegisteredClient:
    if not name.strip():
        raise ClientRegistrationError("a client needs a name")
    if not redirect_uris:
        raise ClientRegistrationError("a client needs at least one redirect URI")
    for uri in redirect_uris:
        _check_redirect_uri(uri)
    if id_token_alg not in SUPPORTED_ALGS:
        raise ClientRegistrationError(f"id_token_signed_response_alg must be one of {SUPPORTED_ALGS}")
    client_id = "rp-" + secrets.token_hex(8)
    secret = client_auth.new_secret()
    async with registry.db.transaction() as session:
        await client_store.add(
            session,
            Client(
                client_id=client_id,
                name=name.strip(),
                secret_hash=client_auth.hash_secret(secret, registry.derived_key("client-secret")),
                redirect_uris=list(dict.fromkeys(redirect_uris)),
                id_token_signed_response_alg=id_token_alg,
                created_at=registry.clock(),
            ),
        )
    return RegisteredClient(client_id, secret, name.strip(), list(dict.fromkeys(redirect_uris)))


async def list_clients(registry: Registry) -> list[Client]:
    async with registry.db.read() as session:
        return await client_store.list_all(session)
