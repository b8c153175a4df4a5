"""Test databases: a migrated template per session, a fresh copy per test, on SQLite and PostgreSQL.

PostgreSQL tests use BROKER_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test); they
skip with the reason when it is unreachable, and fail instead when REQUIRE_POSTGRES=1 (as in CI).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from broker.cli import upgrade_database
from broker.settings import Settings

POSTGRES_URL = os.environ.get("BROKER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def async_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


class PostgresDatabases:
    """Creates a migrated template database once, then cheap copies of it per test."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.prefix = f"broker_test_{uuid.uuid4().hex[:8]}"
        self.template = f"{self.prefix}_template"
        self.created: list[str] = []

    async def _admin(self, sql: str) -> None:
        connection = await asyncpg.connect(self.admin_url, timeout=5)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    def reachable_or_skip(self) -> None:
        try:
            asyncio.run(self._admin("SELECT 1"))
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            reason = f"PostgreSQL unreachable at {self.admin_url}: {exc!r}"
            if os.environ.get("REQUIRE_POSTGRES") == "1":
                pytest.fail(reason)
            pytest.skip(reason)

    def make_template(self) -> None:
        asyncio.run(self._admin(f'CREATE DATABASE "{self.template}"'))
        self.created.append(self.template)
        upgrade_database(Settings(database_url=async_url(_with_database(self.admin_url, self.template))))

    def fresh(self, migrated: bool = True) -> str:
        name = f"{self.prefix}_{len(self.created)}"
        template = f' TEMPLATE "{self.template}"' if migrated else ""
        asyncio.run(self._admin(f'CREATE DATABASE "{name}"{template}'))
        self.created.append(name)
        return async_url(_with_database(self.admin_url, name))

    def drop(self, url: str) -> None:
        """Drops one test's database as soon as the test is done, so that the session's teardown (which
        counts against the last test's timeout) has little left to drop."""
        name = urlsplit(url).path.lstrip("/")
        if name in self.created:
            asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            self.created.remove(name)

    def drop_all(self) -> None:
        # A few at a time: one by one, the few hundred copies of a whole run took longer than the
        # session teardown's timeout on a busy machine (each DROP DATABASE costs ~0.5 s).
        gate = asyncio.Semaphore(8)

        async def drop(name: str) -> None:
            async with gate:
                await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        async def drop_every() -> None:
            copies = [name for name in self.created if name != self.template]
            await asyncio.gather(*(drop(name) for name in copies))
            await drop(self.template)  # last: the copies were made from it

        asyncio.run(drop_every())


class SqliteDatabases:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.template = directory / "template.db"
        self.count = 0

    def make_template(self) -> None:
        upgrade_database(Settings(database_url=f"sqlite+aiosqlite:///{self.template}"))

    def fresh(self, migrated: bool = True) -> str:
        self.count += 1
        target = self.directory / f"test_{self.count}.db"
        if migrated:
            shutil.copyfile(self.template, target)
        return f"sqlite+aiosqlite:///{target}"
