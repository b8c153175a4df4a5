"""Authorization codes and the access tokens issued from them, tied together by ``grant_id``."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store import client_accounts, core_rows, sessions, token_views
from broker.store.core_rows import ModelColumns
from broker.store.tables import AccessToken, AuthorizationCode, RefreshToken
from broker.store.token_views import AccountView
from broker.store.types import row_of


async def add_code(session: AsyncSession, code: AuthorizationCode) -> None:
    """The code, the note that its client knows the account (the event feed's) and, for a code of an SSO
    session, the client's place in that session: one statement on PostgreSQL."""
    statements = [
        insert(AuthorizationCode).values(row_of(code)),
        client_accounts.note_statement(session, code.client_id, code.account_id, code.created_at),
    ]
    if code.sid is not None:
        statements.append(sessions.participant_statement(session, code.sid, code.client_id, code.created_at))
    # Nothing reads the code in the transaction that issues it: deferred (issue 7, a login's round trip).
    await core_rows.defer(session, *statements)


@functools.cache
def _code_columns() -> ModelColumns:
    return ModelColumns(AuthorizationCode)


@functools.cache
def _claim_code_statement() -> Any:
    return (
        update(AuthorizationCode)
        .where(
            col(AuthorizationCode.code_hash) == bindparam("code_hash_"),
            col(AuthorizationCode.client_id) == bindparam("client_id_"),
            col(AuthorizationCode.used).is_(False),
        )
        .values(used=True)
        .returning(*_code_columns().columns)
    )


async def claim_code(session: AsyncSession, code_hash: str, client_id: str) -> AuthorizationCode | None:
    """Marks the client's code used and returns it, in one statement; exactly one of any number of
    concurrent callers gets it. None: unknown, another client's, or already used (ask get_code which)."""
    parameters = {"code_hash_": code_hash, "client_id_": client_id}
    row = (await core_rows.execute(session, _claim_code_statement(), parameters)).first()
    return _code_columns().instance(row) if row is not None else None


@functools.cache
def _claim_code_with_account_statement() -> Any:
    return token_views.with_account(_claim_code_statement())


async def claim_code_with_account(
    session: AsyncSession, code_hash: str, client_id: str
) -> tuple[AuthorizationCode, AccountView | None] | None:
    """``claim_code`` and the code's account view (``token_views.account_view``): on PostgreSQL in one
    statement. None: nothing claimed (ask get_code why); a view of None: the account no longer exists."""
    if session.get_bind().dialect.name != "postgresql":
        code = await claim_code(session, code_hash, client_id)
        return None if code is None else (code, await token_views.account_view(session, code.account_id))
    parameters = {"code_hash_": code_hash, "client_id_": client_id}
    statement = _claim_code_with_account_statement()
    return await token_views.claimed_with_account(session, statement, parameters, _code_columns())


async def get_code(session: AsyncSession, code_hash: str) -> AuthorizationCode | None:
    return await session.get(AuthorizationCode, code_hash)


async def add_access_token(session: AsyncSession, token: AccessToken) -> None:
    await core_rows.execute(session, insert(AccessToken).values(row_of(token)))


async def add_tokens(session: AsyncSession, access: AccessToken, refresh: RefreshToken | None) -> None:
    """An access token and its refresh token: on PostgreSQL one statement (a data-modifying WITH), so
    a code exchange or a refresh writes both in one round trip (issue 7)."""
    if refresh is None:
        await add_access_token(session, access)
        return
    if session.get_bind().dialect.name == "postgresql":
        first = insert(AccessToken).values(row_of(access)).cte("access_token_row")
        await core_rows.execute(session, insert(RefreshToken).values(row_of(refresh)).add_cte(first))
        return
    await add_access_token(session, access)
    await core_rows.execute(session, insert(RefreshToken).values(row_of(refresh)))


async def get_access_token(session: AsyncSession, jti: str) -> AccessToken | None:
    return await session.get(AccessToken, jti)


async def revoke_grant(session: AsyncSession, grant_id: str, at: datetime) -> int:
    statement = (
        update(AccessToken)
        .where(col(AccessToken.grant_id) == grant_id, col(AccessToken.revoked_at).is_(None))
        .values(revoked_at=at)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(statement)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def list_grant_tokens(session: AsyncSession, grant_id: str) -> list[AccessToken]:
    statement = select(AccessToken).where(col(AccessToken.grant_id) == grant_id)
    return list((await session.execute(statement)).scalars())


async def revoke_access_token(session: AsyncSession, jti: str, at: datetime) -> bool:
    statement = (
        update(AccessToken)
        .where(col(AccessToken.jti) == jti, col(AccessToken.revoked_at).is_(None))
        .values(revoked_at=at)
        .execution_options(synchronize_session=False)
    )
    return int((await session.execute(statement)).rowcount) == 1  # type: ignore[attr-defined]


async def revoke_session_access_tokens(session: AsyncSession, sid: str, at: datetime) -> int:
    """Access tokens of a session that ended, except those of offline_access grants."""
    statement = (
        update(AccessToken)
        .where(
            col(AccessToken.sid) == sid,
            col(AccessToken.offline).is_(False),
            col(AccessToken.revoked_at).is_(None),
        )
        .values(revoked_at=at)
        .execution_options(synchronize_session=False)
    )
    return int((await session.execute(statement)).rowcount)  # type: ignore[attr-defined]
