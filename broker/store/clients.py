"""The client (relying party) registry."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store import notifications
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
    """``get_enabled`` without a session (issue 7): client authentication reads it here, at once after any
    change; /authorize through a process's :class:`EnabledClients`."""
    rows = await db.rows(_enabled_statement(), {"client_id": client_id})
    return columns().instance(rows[0]) if rows else None


class EnabledClients:
    """The enabled clients ``/authorize`` reads, kept by one process while it is told of every change.

    On PostgreSQL a trigger on ``clients`` (migration 0017) NOTIFYs every process whenever any writer
    changes a client, so this cache answers only while :func:`follow_changes` is listening: it is dropped
    whole on every notification and on every (re)connect, and while not connected every read goes to the
    database. A read that a change overtook (the generation moved while it ran) is not kept: it may have
    read the old row just before the change committed. On SQLite (and until the first connect) nothing is
    kept: another process, the CLI, may change the file and there is no signal.

    Only found, enabled clients are kept: an unknown or disabled ``client_id`` asks the database every time,
    so requests cannot fill the cache with ids of their choosing. Bounded anyway (oldest dropped first).
    Callers must not change the client they get: the same object answers every request.
    """

    def __init__(self, db: Database, max_entries: int = 1000) -> None:
        self._db = db
        self._max_entries = max_entries  # a deployment registers tens to hundreds of relying parties
        self._kept: dict[str, Client] = {}
        self._listening = False
        self._generation = 0

    def drop(self) -> None:
        self._generation += 1
        self._kept.clear()

    def listening(self, connected: bool) -> None:
        self._listening = connected
        self.drop()

    async def get(self, client_id: str) -> Client | None:
        if self._listening:
            client = self._kept.get(client_id)
            if client is not None:
                return client
        generation = self._generation
        client = await enabled(self._db, client_id)
        if client is not None and self._listening and generation == self._generation:
            if len(self._kept) >= self._max_entries:
                del self._kept[next(iter(self._kept))]
            self._kept[client_id] = client
        return client


async def follow_changes(cache: EnabledClients, db: Database) -> None:
    """Runs until cancelled: on PostgreSQL, keeps ``cache`` told of every change to the clients. On SQLite
    it returns at once and the cache keeps nothing."""
    if notifications.supported(db.url):
        await notifications.listen(db.url, notifications.CLIENTS, cache.drop, on_listening=cache.listening)


async def get_many(session: AsyncSession, client_ids: list[str]) -> list[Client]:
    if not client_ids:
        return []
    statement = select(Client).where(col(Client.client_id).in_(client_ids))
    return list((await session.execute(statement)).scalars())
