"""Migration 0010 carries what existed before it: every (client, account) that had a token or a code is in
``client_accounts`` (so purging access tokens hides nothing from the feeds), and every old event keeps its
id as its position (so a relying party's cursor stays valid). Both databases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from broker.cli import upgrade_database
from broker.settings import Settings

AT = datetime(2024, 6, 1, tzinfo=UTC).replace(tzinfo=None)


async def _execute(url: str, *statements: str) -> list[tuple[object, ...]]:
    engine = create_async_engine(url)
    rows: list[tuple[object, ...]] = []
    async with engine.begin() as connection:
        for statement in statements:
            result = await connection.execute(text(statement), {"at": AT})
            if result.returns_rows:
                rows = [tuple(row) for row in result.all()]
    await engine.dispose()
    return rows


async def test_0010_fills_client_accounts_from_tokens_and_codes_and_keeps_event_cursors(
    empty_database_url: str,
) -> None:
    settings = Settings(database_url=empty_database_url)
    await asyncio.to_thread(upgrade_database, settings, "0009")
    await _execute(
        empty_database_url,
        "INSERT INTO accounts (id, sub, account_type, status, needs_review, created_at, updated_at) VALUES "
        "(1, 's-1', 'citizen', 'active', false, :at, :at), (2, 's-2', 'citizen', 'active', false, :at, :at)",
        "INSERT INTO access_tokens (jti, grant_id, client_id, account_id, scope, created_at, expires_at, offline) "
        "VALUES ('j-1', 'g-1', 'rp-a', 1, 'openid', :at, :at, false), "
        "('j-2', 'g-2', 'rp-a', 1, 'openid', :at, :at, false)",
        "INSERT INTO authorization_codes (code_hash, grant_id, client_id, redirect_uri, account_id, scope, "
        "code_challenge, auth_time, acr, amr, used, created_at, expires_at) VALUES "
        "('c-1', 'g-3', 'rp-b', 'https://rp-b.example.vn/cb', 2, 'openid', 'x', :at, 'a', '[]', false, :at, :at)",
        "INSERT INTO account_events (id, type, sub, data, created_at) VALUES "
        "(7, 'account.linked', 's-1', '{}', :at), (9, 'account.frozen', 's-2', '{}', :at)",
    )
    await asyncio.to_thread(upgrade_database, settings)
    assert sorted(
        await _execute(empty_database_url, "SELECT client_id, account_id FROM client_accounts")
    ) == [("rp-a", 1), ("rp-b", 2)]
    assert sorted(await _execute(empty_database_url, "SELECT id, position FROM account_events")) == [
        (7, 7),
        (9, 9),
    ]
