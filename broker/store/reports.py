"""Counts for the provinces' clean-up report (letter 3701/VPCP-KSTT, rule 5 of ../shared/DESIGN.md; issue 9).

One GROUP BY over ``accounts`` gives counts per unit as stored, account type, stored class and the few
flags a report needs; the caller rolls units up and labels them. Its size is bounded by units × classes,
never by accounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broker.store.tables import Account, CleanupSnapshot, UpstreamLink


@dataclass(frozen=True)
class Bucket:
    unit_code: str | None
    account_type: str
    cleanup_class: str | None
    linked: bool  # linked to VNeID at the reporting instant
    merged: bool
    frozen_by_sweep: bool
    needs_review: bool
    count: int


async def buckets(session: AsyncSession, as_of: datetime) -> list[Bucket]:
    linked = (
        select(col(UpstreamLink.id))
        .where(col(UpstreamLink.account_id) == col(Account.id), col(UpstreamLink.created_at) <= as_of)
        .exists()
    )
    merged = col(Account.merged_into_id).is_not(None)
    frozen = col(Account.status) == "frozen"
    statement = (
        select(
            col(Account.unit_code),
            col(Account.account_type),
            col(Account.cleanup_class),
            linked.label("linked"),
            merged.label("merged"),
            frozen.label("frozen"),
            col(Account.needs_review),
            func.count(),
        )
        .where(col(Account.created_at) <= as_of)
        .group_by(
            col(Account.unit_code),
            col(Account.account_type),
            col(Account.cleanup_class),
            linked,
            merged,
            frozen,
            col(Account.needs_review),
        )
    )
    if session.get_bind().dialect.name != "postgresql":
        return _buckets(await session.execute(statement))
    # EXPLAIN ANALYZE at 1,000,000 accounts: the planner expects ~158,000 groups (there are ~3,300), so
    # within the default 4 MB of work_mem it sorted all the rows on disk (external merge, 40 MB) before
    # grouping, and the high estimated cost had JIT compile the plan (0.6 s): 5.0 s in all. A hash of the
    # groups in memory (6.5 MB), without JIT: 1.2 s. Reads run without a transaction (autocommit), so the
    # settings are the session's, and put back before the connection returns to the pool.
    await session.execute(text("SET work_mem = '64MB'"))
    await session.execute(text("SET jit = off"))
    try:
        return _buckets(await session.execute(statement))
    finally:
        await session.execute(text("RESET work_mem"))
        await session.execute(text("RESET jit"))


def _buckets(result: Any) -> list[Bucket]:
    return [
        Bucket(unit, kind, cls, bool(is_linked), bool(is_merged), bool(is_frozen), bool(review), int(count))
        for unit, kind, cls, is_linked, is_merged, is_frozen, review, count in result
    ]


@dataclass(frozen=True)
class SnapshotRow:
    day: date
    unit_code: str
    account_type: str
    accounts: int
    linked: int
    not_cleaned: int
    frozen: int
    under_review: int
    merged: int


async def replace_snapshot(
    session: AsyncSession, day: date, rows: Sequence[SnapshotRow], at: datetime
) -> None:
    """The day's snapshot, replacing any taken earlier the same day: idempotent per day."""
    await session.execute(delete(CleanupSnapshot).where(col(CleanupSnapshot.day) == day))
    if rows:
        await session.execute(insert(CleanupSnapshot), [{**row.__dict__, "taken_at": at} for row in rows])


async def snapshots(session: AsyncSession, since: date | None = None) -> list[SnapshotRow]:
    statement = select(CleanupSnapshot).order_by(col(CleanupSnapshot.day))
    if since is not None:
        statement = statement.where(col(CleanupSnapshot.day) >= since)
    return [
        SnapshotRow(
            s.day,
            s.unit_code,
            s.account_type,
            s.accounts,
            s.linked,
            s.not_cleaned,
            s.frozen,
            s.under_review,
            s.merged,
        )
        for s in (await session.execute(statement)).scalars()
    ]
