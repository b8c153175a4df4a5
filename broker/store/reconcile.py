"""Duplicate suspects across the whole database, found with set-based SQL (issue 9, Case 3 of the letters).

Two rules, each a GROUP BY over surviving citizen accounts, read a page at a time in key order:

- ``same_cccd``: two or more accounts carry one personal identification number;
- ``cmnd_and_cccd``: an account known only by its CMND and an account with a CCCD share a normalised name
  and a birth date.

Each group is filed once (``reconcile_groups`` keeps a digest of what its accounts share, never the number
in clear), and each page is its own short transaction, so a login never waits long on a lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, insert, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.domain.classification import NOT_CLEANED, Cleanup
from broker.domain.identity_numbers import mask
from broker.store.tables import Account, ReconcileGroup, ReviewItem

_MARKABLE = [c.value for c in NOT_CLEANED if c is not Cleanup.DUPLICATE_SUSPECT]
_SURVIVING_CITIZEN = "account_type = 'citizen' AND merged_into_id IS NULL AND status <> 'merged'"


@dataclass(frozen=True)
class Group:
    rule: str
    key: str  # digest of what the accounts share
    account_ids: list[int]
    details: dict[str, Any]


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


async def same_cccd_page(session: AsyncSession, after: str, limit: int) -> tuple[list[Group], str | None]:
    """Groups of accounts sharing a CCCD, for numbers after ``after``; and where the next page starts."""
    numbers = list(
        (
            await session.execute(
                text(
                    f"SELECT identification_number FROM accounts WHERE {_SURVIVING_CITIZEN}"
                    " AND identification_number IS NOT NULL AND identification_number > :after"
                    " GROUP BY identification_number HAVING COUNT(*) > 1"
                    " ORDER BY identification_number LIMIT :limit"
                ),
                {"after": after, "limit": limit},
            )
        ).scalars()
    )
    if not numbers:
        return [], None
    members: dict[str, list[int]] = {}
    statement = (
        select(Account.identification_number, Account.id)
        .where(col(Account.identification_number).in_(numbers), col(Account.merged_into_id).is_(None))
        .where(col(Account.account_type) == "citizen", col(Account.status) != "merged")
        .order_by(col(Account.identification_number), col(Account.id))
    )
    for number, account_id in (await session.execute(statement)).all():
        if number is not None and account_id is not None:
            members.setdefault(number, []).append(account_id)
    groups = [
        Group("same_cccd", _digest("same_cccd", number), ids, {"identification_number": mask(number)})
        for number, ids in members.items()
    ]
    return groups, numbers[-1]


async def cmnd_and_cccd_keys(session: AsyncSession) -> list[tuple[str, date]]:
    """Every (name key, birth date) that a CMND-only account shares with a CCCD account, in order. One
    statement for the whole run: paged by key (LIMIT after a key), each page re-read every CMND-only
    account and sorted them again (EXPLAIN at 100,000 accounts: 0.4 s a page; some 30 pages at a million)."""
    statement = text(
        "SELECT c.name_key, c.birthdate FROM accounts c WHERE c.account_type = 'citizen'"
        " AND c.merged_into_id IS NULL AND c.status <> 'merged' AND c.name_key IS NOT NULL"
        " AND c.birthdate IS NOT NULL AND c.identification_number IS NULL"
        " AND c.old_identification_number IS NOT NULL"
        " AND EXISTS (SELECT 1 FROM accounts k WHERE k.name_key = c.name_key"
        " AND k.birthdate = c.birthdate AND k.identification_number IS NOT NULL"
        " AND k.account_type = 'citizen' AND k.merged_into_id IS NULL AND k.status <> 'merged')"
        " GROUP BY c.name_key, c.birthdate ORDER BY c.name_key, c.birthdate"
    )
    return [
        (name, born if isinstance(born, date) else date.fromisoformat(str(born)))
        for name, born in (await session.execute(statement)).all()
    ]


async def cmnd_and_cccd_groups(session: AsyncSession, pairs: Sequence[tuple[str, date]]) -> list[Group]:
    """The groups of these keys: a CMND-only account and a CCCD account with one name key and birth date."""
    if not pairs:
        return []
    members: dict[tuple[str, date], list[int]] = {}
    statement_members = (
        select(col(Account.name_key), col(Account.birthdate), col(Account.id))
        .where(tuple_(col(Account.name_key), col(Account.birthdate)).in_(list(pairs)))
        .where(col(Account.account_type) == "citizen", col(Account.merged_into_id).is_(None))
        .where(col(Account.status) != "merged")
        .where(
            col(Account.identification_number).is_not(None)
            | col(Account.old_identification_number).is_not(None)
        )
        .order_by(col(Account.name_key), col(Account.birthdate), col(Account.id))
    )
    for name, born, account_id in (await session.execute(statement_members)).all():
        if name is not None and born is not None and account_id is not None:
            members.setdefault((name, born), []).append(account_id)
    return [
        Group("cmnd_and_cccd", _digest("cmnd_and_cccd", name, born.isoformat()), ids, {})
        for (name, born), ids in members.items()
    ]


async def file_groups(session: AsyncSession, groups: Sequence[Group], at: datetime) -> tuple[int, int]:
    """Files the groups not filed before: one review item each, and their unlinked accounts marked as
    duplicate suspects under review. Returns (groups filed, accounts marked)."""
    keys = [group.key for group in groups]
    known = set(
        (
            await session.execute(
                select(ReconcileGroup.group_key).where(col(ReconcileGroup.group_key).in_(keys))
            )
        ).scalars()
    )
    fresh = [group for group in groups if group.key not in known]
    if not fresh:
        return 0, 0
    # Core inserts, ids returned in order: the ORM's unit of work spent ~0.6 ms a group building and
    # flushing objects (profiled: 74,000 groups at a million accounts).
    items = [
        {
            "kind": "duplicate_suspect",
            "status": "open",
            "account_ids": group.account_ids,
            "details": {"rule": group.rule, **group.details},
            "created_at": at,
        }
        for group in fresh
    ]
    if session.get_bind().dialect.name == "postgresql":
        created = await session.execute(
            insert(ReviewItem).returning(col(ReviewItem.id), sort_by_parameter_order=True), items
        )
        item_ids = list(created.scalars())
    else:
        # SQLite cannot return ids in the order of the rows of one statement, so SQLAlchemy sent one INSERT
        # per group (1.4 of a 200,000-account reconcile's 6.3 s, statements timed one by one). This write
        # transaction holds the database's write lock (BEGIN IMMEDIATE): the ids after the largest are free.
        top = (await session.execute(select(func.max(col(ReviewItem.id))))).scalar_one_or_none() or 0
        item_ids = list(range(top + 1, top + 1 + len(items)))
        await session.execute(
            insert(ReviewItem),
            [{"id": item_id, **item} for item_id, item in zip(item_ids, items, strict=True)],
        )
    await session.execute(
        insert(ReconcileGroup),
        [
            {"group_key": group.key, "review_item_id": item_id, "created_at": at}
            for group, item_id in zip(fresh, item_ids, strict=True)
        ],
    )
    ids = sorted({account_id for group in fresh for account_id in group.account_ids})
    marked = 0
    for start in range(0, len(ids), 500):
        result = await session.execute(
            update(Account)
            .where(col(Account.id).in_(ids[start : start + 500]), col(Account.cleanup_class).in_(_MARKABLE))
            .values(cleanup_class=Cleanup.DUPLICATE_SUSPECT.value, needs_review=True)
            .execution_options(synchronize_session=False)
        )
        marked += int(getattr(result, "rowcount", 0) or 0)
    return len(fresh), marked
