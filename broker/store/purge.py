"""Removal of short-lived protocol rows once nothing can use them any more, in bounded batches.

Only transient state goes: expired login flows, expired authorization codes, refresh tokens of expired
grants, ended or expired SSO sessions, used client-assertion ``jti``s past their expiry, settled back-channel
deliveries, expired access tokens (which relying party served which account is kept in
``client_accounts``). Accounts, legacy records, links, aliases, events and the audit trail are never purged.

Each call removes at most ``limit`` rows of one kind (and their dependent rows), so the caller can run each
batch in its own short transaction: a purge of millions of rows never holds locks long enough to stall a
login. Every condition is on an indexed column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store.backchannel import PENDING
from broker.store.tables import (
    AccessToken,
    AuthorizationCode,
    BackchannelDelivery,
    ClientAssertionJti,
    LoginFlow,
    LoginFlowRequirement,
    RefreshToken,
    SsoSession,
    SsoSessionClient,
)


@dataclass(frozen=True)
class _Kind:
    key: Any  # the primary key column
    gone: Callable[[datetime], Any]  # the rows that stopped mattering before the cutoff
    dependents: tuple[Any, ...] = ()  # foreign-key columns of rows deleted with them


KINDS: dict[str, _Kind] = {
    "login_flows": _Kind(
        col(LoginFlow.id),
        lambda cutoff: col(LoginFlow.expires_at) < cutoff,
        (col(LoginFlowRequirement.flow_id),),
    ),
    "authorization_codes": _Kind(
        col(AuthorizationCode.code_hash), lambda cutoff: col(AuthorizationCode.expires_at) < cutoff
    ),
    "refresh_tokens": _Kind(
        col(RefreshToken.token_hash), lambda cutoff: col(RefreshToken.expires_at) < cutoff
    ),
    "sso_sessions": _Kind(
        col(SsoSession.sid),
        lambda cutoff: or_(col(SsoSession.expires_at) < cutoff, col(SsoSession.ended_at) < cutoff),
        (col(SsoSessionClient.sid),),
    ),
    "client_assertion_jtis": _Kind(
        col(ClientAssertionJti.id), lambda cutoff: col(ClientAssertionJti.expires_at) < cutoff
    ),
    # Expired access tokens can no longer be presented (their JWT carries ``exp``); no feed reads them.
    "access_tokens": _Kind(col(AccessToken.jti), lambda cutoff: col(AccessToken.expires_at) < cutoff),
    "backchannel_deliveries": _Kind(
        col(BackchannelDelivery.id),
        lambda cutoff: (
            (col(BackchannelDelivery.created_at) < cutoff) & (col(BackchannelDelivery.status) != PENDING)
        ),
    ),
}


async def purge_batch(session: AsyncSession, kind: str, cutoff: datetime, limit: int) -> int:
    """Deletes up to ``limit`` rows of ``kind`` that stopped mattering before ``cutoff``; returns how many."""
    spec = KINDS[kind]
    keys = list((await session.execute(select(spec.key).where(spec.gone(cutoff)).limit(limit))).scalars())
    if not keys:
        return 0
    for dependent in spec.dependents:
        await session.execute(delete(dependent.table).where(dependent.in_(keys)))
    await session.execute(delete(spec.key.table).where(spec.key.in_(keys)))
    return len(keys)
