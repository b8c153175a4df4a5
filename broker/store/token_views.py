"""What the token, userinfo and introspection endpoints need about a token's account, in one statement.

The account, whether it is linked to VNeID (the policy's "unlinked" state), its roles and, for an access
token, the token row and its client (enabled only): one round trip instead of four, whatever the number
of past sessions, codes or tokens the account has (every lookup is by primary or unique key).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, exists, literal, select, true
from sqlalchemy.orm import aliased
from sqlmodel import col

from broker.store import clients
from broker.store.core_rows import ModelColumns
from broker.store.database import Database
from broker.store.tables import AccessToken, Account, AccountRole, Client, UpstreamLink


@dataclass(frozen=True)
class AccountView:
    account: Account
    linked: bool
    roles: list[str]


@dataclass(frozen=True)
class TokenClient:
    """What a bearer token's answers need of its client: whose token it is and how its subjects read.
    Not the whole row: the client's JSON columns (redirect URIs, JWKS, …) were most of the row's decoding
    on every userinfo answer (issue 7)."""

    client_id: str
    subject_type: str
    sector_identifier: str | None


@dataclass(frozen=True)
class AccessTokenView:
    token: AccessToken
    holder: AccountView
    client: TokenClient | None  # None when the client was disabled (or deleted) since


def _linked() -> Any:
    return exists().where(col(UpstreamLink.account_id) == col(Account.id)).correlate(Account).label("linked")


def _roles(rows: list[Any], position: int) -> list[str]:
    return sorted({row[position] for row in rows if row[position] is not None})


@functools.cache
def _account_columns() -> ModelColumns:
    return ModelColumns(Account)


_TOKEN_CLIENT_COLUMNS = (col(Client.client_id), col(Client.subject_type), col(Client.sector_identifier))


@functools.cache
def _access_token_parts() -> tuple[ModelColumns, ModelColumns]:
    return ModelColumns(AccessToken), ModelColumns(Account)


def _token_view_columns() -> tuple[Any, ...]:
    token, account = _access_token_parts()
    return (*token.columns, *account.columns, *_TOKEN_CLIENT_COLUMNS, _linked(), col(AccountRole.role))


def _joined_token_view(statement: Any) -> Any:
    """``statement`` (with ``access_tokens`` in its FROM) joined to what a token's view reads: its account,
    its client while enabled, the account's roles (a row each)."""
    return (
        statement.outerjoin(Account, col(Account.id) == col(AccessToken.account_id))
        .outerjoin(
            Client,
            and_(col(Client.client_id) == col(AccessToken.client_id), col(Client.disabled_at).is_(None)),
        )
        .outerjoin(AccountRole, col(AccountRole.account_id) == col(Account.id))
    )


@functools.cache
def _access_token_statement() -> Any:
    # Core, not ORM entities: executed on a pooled connection with its compiled form cached, the rows
    # skip the session, its identity map and the ORM's loading (issue 7: most of userinfo's store cost).
    return _joined_token_view(select(*_token_view_columns()).select_from(AccessToken)).where(
        col(AccessToken.jti) == bindparam("jti")
    )


def with_account(claim: Any) -> Any:
    """A claiming ``UPDATE … RETURNING`` or a plain ``SELECT`` (of a code or refresh token, which carry
    ``account_id``) and the account view of what it returns, as one statement: PostgreSQL runs the UPDATE
    of a WITH exactly once (issue 7: one round trip less). Build it once."""
    claimed = claim.cte("claimed")
    return (
        select(*claimed.c, *_account_columns().columns, _linked(), col(AccountRole.role))
        .select_from(claimed)
        .outerjoin(Account, col(Account.id) == claimed.c.account_id)
        .outerjoin(AccountRole, col(AccountRole.account_id) == col(Account.id))
    )


async def read_with_account(
    db: Database, statement: Any, parameters: dict[str, Any], read: ModelColumns
) -> tuple[Any, AccountView | None] | None:
    """A ``with_account`` statement around a plain read, without a transaction (as ``Database.rows``):
    what the token endpoint checks before it signs."""
    return _with_account(await db.rows(statement, parameters), read)


def with_client(view: Any) -> Any:
    """A ``with_account`` read (of a code or refresh token) and the enabled client ``:client_id_`` as one
    statement: the token endpoint's two reads before it signs (issue 7: a round trip less). Either may be
    missing: both are outer-joined to one constant row. Build it once."""
    found = view.subquery("found")
    columns = select(*clients.columns().columns, *found.c)
    return _beside_enabled_client(columns, Client, "client_id_").outerjoin(found, true())


def _beside_enabled_client(columns: Any, client: Any, parameter: str) -> Any:
    """``columns`` selected from one constant row, outer-joined to the enabled client named by the
    ``parameter``: a read of a client and of something else by its own key, each of which may be missing."""
    one = select(literal(1).label("one")).subquery("one")
    enabled = and_(col(client.client_id) == bindparam(parameter), col(client.disabled_at).is_(None))
    return columns.select_from(one).outerjoin(client, enabled)


async def read_with_client(
    db: Database, statement: Any, parameters: dict[str, Any], read: ModelColumns
) -> tuple[Client | None, tuple[Any, AccountView | None] | None]:
    """A ``with_client`` statement, without a transaction: the client (None: unknown or disabled) and
    what ``read_with_account`` gives."""
    rows = await db.rows(statement, parameters)
    columns = clients.columns()
    first, n = rows[0], len(columns)
    found = _with_account([row[n:] for row in rows], read) if first[n] is not None else None
    return columns.instance_or_none(first[:n]), found


def _with_account(rows: list[Any], claimed: ModelColumns) -> tuple[Any, AccountView | None] | None:
    if not rows:
        return None
    first, n, columns = rows[0], len(claimed), _account_columns()
    m = n + len(columns)
    account = columns.instance_or_none(first[n:m])
    view = AccountView(account, bool(first[m]), _roles(rows, m + 1)) if account is not None else None
    return claimed.instance(first[:n]), view


async def access_token_view(db: Database, jti: str) -> AccessTokenView | None:
    rows = await db.rows(_access_token_statement(), {"jti": jti})
    return _access_token_view(rows, 0) if rows else None


def _access_token_view(rows: list[Any], start: int) -> AccessTokenView:
    token, account = _access_token_parts()
    first = rows[0]
    a = start + len(token)
    b = a + len(account)
    c = b + len(_TOKEN_CLIENT_COLUMNS)
    holder = AccountView(account.instance(first[a:b]), bool(first[c]), _roles(rows, c + 1))
    # No enabled client: the outer join's columns are NULL.
    client = TokenClient(*first[b:c]) if first[b] is not None else None
    return AccessTokenView(token.instance(first[start:a]), holder, client)


@dataclass(frozen=True)
class Caller:
    """What introspection needs of the client that calls it: how it authenticates, how its subjects read.
    Not the whole row: its other JSON columns were a tenth of an introspection answer (issue 7)."""

    client_id: str
    secret_hash: str | None
    token_endpoint_auth_method: str
    jwks: dict[str, Any] | None
    jwks_uri: str | None
    subject_type: str
    sector_identifier: str | None


_CALLER_FIELDS = tuple(Caller.__dataclass_fields__)


@functools.cache
def _caller_and_access_token_statement() -> Any:
    # Introspection's two reads as one (issue 7): the calling client (enabled) and the token's view,
    # each by its unique key, outer-joined to one constant row so that either may be missing.
    caller = aliased(Client, name="caller")
    columns = select(*(getattr(caller, name) for name in _CALLER_FIELDS), *_token_view_columns())
    return _joined_token_view(
        _beside_enabled_client(columns, caller, "client_id").outerjoin(
            AccessToken, col(AccessToken.jti) == bindparam("jti")
        )
    )


async def caller_and_access_token(
    db: Database, client_id: str, jti: str
) -> tuple[Caller | None, AccessTokenView | None]:
    """The enabled client ``client_id`` and the view of the access token ``jti``, in one round trip."""
    rows = await db.rows(_caller_and_access_token_statement(), {"client_id": client_id, "jti": jti})
    first, n = rows[0], len(_CALLER_FIELDS)
    caller = Caller(*first[:n]) if first[0] is not None else None
    return caller, _access_token_view(rows, n) if first[n] is not None else None
