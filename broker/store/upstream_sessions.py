"""Issue 10: which upstream vouched for an SSO session, and its logout URL (ending ours ends theirs)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from broker.store.tables import SsoSession


async def take_logout_uri(session: AsyncSession, sid: str) -> tuple[str | None, str | None]:
    """The upstream and its logout URL for an ended session, forgotten as it is taken (used once)."""
    row = await session.get(SsoSession, sid)
    if row is None or row.upstream_logout_uri is None:
        return (row.upstream_id if row else None), None
    uri = row.upstream_logout_uri
    row.upstream_logout_uri = None
    return row.upstream_id, uri
