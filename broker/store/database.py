"""Engine and transactions. SQLite (embedded default) and PostgreSQL through asyncpg."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Literal, overload

import asyncpg
from pydantic_core import from_json, to_json
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.exc import DataError, DBAPIError, DisconnectionError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from broker.errors import StoreConflict, StoreGuardFailed, StoreRejectedInput, StoreUnavailable
from broker.metrics import Metrics, record_audit
from broker.store import audit, core_rows, prepared, round_trips
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


def _json_text(value: Any) -> str:
    return to_json(value).decode()


# JSON columns written and read by pydantic-core (compact UTF-8 text, as jsonb keeps it anyway): json.dumps
# and json.loads took four to six times as long for a login's small documents (issue 7, twenty-second
# round), and the statement pool's codecs parse the same way (broker.store.prepared).
JSON_CODEC: dict[str, Any] = {"json_serializer": _json_text, "json_deserializer": from_json}

# How long an ORM connection lives on PostgreSQL before it is opened again: ``create_engine``.
CONNECTION_LIFETIME_SECONDS = 3600


def create_engine(
    url: str,
    count_round_trips: bool = False,
    pool_size: int = 20,
    max_overflow: int = 10,
    pool_timeout: float = 30.0,
    connection_lifetime: int = CONNECTION_LIFETIME_SECONDS,
) -> AsyncEngine:
    """Both kinds hide statement parameters from logs and error texts (issue 12). ``connection_lifetime``
    (PostgreSQL): a connection older than this is opened again at its next checkout."""
    pool = {
        "poolclass": ObservedPool,
        "pool_size": pool_size,
        "max_overflow": max_overflow,
        "pool_timeout": pool_timeout,
    }
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        in_memory = not path or path == ":memory:"
        engine = create_async_engine(
            url,
            connect_args={"timeout": 10},
            hide_parameters=True,
            **JSON_CODEC,
            **({} if in_memory else pool),
        )
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        if count_round_trips:
            round_trips.install(engine)
        return engine
    # No pool_pre_ping: on asyncpg it costs three round trips (BEGIN, ";", ROLLBACK) per checkout. A
    # connection the server closed (restart, failover) is noticed by the event loop as it happens, so the
    # checkout below swaps it for a new one without asking the server anything.
    # hide_parameters: statement parameters (numbers, hashes, flow secrets) never reach a log line or the
    # text of a database error, whatever level the logs run at.
    # pool_recycle: SQLAlchemy's asyncpg adapter keeps a connection's prepared statements, and PostgreSQL
    # their plans, for as long as the connection lives; opened again every hour, the ORM's statements are
    # planned again for the tables as they have grown, as the statement pool's are every five minutes
    # (broker.store.prepared; issue 7, seventeenth round).
    engine = create_async_engine(
        url, hide_parameters=True, pool_recycle=connection_lifetime, **JSON_CODEC, **pool
    )
    event.listen(engine.sync_engine.pool, "checkout", _refuse_closed)
    if count_round_trips:
        round_trips.install(engine)
    return engine


def _refuse_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    # asyncpg's own connection, under SQLAlchemy's adapter
    driver_connection = getattr(dbapi_connection, "_connection", None)
    if driver_connection is not None and driver_connection.is_closed():
        raise DisconnectionError("the server closed this connection")


class _TranslatedErrors:
    """``with _translated_errors():``, without a generator per use (issue 7: every statement of a
    login passes here): an error goes through ``_translating``, where the broker's own kinds come from."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, _kind: object, error: BaseException | None, _traceback: object) -> None:
        if isinstance(error, Exception):
            with _translating():
                raise error


_TRANSLATED_ERRORS = _TranslatedErrors()


def _translated_errors() -> _TranslatedErrors:
    """Database errors leave the store as the broker's own kinds, so no caller imports SQLAlchemy."""
    return _TRANSLATED_ERRORS


@contextmanager
def _translating() -> Iterator[None]:
    """What ``_translated_errors`` turns an error into (re-raised as it was if none of these)."""
    try:
        try:
            yield
        except (asyncpg.PostgresError, DBAPIError) as exc:
            refusal = _guard_refusal(exc)
            if refusal is not None:
                raise StoreGuardFailed(refusal) from None
            raise
    except asyncpg.IntegrityConstraintViolationError as exc:  # by asyncpg itself (broker.store.prepared)
        raise StoreConflict(str(exc)) from exc
    except asyncpg.DataError as exc:
        raise StoreRejectedInput(exc.sqlstate) from exc
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise StoreUnavailable(type(exc).__name__) from exc
    except IntegrityError as exc:
        raise StoreConflict(str(exc.orig)) from exc
    except PoolTimeout as exc:
        # Every connection busy for the whole pool timeout: saturated, as good as unavailable.
        raise StoreUnavailable("pool_timeout") from exc
    except (DBAPIError, OSError) as exc:
        if _is_data_exception(exc):
            # A value the database refuses (PostgreSQL: a NUL byte in text, an over-long value): bad
            # input, not an outage.
            raise StoreRejectedInput(str(getattr(getattr(exc, "orig", None), "sqlstate", "22000"))) from exc
        raise StoreUnavailable(type(exc).__name__) from exc


# SQLSTATE of a failed guard (``expect_rows``, migration 0016; ``core_rows.defer_expecting``).
GUARD_FAILED = "BR001"


def _guard_refusal(exc: Exception) -> str | None:
    """The refusal a failed guard names, raised by asyncpg itself or through SQLAlchemy's adapter."""
    driver = exc if isinstance(exc, asyncpg.PostgresError) else getattr(exc, "orig", None)
    if getattr(driver, "sqlstate", None) != GUARD_FAILED:
        return None
    original = driver if isinstance(driver, asyncpg.PostgresError) else getattr(driver, "__cause__", None)
    return str(getattr(original, "message", None) or "guard_failed")


def _is_data_exception(exc: Exception) -> bool:
    """SQLSTATE class 22 ("data exception"); asyncpg's errors reach SQLAlchemy as its generic Error."""
    if isinstance(exc, DataError):
        return True
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith("22")


class Database:
    def __init__(
        self,
        url: str,
        count_round_trips: bool = False,
        pool_size: int = 20,
        max_overflow: int = 10,
        pool_timeout: float = 30.0,
        metrics: Metrics | None = None,
        key_encryption: KeyEncryption | None = None,
        statement_lifetime: int = prepared.STATEMENT_LIFETIME_SECONDS,
        connection_lifetime: int = CONNECTION_LIFETIME_SECONDS,
    ) -> None:
        """``metrics``: pool gauges, and logins/links/merges counted from the audit rows as they commit;
        ``key_encryption``: seals and opens the signing keys (broker.store.keys refuses to work without);
        ``statement_lifetime``: how long a connection of the statement pool keeps a prepared statement
        (``prepared.StatementPool``); ``connection_lifetime``: how long the ORM's connections live, and so
        their statements (``create_engine``)."""
        self.url = url
        # PostgreSQL: ``pool_size`` connections for the statements asyncpg runs itself (a login's, the token
        # endpoints'), and half as many for the ORM's transactions (every other path), which the overflow
        # tops up in a burst; elsewhere the engine's pool serves everything.
        postgresql = not url.startswith("sqlite")
        orm_pool = max(1, pool_size // 2) if postgresql else pool_size
        self.engine = create_engine(
            url, count_round_trips, orm_pool, max_overflow, pool_timeout, connection_lifetime
        )
        info: dict[str, Any] = {}
        self._audit_observer: audit.AuditObserver | None = None
        if key_encryption is not None:
            info[ENCRYPTION] = key_encryption
        if metrics is not None:
            _observe_pool(self.engine, metrics)

            def observe(fact: audit.AuditFact) -> None:
                record_audit(
                    metrics, fact.action, fact.outcome, fact.reason, fact.account_type, fact.upstream
                )

            info[audit.OBSERVER] = self._audit_observer = observe
        self._write_engine = self.engine.execution_options(sqlite_immediate=True)
        self._writes = async_sessionmaker(self._write_engine, expire_on_commit=False, info=info)
        # PostgreSQL reads run without BEGIN/COMMIT (two round trips saved): under READ COMMITTED every
        # statement takes its own snapshot anyway, inside a transaction or not. SQLite keeps its read
        # transaction, which is what gives it a snapshot.
        reads = self.engine
        if self.engine.dialect.name == "postgresql":
            reads = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._reads = async_sessionmaker(reads, expire_on_commit=False, info=info)
        self._read_engine = reads
        self._postgresql = self.engine.dialect.name == "postgresql"
        # The statements run by asyncpg, compiled once each (they are built once: broker.store's caches),
        # on connections of their own pool (issue 7: at half the ORM's size, a login's statements waited
        # for one under load, 7 % of a login's CPU in the benchmark).
        self._compiled: dict[Any, prepared.Compiled] = {}
        self._statements = (
            prepared.StatementPool(self.engine, max(2, pool_size), pool_timeout, metrics, statement_lifetime)
            if self._postgresql
            else None
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: committed when the block ends, rolled back on any exception."""
        with _translated_errors():
            async with self._writes() as session, session.begin():
                yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """Reads only; never blocks writers (a snapshot on SQLite; per statement on PostgreSQL)."""
        with _translated_errors():
            async with self._reads() as session, session.begin():
                yield session

    async def write_alone(self, *writes: core_rows.Write) -> int:
        """Writes that are a transaction of their own (nothing read first, nothing after): on PostgreSQL
        one statement (``core_rows.together``) sent by asyncpg itself without BEGIN and COMMIT, which the
        server commits as it ends (issue 7: two round trips of a login step saved, then SQLAlchemy's
        execution of it); on SQLite one transaction. Returns the last statement's row count."""
        with _translated_errors():
            if self.engine.dialect.name == "postgresql":
                statement, parameters = core_rows.together(*writes)
                if core_rows.is_built_once(statement):  # compiled once, kept: by asyncpg itself
                    return await self._by_asyncpg(statement, parameters, status=True)
                async with self._read_engine.connect() as connection:  # AUTOCOMMIT
                    result = await connection.execute(statement, parameters or None)
                    return int(result.rowcount)  # type: ignore[attr-defined]
            async with self._write_engine.begin() as connection:
                for statement, parameters in writes:
                    result = await connection.execute(statement, parameters or None)
                return int(result.rowcount)  # type: ignore[attr-defined]

    async def write_alone_returning(self, statement: Any, parameters: dict[str, Any]) -> list[Any] | None:
        """One statement that writes and returns rows, a transaction of its own, sent by asyncpg without
        BEGIN and COMMIT on PostgreSQL (``write_alone``); ``None`` elsewhere, where the caller takes its
        other way."""
        if self.engine.dialect.name != "postgresql":
            return None
        return await self._by_asyncpg(statement, parameters)

    async def rows(self, statement: Any, parameters: dict[str, Any]) -> list[Any]:
        """One Core read statement on a pooled connection, without an ORM session (the hottest reads).

        Same isolation as ``read()``: no BEGIN on PostgreSQL (by asyncpg itself, ``broker.store.prepared``),
        a snapshot transaction on SQLite."""
        if self._postgresql:
            return await self._by_asyncpg(statement, parameters)
        with _translated_errors():
            async with self._read_engine.connect() as connection:
                return list((await connection.execute(statement, parameters)).all())

    @overload
    async def _by_asyncpg(self, statement: Any, parameters: dict[str, Any]) -> list[Any]: ...

    @overload
    async def _by_asyncpg(self, statement: Any, parameters: dict[str, Any], status: Literal[True]) -> int: ...

    async def _by_asyncpg(self, statement: Any, parameters: dict[str, Any], status: bool = False) -> Any:
        """The statement's rows; with ``status``, the row count its command tag says (``UPDATE 1``)."""
        compiled = self._compiled.get(statement)
        if compiled is None:
            compiled = self._compiled[statement] = prepared.Compiled(statement, self.engine.dialect)
        arguments = compiled.arguments(parameters)
        pool = self._statements
        assert pool is not None
        with _translated_errors():
            # The pool's lease without its context manager: an idle connection is taken without a
            # coroutine (three fewer per statement than ``async with pool.connection()``).
            connection = pool.lend_idle()
            if connection is None:
                connection = await pool.acquire()
            try:
                round_trips.count_one()
                if status:
                    tag = await connection.execute(compiled.sql, *arguments)
                else:
                    records = await connection.fetch(compiled.sql, *arguments)
            except BaseException as error:
                pool.returned(connection, error)
                raise
            pool.returned(connection, None)
        if status:
            return int(tag.rsplit(" ", 1)[-1]) if tag[-1:].isdigit() else 0
        return compiled.rows(records)

    async def commit_one(self, statement: Any, parameters: dict[str, Any]) -> list[Any]:
        """One writing Core statement, committed as it ends, and its rows. On PostgreSQL outside any
        BEGIN/COMMIT (a statement on its own is its own transaction, all of it or nothing): two round trips
        fewer than ``transaction()`` (issue 7: BEGIN alone was a tenth of the token endpoint)."""
        if self._postgresql:
            return await self._by_asyncpg(statement, parameters)
        with _translated_errors():
            async with self._write_engine.begin() as connection:
                return list((await connection.execute(statement, parameters)).all())

    async def commit_writes(
        self, writes: list[core_rows.Write], audit_rows: list[dict[str, Any]], account_type: Any
    ) -> None:
        """PostgreSQL only: ``writes`` and the audit ``rows`` (``audit.row``'s), chained after the trail's
        head, as one statement, a transaction of its own without BEGIN and COMMIT: what a transaction whose
        writes were all deferred (``core_rows.defer``) sends at its commit, without an ORM session (issue
        7). A guarded write among them that missed fails all of it (``StoreGuardFailed``). Once written,
        the rows are logged and counted as a committed transaction's are; ``account_type``: of the login
        rows' subject."""
        assert self._postgresql
        statement, parameters = core_rows.together(*writes, audit.chained_write(audit_rows))
        await self._by_asyncpg(statement, parameters)
        audit.report_written(audit_rows, account_type, self._audit_observer)

    @property
    def dialect_name(self) -> str:
        return str(self.engine.dialect.name)

    @property
    def is_postgresql(self) -> bool:
        return self._postgresql

    async def ping(self) -> None:
        with _translated_errors():
            async with self.engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")

    async def dispose(self) -> None:
        if self._statements is not None:
            await self._statements.close()
        await self.engine.dispose()
