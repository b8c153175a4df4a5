"""The hottest statements on PostgreSQL through asyncpg itself, each prepared once per connection and lifetime
(issue 7).

Measured in one process on this machine: a Core statement through ``Database.rows`` costs 0.31 ms of CPU,
the same statement by asyncpg's ``fetch`` 0.02 ms (SQLAlchemy's execution context, compiled-cache lookup,
events, result and adapter layers were the rest). The statement is still written with SQLAlchemy and
compiled once by its asyncpg dialect; its parameters and rows go through the statement's own column types
(the JSON and UTC-instant conversions), so callers see exactly what ``Database.rows`` returns. The
connection comes from a pool of its own (``StatementPool``) and runs outside any transaction: each
statement commits on its own, as the read sessions already did on PostgreSQL. SQLite runs the same
statements through SQLAlchemy.
"""

from __future__ import annotations

import asyncio
import operator
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any

import asyncpg
from pydantic_core import from_json
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine

from broker.metrics import Metrics

Processor = Callable[[Any], Any] | None
# How long a connection keeps a prepared statement (asyncpg's own default): ``StatementPool``.
STATEMENT_LIFETIME_SECONDS = 300


class Compiled:
    """A Core statement compiled once for one dialect: its SQL, its parameters in order with the
    conversion of each, and the conversion of each returned column."""

    def __init__(self, statement: Any, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql: str = compiled.string
        names: Sequence[str] = compiled.positiontup or ()
        binds = compiled.binds
        # Values the statement itself holds (a literal in SET or WHERE), fixed at construction.
        self._fixed = {name: bind.value for name, bind in binds.items() if not bind.required}
        processors = [binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
        # The values gathered by one C call (``itemgetter``), then only those that convert (instants, JSON)
        # converted: a login's statements carry about 250 parameters, most of them plain (issue 7).
        self._gather = _gatherer(tuple(names))
        self._converting = [(index, processor) for index, processor in enumerate(processors) if processor]
        results = [
            entry.type.dialect_impl(dialect).result_processor(dialect, None)
            for entry in compiled._result_columns
        ]
        # Only the columns that convert (instants, enums): a wide row is mostly plain values.
        self._converted = [(index, processor) for index, processor in enumerate(results) if processor]

    def arguments(self, parameters: dict[str, Any]) -> list[Any]:
        values = self._gather(self._fixed | parameters if self._fixed else parameters)
        for index, processor in self._converting:
            value = values[index]
            if value is not None:
                values[index] = processor(value)
        return values

    def rows(self, records: list[Any]) -> list[tuple[Any, ...]]:
        if not self._converted:
            return [tuple(record) for record in records]
        rows = []
        for record in records:
            values = list(record)
            for index, processor in self._converted:
                values[index] = processor(values[index])
            rows.append(tuple(values))
        return rows


def _gatherer(names: tuple[str, ...]) -> Callable[[dict[str, Any]], list[Any]]:
    """The named values of a parameter dict as a list, in ``names``' order (a missing one: KeyError)."""
    if not names:
        return lambda parameters: []
    if len(names) == 1:
        (name,) = names
        return lambda parameters: [parameters[name]]
    getter = operator.itemgetter(*names)
    return lambda parameters: list(getter(parameters))


class StatementPool:
    """The connections for the statements of ``Compiled``, beside the engine's pool (which serves the ORM).

    Not asyncpg's ``Pool``: its ``acquire(timeout=…)`` runs through ``wait_for`` and its ``release``
    through ``shield``, a Task each, plus its holder's bookkeeping: measured in one process here, 55-97 µs
    of CPU per statement against 4.5 µs for this pool, as much as the statement's own round trip, and a
    tenth of the token endpoint under load (issue 7; README.md, "Why these libraries"). Here an idle connection is taken from a deque and given back to it without creating a Task
    or awaiting anything; only when all ``size`` connections are out does a caller wait, on a future,
    bounded by ``timeout``, and a connection given back goes straight to the first waiter.

    A slot opens its connection at first use (it needs the running loop) with the engine's connection
    arguments and JSON codecs as SQLAlchemy's asyncpg dialect sets them (so rows read alike either way).
    Nothing is reset on return: nothing here opens a transaction or changes a session setting. A
    connection the server closed is replaced at its next acquire (the event loop saw it close); one left
    in an unknown state (a statement cancelled or broken midway) is terminated and its slot freed, never
    returned."""

    def __init__(
        self,
        engine: AsyncEngine,
        size: int,
        timeout: float,
        metrics: Metrics | None,
        statement_lifetime: int = STATEMENT_LIFETIME_SECONDS,
    ) -> None:
        _, self._connect = engine.dialect.create_connect_args(engine.url)
        self._connect.pop("prepared_statement_cache_size", None)  # SQLAlchemy's adapter's, not asyncpg's
        # Each connection prepares each statement again after ``statement_lifetime`` seconds (asyncpg's own
        # default), so that its plan follows the data: PostgreSQL keeps the generic plan it chose at a
        # statement's first executions for as long as the statement lives, and on a fresh deployment those
        # are the tables' first rows (issue 7, seventeenth round: with its plans made again at every
        # execution, a broker started on empty tables served logins as fast as one started after
        # thousands of them; bench/README.md). A statement whose plan a migration invalidated is prepared
        # again by asyncpg itself, outside a transaction.
        self._connect.setdefault("max_cached_statement_lifetime", statement_lifetime)
        # Opening a connection is bounded as waiting for one is (a server that does not answer).
        self._connect.setdefault("timeout", timeout)
        self._size, self._timeout, self._metrics = size, timeout, metrics
        self._idle: deque[asyncpg.Connection] = deque()
        # Futures of callers waiting for a slot: a connection handed over, or None (open one in the slot).
        self._waiters: deque[asyncio.Future[asyncpg.Connection | None]] = deque()
        self._slots = 0  # connections lent, idle or being opened
        self._closed = False

    def connection(self) -> _Lease:
        """``async with pool.connection() as connection``: the connection for one statement."""
        return _Lease(self)

    def lend_idle(self) -> asyncpg.Connection | None:
        """An idle connection, lent at once without awaiting anything (a statement's usual case: no
        coroutine of the pool's own per statement, issue 7); None when none is idle (``acquire``). Given
        back by ``returned``."""
        idle = self._idle
        while idle and not self._closed:
            connection = idle.pop()  # the most recently used: the fewest connections kept busy
            if not connection.is_closed():
                return self._lent(connection)
            connection.terminate()  # the server closed it while idle: its slot opens a new one
            self._slots -= 1
        return None

    async def acquire(self) -> asyncpg.Connection:
        """A connection for one statement: an idle one, a new one in a free slot, or the first one given
        back (bounded by the pool's timeout). Given back by ``returned``."""
        if self._closed:
            raise asyncpg.InterfaceError("the statement pool is closed")
        lent = self.lend_idle()
        if lent is not None:
            return lent
        if self._slots < self._size:
            self._slots += 1
            return self._lent(await self._open_in_slot())
        connection = await self._wait()
        if connection is None or connection.is_closed():
            if connection is not None:
                connection.terminate()
            connection = await self._open_in_slot()
        return self._lent(connection)

    def _lent(self, connection: asyncpg.Connection) -> asyncpg.Connection:
        if self._metrics is not None:
            self._metrics.db_pool_in_use.inc()
        return connection

    async def _open_in_slot(self) -> asyncpg.Connection:
        """A new connection in a slot already counted for the caller; the slot freed if it fails."""
        try:
            connection = await asyncpg.connect(**self._connect)
        except BaseException:
            self._free_slot()
            raise
        try:
            await _json_codecs(connection)
        except BaseException:
            connection.terminate()
            self._free_slot()
            raise
        return connection

    async def _wait(self) -> asyncpg.Connection | None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[asyncpg.Connection | None] = loop.create_future()
        # The timer fails the future itself, so a connection handed over and a time-out exclude each other.
        timer = loop.call_later(self._timeout, _expire, waiter)
        self._waiters.append(waiter)
        metrics = self._metrics
        if metrics is not None:
            metrics.db_pool_waiting.inc()
        try:
            return await waiter
        except TimeoutError:
            if metrics is not None:
                metrics.db_pool_timeouts.inc()
            # The engine pool's own error: the store's "unavailable" (pool_timeout), as its pool says it.
            raise PoolTimeout(f"no database connection free within {self._timeout} s") from None
        except BaseException:
            # Cancelled while waiting; if a connection or a slot had just been handed over, pass it on.
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                handed = waiter.result()
                if handed is None:
                    self._free_slot()
                else:
                    self._give_back(handed)
            else:
                waiter.cancel()
            raise
        finally:
            timer.cancel()
            if metrics is not None:
                metrics.db_pool_waiting.dec()
            if not waiter.done() or waiter.cancelled():
                with suppress(ValueError):
                    self._waiters.remove(waiter)

    def _give_back(self, connection: asyncpg.Connection) -> None:
        if self._closed or connection.is_closed():
            connection.terminate()
            self._free_slot()
            return
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        self._idle.append(connection)

    def _free_slot(self) -> None:
        self._slots -= 1
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                self._slots += 1
                waiter.set_result(None)  # the waiter opens a connection in this slot
                return

    def returned(self, connection: asyncpg.Connection, error: BaseException | None) -> None:
        """A lent connection given back, after its statement ran (``error``: what it raised, if it did)."""
        if self._metrics is not None:
            self._metrics.db_pool_in_use.dec()
        if error is None or isinstance(error, asyncpg.PostgresError):  # refused by the server: it is fine
            self._give_back(connection)
        else:
            connection.terminate()  # cancelled or broken midway: its state is unknown
            self._free_slot()

    async def close(self) -> None:
        """Closes the idle connections, fails the waiters; a connection lent is closed as it returns."""
        self._closed = True
        waiters, self._waiters = self._waiters, deque()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(asyncpg.InterfaceError("the statement pool is closed"))
        idle, self._idle = self._idle, deque()
        self._slots -= len(idle)
        results = await asyncio.gather(
            *(connection.close(timeout=self._timeout) for connection in idle), return_exceptions=True
        )
        for connection, result in zip(idle, results, strict=True):
            if isinstance(result, BaseException):
                connection.terminate()


class _Lease:
    """One statement's hold on a connection; entering awaits nothing when a connection is idle."""

    __slots__ = ("_connection", "_pool")
    _connection: asyncpg.Connection

    def __init__(self, pool: StatementPool) -> None:
        self._pool = pool

    async def __aenter__(self) -> asyncpg.Connection:
        self._connection = await self._pool.acquire()
        return self._connection

    async def __aexit__(self, _kind: object, error: BaseException | None, _traceback: object) -> None:
        self._pool.returned(self._connection, error)


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


async def _json_codecs(connection: asyncpg.Connection) -> None:
    # As sqlalchemy.dialects.postgresql.asyncpg sets them: parameters arrive serialised by the column's
    # bind processor; jsonb's binary form starts with its version byte. Parsed by pydantic-core, as the
    # engine's own JSON (broker.store.database): json.loads took four times as long (issue 7).
    await connection.set_type_codec(
        "json",
        encoder=str.encode,
        decoder=from_json,
        schema="pg_catalog",
        format="binary",
    )
    await connection.set_type_codec(
        "jsonb",
        encoder=lambda text: b"\x01" + text.encode(),
        decoder=lambda raw: from_json(raw[1:]),
        schema="pg_catalog",
        format="binary",
    )
