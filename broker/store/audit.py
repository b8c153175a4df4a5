"""The append-only audit trail (the database refuses UPDATE and DELETE on it).

It is also where logins, links and merges are counted and logged (issue 12): every path that decides
one writes its audit row here, so metrics and log lines come from one place and only once the
transaction that recorded them has committed (a rolled-back login is neither counted nor logged).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session as SyncSession
from sqlmodel import col, select

from broker.store.tables import Account, AuditEntry

log = logging.getLogger("broker.audit")

OBSERVER = "audit_observer"  # Session.info key: a callable given every committed AuditFact
_PENDING = "audit_pending"


@dataclass(frozen=True)
class AuditFact:
    """What an audit row says, without who: for metrics and log lines."""

    action: str
    outcome: str
    reason: str | None
    account_type: str | None
    upstream: str | None


AuditObserver = Callable[[AuditFact], None]


@event.listens_for(SyncSession, "after_commit")
def _report_committed(session: SyncSession) -> None:
    facts = session.info.pop(_PENDING, None)
    observer = session.info.get(OBSERVER)
    if not facts or observer is None:
        return
    for fact in facts:
        log.info(
            "%s %s",
            fact.action,
            fact.outcome,
            extra={"action": fact.action, "outcome": fact.outcome, "reason": fact.reason or ""},
        )
        observer(fact)


@event.listens_for(SyncSession, "after_rollback")
def _forget_rolled_back(session: SyncSession) -> None:
    session.info.pop(_PENDING, None)


async def _observe(
    session: AsyncSession,
    action: str,
    outcome: str,
    reason: str | None,
    sub: str | None,
    details: dict[str, Any],
) -> None:
    if OBSERVER not in session.info:
        return
    account_type = None
    if action.startswith("login.") and sub:
        # One indexed read, only for login rows: the account type is a label of the login counter.
        statement = select(col(Account.account_type)).where(col(Account.sub) == sub)
        found = (await session.execute(statement)).scalar_one_or_none()
        account_type = str(getattr(found, "value", found)) if found is not None else None
    upstream = details.get("upstream") if isinstance(details.get("upstream"), str) else None
    fact = AuditFact(action, outcome, reason, account_type, upstream)
    session.sync_session.info.setdefault(_PENDING, []).append(fact)


async def append(
    session: AsyncSession,
    *,
    at: datetime,
    actor: str,
    action: str,
    outcome: str,
    reason: str | None = None,
    sub: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            at=at, actor=actor, action=action, outcome=outcome, reason=reason, sub=sub, details=details or {}
        )
    )
    await session.flush()
    await _observe(session, action, outcome, reason, sub, details or {})


async def entries(session: AsyncSession, action: str | None = None, limit: int = 1000) -> list[AuditEntry]:
    statement = select(AuditEntry).order_by(col(AuditEntry.id)).limit(limit)
    if action:
        statement = statement.where(col(AuditEntry.action) == action)
    return list((await session.execute(statement)).scalars())
