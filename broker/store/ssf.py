"""Shared Signals streams and the queue of Security Event Tokens per stream.

Fan-out and push claim a stream row (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so replicas take disjoint
streams without waiting; SQLite: the write transaction serialises them). A SET row stays until pushed
(202), acknowledged or rejected by the receiver; its ``jti`` is fixed when queued, so a receiver that gets
it twice (a lost acknowledgement) deduplicates.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store.database import Database
from broker.store.tables import AccountEvent, SsfSet, SsfStream

# How a SET left the queue (the metric's label).
DELIVERED = "delivered"  # pushed, 202
ACKED = "acknowledged"  # poll: the receiver acknowledged it
REJECTED = "rejected"  # the receiver answered with an error for it: never sent again

ENABLED, PAUSED, DISABLED = "enabled", "paused", "disabled"


async def add_stream(session: AsyncSession, stream: SsfStream) -> None:
    session.add(stream)
    await session.flush()


async def stream_of(session: AsyncSession, client_id: str) -> SsfStream | None:
    statement = select(SsfStream).where(col(SsfStream.client_id) == client_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def stream_for_update(session: AsyncSession, stream_id: str, *, skip_locked: bool) -> SsfStream | None:
    statement = (
        select(SsfStream)
        .where(col(SsfStream.stream_id) == stream_id)
        .with_for_update(skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def delete_stream(session: AsyncSession, stream_id: str) -> bool:
    await session.execute(delete(SsfSet).where(col(SsfSet.stream_id) == stream_id))
    result = await session.execute(delete(SsfStream).where(col(SsfStream.stream_id) == stream_id))
    return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]


async def drop_pending(session: AsyncSession, stream_id: str) -> None:
    """A disabled stream holds nothing (SSF §8.1.2)."""
    await session.execute(delete(SsfSet).where(col(SsfSet.stream_id) == stream_id))


async def streams_behind(session: AsyncSession, position: int) -> list[str]:
    statement = select(SsfStream.stream_id).where(col(SsfStream.cursor) < position)
    return [str(stream_id) for stream_id in (await session.execute(statement)).scalars()]


async def claim_verification(
    session: AsyncSession, stream_id: str, now: datetime, not_after: datetime
) -> bool:
    """One conditional UPDATE: of concurrent verification requests inside the interval, one wins."""
    statement = (
        update(SsfStream)
        .where(
            col(SsfStream.stream_id) == stream_id,
            (col(SsfStream.last_verification_at).is_(None))
            | (col(SsfStream.last_verification_at) <= not_after),
        )
        .values(last_verification_at=now)
        .execution_options(synchronize_session=False)
    )
    return int((await session.execute(statement)).rowcount) == 1  # type: ignore[attr-defined]


async def enqueue(
    session: AsyncSession, stream_id: str, jti: str, claims: dict[str, Any], at: datetime
) -> None:
    session.add(SsfSet(stream_id=stream_id, jti=jti, claims=claims, created_at=at))
    await session.flush()


async def pending(session: AsyncSession, stream_id: str, limit: int) -> list[SsfSet]:
    statement = select(SsfSet).where(col(SsfSet.stream_id) == stream_id).order_by(col(SsfSet.id)).limit(limit)
    return list((await session.execute(statement)).scalars())


async def settle(session: AsyncSession, stream_id: str, jtis: Iterable[str]) -> int:
    """Removes SETs of this stream from the queue; unknown or already settled ``jti`` values are ignored
    (an acknowledgement repeated after a lost response is harmless). Returns how many were removed."""
    wanted = list(jtis)
    if not wanted:
        return 0
    statement = delete(SsfSet).where(col(SsfSet.stream_id) == stream_id, col(SsfSet.jti).in_(wanted))
    return int((await session.execute(statement)).rowcount or 0)  # type: ignore[attr-defined]


@functools.cache
def _work_waiting_statement() -> Any:
    head = select(func.coalesce(func.max(AccountEvent.position), 0)).scalar_subquery()
    unsequenced = select(AccountEvent.id).where(col(AccountEvent.position).is_(None)).exists()
    behind = select(SsfStream.stream_id).where(col(SsfStream.cursor) < head).exists()
    return select(unsequenced, behind, _push_due(bindparam("method"), bindparam("now")).exists())


async def work_waiting(db: Database, method: str, now: datetime) -> bool:
    """Whether the worker has anything to do: events to sequence, a stream behind the outbox's head, a
    ``method`` stream due with SETs queued. One statement without a transaction, so an idle worker's
    poll costs one round trip, not the three transactions of looking at each (issue 7)."""
    rows = await db.rows(_work_waiting_statement(), {"method": method, "now": now})
    return any(rows[0])


def _push_due(method: Any, now: Any) -> Any:
    has_pending = select(SsfSet.id).where(col(SsfSet.stream_id) == col(SsfStream.stream_id)).exists()
    return select(SsfStream.stream_id).where(
        col(SsfStream.delivery_method) == method,
        col(SsfStream.status) == ENABLED,
        col(SsfStream.push_due_at) <= now,
        has_pending,
    )


async def push_due(session: AsyncSession, method: str, now: datetime) -> bool:
    """A read before the claim's write transaction: an idle worker never takes the write lock."""
    return (await session.execute(_push_due(method, now).limit(1))).first() is not None


async def stream_cursor(session: AsyncSession, stream_id: str) -> int | None:
    statement = select(SsfStream.cursor).where(col(SsfStream.stream_id) == stream_id)
    value = (await session.execute(statement)).scalar_one_or_none()
    return None if value is None else int(value)


async def claim_push_streams(
    session: AsyncSession, method: str, now: datetime, lease_until: datetime, limit: int
) -> list[SsfStream]:
    """Enabled push streams that are due and have something pending; their lease moves ahead."""
    has_pending = select(SsfSet.id).where(col(SsfSet.stream_id) == col(SsfStream.stream_id)).exists()
    statement = (
        select(SsfStream)
        .where(
            col(SsfStream.delivery_method) == method,
            col(SsfStream.status) == ENABLED,
            col(SsfStream.push_due_at) <= now,
            has_pending,
        )
        .order_by(col(SsfStream.push_due_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    streams = list((await session.execute(statement)).scalars())
    for stream in streams:
        stream.push_due_at = lease_until
    await session.flush()
    return streams


async def push_outcome(
    session: AsyncSession, stream_id: str, *, due_at: datetime, failures: int, error: str | None
) -> None:
    await session.execute(
        update(SsfStream)
        .where(col(SsfStream.stream_id) == stream_id)
        .values(push_due_at=due_at, push_failures=failures, last_push_error=error[:100] if error else None)
        .execution_options(synchronize_session=False)
    )
