"""SSO sessions at the broker and the relying parties that took part in each."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store import core_rows
from broker.store.tables import SsoSession, SsoSessionClient


async def add(session: AsyncSession, **values: Any) -> None:
    """A new session of these columns (``SsoSession``'s), written without building its object
    (``core_rows.model_row``). Deferred (``core_rows.defer``): nothing reads a new session in the
    transaction that opens it."""
    statement, parameters = insert_write(**values)
    await core_rows.defer(session, statement, parameters=parameters)


def insert_write(**values: Any) -> core_rows.Write:
    """``add``'s INSERT, for a statement that carries it (``Database.commit_writes``)."""
    return core_rows.insert_row(SsoSession, core_rows.model_row(SsoSession, **values), "sso_")


async def get(session: AsyncSession, sid: str) -> SsoSession | None:
    return await session.get(SsoSession, sid)


async def find_live(session: AsyncSession, cookie_hash: str, now: datetime) -> SsoSession | None:
    statement = select(SsoSession).where(
        col(SsoSession.cookie_hash) == cookie_hash,
        col(SsoSession.ended_at).is_(None),
        col(SsoSession.expires_at) > now,
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def renew(session: AsyncSession, sid: str, now: datetime, **values: Any) -> bool:
    """A fresh upstream login within a live session: new cookie, auth_time and acr, same sid."""
    statement = (
        update(SsoSession)
        .where(
            col(SsoSession.sid) == sid, col(SsoSession.ended_at).is_(None), col(SsoSession.expires_at) > now
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int((await session.execute(statement)).rowcount) == 1  # type: ignore[attr-defined]


async def end(session: AsyncSession, sid: str, at: datetime) -> bool:
    """Ends a session once: of concurrent logouts, exactly one gets True (and notifies the RPs)."""
    statement = (
        update(SsoSession)
        .where(col(SsoSession.sid) == sid, col(SsoSession.ended_at).is_(None))
        .values(ended_at=at)
        .execution_options(synchronize_session=False)
    )
    return int((await session.execute(statement)).rowcount) == 1  # type: ignore[attr-defined]


def participant_write(dialect: str, sid: str, client_id: str, at: datetime) -> core_rows.Write:
    """That ``client_id`` took part in the session, as a write ``core_rows.defer`` can carry into a
    statement run by asyncpg itself (issue 7). Idempotent, also under concurrency."""
    return core_rows.insert_ignoring(
        dialect,
        SsoSessionClient,
        {"sid": sid, "client_id": client_id, "created_at": at},
        ("sid", "client_id"),
        "participant_",
    )


async def participants(session: AsyncSession, sid: str) -> list[str]:
    statement = (
        select(SsoSessionClient.client_id)
        .where(col(SsoSessionClient.sid) == sid)
        .order_by(col(SsoSessionClient.created_at))
    )
    return [str(client_id) for client_id in (await session.execute(statement)).scalars()]
