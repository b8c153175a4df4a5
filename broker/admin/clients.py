"""Registering relying parties, with the OpenID Connect Dynamic Client Registration 1.0 §2 metadata the
broker supports. A secret is shown once, at creation or rotation; only its keyed hash is stored."""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from broker.oidc import access_tokens, assurance, client_auth, pairwise
from broker.oidc.client_assertion import ASYMMETRIC_ALGS
from broker.oidc.keys import SUPPORTED_ALGS
from broker.outbound.rp_http import FetchFailed
from broker.registry import Registry
from broker.store import clients as client_store
from broker.store.tables import Client

GRANT_TYPES = ("authorization_code", "refresh_token")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class ClientRegistrationError(ValueError):
    pass


@dataclass(frozen=True)
class ClientMetadata:
    name: str
    redirect_uris: list[str]
    id_token_signed_response_alg: str = "RS256"
    token_endpoint_auth_method: str = client_auth.CLIENT_SECRET_BASIC
    grant_types: list[str] = field(default_factory=lambda: ["authorization_code"])
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    backchannel_logout_uri: str | None = None
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    subject_type: str = pairwise.PUBLIC
    sector_identifier_uri: str | None = None
    default_acr_values: list[str] = field(default_factory=list)
    minimum_acr: str | None = None
    # "jwt" for resource servers that verify access tokens with the JWKS; None: the broker's default.
    access_token_format: str | None = None


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    client_secret: str | None
    name: str
    redirect_uris: list[str]


def _check_uri(uri: str, what: str) -> None:
    """OIDC Registration §2: absolute, no fragment; https except for loopback development hosts."""
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.fragment:
        raise ClientRegistrationError(f"{what} {uri!r} must be an absolute http(s) URL without fragment")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise ClientRegistrationError(f"{what} {uri!r} must use https")


def _check_redirect_uri(uri: str) -> None:
    _check_uri(uri, "redirect URI")


def _check_jwks(jwks: Any) -> None:
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise ClientRegistrationError('jwks must be a JWK set: {"keys": [...]}')
    for key in jwks["keys"]:
        if not isinstance(key, dict) or key.get("kty") not in ("RSA", "EC", "OKP"):
            raise ClientRegistrationError("jwks keys must be asymmetric (kty RSA, EC or OKP)")
        if "d" in key:
            raise ClientRegistrationError("jwks must hold public keys only")
        if "alg" in key and key["alg"] not in ASYMMETRIC_ALGS:
            raise ClientRegistrationError(f"jwks key alg must be one of {ASYMMETRIC_ALGS}")


async def _validate(registry: Registry, metadata: ClientMetadata) -> str | None:
    """Checks the metadata; returns the pairwise sector identifier (OIDC Core §8.1), if any."""
    if not metadata.name.strip():
        raise ClientRegistrationError("a client needs a name")
    if not metadata.redirect_uris:
        raise ClientRegistrationError("a client needs at least one redirect URI")
    for uri in metadata.redirect_uris:
        _check_redirect_uri(uri)
    for uri in metadata.post_logout_redirect_uris:
        _check_uri(uri, "post_logout_redirect_uri")
    if metadata.backchannel_logout_uri is not None:
        _check_uri(metadata.backchannel_logout_uri, "backchannel_logout_uri")
    if metadata.id_token_signed_response_alg not in SUPPORTED_ALGS:
        raise ClientRegistrationError(f"id_token_signed_response_alg must be one of {SUPPORTED_ALGS}")
    if metadata.access_token_format not in (None, *access_tokens.FORMATS):
        raise ClientRegistrationError(f"access_token_format must be one of {access_tokens.FORMATS}")
    method = metadata.token_endpoint_auth_method
    if method not in client_auth.AUTH_METHODS:
        raise ClientRegistrationError(f"token_endpoint_auth_method must be one of {client_auth.AUTH_METHODS}")
    if method == client_auth.PRIVATE_KEY_JWT:
        if (metadata.jwks is None) == (metadata.jwks_uri is None):
            raise ClientRegistrationError("private_key_jwt needs exactly one of jwks and jwks_uri")
    elif metadata.jwks is not None or metadata.jwks_uri is not None:
        raise ClientRegistrationError("jwks and jwks_uri are only for private_key_jwt")
    if metadata.jwks is not None:
        _check_jwks(metadata.jwks)
    if metadata.jwks_uri is not None:
        _check_uri(metadata.jwks_uri, "jwks_uri")
    if "authorization_code" not in metadata.grant_types or not set(metadata.grant_types) <= set(GRANT_TYPES):
        raise ClientRegistrationError(f"grant_types must include authorization_code, within {GRANT_TYPES}")
    for acr in [*metadata.default_acr_values, *([metadata.minimum_acr] if metadata.minimum_acr else [])]:
        if acr not in assurance.SUPPORTED:
            raise ClientRegistrationError(f"acr values must be among {assurance.SUPPORTED}")
    if metadata.subject_type not in pairwise.SUBJECT_TYPES:
        raise ClientRegistrationError(f"subject_type must be one of {pairwise.SUBJECT_TYPES}")
    if metadata.subject_type == pairwise.PUBLIC:
        if metadata.sector_identifier_uri is not None:
            raise ClientRegistrationError("sector_identifier_uri is only for pairwise clients")
        return None
    if metadata.sector_identifier_uri is None:
        try:
            return pairwise.sector_of_redirect_uris(metadata.redirect_uris)
        except ValueError as exc:
            raise ClientRegistrationError(str(exc)) from exc
    _check_uri(metadata.sector_identifier_uri, "sector_identifier_uri")
    try:
        document = await registry.rp_http.get_json(metadata.sector_identifier_uri)
    except FetchFailed as exc:
        raise ClientRegistrationError(f"sector_identifier_uri could not be fetched: {exc}") from exc
    if not pairwise.sector_document_lists(document, metadata.redirect_uris):
        raise ClientRegistrationError("the sector_identifier_uri document does not list every redirect URI")
    return pairwise.sector_of_uri(metadata.sector_identifier_uri)


def _apply(client: Client, metadata: ClientMetadata, sector: str | None) -> None:
    client.name = metadata.name.strip()
    client.redirect_uris = list(dict.fromkeys(metadata.redirect_uris))
    client.id_token_signed_response_alg = metadata.id_token_signed_response_alg
    client.token_endpoint_auth_method = metadata.token_endpoint_auth_method
    client.grant_types = list(dict.fromkeys(metadata.grant_types))
    client.post_logout_redirect_uris = list(dict.fromkeys(metadata.post_logout_redirect_uris))
    client.backchannel_logout_uri = metadata.backchannel_logout_uri
    client.jwks = metadata.jwks
    client.jwks_uri = metadata.jwks_uri
    client.subject_type = metadata.subject_type
    client.sector_identifier_uri = metadata.sector_identifier_uri
    client.sector_identifier = sector
    client.default_acr_values = list(metadata.default_acr_values)
    client.minimum_acr = metadata.minimum_acr
    client.access_token_format = metadata.access_token_format


def _uses_secret(method: str) -> bool:
    return method in client_auth.SECRET_METHODS


def new_client_id() -> str:
    """64 random bits as four hex groups: a 9-digit run would be masked in logs as an identification number."""
    return "rp-" + "-".join(secrets.token_hex(2) for _ in range(4))


async def create(
    registry: Registry,
    *,
    name: str,
    redirect_uris: list[str],
    id_token_alg: str = "RS256",
    **options: Any,
) -> RegisteredClient:
    metadata = ClientMetadata(
        name=name, redirect_uris=list(redirect_uris), id_token_signed_response_alg=id_token_alg, **options
    )
    sector = await _validate(registry, metadata)
    client_id = new_client_id()
    secret = client_auth.new_secret() if _uses_secret(metadata.token_endpoint_auth_method) else None
    client = Client(client_id=client_id, name=name.strip(), created_at=registry.clock())
    _apply(client, metadata, sector)
    if secret is not None:
        client.secret_hash = client_auth.hash_secret(secret, registry.derived_key("client-secret"))
    async with registry.db.transaction() as session:
        await client_store.add(session, client)
    return RegisteredClient(client_id, secret, client.name, list(client.redirect_uris))


def metadata_of(client: Client) -> ClientMetadata:
    return ClientMetadata(
        name=client.name,
        redirect_uris=list(client.redirect_uris),
        id_token_signed_response_alg=client.id_token_signed_response_alg,
        token_endpoint_auth_method=client.token_endpoint_auth_method,
        grant_types=list(client.grant_types or ["authorization_code"]),
        post_logout_redirect_uris=list(client.post_logout_redirect_uris or []),
        backchannel_logout_uri=client.backchannel_logout_uri,
        jwks=client.jwks,
        jwks_uri=client.jwks_uri,
        subject_type=client.subject_type,
        sector_identifier_uri=client.sector_identifier_uri,
        default_acr_values=list(client.default_acr_values or []),
        minimum_acr=client.minimum_acr,
        access_token_format=client.access_token_format,
    )


async def update(
    registry: Registry, client_id: str, *, rotate_secret: bool = False, **changes: Any
) -> tuple[Client, str | None]:
    """Changes registration metadata; returns the client and a new secret when one was issued (shown once).

    A pairwise client keeps its sector: changing it would change every ``sub`` its users have.
    """
    async with registry.db.read() as session:
        current = await client_store.get(session, client_id)
    if current is None or current.disabled_at is not None:
        raise ClientRegistrationError(f"no active client {client_id!r}")
    metadata = dataclasses.replace(metadata_of(current), **changes)
    sector = await _validate(registry, metadata)  # may fetch a sector document: outside the transaction
    async with registry.db.transaction() as session:
        client = await client_store.get(session, client_id)
        if client is None or client.disabled_at is not None:
            raise ClientRegistrationError(f"no active client {client_id!r}")
        if client.subject_type == pairwise.PAIRWISE and (
            metadata.subject_type != pairwise.PAIRWISE or sector != client.sector_identifier
        ):
            raise ClientRegistrationError("a pairwise client's sector cannot change: every sub would change")
        was_secret = _uses_secret(client.token_endpoint_auth_method)
        _apply(client, metadata, sector)
        secret = None
        if _uses_secret(metadata.token_endpoint_auth_method):
            if rotate_secret or not was_secret:
                secret = client_auth.new_secret()
                client.secret_hash = client_auth.hash_secret(secret, registry.derived_key("client-secret"))
        elif rotate_secret:
            raise ClientRegistrationError("this client has no secret to rotate")
        else:
            client.secret_hash = None
    return client, secret


async def delete(registry: Registry, client_id: str) -> None:
    """Disables the client (soft delete): its id is never reused and its tokens stop working."""
    async with registry.db.transaction() as session:
        client = await client_store.get(session, client_id)
        if client is None or client.disabled_at is not None:
            raise ClientRegistrationError(f"no active client {client_id!r}")
        client.disabled_at = registry.clock()


async def show(registry: Registry, client_id: str) -> Client:
    async with registry.db.read() as session:
        client = await client_store.get(session, client_id)
    if client is None:
        raise ClientRegistrationError(f"no client {client_id!r}")
    return client


def describe(client: Client) -> dict[str, Any]:
    """Registration metadata as OIDC Registration names it; never the secret or its hash."""
    return {
        "client_id": client.client_id,
        "client_name": client.name,
        "redirect_uris": list(client.redirect_uris),
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "grant_types": list(client.grant_types or ["authorization_code"]),
        "id_token_signed_response_alg": client.id_token_signed_response_alg,
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris or []),
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "backchannel_logout_session_required": client.backchannel_logout_uri is not None,
        "jwks_uri": client.jwks_uri,
        "jwks": client.jwks,
        "subject_type": client.subject_type,
        "sector_identifier_uri": client.sector_identifier_uri,
        "default_acr_values": list(client.default_acr_values or []),
        "minimum_acr": client.minimum_acr,
        "access_token_format": client.access_token_format,  # null: the broker's default
        "disabled": client.disabled_at is not None,
        "created_at": client.created_at.isoformat(),
    }


async def list_clients(registry: Registry) -> list[Client]:
    async with registry.db.read() as session:
        return await client_store.list_all(session)
