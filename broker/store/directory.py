"""Look-ups for operators' use cases: accounts by their numbers, and who holds which role."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, or_, select

from broker.store.tables import Account, AccountRole


async def surviving_by_identification_number(session: AsyncSession, number: str) -> list[Account]:
    """Accounts carrying a personal identification number, without those retired by a merge."""
    statement = (
        select(Account)
        .where(col(Account.identification_number) == number, col(Account.merged_into_id).is_(None))
        .order_by(col(Account.id))
    )
    return list((await session.execute(statement)).scalars())


async def any_with(
    session: AsyncSession, *, identification_number: str | None = None, tax_code: str | None = None
) -> bool:
    """Whether an account (retired ones included: nothing is deleted) already carries either value."""
    conditions = []
    if identification_number is not None:
        conditions.append(col(Account.identification_number) == identification_number)
    if tax_code is not None:
        conditions.append(col(Account.tax_code) == tax_code)
    if not conditions:
        return False
    statement = select(Account.id).where(or_(*conditions)).limit(1)
    return (await session.execute(statement)).first() is not None


async def role_holders(session: AsyncSession, account_id: int | None = None) -> list[tuple[str, AccountRole]]:
    """(sub, role row) pairs, by sub then role; all holders, or one account's roles."""
    statement = (
        select(Account.sub, AccountRole)
        .join(Account, col(Account.id) == col(AccountRole.account_id))
        .order_by(col(Account.sub), col(AccountRole.role))
    )
    if account_id is not None:
        statement = statement.where(col(AccountRole.account_id) == account_id)
    return [(sub, role) for sub, role in (await session.execute(statement)).all()]
