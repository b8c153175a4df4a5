"""Login flows: every state change is one guarded, conditional UPDATE (see broker.domain.login_flow)."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broker.domain.login_flow import FlowState, sources_of
from broker.store import core_rows
from broker.store.core_rows import ModelColumns
from broker.store.database import Database
from broker.store.tables import LoginFlow
from broker.store.types import row_of


async def add(session: AsyncSession, flow: LoginFlow) -> None:
    await core_rows.execute(session, insert(LoginFlow).values(row_of(flow)))


async def get(session: AsyncSession, flow_id: str) -> LoginFlow | None:
    return await session.get(LoginFlow, flow_id)


@functools.cache
def _columns() -> ModelColumns:
    return ModelColumns(LoginFlow)


@functools.cache
def _by_id_statement() -> Any:
    return select(*_columns().columns).where(col(LoginFlow.id) == bindparam("flow_id"))


async def by_id(db: Database, flow_id: str) -> LoginFlow | None:
    """``get`` without a session: every step of a login loads its flow first (issue 7). Read-only."""
    rows = await db.rows(_by_id_statement(), {"flow_id": flow_id})
    return _columns().instance(rows[0]) if rows else None


async def move(session: AsyncSession, flow_id: str, target: FlowState, at: datetime, **values: Any) -> bool:
    """Moves a live flow to ``target`` if the state machine allows it from where it is now.

    Returns False when another request moved it first, it expired, or the move is not allowed.
    """
    statement = (
        update(LoginFlow)
        .where(
            col(LoginFlow.id) == flow_id,
            col(LoginFlow.state).in_([s.value for s in sources_of(target)]),
            col(LoginFlow.expires_at) > at,
        )
        .values(state=target.value, **values)
    )
    result = await core_rows.execute(session, statement)
    return result.rowcount == 1  # type: ignore[attr-defined]
