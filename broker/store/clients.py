"""The client (relying party) registry."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store.core_rows import ModelColumns
from broker.store.database import Database
from broker.store.tables import Client


async def get(session: AsyncSession, client_id: str) -> Client | None:
    return (
        await session.execute(select(Client).where(col(Client.client_id) == client_id))
    ).scalar_one_or_none()


async def add(session: AsyncSession, client: Client) -> Client:
    session.add(client)
    await session.flush()
    return client


async def list_all(session: AsyncSession) -> list[Client]:
    return list((await session.execute(select(Client).order_by(col(Client.id)))).scalars())


async def get_enabled(session: AsyncSession, client_id: str) -> Client | None:
    client = await get(session, client_id)
    return client if client is not None and client.disabled_at is None else None


@functools.cache
def columns() -> ModelColumns:
    """A client row's columns, for the reads that take a client with something else (token_views)."""
    return ModelColumns(Client)


@functools.cache
def _enabled_statement() -> Any:
    return select(*columns().columns).where(
        col(Client.client_id) == bindparam("client_id"), col(Client.disabled_at).is_(None)
    )


async def enabled(db: Database, client_id: str) -> Client | None:
    """``get_enabled`` without a session, for every token-endpoint call and authorization (issue 7)."""
    rows = await db.rows(_enabled_statement(), {"client_id": client_id})
    return columns().instance(rows[0]) if rows else None


async def get_many(session: AsyncSession, client_ids: list[str]) -> list[Client]:
    if not client_ids:
        return []
    statement = select(Client).where(col(Client.client_id).in_(client_ids))
    return list((await session.execute(statement)).scalars())
