"""The ``broker`` command: serve, migrate, register clients, import legacy accounts."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

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


@clients_app.command("create")
def clients_create(
    name: Annotated[str, typer.Option(help="display name shown on the login page")],
    redirect_uri: Annotated[list[str], typer.Option(help="registered redirect URI (repeatable)")],
    id_token_signed_response_alg: Annotated[str, typer.Option()] = "RS256",
) -> None:
    """Registers a relying party and prints its credentials once, as JSON."""
    from broker.admin import clients

    async def run() -> clients.RegisteredClient:
        async with _registry() as registry:
            return await clients.create(
                registry, name=name, redirect_uris=redirect_uri, id_token_alg=id_token_signed_response_alg
            )

    try:
        created = asyncio.run(run())
    except clients.ClientRegistrationError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    typer.echo(
        json.dumps(
            {
                "client_id": created.client_id,
                "client_secret": created.client_secret,
                "client_name": created.name,
                "redirect_uris": created.redirect_uris,
            },
            ensure_ascii=False,
        )
    )


@clients_app.command("list")
def clients_list() -> None:
    """Lists registered relying parties (never their secrets)."""
    from broker.admin import clients

    async def run() -> list[dict[str, object]]:
        async with _registry() as registry:
            return [
                {"client_id": c.client_id, "client_name": c.name, "redirect_uris": c.redirect_uris}
                for c in await clients.list_clients(registry)
            ]

    typer.echo(json.dumps(asyncio.run(run()), ensure_ascii=False, indent=2))


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
        await self._registry.vneid.aclose()
        await self._registry.db.dispose()


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


def main() -> None:
    from broker.errors import StoreUnavailable

    try:
        app()
    except StoreUnavailable as error:
        typer.echo(
            f"error: the database is unavailable or not migrated ({error}); run `broker db upgrade`", err=True
        )
        raise SystemExit(1) from None
