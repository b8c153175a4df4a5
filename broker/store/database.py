"""Engine and transactions. SQLite (embedded default) and PostgreSQL through asyncpg."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from broker.errors import StoreConflict, StoreUnavailable
from broker.metrics import Metrics, record_audit
from broker.store import audit
from broker.store.key_encryption import KeyEncryption
from broker.store.keys import ENCRYPTION

# The unit of work handed to repositories; use cases name it through this alias, never SQLAlchemy's.
Session = AsyncSession


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; busy_timeout makes concurrent writers queue instead
    # of failing; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # A deferred SQLite transaction that read and then writes fails at once when another writer committed
    # in between; writers therefore take the lock up front (BEGIN IMMEDIATE) and queue on busy_timeout.
    immediate = connection.get_execution_options().get("sqlite_immediate", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _sqlite_connect(dbapi_connection: Any, record: Any) -> None:
    dbapi_connection.isolation_level = None  # the driver's own BEGIN is replaced by _sqlite_begin
    _sqlite_pragmas(dbapi_connection, record)


class ObservedPool(AsyncAdaptedQueuePool):
    """The connection pool, counting its waiters and time-outs for ``broker_db_pool_*`` (issue 12)."""

    metrics: Metrics | None = None

    def _do_get(self) -> Any:
        if self.metrics is None:
            return super()._do_get()
        try:
            with self.metrics.db_pool_waiting.track_inprogress():
                return super()._do_get()
        except sa_exc.TimeoutError:
            self.metrics.db_pool_timeouts.inc()
            raise

    def recreate(self) -> Any:
        fresh = super().recreate()
        if isinstance(fresh, ObservedPool):
            fresh.metrics = self.metrics
        return fresh


def _observe_pool(engine: AsyncEngine, metrics: Metrics) -> None:
    pool = engine.sync_engine.pool
    if isinstance(pool, ObservedPool):
        pool.metrics = metrics
    event.listen(pool, "checkout", lambda *_: metrics.db_pool_in_use.inc())
    event.listen(pool, "checkin", lambda *_: metrics.db_pool_in_use.dec())


def create_engine(url: str) -> AsyncEngine:
    """Both kinds hide statement parameters from logs and error texts (issue 12)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, connect_args={"timeout": 10}, poolclass=ObservedPool, hide_parameters=True
        )
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    # hide_parameters: statement parameters (numbers, hashes, flow secrets) never reach a log line or the
    # text of a database error, whatever level the logs run at.
    return create_async_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        poolclass=ObservedPool,
        hide_parameters=True,
    )


@contextmanager
def _translated_errors() -> Iterator[None]:
    """Database errors leave the store as the broker's own two kinds, so no caller imports SQLAlchemy."""
    try:
        yield
    except IntegrityError as exc:
        raise StoreConflict(str(exc.orig)) from exc
    except (DBAPIError, OSError) as exc:
        raise StoreUnavailable(type(exc).__name__) from exc


class Database:
    def __init__(
        self, url: str, *, metrics: Metrics | None = None, key_encryption: KeyEncryption | None = None
    ) -> None:
        """``metrics``: pool gauges, and logins/links/merges counted from the audit rows as they commit;
        ``key_encryption``: seals and opens the signing keys (broker.store.keys refuses to work without)."""
        self.url = url
        self.engine = create_engine(url)
        info: dict[str, Any] = {}
        if key_encryption is not None:
            info[ENCRYPTION] = key_encryption
        if metrics is not None:
            _observe_pool(self.engine, metrics)

            def observe(fact: audit.AuditFact) -> None:
                record_audit(
                    metrics, fact.action, fact.outcome, fact.reason, fact.account_type, fact.upstream
                )

            info[audit.OBSERVER] = observe
        self._writes = async_sessionmaker(
            self.engine.execution_options(sqlite_immediate=True), expire_on_commit=False, info=info
        )
        self._reads = async_sessionmaker(self.engine, expire_on_commit=False, info=info)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: committed when the block ends, rolled back on any exception."""
        with _translated_errors():
            async with self._writes() as session, session.begin():
                yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only snapshot; never blocks writers."""
        with _translated_errors():
            async with self._reads() as session, session.begin():
                yield session

    async def ping(self) -> None:
        with _translated_errors():
            async with self.engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")

    async def dispose(self) -> None:
        await self.engine.dispose()
