"""Refresh tokens, stored by hash and rotated atomically (RFC 9700 §4.14.2)."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broker.store import core_rows, grants, token_views
from broker.store.core_rows import ModelColumns
from broker.store.database import Database
from broker.store.tables import Client, RefreshToken
from broker.store.token_views import AccountView
from broker.store.types import row_of


async def add(session: AsyncSession, token: RefreshToken) -> None:
    await core_rows.execute(session, insert(RefreshToken).values(row_of(token)))


async def get(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    return await session.get(RefreshToken, token_hash)


@functools.cache
def _columns() -> ModelColumns:
    return ModelColumns(RefreshToken)


@functools.cache
def _spend_statement() -> Any:
    return (
        update(RefreshToken)
        .where(
            col(RefreshToken.token_hash) == bindparam("token_hash_"),
            col(RefreshToken.client_id) == bindparam("client_id_"),
            col(RefreshToken.rotated_at).is_(None),
            col(RefreshToken.revoked_at).is_(None),
            col(RefreshToken.expires_at) > bindparam("at_"),
        )
        .values(rotated_at=bindparam("at_"))
        .returning(*_columns().columns)
    )


async def spend(session: AsyncSession, token_hash: str, client_id: str, at: datetime) -> RefreshToken | None:
    """Spends the client's live refresh token and returns it, in one statement; of any number of concurrent
    callers exactly one gets it. None: unknown, another client's, spent, revoked or expired."""
    parameters = {"token_hash_": token_hash, "client_id_": client_id, "at_": at}
    row = (await core_rows.execute(session, _spend_statement(), parameters)).first()
    return _columns().instance(row) if row is not None else None


@functools.cache
def _with_account_statement() -> Any:
    token = select(*_columns().columns).where(col(RefreshToken.token_hash) == bindparam("token_hash_"))
    return token_views.with_account(token)


async def with_account(db: Database, token_hash: str) -> tuple[RefreshToken, AccountView | None] | None:
    """The token, live or not and whoever's, and its account's view, in one read outside any
    transaction: what a refresh checks before it signs, and what introspection answers from. Only
    ``rotate`` spends it."""
    return await token_views.read_with_account(
        db, _with_account_statement(), {"token_hash_": token_hash}, _columns()
    )


@functools.cache
def _client_and_token_statement() -> Any:
    return token_views.with_client(_with_account_statement())


async def client_and_token(
    db: Database, client_id: str, token_hash: str
) -> tuple[Client | None, tuple[RefreshToken, AccountView | None] | None]:
    """The enabled client ``client_id`` and what ``with_account`` reads, in one round trip: a refresh's
    reads before the client is authenticated and the tokens signed."""
    parameters = {"client_id_": client_id, "token_hash_": token_hash}
    return await token_views.read_with_client(db, _client_and_token_statement(), parameters, _columns())


@functools.cache
def _rotate_statement() -> Any:
    return grants.issue_if_claimed(_spend_statement(), with_refresh=True)


async def rotate(
    db: Database,
    token_hash: str,
    client_id: str,
    at: datetime,
    access: grants.IssuedRow,
    refresh: grants.IssuedRow,
) -> bool:
    """Spends the client's live refresh token and writes its successor and the access token, all or
    nothing; False when it was spent, revoked or expired by the time this ran. Of any number of
    concurrent callers exactly one rotates. On PostgreSQL one statement without a transaction."""
    if db.is_postgresql:
        parameters = {"token_hash_": token_hash, "client_id_": client_id, "at_": at}
        parameters |= grants.issued_parameters(access, refresh)
        return bool(await db.commit_one(_rotate_statement(), parameters))
    async with db.transaction() as session:
        if await spend(session, token_hash, client_id, at) is None:
            return False
        await grants.add_tokens(session, access, refresh)
    return True


async def revoke_grant(session: AsyncSession, grant_id: str, at: datetime) -> int:
    statement = (
        update(RefreshToken)
        .where(col(RefreshToken.grant_id) == grant_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=at)
        .execution_options(synchronize_session=False)
    )
    return int((await session.execute(statement)).rowcount)  # type: ignore[attr-defined]


async def revoke_session(session: AsyncSession, sid: str, at: datetime) -> int:
    """Back-Channel Logout 1.0 §2.7: tokens without offline_access end with the session."""
    statement = (
        update(RefreshToken)
        .where(
            col(RefreshToken.sid) == sid,
            col(RefreshToken.offline).is_(False),
            col(RefreshToken.revoked_at).is_(None),
        )
        .values(revoked_at=at)
        .execution_options(synchronize_session=False)
    )
    return int((await session.execute(statement)).rowcount)  # type: ignore[attr-defined]
