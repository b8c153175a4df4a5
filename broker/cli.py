"""The ``broker`` command: serve, migrate, register clients, import legacy accounts."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from broker.settings import Settings

# Locals are never shown in tracebacks: they can hold secrets and personal numbers.
app = typer.Typer(
    help="VNeID SSO broker", no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False
)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
clients_app = typer.Typer(help="Relying parties registered at the broker.", no_args_is_help=True)
legacy_app = typer.Typer(help="Accounts of the old provincial and ministry systems.", no_args_is_help=True)
app.add_typer(db_app, name="db")
keys_app = typer.Typer(help="The broker's signing keys.", no_args_is_help=True)
app.add_typer(clients_app, name="clients")
roles_app = typer.Typer(help="Staff roles: ops_admin, one_stop_officer, auditor.", no_args_is_help=True)
app.add_typer(roles_app, name="roles")
app.add_typer(legacy_app, name="legacy")
review_app = typer.Typer(
    help="The officers' review queue (doubtful duplicates, identity mismatches).", no_args_is_help=True
)
app.add_typer(review_app, name="review")
accounts_app = typer.Typer(help="Account maintenance.", no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")
report_app = typer.Typer(help="Reports for the province.", no_args_is_help=True)
app.add_typer(report_app, name="report")
maintenance_app = typer.Typer(help="Housekeeping for cron.", no_args_is_help=True)
app.add_typer(maintenance_app, name="maintenance")
app.add_typer(keys_app, name="keys")

T = TypeVar("T")

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def _alembic_config(settings: Settings):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    return config


def upgrade_database(settings: Settings, revision: str = "head") -> None:
    from alembic import command

    path = settings.sqlite_path()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(_alembic_config(settings), revision)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Applies migrations up to REVISION (default: the newest)."""
    upgrade_database(Settings(), revision)
    typer.echo(f"database at {revision}")


@db_app.command("revision")
def db_revision(message: str, rev_id: Annotated[str | None, typer.Option()] = None) -> None:
    """Writes a new migration from the difference between the tables and the database."""
    from alembic import command

    command.revision(_alembic_config(Settings()), message=message, autogenerate=True, rev_id=rev_id)


@db_app.command("downgrade")
def db_downgrade(revision: str) -> None:
    from alembic import command

    command.downgrade(_alembic_config(Settings()), revision)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default BROKER_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default BROKER_PORT")] = None,
) -> None:
    """Runs the broker with uvicorn."""
    import uvicorn

    from broker import logs
    from broker.app import create_app

    settings = Settings()
    logs.configure(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        proxy_headers=True,
        server_header=False,
    )


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


def _echo(document: object) -> None:
    typer.echo(json.dumps(document, ensure_ascii=False, indent=2))


def _run_admin(action: Callable[[Any], Awaitable[T]]) -> T:
    from broker.admin import clients

    async def run() -> T:
        async with _registry() as registry:
            return await action(registry)

    try:
        return asyncio.run(run())
    except clients.ClientRegistrationError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error


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
    }
    return {name: value for name, value in values.items() if value is not None}


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

    created, described = _run_admin(create)
    typer.echo(json.dumps({**described, "client_secret": created.client_secret}, ensure_ascii=False))


@clients_app.command("list")
def clients_list() -> None:
    """Lists registered relying parties (never their secrets)."""
    from broker.admin import clients

    async def run(registry: Any) -> list[dict[str, Any]]:
        return [clients.describe(client) for client in await clients.list_clients(registry)]

    _echo(_run_admin(run))


@clients_app.command("show")
def clients_show(client_id: str) -> None:
    """Shows one relying party's registration (never its secret)."""
    from broker.admin import clients

    async def run(registry: Any) -> dict[str, Any]:
        return clients.describe(await clients.show(registry, client_id))

    _echo(_run_admin(run))


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

    _echo(_run_admin(run))


@clients_app.command("delete")
def clients_delete(client_id: str) -> None:
    """Disables a relying party (soft delete): logins and tokens for it stop at once; the id is kept."""
    from broker.admin import clients

    async def run(registry: Any) -> None:
        await clients.delete(registry, client_id)

    _run_admin(run)
    typer.echo(json.dumps({"client_id": client_id, "disabled": True}))


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Adds a new signing key per algorithm: published now, signing after BROKER_KEY_PUBLISH_AHEAD_SECONDS;
    the keys it replaces stop signing then and stay published until their last token expires."""
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

    _echo(_run_admin(run))


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

    _echo(_run_admin(run))


@legacy_app.command("import")
def legacy_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV in the legacy contract")],
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="import the valid rows, skip (and list) the others")
    ] = False,
) -> None:
    """Imports legacy accounts; prints a JSON summary. Invalid rows: nothing written, exit status 2."""
    from broker.admin.legacy_import import ImportReport, import_legacy_csv
    from broker.errors import StoreConflict

    async def run() -> ImportReport:
        async with _registry() as registry:
            rows = _count_rows(file) if sys.stderr.isatty() else None
            if rows is None:
                return await import_legacy_csv(registry, file, skip_invalid=skip_invalid)
            with typer.progressbar(length=rows, label="importing", file=sys.stderr) as bar:
                return await import_legacy_csv(registry, file, skip_invalid=skip_invalid, progress=bar.update)

    try:
        report = asyncio.run(run())
    except StoreConflict as conflict:
        typer.echo("error: a concurrent change conflicted with the import; run it again", err=True)
        raise typer.Exit(1) from conflict
    prefix = "skipped" if report.written else "error"
    for row_error in report.errors:
        typer.echo(f"{prefix}: {row_error}", err=True)
    typer.echo(json.dumps(report.summary()))
    if not report.written:
        raise typer.Exit(2)


def _count_rows(file: Path) -> int | None:
    """Data rows, for the progress bar only: None when the file cannot even be counted."""
    import csv

    try:
        with file.open(encoding="utf-8-sig", newline="") as stream:
            return max(sum(1 for cells in csv.reader(stream) if cells) - 1, 0)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None


class _registry:
    """A registry for one CLI command, without the HTTP app around it."""

    async def __aenter__(self):  # type: ignore[no-untyped-def]
        from broker.app import build_registry

        self._registry = build_registry(Settings())
        return self._registry

    async def __aexit__(self, *_: object) -> None:
        from broker.app import close_registry

        await close_registry(self._registry)


RoleOption = Annotated[str, typer.Option(help="ops_admin, one_stop_officer or auditor")]
SubOption = Annotated[str | None, typer.Option(help="the account's sub")]
NumberOption = Annotated[
    str | None, typer.Option(help="or the account's 12-digit personal number (audited masked)")
]
ActorOption = Annotated[str | None, typer.Option(help="who acts, for the audit trail (default: cli:$USER)")]


@roles_app.command("grant")
def roles_grant(
    role: RoleOption,
    sub: SubOption = None,
    identification_number: NumberOption = None,
    actor: ActorOption = None,
) -> None:
    """Grants a role to a citizen account linked to VNeID; prints {sub, role, changed}."""
    _change_role("grant", role, sub, identification_number, actor)


@roles_app.command("revoke")
def roles_revoke(
    role: RoleOption,
    sub: SubOption = None,
    identification_number: NumberOption = None,
    actor: ActorOption = None,
) -> None:
    """Revokes a role; it stops working at once, even in unexpired access tokens."""
    _change_role("revoke", role, sub, identification_number, actor)


@roles_app.command("list")
def roles_list(sub: SubOption = None) -> None:
    """Lists role holders (or one account's roles) as JSON."""
    from broker.admin import roles

    async def run() -> list[dict[str, str]]:
        async with _registry() as registry:
            return [
                {
                    "sub": h.sub,
                    "role": h.role,
                    "granted_by": h.granted_by,
                    "granted_at": h.granted_at.isoformat(),
                }
                for h in await roles.holders(registry, sub)
            ]

    typer.echo(json.dumps(asyncio.run(run()), ensure_ascii=False, indent=2))


def _change_role(verb: str, role: str, sub: str | None, number: str | None, actor: str | None) -> None:
    from broker.admin import roles

    target = roles.Target(sub=sub, identification_number=number)
    change = roles.grant if verb == "grant" else roles.revoke

    async def run() -> roles.RoleChange:
        async with _registry() as registry:
            return await change(registry, actor=actor or _cli_actor(), role=role, target=target)

    try:
        done = asyncio.run(run())
    except roles.RoleError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    typer.echo(json.dumps({"sub": done.sub, "role": done.role, "changed": done.changed}))


def _cli_actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name in a bare container
        return "cli:unknown"


@review_app.command("list")
def review_list(
    status: Annotated[str, typer.Option(help="open, resolved or all")] = "open",
) -> None:
    """Lists review items as JSON (identification numbers masked)."""
    from broker.admin import reviews

    async def run() -> list[dict[str, object]]:
        async with _registry() as registry:
            items = await reviews.list_items(registry, None if status == "all" else status)
            return [
                {
                    "id": item.id,
                    "kind": item.kind,
                    "status": item.status,
                    "account_ids": item.account_ids,
                    "details": item.details,
                    "created_at": item.created_at.isoformat(),
                    "resolution": item.resolution,
                }
                for item in items
            ]

    typer.echo(json.dumps(asyncio.run(run()), ensure_ascii=False, indent=2))


@review_app.command("resolve")
def review_resolve(
    item: Annotated[int, typer.Argument(help="the review item's id")],
    officer: Annotated[str, typer.Option(help="the officer's sub, for the audit trail")],
    merge_into: Annotated[
        str | None, typer.Option(help="merge the item's other accounts into this sub")
    ] = None,
    not_same_person: Annotated[bool, typer.Option(help="the accounts belong to different people")] = False,
) -> None:
    """Resolves a review item: merge into a chosen account, or record that they are different people."""
    from broker.admin import reviews

    async def run() -> reviews.Resolution:
        async with _registry() as registry:
            return await reviews.resolve(
                registry, item, officer=officer, merge_into=merge_into, not_same_person=not_same_person
            )

    try:
        done = asyncio.run(run())
    except reviews.ReviewError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    typer.echo(json.dumps(done.__dict__, ensure_ascii=False))


@accounts_app.command("freeze")
def accounts_freeze() -> None:
    """Freezes unlinked legacy citizen accounts once BROKER_UNLINKED_LEGACY_FROZEN_FROM has passed (cron)."""
    from broker.admin import freeze

    async def run() -> int:
        async with _registry() as registry:
            return await freeze.freeze_unlinked(registry)

    typer.echo(json.dumps({"frozen": asyncio.run(run())}))


@report_app.command("cleanup")
def report_cleanup(
    csv_output: Annotated[bool, typer.Option("--csv", help="one line per unit and account type")] = False,
) -> None:
    """Accounts cleaned (linked to VNeID) and not yet cleaned, per administrative unit (rule 5 of the letters)."""
    from broker.admin import reports

    async def run() -> dict[str, object]:
        async with _registry() as registry:
            return await reports.cleanup(registry)

    report = asyncio.run(run())
    typer.echo(
        reports.as_csv(report) if csv_output else json.dumps(report, ensure_ascii=False, indent=2),
        nl=not csv_output,
    )


@maintenance_app.command("purge")
def maintenance_purge(
    older_than_hours: Annotated[int, typer.Option(min=1, help="keep what ended less than this ago")] = 24,
) -> None:
    """Removes expired login flows, codes, refresh tokens, ended sessions and settled deliveries."""
    from datetime import timedelta

    from broker.admin import purge

    async def run() -> dict[str, int]:
        async with _registry() as registry:
            return await purge.purge(registry, timedelta(hours=older_than_hours))

    typer.echo(json.dumps(asyncio.run(run())))


def main() -> None:
    from broker.errors import StoreUnavailable

    try:
        app()
    except StoreUnavailable as error:
        typer.echo(
            f"error: the database is unavailable or not migrated ({error}); run `broker db upgrade`", err=True
        )
        raise SystemExit(1) from None
