"""The append-only audit trail (the database refuses UPDATE and DELETE on it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store.tables import AuditEntry


async def append(
    session: AsyncSession,
    *,
    at: datetime,
    actor: str,
    action: str,
    outcome: str,
    reason: str | None = None,
    sub: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            at=at, actor=actor, action=action, outcome=outcome, reason=reason, sub=sub, details=details or {}
        )
    )
    await session.flush()


async def entries(session: AsyncSession, action: str | None = None, limit: int = 1000) -> list[AuditEntry]:
    statement = select(AuditEntry).order_by(col(AuditEntry.id)).limit(limit)
    if action:
        statement = statement.where(col(AuditEntry.action) == action)
    return list((await session.execute(statement)).scalars())
