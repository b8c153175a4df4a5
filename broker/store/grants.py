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
from broker.store.database import Database
from broker.store.tables import AccessToken, AuthorizationCode, Client, RefreshToken
from broker.store.token_views import AccountView


async def add_code(session: AsyncSession, **values: Any) -> None:
    """The code of these columns (``AuthorizationCode``'s, written without building its object:
    ``core_rows.model_row``), the note that its client knows the account (the event feed's) and, for a
    code of an SSO session, the client's place in that session: one statement on PostgreSQL."""
    writes = code_writes(session.get_bind().dialect.name, **values)
    # Nothing reads the code in the transaction that issues it: deferred (issue 7, a login's round trip),
    # each statement built once, so that the one carrying them at commit runs by asyncpg itself.
    parameters = {name: value for _, values in writes for name, value in values.items()}
    await core_rows.defer(session, *(statement for statement, _ in writes), parameters=parameters)


def code_writes(dialect: str, **values: Any) -> list[core_rows.Write]:
    """``add_code``'s writes, for a statement that carries them (``Database.commit_writes``)."""
    code = core_rows.model_row(AuthorizationCode, **values)
    client_id, created_at, sid = code["client_id"], code["created_at"], code.get("sid")
    writes = [
        core_rows.insert_row(AuthorizationCode, code, "code_"),
        client_accounts.note_write(dialect, client_id, code["account_id"], created_at),
    ]
    if sid is not None:
        writes.append(sessions.participant_write(dialect, sid, client_id, created_at))
    return writes


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
def _code_with_account_statement() -> Any:
    code = select(*_code_columns().columns).where(col(AuthorizationCode.code_hash) == bindparam("code_hash_"))
    return token_views.with_account(code)


@functools.cache
def _client_and_code_statement() -> Any:
    return token_views.with_client(_code_with_account_statement())


async def client_and_code(
    db: Database, client_id: str, code_hash: str
) -> tuple[Client | None, tuple[AuthorizationCode, AccountView | None] | None]:
    """The enabled client ``client_id`` and the code (used or not, whoever's) with its account's view, in
    one round trip outside any transaction: the code exchange's reads before the client is authenticated
    and the tokens signed. Only ``redeem_code`` spends the code."""
    parameters = {"client_id_": client_id, "code_hash_": code_hash}
    return await token_views.read_with_client(db, _client_and_code_statement(), parameters, _code_columns())


# What a token endpoint writes of each token: every column but the ones set later (revocation, rotation).
_ACCESS_COLUMNS = (
    "jti", "grant_id", "client_id", "account_id", "scope", "created_at", "expires_at", "sid", "offline",
    "token_hash", "acr",
)  # fmt: skip
_REFRESH_COLUMNS = (
    "token_hash", "grant_id", "client_id", "account_id", "scope", "sid", "offline", "auth_time", "acr",
    "amr", "created_at", "expires_at",
)  # fmt: skip


def _insert_if_claimed(model: Any, names: tuple[str, ...], prefix: str, claimed: Any) -> Any:
    table = model.__table__
    values = select(*(bindparam(prefix + name, type_=table.c[name].type) for name in names))
    return insert(model).from_select(list(names), values.select_from(claimed))


def issue_if_claimed(claim: Any, with_refresh: bool) -> Any:
    """A claiming ``UPDATE … RETURNING`` (of a code or a refresh token) and the inserts of the tokens it
    pays for, as one statement that inserts only if the claim took its row: the spend and the issuance
    commit together or not at all, and of concurrent callers exactly one claims (PostgreSQL re-checks the
    UPDATE's condition on the row a concurrent winner committed). Returns one row when it issued. Build
    it once."""
    claimed = claim.cte("claimed")
    access = _insert_if_claimed(AccessToken, _ACCESS_COLUMNS, "a_", claimed)
    if not with_refresh:
        return access.returning(col(AccessToken.jti))
    refresh = _insert_if_claimed(RefreshToken, _REFRESH_COLUMNS, "r_", claimed)
    return refresh.add_cte(access.cte("issued_access")).returning(col(RefreshToken.token_hash))


# A token as the columns its INSERT writes (``broker.login.mint``'s rows): every name of _ACCESS_COLUMNS
# or _REFRESH_COLUMNS.
IssuedRow = dict[str, Any]


def issued_parameters(access: IssuedRow, refresh: IssuedRow | None) -> dict[str, Any]:
    parameters = {f"a_{name}": access[name] for name in _ACCESS_COLUMNS}
    if refresh is not None:
        parameters |= {f"r_{name}": refresh[name] for name in _REFRESH_COLUMNS}
    return parameters


@functools.cache
def _redeem_code_statement(with_refresh: bool) -> Any:
    return issue_if_claimed(_claim_code_statement(), with_refresh)


async def redeem_code(
    db: Database, code_hash: str, client_id: str, access: IssuedRow, refresh: IssuedRow | None
) -> bool:
    """Spends the client's unused code and writes the tokens it pays for, all or nothing; False when the
    code was spent (or is another client's) by the time this ran. On PostgreSQL one statement, no
    transaction around it (issue 7: 5 round trips per code exchange → 3 with the read before it)."""
    if db.is_postgresql:
        parameters = {"code_hash_": code_hash, "client_id_": client_id} | issued_parameters(access, refresh)
        return bool(await db.commit_one(_redeem_code_statement(refresh is not None), parameters))
    async with db.transaction() as session:
        if await claim_code(session, code_hash, client_id) is None:
            return False
        await add_tokens(session, access, refresh)
    return True


async def get_code(session: AsyncSession, code_hash: str) -> AuthorizationCode | None:
    return await session.get(AuthorizationCode, code_hash)


async def add_tokens(session: AsyncSession, access: IssuedRow, refresh: IssuedRow | None) -> None:
    """An access token and its refresh token, in the caller's transaction (SQLite's way: on PostgreSQL
    ``redeem_code`` and ``refresh_tokens.rotate`` write them in the statement that spends the grant)."""
    await core_rows.execute(session, insert(AccessToken).values(core_rows.model_row(AccessToken, **access)))
    if refresh is not None:
        await core_rows.execute(
            session, insert(RefreshToken).values(core_rows.model_row(RefreshToken, **refresh))
        )


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
