"""What a login flow must achieve upstream (assurance level, fresh login) and the session it renews."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from broker.store.tables import LoginFlowRequirement


async def add(session: AsyncSession, requirement: LoginFlowRequirement) -> None:
    session.add(requirement)
    await session.flush()


async def get(session: AsyncSession, flow_id: str) -> LoginFlowRequirement | None:
    return await session.get(LoginFlowRequirement, flow_id)
