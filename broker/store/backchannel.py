"""Back-channel logout deliveries: a queue in a table, safe for several replicas.

A worker claims due rows and pushes their ``next_attempt_at`` one lease ahead in the same transaction; on
PostgreSQL the rows are selected ``FOR UPDATE SKIP LOCKED`` so replicas claim disjoint rows without waiting,
on SQLite the write transaction (BEGIN IMMEDIATE) serialises claims. A worker that dies mid-delivery
leaves the row to be claimed again when the lease runs out.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store.database import Database
from broker.store.tables import BackchannelDelivery

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


async def enqueue(session: AsyncSession, delivery: BackchannelDelivery) -> None:
    session.add(delivery)
    await session.flush()


@functools.cache
def _any_due_statement() -> Any:
    due = select(BackchannelDelivery.id).where(
        col(BackchannelDelivery.status) == PENDING,
        col(BackchannelDelivery.next_attempt_at) <= bindparam("now"),
    )
    return select(due.exists())


async def any_due(db: Database, now: datetime) -> bool:
    """A read before the claim's write transaction, one statement without a transaction: an idle
    worker's poll costs one round trip (issue 7)."""
    return bool((await db.rows(_any_due_statement(), {"now": now}))[0][0])


async def claim_due(
    session: AsyncSession, now: datetime, lease_until: datetime, limit: int
) -> list[BackchannelDelivery]:
    statement = (
        select(BackchannelDelivery)
        .where(col(BackchannelDelivery.status) == PENDING, col(BackchannelDelivery.next_attempt_at) <= now)
        .order_by(col(BackchannelDelivery.next_attempt_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list((await session.execute(statement)).scalars())
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = lease_until
    await session.flush()
    return rows


async def delivered(session: AsyncSession, delivery_id: int, at: datetime) -> None:
    await session.execute(
        update(BackchannelDelivery)
        .where(col(BackchannelDelivery.id) == delivery_id)
        .values(status=DELIVERED, delivered_at=at, last_error=None)
        .execution_options(synchronize_session=False)
    )


async def failed_attempt(
    session: AsyncSession, delivery_id: int, error: str, retry_at: datetime | None
) -> None:
    """Reschedules, or gives up for good when ``retry_at`` is None."""
    values: dict[str, object] = {"last_error": error[:100]}
    if retry_at is None:
        values["status"] = FAILED
    else:
        values["next_attempt_at"] = retry_at
    await session.execute(
        update(BackchannelDelivery)
        .where(col(BackchannelDelivery.id) == delivery_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def list_for_client(session: AsyncSession, client_id: str) -> list[BackchannelDelivery]:
    statement = (
        select(BackchannelDelivery)
        .where(col(BackchannelDelivery.client_id) == client_id)
        .order_by(col(BackchannelDelivery.id))
    )
    return list((await session.execute(statement)).scalars())
