"""Migrations: the same revisions on SQLite and PostgreSQL, up and down with data, and in step with the
tables (an empty autogenerate diff), after ORY Hydra's migratest."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import broker.store.tables  # noqa: F401
from broker.cli import _alembic_config, upgrade_database
from broker.settings import Settings


async def _diff(url: str) -> list[object]:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), SQLModel.metadata)
        )
    await engine.dispose()
    return list(diff)


async def _scalar(url: str, sql: str) -> object:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        value = (await connection.execute(text(sql))).scalar()
    await engine.dispose()
    return value


async def _insert_account(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO accounts (sub, account_type, status, name, created_at, updated_at) "
                "VALUES ('s-1', 'citizen', 'active', 'Nguyễn Văn An', :now, :now)"
            ),
            {"now": datetime(2024, 6, 1, tzinfo=UTC).replace(tzinfo=None)},
        )
    await engine.dispose()


async def test_migrations_match_the_tables_and_keep_data(empty_database_url: str) -> None:
    settings = Settings(database_url=empty_database_url)
    await asyncio.to_thread(upgrade_database, settings)
    assert await _diff(empty_database_url) == []

    await _insert_account(empty_database_url)
    await asyncio.to_thread(upgrade_database, settings)  # idempotent
    assert await _scalar(empty_database_url, "SELECT name FROM accounts WHERE sub = 's-1'") == "Nguyễn Văn An"


async def test_migrations_go_down_and_up_again(empty_database_url: str) -> None:
    settings = Settings(database_url=empty_database_url)
    await asyncio.to_thread(upgrade_database, settings)
    await asyncio.to_thread(command.downgrade, _alembic_config(settings), "base")
    await asyncio.to_thread(upgrade_database, settings)
    assert await _diff(empty_database_url) == []
