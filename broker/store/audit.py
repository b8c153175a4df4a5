"""The append-only audit trail: the database refuses UPDATE, DELETE and (on PostgreSQL) TRUNCATE on it,
and every record is chained to the one before by hash (broker.domain.audit_chain).

Appends are serialised so that the chain has one head: on PostgreSQL a transaction-scoped advisory lock,
taken before the head is read and held until commit (so ids are also handed out in chain order); on SQLite
every writing transaction already holds the database's one write lock (``BEGIN IMMEDIATE``).

It is also where logins, links and merges are counted and logged (issue 12): every path that decides
one writes its audit row here, so metrics and log lines come from one place and only once the
transaction that recorded them has committed (a rolled-back login is neither counted nor logged).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, event, insert, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session as SyncSession
from sqlmodel import col, select

from broker.domain import audit_chain
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


def _observe(
    session: AsyncSession,
    action: str,
    outcome: str,
    reason: str | None,
    account_type: Any,
    details: dict[str, Any],
) -> None:
    upstream = details.get("upstream") if isinstance(details.get("upstream"), str) else None
    kind = str(getattr(account_type, "value", account_type)) if account_type is not None else None
    fact = AuditFact(action, outcome, reason, kind, upstream)
    session.sync_session.info.setdefault(_PENDING, []).append(fact)


# pg_advisory_xact_lock key of the chain's head ("audi" in ASCII): one lock, for every replica.
_CHAIN_LOCK = 0x61756469


@functools.cache
def _head_statement() -> Any:
    return select(AuditEntry.chain_hash).order_by(col(AuditEntry.id).desc()).limit(1)


@functools.cache
def _head_and_account_type_statement() -> Any:
    # One round trip for both (issue 7): the account type is a label of the login counter.
    head = select(AuditEntry.chain_hash).order_by(col(AuditEntry.id).desc()).limit(1).scalar_subquery()
    kind = select(col(Account.account_type)).where(col(Account.sub) == bindparam("sub")).scalar_subquery()
    return select(head, kind)


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
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    observed = OBSERVER in session.info
    account_type = None
    if observed and sub and action.startswith("login."):
        row = (await session.execute(_head_and_account_type_statement(), {"sub": sub})).one()
        head, account_type = row[0], row[1]
    else:
        head = (await session.execute(_head_statement())).scalar_one_or_none()
    previous = head or audit_chain.GENESIS
    details = details or {}
    content = audit_chain.canonical(
        at=at, actor=actor, action=action, outcome=outcome, reason=reason, sub=sub, details=details
    )
    # A plain INSERT: the row is never read back here, so the ORM's unit of work would be pure cost.
    await session.execute(
        insert(AuditEntry).values(
            at=at,
            actor=actor,
            action=action,
            outcome=outcome,
            reason=reason,
            sub=sub,
            details=details,
            prev_hash=previous,
            chain_hash=audit_chain.link(previous, content),
        )
    )
    if observed:
        _observe(session, action, outcome, reason, account_type, details)


async def entries(session: AsyncSession, action: str | None = None, limit: int = 1000) -> list[AuditEntry]:
    statement = select(AuditEntry).order_by(col(AuditEntry.id)).limit(limit)
    if action:
        statement = statement.where(col(AuditEntry.action) == action)
    return list((await session.execute(statement)).scalars())


@dataclass(frozen=True)
class Break:
    """The first record where the chain does not hold, and how."""

    id: int
    problem: str  # "edited", or "chain_broken" (a record before it was deleted, inserted or reordered)


@dataclass(frozen=True)
class Verification:
    checked: int
    head: str  # the last record's hash: keep it elsewhere to detect a removed tail later
    first_break: Break | None


async def verify(session: AsyncSession, batch: int = 1000) -> Verification:
    """Walks the whole trail in id order, a batch at a time (memory stays flat however long it is)."""
    expected = audit_chain.GENESIS
    checked = 0
    async for entry in _in_order(session, batch):
        assert entry.id is not None
        if entry.prev_hash != expected:
            return Verification(checked, expected, Break(entry.id, "chain_broken"))
        content = audit_chain.canonical(
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            outcome=entry.outcome,
            reason=entry.reason,
            sub=entry.sub,
            details=entry.details,
        )
        if entry.chain_hash != audit_chain.link(expected, content):
            return Verification(checked, expected, Break(entry.id, "edited"))
        expected = entry.chain_hash
        checked += 1
    return Verification(checked, expected, None)


async def _in_order(session: AsyncSession, batch: int) -> AsyncIterator[AuditEntry]:
    after = 0
    while True:
        statement = select(AuditEntry).where(col(AuditEntry.id) > after).order_by(col(AuditEntry.id))
        rows = list((await session.execute(statement.limit(batch))).scalars())
        for entry in rows:
            yield entry
        if len(rows) < batch:
            return
        last = rows[-1].id
        assert last is not None
        after = last
        session.expunge_all()
