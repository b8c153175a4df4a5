"""What a login flow must achieve upstream (assurance level, fresh login) and the session it renews."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from broker.store import core_rows
from broker.store.tables import LoginFlowRequirement
from broker.store.types import row_of


async def add(session: AsyncSession, requirement: LoginFlowRequirement) -> None:
    await core_rows.execute(session, insert(LoginFlowRequirement).values(row_of(requirement)))


async def get(session: AsyncSession, flow_id: str) -> LoginFlowRequirement | None:
    return await session.get(LoginFlowRequirement, flow_id)
