"""Removal of short-lived protocol rows once nothing can use them any more.

Only transient state goes: finished or expired login flows, spent or expired authorization codes,
refresh tokens of expired grants, ended SSO sessions, settled back-channel deliveries, expired access
tokens (which relying party served which account is kept in ``client_accounts``). Accounts, legacy
records, links, aliases, events and the audit trail are never purged.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store.backchannel import PENDING
from broker.store.tables import (
    AccessToken,
    AuthorizationCode,
    BackchannelDelivery,
    LoginFlow,
    LoginFlowRequirement,
    RefreshToken,
    SsoSession,
    SsoSessionClient,
)


async def purge_before(session: AsyncSession, cutoff: datetime) -> dict[str, int]:
    """Deletes transient rows that expired (or were settled) before ``cutoff``; returns counts per kind."""
    old_flows = select(LoginFlow.id).where(col(LoginFlow.expires_at) < cutoff)
    await session.execute(
        delete(LoginFlowRequirement).where(col(LoginFlowRequirement.flow_id).in_(old_flows))
    )
    flows = await session.execute(delete(LoginFlow).where(col(LoginFlow.expires_at) < cutoff))
    codes = await session.execute(delete(AuthorizationCode).where(col(AuthorizationCode.expires_at) < cutoff))
    refresh = await session.execute(delete(RefreshToken).where(col(RefreshToken.expires_at) < cutoff))
    ended = or_(col(SsoSession.expires_at) < cutoff, col(SsoSession.ended_at) < cutoff)
    ended_sids = select(SsoSession.sid).where(ended)
    await session.execute(delete(SsoSessionClient).where(col(SsoSessionClient.sid).in_(ended_sids)))
    sessions = await session.execute(delete(SsoSession).where(ended))
    deliveries = await session.execute(
        delete(BackchannelDelivery).where(
            col(BackchannelDelivery.status) != PENDING, col(BackchannelDelivery.created_at) < cutoff
        )
    )
    return {
        "login_flows": _count(flows),
        "authorization_codes": _count(codes),
        "refresh_tokens": _count(refresh),
        "sso_sessions": _count(sessions),
        "backchannel_deliveries": _count(deliveries),
        "access_tokens": await _purge_access_tokens(session, cutoff),
    }


async def _purge_access_tokens(session: AsyncSession, cutoff: datetime) -> int:
    """Expired access tokens can no longer be presented (their JWT carries ``exp``); no feed reads them."""
    return _count(await session.execute(delete(AccessToken).where(col(AccessToken.expires_at) < cutoff)))


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
