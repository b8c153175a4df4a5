"""`broker clients` and `broker keys`: relying parties and the broker's signing keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from broker.cli.support import echo_json, run_admin
from broker.settings import Settings

clients_app = typer.Typer(help="Relying parties registered at the broker.", no_args_is_help=True)
keys_app = typer.Typer(help="The broker's signing keys.", no_args_is_help=True)


def _jwks_option(value: str | None) -> dict[str, Any] | None:
    """``--jwks`` takes a JSON document or ``@file``."""
    if value is None:
        return None
    text = Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise typer.BadParameter(f"--jwks is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise typer.BadParameter("--jwks must be a JSON object")
    return document


RedirectUris = Annotated[
    list[str] | None, typer.Option("--redirect-uri", help="registered redirect URI (repeatable)")
]
PostLogoutUris = Annotated[
    list[str] | None,
    typer.Option("--post-logout-redirect-uri", help="RP-initiated logout target (repeatable)"),
]
BackchannelUri = Annotated[
    str | None, typer.Option(help="where logout tokens are POSTed (Back-Channel Logout)")
]
AuthMethod = Annotated[
    str | None, typer.Option(help="client_secret_basic | client_secret_post | private_key_jwt | none")
]
JwksUri = Annotated[str | None, typer.Option(help="the client's public keys, for private_key_jwt")]
Jwks = Annotated[
    str | None, typer.Option(help="the client's public JWK set, JSON or @file, for private_key_jwt")
]
SubjectType = Annotated[str | None, typer.Option(help="public | pairwise")]
SectorUri = Annotated[
    str | None, typer.Option(help="JSON list of the redirect URIs of the sector (pairwise)")
]
AcrValues = Annotated[
    list[str] | None,
    typer.Option("--default-acr-values", help="acr used when a request names none (repeatable)"),
]
MinimumAcr = Annotated[
    str | None, typer.Option(help="the lowest acr this client accepts, e.g. urn:vneid:loa:level2")
]
GrantTypes = Annotated[
    list[str] | None, typer.Option("--grant-type", help="refresh_token to allow refresh tokens (repeatable)")
]
TokenFormat = Annotated[
    str | None,
    typer.Option(
        help="opaque | jwt (RFC 9068, for resource servers that verify with the JWKS) | default "
        "(BROKER_ACCESS_TOKEN_FORMAT)"
    ),
]
Public = Annotated[
    bool, typer.Option("--public", help="a public client: no secret, PKCE only (auth method none)")
]


def _metadata(
    *,
    post_logout_redirect_uri: list[str] | None,
    backchannel_logout_uri: str | None,
    token_endpoint_auth_method: str | None,
    jwks_uri: str | None,
    jwks: str | None,
    subject_type: str | None,
    sector_identifier_uri: str | None,
    default_acr_values: list[str] | None,
    minimum_acr: str | None,
    grant_type: list[str] | None,
    public: bool,
    access_token_format: str | None = None,
) -> dict[str, Any]:
    """Only the options given: ``update`` changes just those."""
    if public:
        if token_endpoint_auth_method not in (None, "none"):
            raise typer.BadParameter("--public means --token-endpoint-auth-method none")
        token_endpoint_auth_method = "none"
    values: dict[str, Any] = {
        "post_logout_redirect_uris": post_logout_redirect_uri,
        "backchannel_logout_uri": backchannel_logout_uri,
        "token_endpoint_auth_method": token_endpoint_auth_method,
        "jwks_uri": jwks_uri,
        "jwks": _jwks_option(jwks),
        "subject_type": subject_type,
        "sector_identifier_uri": sector_identifier_uri,
        "default_acr_values": default_acr_values,
        "minimum_acr": minimum_acr,
        "grant_types": ["authorization_code", *[g for g in grant_type if g != "authorization_code"]]
        if grant_type
        else None,
        "access_token_format": access_token_format,
    }
    given = {name: value for name, value in values.items() if value is not None}
    if given.get("access_token_format") == "default":  # back to the broker's setting
        given["access_token_format"] = None
    return given


@clients_app.command("create")
def clients_create(
    name: Annotated[str, typer.Option(help="display name shown on the login page")],
    redirect_uri: RedirectUris = None,
    id_token_signed_response_alg: Annotated[str, typer.Option()] = "RS256",
    post_logout_redirect_uri: PostLogoutUris = None,
    backchannel_logout_uri: BackchannelUri = None,
    token_endpoint_auth_method: AuthMethod = None,
    jwks_uri: JwksUri = None,
    jwks: Jwks = None,
    subject_type: SubjectType = None,
    sector_identifier_uri: SectorUri = None,
    default_acr_values: AcrValues = None,
    minimum_acr: MinimumAcr = None,
    grant_type: GrantTypes = None,
    access_token_format: TokenFormat = None,
    public: Public = False,
) -> None:
    """Registers a relying party and prints its credentials once, as JSON (client_secret null when none)."""
    from broker.admin import clients

    options = _metadata(
        post_logout_redirect_uri=post_logout_redirect_uri,
        backchannel_logout_uri=backchannel_logout_uri,
        token_endpoint_auth_method=token_endpoint_auth_method,
        jwks_uri=jwks_uri,
        jwks=jwks,
        subject_type=subject_type,
        sector_identifier_uri=sector_identifier_uri,
        default_acr_values=default_acr_values,
        minimum_acr=minimum_acr,
        grant_type=grant_type,
        public=public,
        access_token_format=access_token_format,
    )

    async def create(registry: Any) -> tuple[clients.RegisteredClient, dict[str, Any]]:
        created = await clients.create(
            registry,
            name=name,
            redirect_uris=redirect_uri or [],
            id_token_alg=id_token_signed_response_alg,
            **options,
        )
        return created, clients.describe(await clients.show(registry, created.client_id))

    created, described = run_admin(create)
    typer.echo(json.dumps({**described, "client_secret": created.client_secret}, ensure_ascii=False))


@clients_app.command("list")
def clients_list() -> None:
    """Lists registered relying parties (never their secrets)."""
    from broker.admin import clients

    async def run(registry: Any) -> list[dict[str, Any]]:
        return [clients.describe(client) for client in await clients.list_clients(registry)]

    echo_json(run_admin(run))


@clients_app.command("show")
def clients_show(client_id: str) -> None:
    """Shows one relying party's registration (never its secret)."""
    from broker.admin import clients

    async def run(registry: Any) -> dict[str, Any]:
        return clients.describe(await clients.show(registry, client_id))

    echo_json(run_admin(run))


@clients_app.command("update")
def clients_update(
    client_id: str,
    name: Annotated[str | None, typer.Option()] = None,
    redirect_uri: RedirectUris = None,
    id_token_signed_response_alg: Annotated[str | None, typer.Option()] = None,
    post_logout_redirect_uri: PostLogoutUris = None,
    backchannel_logout_uri: BackchannelUri = None,
    token_endpoint_auth_method: AuthMethod = None,
    jwks_uri: JwksUri = None,
    jwks: Jwks = None,
    subject_type: SubjectType = None,
    sector_identifier_uri: SectorUri = None,
    default_acr_values: AcrValues = None,
    minimum_acr: MinimumAcr = None,
    grant_type: GrantTypes = None,
    access_token_format: TokenFormat = None,
    public: Public = False,
    rotate_secret: Annotated[
        bool, typer.Option("--rotate-secret", help="issue a new secret, printed once")
    ] = False,
) -> None:
    """Changes the given settings only; a new secret (rotation, or a switch to a secret method) is printed once."""
    from broker.admin import clients

    changes = _metadata(
        post_logout_redirect_uri=post_logout_redirect_uri,
        backchannel_logout_uri=backchannel_logout_uri,
        token_endpoint_auth_method=token_endpoint_auth_method,
        jwks_uri=jwks_uri,
        jwks=jwks,
        subject_type=subject_type,
        sector_identifier_uri=sector_identifier_uri,
        default_acr_values=default_acr_values,
        minimum_acr=minimum_acr,
        grant_type=grant_type,
        public=public,
        access_token_format=access_token_format,
    )
    if name is not None:
        changes["name"] = name
    if redirect_uri:
        changes["redirect_uris"] = redirect_uri
    if id_token_signed_response_alg is not None:
        changes["id_token_signed_response_alg"] = id_token_signed_response_alg

    async def run(registry: Any) -> dict[str, Any]:
        client, secret = await clients.update(registry, client_id, rotate_secret=rotate_secret, **changes)
        described = clients.describe(client)
        if secret is not None:
            described["client_secret"] = secret
        return described

    echo_json(run_admin(run))


@clients_app.command("delete")
def clients_delete(client_id: str) -> None:
    """Disables a relying party (soft delete): logins and tokens for it stop at once; the id is kept."""
    from broker.admin import clients

    async def run(registry: Any) -> None:
        await clients.delete(registry, client_id)

    run_admin(run)
    typer.echo(json.dumps({"client_id": client_id, "disabled": True}))


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Adds a new signing key per algorithm, signing after BROKER_KEY_PUBLISH_AHEAD_SECONDS; the keys it replaces stop signing then and stay published until their last token expires.

    Running brokers publish it: on PostgreSQL every process (replica or worker) is told by NOTIFY when the rotation commits and publishes the new key from its next request (tests/flows/test_replicas.py); on SQLite each re-reads its keys every BROKER_KEY_RELOAD_SECONDS (60 by default), so the key can take that long to appear in /jwks.
    """
    from broker.login.keys import KeyTiming, rotate

    settings = Settings()

    async def run(registry: Any) -> list[dict[str, Any]]:
        timing = KeyTiming.from_settings(settings)
        added = await rotate(registry.db, registry.clock, timing)
        return [
            {
                "kid": key.kid,
                "alg": key.alg,
                "signs_from": (key.created_at + timing.publish_ahead).isoformat(),
            }
            for key in added
        ]

    echo_json(run_admin(run))


@keys_app.command("list")
def keys_list() -> None:
    """Lists the signing keys (never the private halves) and where each stands now."""
    from broker.login.keys import KeyTiming, list_keys, status_of

    settings = Settings()

    async def run(registry: Any) -> list[dict[str, Any]]:
        keys = await list_keys(registry.db)
        statuses = status_of(keys, registry.clock(), KeyTiming.from_settings(settings))
        return [
            {
                "kid": key.kid,
                "alg": key.alg,
                "created_at": key.created_at.isoformat(),
                "retired_at": key.retired_at.isoformat() if key.retired_at else None,
                "status": statuses[key.kid],
            }
            for key in keys
        ]

    echo_json(run_admin(run))
