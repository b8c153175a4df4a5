"""Ending an SSO session: once, with its tokens (except offline_access ones, Back-Channel Logout 1.0 §2.7)
revoked and a back-channel logout queued for every relying party that took part, in one transaction."""

from __future__ import annotations

from datetime import datetime

from broker.login import backchannel
from broker.registry import Registry
from broker.store import events, grants, refresh_tokens, sessions
from broker.store.database import Session


async def end(registry: Registry, session: Session, sid: str, now: datetime) -> bool:
    """Returns False when the session had already ended (a concurrent logout did the work)."""
    if not await sessions.end(session, sid, now):
        return False
    await refresh_tokens.revoke_session(session, sid, now)
    await grants.revoke_session_access_tokens(session, sid, now)
    await backchannel.enqueue_for_session(registry, session, sid, now)
    await events.session_revoked(session, sid, now, "logout")
    return True
