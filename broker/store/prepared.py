"""The hottest statements on PostgreSQL through asyncpg itself, prepared once per connection (issue 7).

Measured in one process on this machine: a Core statement through ``Database.rows`` costs 0.31 ms of CPU,
the same statement by asyncpg's ``fetch`` 0.02 ms (SQLAlchemy's execution context, compiled-cache lookup,
events, result and adapter layers were the rest). The statement is still written with SQLAlchemy and
compiled once by its asyncpg dialect; its parameters and rows go through the statement's own column types
(the JSON and UTC-instant conversions), so callers see exactly what ``Database.rows`` returns. The
connection comes from a pool of asyncpg's own (``StatementPool``) and runs outside any transaction: each
statement commits on its own, as the read sessions already did on PostgreSQL. SQLite runs the same
statements through SQLAlchemy.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from broker.metrics import Metrics

Processor = Callable[[Any], Any] | None


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
        self._parameters = [
            (name, binds[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in names
        ]
        results = [
            entry.type.dialect_impl(dialect).result_processor(dialect, None)
            for entry in compiled._result_columns
        ]
        # Only the columns that convert (instants, enums): a wide row is mostly plain values.
        self._converted = [(index, processor) for index, processor in enumerate(results) if processor]

    def arguments(self, parameters: dict[str, Any]) -> list[Any]:
        values = []
        for name, processor in self._parameters:
            value = parameters[name] if name in parameters else self._fixed[name]
            values.append(processor(value) if processor is not None and value is not None else value)
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


class StatementPool:
    """asyncpg's own pool for the statements of ``Compiled``, beside the engine's (which serves the ORM).

    Measured in one process: a checkout and return through the engine's pool cost 25 µs of CPU (two
    greenlet switches, its events and reset), asyncpg's 10 µs; with a userinfo answer at 0.25 ms that was
    a tenth of it (issue 7). Opened at the first statement (it needs the running loop), with the engine's
    connection arguments, JSON codecs as SQLAlchemy's asyncpg dialect sets them (so rows read alike
    either way), and no reset on return: nothing here opens a transaction or changes a session setting.
    A connection the server closed is replaced at its next acquire; one left in an unknown state (a
    statement cancelled or broken midway) is terminated, never returned."""

    def __init__(self, engine: AsyncEngine, size: int, timeout: float, metrics: Metrics | None) -> None:
        _, self._connect = engine.dialect.create_connect_args(engine.url)
        self._connect.pop("prepared_statement_cache_size", None)  # SQLAlchemy's adapter's, not asyncpg's
        self._size, self._timeout, self._metrics = size, timeout, metrics
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    async def _opened(self) -> asyncpg.Pool:
        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    min_size=0, max_size=self._size, init=_json_codecs, reset=_nothing, **self._connect
                )
            return self._pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        pool = self._pool or await self._opened()
        metrics = self._metrics
        if metrics is None:
            connection = await pool.acquire(timeout=self._timeout)
        else:
            with metrics.db_pool_waiting.track_inprogress():
                try:
                    connection = await pool.acquire(timeout=self._timeout)
                except TimeoutError:
                    metrics.db_pool_timeouts.inc()
                    raise
        if metrics is not None:
            metrics.db_pool_in_use.inc()
        try:
            yield connection
        except asyncpg.PostgresError:
            raise  # refused by the server: the connection is fine
        except BaseException:
            connection.terminate()  # cancelled or broken midway: its state is unknown
            raise
        finally:
            if metrics is not None:
                metrics.db_pool_in_use.dec()
            await pool.release(connection)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


async def _json_codecs(connection: asyncpg.Connection) -> None:
    # As sqlalchemy.dialects.postgresql.asyncpg sets them: parameters arrive serialised by the column's
    # bind processor; jsonb's binary form starts with its version byte.
    await connection.set_type_codec(
        "json",
        encoder=str.encode,
        decoder=lambda raw: json.loads(raw.decode()),
        schema="pg_catalog",
        format="binary",
    )
    await connection.set_type_codec(
        "jsonb",
        encoder=lambda text: b"\x01" + text.encode(),
        decoder=lambda raw: json.loads(raw[1:].decode()),
        schema="pg_catalog",
        format="binary",
    )


async def _nothing(_connection: asyncpg.Connection) -> None:
    return None
