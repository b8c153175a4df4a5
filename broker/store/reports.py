"""Counts for the provinces' clean-up report (letter 3701/VPCP-KSTT, rule 5 of ../shared/DESIGN.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broker.store.tables import Account, UpstreamLink


@dataclass(frozen=True)
class UnitCounts:
    unit_code: str | None
    account_type: str
    accounts: int  # surviving accounts (merged ones are counted in ``merged``)
    linked: int  # cleaned: linked to a VNeID identity
    not_linked: int
    without_number: int  # no personal identification number at all (neither CCCD nor CMND)
    frozen: int
    needs_review: int
    merged: int


async def cleanup_counts(session: AsyncSession) -> list[UnitCounts]:
    linked = select(col(UpstreamLink.id)).where(col(UpstreamLink.account_id) == col(Account.id)).exists()
    surviving = col(Account.merged_into_id).is_(None)

    def count(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    statement = (
        select(
            col(Account.unit_code),
            col(Account.account_type),
            count(surviving),
            count(and_(surviving, linked)),
            count(and_(surviving, ~linked)),
            count(
                and_(
                    surviving,
                    col(Account.identification_number).is_(None),
                    col(Account.old_identification_number).is_(None),
                )
            ),
            count(and_(surviving, col(Account.status) == "frozen")),
            count(and_(surviving, col(Account.needs_review).is_(True))),
            count(~surviving),
        )
        .group_by(col(Account.unit_code), col(Account.account_type))
        .order_by(col(Account.unit_code), col(Account.account_type))
    )
    return [
        UnitCounts(*(row[0], row[1]), *(int(value or 0) for value in row[2:]))
        for row in await session.execute(statement)
    ]
