"""PostgreSQL LISTEN/NOTIFY: how one replica tells every other one that shared state changed.

A NOTIFY sent inside a transaction is delivered when (and only if) it commits. The listener holds one
connection of its own (outside the pool), reconnects when it is lost, and calls back after every
(re)connect as well, since notifications sent while it was away are gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)

SIGNING_KEYS = "broker_signing_keys"
# Sent by a trigger on ``clients`` (migration 0017), whoever changed them.
CLIENTS = "broker_clients"

# What a lost or refused connection raises; anything else is a bug and ends the listener loudly.
_LOST = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


def supported(url: str) -> bool:
    return url.startswith("postgresql")


async def notify(session: AsyncSession, channel: str) -> None:
    """Announces a change to every listener once the session's transaction commits (PostgreSQL only)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text(f"NOTIFY {channel}"))


async def listen(
    url: str,
    channel: str,
    on_notify: Callable[[], None],
    retry_seconds: float = 1.0,
    on_listening: Callable[[bool], None] | None = None,
) -> None:
    """Runs until cancelled, calling ``on_notify`` for every notification on ``channel``.

    ``on_listening(True)`` once listening (before that (re)connect's ``on_notify``), ``on_listening(False)``
    the moment the connection is known lost: for a cache that may be served only while it is told of
    every change."""
    listening = on_listening or (lambda _: None)
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    while True:
        try:
            connection = await asyncpg.connect(dsn)
        except _LOST as exc:
            log.warning("cannot listen for %s: %s", channel, type(exc).__name__)
            await asyncio.sleep(retry_seconds)
            continue
        lost = asyncio.Event()

        def terminated(_connection: object, lost: asyncio.Event = lost) -> None:
            listening(False)
            lost.set()

        connection.add_termination_listener(terminated)
        try:
            await connection.add_listener(channel, lambda *_: on_notify())
            if not lost.is_set():
                listening(True)
            on_notify()
            await lost.wait()
        except _LOST as exc:
            log.warning("listening for %s stopped: %s", channel, type(exc).__name__)
        finally:
            listening(False)
            if not connection.is_closed():
                await connection.close(timeout=2)
        on_notify()
        await asyncio.sleep(retry_seconds)
