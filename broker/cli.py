"""The ``broker`` command: serve, migrate, register clients."""

from __future__ import annotations

import asyncio
import json
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
app.add_typer(db_app, name="db")
app.add_typer(clients_app, name="clients")

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


class _registry:
    """A registry for one CLI command, without the HTTP app around it."""

    async def __aenter__(self):  # type: ignore[no-untyped-def]
        from broker.app import build_registry

        self._registry = build_registry(Settings())
        return self._registry

    async def __aexit__(self, *_: object) -> None:
        from broker.app import close_registry

        await close_registry(self._registry)


def main() -> None:
    from broker.errors import StoreUnavailable

    try:
        app()
    except StoreUnavailable as error:
        typer.echo(
            f"error: the database is unavailable or not migrated ({error}); run `broker db upgrade`", err=True
        )
        raise SystemExit(1) from None
