"""What the officers' console reads and writes: its sessions, the look-ups at the desk, the relying
parties' last use, and the source systems' display names."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store.tables import (
    AccessToken,
    Account,
    ConsoleSession,
    LegacyAccount,
    SourceSystem,
    SsoSession,
    UpstreamLink,
)


async def add_session(session: AsyncSession, console: ConsoleSession) -> None:
    session.add(console)
    await session.flush()


async def live_session(session: AsyncSession, cookie_hash: str, now: datetime) -> ConsoleSession | None:
    """The console session behind a cookie, while it and the broker SSO session it rides on are live."""
    statement = (
        select(ConsoleSession)
        .join(SsoSession, col(SsoSession.sid) == col(ConsoleSession.sid))
        .where(
            col(ConsoleSession.cookie_hash) == cookie_hash,
            col(ConsoleSession.ended_at).is_(None),
            col(ConsoleSession.expires_at) > now,
            col(SsoSession.ended_at).is_(None),
            col(SsoSession.expires_at) > now,
        )
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def end_session(session: AsyncSession, cookie_hash: str, at: datetime) -> None:
    statement = (
        update(ConsoleSession)
        .where(col(ConsoleSession.cookie_hash) == cookie_hash, col(ConsoleSession.ended_at).is_(None))
        .values(ended_at=at)
        .execution_options(synchronize_session=False)
    )
    await session.execute(statement)


async def accounts_by_number(session: AsyncSession, number: str) -> list[Account]:
    """Accounts carrying ``number`` as personal identification number or old CMND, or whose legacy
    records do (as CCCD or CMND): what an officer finds for the number a citizen reads out."""
    legacy_ids = select(LegacyAccount.account_id).where(
        or_(col(LegacyAccount.cccd) == number, col(LegacyAccount.cmnd) == number)
    )
    statement = (
        select(Account)
        .where(
            or_(
                col(Account.identification_number) == number,
                col(Account.old_identification_number) == number,
                col(Account.id).in_(legacy_ids),
            )
        )
        .order_by(col(Account.id))
        .limit(20)
    )
    return list((await session.execute(statement)).scalars())


async def accounts_by_username_key(session: AsyncSession, username_key: str) -> list[Account]:
    legacy_ids = select(LegacyAccount.account_id).where(col(LegacyAccount.username_key) == username_key)
    statement = select(Account).where(col(Account.id).in_(legacy_ids)).order_by(col(Account.id)).limit(20)
    return list((await session.execute(statement)).scalars())


async def accounts_by_ids(session: AsyncSession, account_ids: list[int]) -> list[Account]:
    statement = select(Account).where(col(Account.id).in_(account_ids)).order_by(col(Account.id))
    return list((await session.execute(statement)).scalars())


async def last_login(session: AsyncSession, account_id: int) -> datetime | None:
    """The latest sign-in that opened or renewed a broker session, by any method."""
    statement = select(func.max(SsoSession.auth_time)).where(col(SsoSession.account_id) == account_id)
    value: datetime | None = (await session.execute(statement)).scalar_one_or_none()
    return value


async def client_last_use(session: AsyncSession) -> dict[str, datetime]:
    """When each relying party last had an access token issued (rows still kept by the purge)."""
    statement = select(AccessToken.client_id, func.max(AccessToken.created_at)).group_by(
        col(AccessToken.client_id)
    )
    return {client_id: at for client_id, at in (await session.execute(statement)).all()}


async def source_system_names(session: AsyncSession) -> dict[str, str]:
    rows = (await session.execute(select(SourceSystem))).scalars()
    return {row.code: row.display_name for row in rows}


async def name_source_systems(session: AsyncSession, names: dict[str, str], at: datetime) -> None:
    """Sets display names (an import naming a system again renames it)."""
    for code, display_name in names.items():
        row = await session.get(SourceSystem, code)
        if row is None:
            session.add(SourceSystem(code=code, display_name=display_name, updated_at=at))
        elif row.display_name != display_name:
            row.display_name, row.updated_at = display_name, at
    await session.flush()


def _vietnam_day(session: AsyncSession, column: Any) -> Any:
    """An instant's date in Vietnam time ("YYYY-MM-DD"), computed by the database."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(column + text("interval '7 hours'"), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column, "+7 hours")


async def citizens_linked_per_day(session: AsyncSession, since: datetime) -> dict[str, int]:
    """Citizen accounts linked to VNeID per day (Vietnam time) since ``since``: one grouped query,
    whatever the number of links."""
    day = _vietnam_day(session, col(UpstreamLink.created_at))
    statement = (
        select(day, func.count())
        .join(Account, col(Account.id) == col(UpstreamLink.account_id))
        .where(col(UpstreamLink.created_at) >= since, col(Account.account_type) == "citizen")
        .group_by(day)
    )
    return {str(found): int(count) for found, count in (await session.execute(statement)).all()}


async def citizens_created_per_day(session: AsyncSession, since: datetime) -> dict[str, int]:
    """Surviving citizen accounts created (imported, or at a first VNeID login) per day since ``since``."""
    day = _vietnam_day(session, col(Account.created_at))
    statement = (
        select(day, func.count())
        .where(
            col(Account.created_at) >= since,
            col(Account.account_type) == "citizen",
            col(Account.merged_into_id).is_(None),
        )
        .group_by(day)
    )
    return {str(found): int(count) for found, count in (await session.execute(statement)).all()}
