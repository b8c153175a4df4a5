"""Issue 10: which upstream vouched for an SSO session, and its logout URL (ending ours ends theirs)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broker.store.tables import SsoSession


async def remember(session: AsyncSession, cookie_hash: str, upstream_id: str, logout_uri: str | None) -> None:
    statement = (
        update(SsoSession)
        .where(col(SsoSession.cookie_hash) == cookie_hash)
        .values(upstream_id=upstream_id, upstream_logout_uri=logout_uri)
        .execution_options(synchronize_session=False)
    )
    await session.execute(statement)


async def take_logout_uri(session: AsyncSession, sid: str) -> tuple[str | None, str | None]:
    """The upstream and its logout URL for an ended session, forgotten as it is taken (used once)."""
    row = await session.get(SsoSession, sid)
    if row is None or row.upstream_logout_uri is None:
        return (row.upstream_id if row else None), None
    uri = row.upstream_logout_uri
    row.upstream_logout_uri = None
    return row.upstream_id, uri
