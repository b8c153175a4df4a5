"""The account-event outbox: written in the transaction of the change it reports, read in commit order.

Ids come from a sequence, and on PostgreSQL a transaction that took id 10 can commit after one that took
id 11: a reader that followed ids would skip 10 for ever. So readers follow ``position`` instead, which
one writer at a time (:func:`sequence`) hands out to events already committed, in the order it finds
them: a position is only ever given after every smaller one is visible, so a cursor over positions
never skips. (Handing out only events older than the cluster's oldest running transaction,
``pg_snapshot_xmin``, would add nothing to that and would stall every relying party behind any long
transaction on the same PostgreSQL cluster, another database's included.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store import client_accounts
from broker.store.tables import Account, AccountEvent, ClientAccount, SsoSession

# Any constant shared by the sequencers of every replica: pg_advisory_xact_lock serialises them.
_SEQUENCER_LOCK = 0x55F_0E7E
SEQUENCE_BATCH = 1000
# What the deprecated ``GET /events`` always carried; newer kinds go only to Shared Signals streams.
LEGACY_FEED_TYPES = ("account.linked", "account.merged", "account.frozen", "account.unfrozen")


def _postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def append(
    session: AsyncSession, type_: str, sub: str, at: datetime, related_sub: str | None = None, **data: Any
) -> None:
    """Called inside the transaction that makes the change: the event exists if and only if it happened."""
    if related_sub is None and isinstance(data.get("retired_sub"), str):
        related_sub = data["retired_sub"]
    session.add(AccountEvent(type=type_, sub=sub, related_sub=related_sub, data=data, created_at=at))
    await session.flush()
    if type_ == "account.merged" and related_sub is not None:
        # A relying party that knew the retired account now deals with the kept one.
        await client_accounts.inherit(session, from_sub=related_sub, to_sub=sub, at=at)


async def identifier_change(
    session: AsyncSession, account: Account, identification_number: str | None, at: datetime
) -> None:
    """Before VNeID's data completes ``account``: a new or different identification number is an event
    (its value never is: relying parties re-read it through userinfo)."""
    if identification_number and identification_number != account.identification_number:
        await append(
            session, "account.identifier_changed", account.sub, at, identifier="identification_number"
        )


async def level_changed(
    session: AsyncSession, account: Account, previous: int | None, level: int, at: datetime
) -> None:
    """Before the link's level is updated: a VNeID level different from the one the link recorded
    (``previous``, read by the caller in this transaction) is an assurance-level change."""
    if previous is not None and previous != level:
        await append(
            session, "account.level_changed", account.sub, at, previous_level=previous, current_level=level
        )


async def session_revoked(session: AsyncSession, sid: str, at: datetime, reason: str) -> None:
    """After the SSO session ``sid`` ended (``reason``: ``logout`` or ``account_frozen``)."""
    statement = (
        select(Account.sub)
        .join(SsoSession, col(SsoSession.account_id) == col(Account.id))
        .where(col(SsoSession.sid) == sid)
    )
    sub = (await session.execute(statement)).scalar_one_or_none()
    if sub is not None:
        await append(session, "session.revoked", sub, at, sid=sid, reason=reason)


async def unsequenced(session: AsyncSession) -> bool:
    statement = select(AccountEvent.id).where(col(AccountEvent.position).is_(None)).limit(1)
    return (await session.execute(statement)).first() is not None


async def sequence(session: AsyncSession, limit: int = SEQUENCE_BATCH) -> int:
    """Gives positions to committed events, in the order found; call in a write transaction. Returns how
    many. The lock (PostgreSQL: an advisory transaction lock; SQLite: the write lock of BEGIN IMMEDIATE)
    is held until commit, so positions become visible in the order they were given."""
    if _postgresql(session):
        await session.execute(sa.select(sa.func.pg_advisory_xact_lock(_SEQUENCER_LOCK)))
    ids = list(
        (
            await session.execute(
                select(AccountEvent.id)
                .where(col(AccountEvent.position).is_(None))
                .order_by(col(AccountEvent.id))
                .limit(limit)
            )
        ).scalars()
    )
    if not ids:
        return 0
    last = await last_position(session)
    await session.execute(
        update(AccountEvent),
        [{"id": event_id, "position": last + offset} for offset, event_id in enumerate(ids, start=1)],
    )
    return len(ids)


async def last_position(session: AsyncSession) -> int:
    return int((await session.execute(select(sa.func.max(AccountEvent.position)))).scalar() or 0)


async def sequenced_after(session: AsyncSession, cursor: int, limit: int) -> list[AccountEvent]:
    statement = (
        select(AccountEvent)
        .where(col(AccountEvent.position) > cursor)
        .order_by(col(AccountEvent.position))
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())


async def after(session: AsyncSession, cursor: int, limit: int, *, client_id: str) -> list[AccountEvent]:
    """Events after ``cursor`` (a position) about accounts this client has dealt with: a relying party
    learns nothing about citizens who never used it (data minimisation)."""
    known = (
        select(Account.sub)
        .join(ClientAccount, col(ClientAccount.account_id) == col(Account.id))
        .where(col(ClientAccount.client_id) == client_id)
    )
    statement = (
        select(AccountEvent)
        .where(
            col(AccountEvent.position) > cursor,
            col(AccountEvent.type).in_(LEGACY_FEED_TYPES),
            or_(col(AccountEvent.sub).in_(known), col(AccountEvent.related_sub).in_(known)),
        )
        .order_by(col(AccountEvent.position))
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())
