"""What the token, userinfo and introspection endpoints need about a token's account, in one statement.

The account, whether it is linked to VNeID (the policy's "unlinked" state), its roles and, for an access
token, the token row and its client (enabled only): one round trip instead of four, whatever the number
of past sessions, codes or tokens the account has (every lookup is by primary or unique key).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, exists, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from broker.store.database import Database
from broker.store.tables import AccessToken, Account, AccountRole, Client, UpstreamLink


@dataclass(frozen=True)
class AccountView:
    account: Account
    linked: bool
    roles: list[str]


@dataclass(frozen=True)
class AccessTokenView:
    token: AccessToken
    holder: AccountView
    client: Client | None  # None when the client was disabled (or deleted) since


def _linked() -> Any:
    return exists().where(col(UpstreamLink.account_id) == col(Account.id)).correlate(Account).label("linked")


def _roles(rows: list[Any], position: int) -> list[str]:
    return sorted({row[position] for row in rows if row[position] is not None})


# Built once: constructing a statement (the EXISTS above especially) costs more than executing it.
@functools.cache
def _account_statement() -> Any:
    return (
        select(Account, _linked(), col(AccountRole.role))
        .outerjoin(AccountRole, col(AccountRole.account_id) == col(Account.id))
        .where(col(Account.id) == bindparam("account_id"))
    )


class _Columns:
    """A model's columns in a Core statement, and its instance rebuilt from them without the ORM's session."""

    def __init__(self, model: type[SQLModel]) -> None:
        table: Any = model.__table__  # type: ignore[attr-defined]
        mapper = inspect(model)
        # The primary key first: a NULL there is how an outer join says "no row".
        self.columns = list(table.primary_key) + [c for c in table.columns if not c.primary_key]
        self.keys = [mapper.get_property_by_column(column).key for column in self.columns]
        self._new = mapper.class_manager.new_instance  # what the ORM's loader itself calls

    def instance(self, values: Any) -> Any:
        """The values' object, as the ORM would load it but outside any session (read-only use)."""
        instance = self._new()
        instance.__dict__.update(zip(self.keys, values, strict=True))
        return instance


@functools.cache
def _access_token_parts() -> tuple[_Columns, _Columns, _Columns]:
    return _Columns(AccessToken), _Columns(Account), _Columns(Client)


@functools.cache
def _access_token_statement() -> Any:
    # Core, not ORM entities: executed on a pooled connection with its compiled form cached, the rows
    # skip the session, its identity map and the ORM's loading (issue 7: most of userinfo's store cost).
    token, account, client = _access_token_parts()
    return (
        select(*token.columns, *account.columns, *client.columns, _linked(), col(AccountRole.role))
        .select_from(AccessToken)
        .join(Account, col(Account.id) == col(AccessToken.account_id))
        .outerjoin(
            Client,
            and_(col(Client.client_id) == col(AccessToken.client_id), col(Client.disabled_at).is_(None)),
        )
        .outerjoin(AccountRole, col(AccountRole.account_id) == col(Account.id))
        .where(col(AccessToken.jti) == bindparam("jti"))
    )


async def account_view(session: AsyncSession, account_id: int) -> AccountView | None:
    rows = list((await session.execute(_account_statement(), {"account_id": account_id})).all())
    if not rows:
        return None
    return AccountView(rows[0][0], bool(rows[0][1]), _roles(rows, 2))


async def access_token_view(db: Database, jti: str) -> AccessTokenView | None:
    rows = await db.rows(_access_token_statement(), {"jti": jti})
    if not rows:
        return None
    token, account, client = _access_token_parts()
    first = rows[0]
    a, b = len(token.columns), len(token.columns) + len(account.columns)
    c = b + len(client.columns)
    holder = AccountView(account.instance(first[a:b]), bool(first[c]), _roles(rows, c + 1))
    # The client's columns (its primary key first) are all NULL when the join found no enabled client.
    found_client = client.instance(first[b:c]) if first[b] is not None else None
    return AccessTokenView(token.instance(first[:a]), holder, found_client)
