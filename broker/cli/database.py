"""`broker db`: the schema, through Alembic migrations (the same revisions on SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from broker.settings import Settings

db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


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


def upgrade_and_seal(settings: Settings, revision: str = "head") -> int:
    """The deploy step: migrations under the advisory lock, then signing keys that an older version
    stored in clear are sealed (returns how many)."""
    import asyncio

    from broker.store.migration_lock import migration_lock

    async def run() -> int:
        async with migration_lock(settings.database_url):
            # Alembic's async environment runs its own event loop: in a thread of its own here.
            await asyncio.to_thread(upgrade_database, settings, revision)
            return await _seal_clear_keys(settings) if revision == "head" else 0

    return asyncio.run(run())


async def _seal_clear_keys(settings: Settings) -> int:
    from broker.store import keys
    from broker.wiring import build_registry, close_registry

    registry = build_registry(settings)
    try:
        async with registry.db.transaction() as session:
            return await keys.seal_clear(session)
    finally:
        await close_registry(registry)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Applies migrations up to REVISION (default: the newest), one run at a time (a PostgreSQL advisory
    lock), and seals signing keys stored in clear. Run once per deploy, before the new replicas start."""
    sealed = upgrade_and_seal(Settings(), revision)
    typer.echo(f"database at {revision}" + (f"; {sealed} signing keys sealed" if sealed else ""))


@db_app.command("revision")
def db_revision(message: str, rev_id: Annotated[str | None, typer.Option()] = None) -> None:
    """Writes a new migration from the difference between the tables and the database."""
    from alembic import command

    command.revision(_alembic_config(Settings()), message=message, autogenerate=True, rev_id=rev_id)


@db_app.command("downgrade")
def db_downgrade(revision: str) -> None:
    from alembic import command

    command.downgrade(_alembic_config(Settings()), revision)


@db_app.command("grants")
def db_grants(
    role: Annotated[str, typer.Option(help="the PostgreSQL role `broker serve` connects as")],
) -> None:
    """Prints the SQL the owner runs to let ROLE serve without owning the audit trail
    (docs/database-roles.md)."""
    from broker.store.db_roles import app_role_grants

    for statement in app_role_grants(role):
        typer.echo(f"{statement};")
