"""Refresh tokens, stored by hash and rotated atomically (RFC 9700 §4.14.2)."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broker.store import core_rows, token_views
from broker.store.core_rows import ModelColumns
from broker.store.tables import RefreshToken
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
def _spend_with_account_statement() -> Any:
    return token_views.with_account(_spend_statement())


async def spend_with_account(
    session: AsyncSession, token_hash: str, client_id: str, at: datetime
) -> tuple[RefreshToken, AccountView | None] | None:
    """``spend`` and the token's account view (``token_views.account_view``): on PostgreSQL in one
    statement. None: nothing spent (ask ``get`` why); a view of None: the account no longer exists."""
    if session.get_bind().dialect.name != "postgresql":
        token = await spend(session, token_hash, client_id, at)
        return None if token is None else (token, await token_views.account_view(session, token.account_id))
    parameters = {"token_hash_": token_hash, "client_id_": client_id, "at_": at}
    statement = _spend_with_account_statement()
    return await token_views.claimed_with_account(session, statement, parameters, _columns())


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
