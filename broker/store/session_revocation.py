"""Ending every live SSO session of an account when the account is frozen: the sessions, their tokens
(as a logout would) and a ``session.revoked`` event per session, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store import events, grants, refresh_tokens, sessions
from broker.store.tables import SsoSession


async def end_for_account(session: AsyncSession, account_id: int | None, at: datetime, reason: str) -> int:
    if account_id is None:
        return 0
    statement = select(SsoSession.sid).where(
        col(SsoSession.account_id) == account_id, col(SsoSession.ended_at).is_(None)
    )
    ended = 0
    for sid in list((await session.execute(statement)).scalars()):
        if not await sessions.end(session, sid, at):
            continue  # a concurrent logout ended it and told the relying parties
        await refresh_tokens.revoke_session(session, sid, at)
        await grants.revoke_session_access_tokens(session, sid, at)
        await events.session_revoked(session, sid, at, reason)
        ended += 1
    return ended
