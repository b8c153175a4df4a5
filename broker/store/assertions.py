"""Used client-assertion ``jti`` values: the unique constraint refuses a replay (RFC 7523 §3 item 7)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from broker.store.tables import ClientAssertionJti


async def record(session: AsyncSession, client_id: str, jti: str, expires_at: datetime) -> None:
    """Raises StoreConflict (when the transaction ends) for a jti this client already used."""
    session.add(ClientAssertionJti(client_id=client_id, jti=jti, expires_at=expires_at))
    await session.flush()
