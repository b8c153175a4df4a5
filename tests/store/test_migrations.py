"""Migrations: the same revisions on SQLite and PostgreSQL, in step with the tables (an empty autogenerate
diff), and carrying data through every revision up and down, after ORY Hydra's migratest
(persistence/sql/migratest): each revision may bring fixture rows, written in the schema of that revision
right after it is applied; after every later step, up or down to a revision that still has them, every
fixture row must still read back as written.

A revision adds its data by adding an entry to FIXTURES under its revision id (nothing else to change).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlmodel import SQLModel

import broker.store.tables  # noqa: F401
from broker.cli import _alembic_config, upgrade_database
from broker.domain import audit_chain
from broker.settings import Settings
from broker.store import audit
from broker.store.database import Database

NOW = datetime(2024, 6, 1, 8, 30, 15, 123456)  # naive UTC, as the store writes instants


@dataclass(frozen=True)
class Fixture:
    """Rows written right after ``revision`` is applied, and the query that must read them back."""

    write: Callable[[AsyncConnection], Awaitable[None]]
    check: str
    expected: object


def _sql(statement: str, **params: object) -> Callable[[AsyncConnection], Awaitable[None]]:
    async def write(connection: AsyncConnection) -> None:
        await connection.execute(text(statement), params)

    return write


async def _chained_audit_row(connection: AsyncConnection) -> None:
    """An audit record as the application writes it since 0005: chained to the head."""
    head = (
        await connection.execute(text("SELECT chain_hash FROM audit_log ORDER BY id DESC LIMIT 1"))
    ).scalar()
    previous = head or audit_chain.GENESIS
    details = {"retired_sub": "s-legacy"}
    content = audit_chain.canonical(
        at=NOW, actor="citizen:s-1", action="account.merge", outcome="done", reason="citizen_choice",
        sub="s-1", details=details,
    )  # fmt: skip
    await connection.execute(
        text(
            "INSERT INTO audit_log (at, actor, action, outcome, reason, sub, details, prev_hash, chain_hash) "
            "VALUES (:at, 'citizen:s-1', 'account.merge', 'done', 'citizen_choice', 's-1', :details, "
            ":prev, :hash)"
        ),
        {
            "at": NOW,
            "details": json.dumps(details),
            "prev": previous,
            "hash": audit_chain.link(previous, content),
        },
    )


FIXTURES: dict[str, list[Fixture]] = {
    "0001": [
        Fixture(
            _sql(
                "INSERT INTO accounts (sub, account_type, status, name, created_at, updated_at) "
                "VALUES ('s-1', 'citizen', 'active', 'Nguyễn Văn An', :now, :now)",
                now=NOW,
            ),
            "SELECT name FROM accounts WHERE sub = 's-1'",
            "Nguyễn Văn An",
        ),
        Fixture(
            _sql(
                "INSERT INTO upstream_links (account_id, issuer, subject, level, created_at, last_login_at) "
                "SELECT id, 'https://vneid.example', 'vneid-sub-1', 2, :now, :now FROM accounts WHERE sub = 's-1'",
                now=NOW,
            ),
            "SELECT level FROM upstream_links WHERE subject = 'vneid-sub-1'",
            2,
        ),
    ],
    "0002": [
        Fixture(
            _sql(
                "INSERT INTO legacy_accounts (account_id, source_system, legacy_id, username, username_key, "
                "account_type, cmnd, password_hash, hash_scheme, imported_at, updated_at) "
                "SELECT id, 'dvc-tinh', 'c-1', '012345678', '012345678', 'citizen', '012345678', "
                "'0123456789abcdef0123456789abcdef', 'md5', :now, :now FROM accounts WHERE sub = 's-1'",
                now=NOW,
            ),
            "SELECT hash_scheme FROM legacy_accounts WHERE legacy_id = 'c-1'",
            "md5",
        ),
        # Written before the chain existed: 0005 seals it, and the application's verify accepts the seal.
        Fixture(
            _sql(
                "INSERT INTO audit_log (at, actor, action, outcome, reason, sub, details) "
                "VALUES (:now, 'citizen:s-1', 'account.link', 'done', 'number_match', 's-1', :details)",
                now=NOW,
                details=json.dumps({"identification_number": "0010******45", "flagged_for_review": False}),
            ),
            "SELECT reason FROM audit_log WHERE action = 'account.link'",
            "number_match",
        ),
    ],
    "0003": [
        Fixture(
            _sql(
                "INSERT INTO sso_sessions (sid, cookie_hash, account_id, auth_time, acr, amr, created_at, "
                "expires_at) SELECT 'sid-1', 'cookie-hash-1', id, :now, 'urn:vneid:loa:level2', '[\"pwd\"]', "
                ":now, :now FROM accounts WHERE sub = 's-1'",
                now=NOW,
            ),
            "SELECT acr FROM sso_sessions WHERE sid = 'sid-1'",
            "urn:vneid:loa:level2",
        ),
    ],
    "0005": [
        Fixture(
            _chained_audit_row,
            "SELECT count(*) FROM audit_log WHERE chain_hash IS NOT NULL",
            2,
        ),
    ],
}


def _revisions(settings: Settings) -> list[str]:
    script = ScriptDirectory.from_config(_alembic_config(settings))
    return [revision.revision for revision in reversed(list(script.walk_revisions("base", "heads")))]


async def _diff(url: str) -> list[object]:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), SQLModel.metadata)
        )
    await engine.dispose()
    return list(diff)


async def _write(url: str, fixtures: list[Fixture]) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        for fixture in fixtures:
            await fixture.write(connection)
    await engine.dispose()


async def _read_back(url: str, revisions: list[str]) -> dict[str, list[object]]:
    engine = create_async_engine(url)
    found: dict[str, list[object]] = {}
    async with engine.connect() as connection:
        for revision in revisions:
            found[revision] = [
                (await connection.execute(text(fixture.check))).scalar()
                for fixture in FIXTURES.get(revision, [])
            ]
    await engine.dispose()
    return found


def _expected(revisions: list[str]) -> dict[str, list[object]]:
    return {revision: [fixture.expected for fixture in FIXTURES.get(revision, [])] for revision in revisions}


def test_fixtures_name_real_revisions() -> None:
    assert set(FIXTURES) <= set(_revisions(Settings(database_url="sqlite+aiosqlite:///unused.db")))


async def test_data_survives_every_revision_up_and_down(empty_database_url: str) -> None:
    settings = Settings(database_url=empty_database_url)
    config = _alembic_config(settings)
    revisions = _revisions(settings)

    for index, revision in enumerate(revisions):
        await asyncio.to_thread(command.upgrade, config, revision)
        await _write(empty_database_url, FIXTURES.get(revision, []))
        applied = revisions[: index + 1]
        assert await _read_back(empty_database_url, applied) == _expected(applied), f"up to {revision}"

    # At the head: the whole audit trail (sealed by 0005, then appended to) verifies.
    database = Database(empty_database_url)
    try:
        async with database.read() as session:
            verification = await audit.verify(session)
    finally:
        await database.dispose()
    assert verification.first_break is None
    assert verification.checked == 2

    for index in range(len(revisions) - 1, 0, -1):
        await asyncio.to_thread(command.downgrade, config, revisions[index - 1])
        remaining = revisions[:index]
        assert await _read_back(empty_database_url, remaining) == _expected(remaining), (
            f"down to {revisions[index - 1]}"
        )


async def test_migrations_match_the_tables(empty_database_url: str) -> None:
    settings = Settings(database_url=empty_database_url)
    await asyncio.to_thread(upgrade_database, settings)
    assert await _diff(empty_database_url) == []
    await asyncio.to_thread(upgrade_database, settings)  # idempotent
    assert await _diff(empty_database_url) == []


async def test_migrations_go_down_and_up_again(empty_database_url: str) -> None:
    settings = Settings(database_url=empty_database_url)
    await asyncio.to_thread(upgrade_database, settings)
    await asyncio.to_thread(command.downgrade, _alembic_config(settings), "base")
    await asyncio.to_thread(upgrade_database, settings)
    assert await _diff(empty_database_url) == []


async def test_clients_registered_before_0019_keep_jwt_access_tokens(empty_database_url: str) -> None:
    """The broker's default became opaque access tokens; a relying party registered before keeps the RFC
    9068 JWTs its resource servers may verify, and one registered after follows the setting (NULL)."""
    settings = Settings(database_url=empty_database_url)
    config = _alembic_config(settings)
    await asyncio.to_thread(command.upgrade, config, "0018")
    insert = (
        "INSERT INTO clients (client_id, name, redirect_uris, id_token_signed_response_alg, created_at) "
        "VALUES (:client_id, 'Hệ thống TTHC', '[\"https://rp.example/cb\"]', 'RS256', :now)"
    )
    await _write(empty_database_url, [Fixture(_sql(insert, client_id="rp-old", now=NOW), "", None)])
    await asyncio.to_thread(command.upgrade, config, "head")
    await _write(empty_database_url, [Fixture(_sql(insert, client_id="rp-new", now=NOW), "", None)])
    engine = create_async_engine(empty_database_url)
    async with engine.connect() as connection:
        formats = dict(
            (await connection.execute(text("SELECT client_id, access_token_format FROM clients"))).all()
        )
    await engine.dispose()
    assert formats == {"rp-old": "jwt", "rp-new": None}
