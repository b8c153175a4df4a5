"""Set-at-a-time writes and lookups for the legacy import: one statement per batch, never one per row.

The ORM's one-object-at-a-time path costs a round trip per row on SQLite (its RETURNING cannot be ordered
by an integer primary key without AUTOINCREMENT); these statements let 50,000-row files import in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store.tables import Account, LegacyAccount, UpstreamLink

# Bound parameters per statement stay well below SQLite's and asyncpg's limits (32,766).
_CHUNK = 500
# Every row names every column, None included: otherwise the ORM groups rows by which cells are empty and
# sends each run of like rows as its own statement.
_ALL_COLUMNS = {"render_nulls": True}


async def by_source_ids(
    session: AsyncSession, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], LegacyAccount]:
    """Legacy records by (source_system, legacy_id). Compared as pairs, so that PostgreSQL's cached generic
    plan probes the unique index for each pair rather than scanning all of one system's rows."""
    found: dict[tuple[str, str], LegacyAccount] = {}
    for start in range(0, len(keys), _CHUNK):
        pair = tuple_(col(LegacyAccount.source_system), col(LegacyAccount.legacy_id))
        statement = select(LegacyAccount).where(pair.in_(list(keys[start : start + _CHUNK])))
        for record in (await session.execute(statement)).scalars():
            found[(record.source_system, record.legacy_id)] = record
    return found


async def add_accounts(session: AsyncSession, values: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Inserts accounts given as column values; returns their ids by ``sub``."""
    ids: dict[str, int] = {}
    for start in range(0, len(values), _CHUNK):
        # Unordered RETURNING: rows come back in any order, matched by their unique sub.
        statement = (
            insert(Account).returning(col(Account.sub), col(Account.id)).execution_options(**_ALL_COLUMNS)
        )
        result = await session.execute(statement, list(values[start : start + _CHUNK]))
        ids.update({sub: account_id for sub, account_id in result.all() if account_id is not None})
    return ids


async def add_legacy_accounts(session: AsyncSession, values: Sequence[dict[str, Any]]) -> None:
    """Inserts legacy records given as column values (an executemany; their ids are not needed)."""
    for start in range(0, len(values), _CHUNK):
        statement = insert(LegacyAccount).execution_options(**_ALL_COLUMNS)
        await session.execute(statement, list(values[start : start + _CHUNK]))


async def linked_account_ids(session: AsyncSession, account_ids: Sequence[int]) -> set[int]:
    """Those of ``account_ids`` that carry an upstream (VNeID) link."""
    found: set[int] = set()
    unique = sorted(set(account_ids))
    for start in range(0, len(unique), _CHUNK):
        statement = select(UpstreamLink.account_id).where(
            col(UpstreamLink.account_id).in_(unique[start : start + _CHUNK])
        )
        found.update((await session.execute(statement.distinct())).scalars())
    return found


async def legacy_record_counts(session: AsyncSession, account_ids: Sequence[int]) -> dict[int, int]:
    """How many legacy records each account carries (several: a survivor of a merge)."""
    counts: dict[int, int] = {}
    unique = sorted(set(account_ids))
    for start in range(0, len(unique), _CHUNK):
        statement = (
            select(LegacyAccount.account_id, func.count())
            .where(col(LegacyAccount.account_id).in_(unique[start : start + _CHUNK]))
            .group_by(col(LegacyAccount.account_id))
        )
        counts.update({account_id: count for account_id, count in (await session.execute(statement)).all()})
    return counts
