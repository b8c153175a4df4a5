"""Model objects rebuilt from the rows of Core statements, for the hottest reads (issue 7).

A Core statement run on a pooled connection (``Database.rows``) skips the ORM session, its identity map
and its loading machinery, which cost more than the round trip itself; these objects are built the way the
ORM's loader builds them, outside any session, and are only read.
"""

from __future__ import annotations

import functools
from collections.abc import Coroutine
from typing import Any

import sqlalchemy as sa
from sqlalchemy import bindparam, event, insert, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session as SyncSession
from sqlalchemy.orm import configure_mappers, make_transient_to_detached
from sqlalchemy.util import concurrency
from sqlmodel import SQLModel

from broker.errors import StoreConflict, StoreGuardFailed
from broker.store import prepared, round_trips

# Awaits from synchronous code run in the AsyncSession's greenlet (SQLAlchemy's own; renamed in 2.1).
_await: Any = getattr(concurrency, "await_", None) or concurrency.await_only

_DEFERRED = "core_rows_deferred"  # Session.info key: writes that go out with the next statement

# A statement and the values of its named parameters (``insert_row``, ``update_where``): statements built
# once, so that neither building them nor their cache key costs anything per request (issue 7:
# ``ValuesBase.values`` and its coercions were 7 % of a login's CPU).
Write = tuple[Any, dict[str, Any]]


async def execute(
    session: AsyncSession, statement: Any, parameters: dict[str, Any] | None = None
) -> Result[Any]:
    """A Core statement in the session's transaction, on its connection: without the ORM's statement
    handling (its DML and loading states were a tenth of a token request each, bench/README.md).
    It carries the writes ``defer`` queued (their rows are not what it reads or counts)."""
    if session.new or session.dirty or session.deleted:
        await session.flush()  # what the session's autoflush would have done first
    connection = await session.connection()
    statement, parameters = carrying_deferred(session.sync_session, statement, parameters)
    return await connection.execute(statement, parameters or None)


async def fetch(
    session: AsyncSession, statement: Any, parameters: dict[str, Any] | None = None
) -> list[tuple[Any, ...]]:
    """``execute(...).all()`` for a statement built once (``built_once``), its rows as tuples. On
    PostgreSQL by asyncpg itself on the session's connection, in its transaction (issue 7: SQLAlchemy's
    execution of one statement cost a login's callback several times the statement's own send and decode,
    as ``broker.store.prepared`` found for the token endpoint); SQLAlchemy runs it elsewhere, and any
    statement not built once."""
    rows: list[tuple[Any, ...]] = await _run(session, statement, parameters, status=False)
    return rows


async def count(session: AsyncSession, statement: Any, parameters: dict[str, Any] | None = None) -> int:
    """``execute(...).rowcount`` the way ``fetch`` runs it (on PostgreSQL, the command tag's count)."""
    counted: int = await _run(session, statement, parameters, status=True)
    return counted


async def read(
    session: AsyncSession, statement: Any, parameters: dict[str, Any] | None = None
) -> list[tuple[Any, ...]]:
    """``fetch`` for a read that locks nothing and changes nothing (no FOR UPDATE, no function with an
    effect). On PostgreSQL, while nothing has begun the session's transaction, it runs before the BEGIN:
    under READ COMMITTED every statement reads on a snapshot of its own, inside a transaction or not, so
    it reads the same rows. The BEGIN then goes out with the transaction's first write, or never (a
    transaction whose one write is its last statement: ``run_in_commit``). Issue 7: a round trip of a
    login's callback."""
    rows: list[tuple[Any, ...]] = await _run(session, statement, parameters, status=False, begin=False)
    return rows


async def _run(
    session: AsyncSession, statement: Any, parameters: dict[str, Any] | None, status: bool, begin: bool = True
) -> Any:
    if session.new or session.dirty or session.deleted:
        await session.flush()  # what the session's autoflush would have done first
    connection, adapted = await _connection(session)
    if not begin and session.sync_session.info.get(_DEFERRED):
        begin = True  # it carries writes
    statement, parameters = carrying_deferred(session.sync_session, statement, parameters)
    driver = _driver_call(adapted, connection.dialect, statement, parameters, status, begin)
    if driver is not None:
        return await driver
    result = await connection.execute(statement, parameters or None)
    if status:
        return int(result.rowcount)  # type: ignore[attr-defined]
    return [tuple(row) for row in result]


_CONNECTION = (
    "core_rows_connection"  # Session.info key: the transaction's connection, as _connection found it
)


async def _connection(session: AsyncSession) -> tuple[Any, Any]:
    """The session's connection in its transaction and its DBAPI adapter, asked of the session once per
    transaction (each ask is two greenlet switches: issue 7, a login's callback runs three or four of
    these statements in one transaction). A transaction keeps its connection to its end."""
    sync = session.sync_session
    transaction = sync.get_transaction()
    held = sync.info.get(_CONNECTION)
    if transaction is not None and held is not None and held[0] is transaction:
        return held[1], held[2]
    connection = await session.connection()
    adapted = (await connection.get_raw_connection()).dbapi_connection
    sync.info[_CONNECTION] = (sync.get_transaction(), connection, adapted)
    return connection, adapted


def run_in_commit(
    session: SyncSession,
    statement: Any,
    parameters: dict[str, Any] | list[dict[str, Any]],
    last: bool = False,
) -> list[tuple[Any, ...]] | None:
    """For the commit hook (``audit``: synchronous, inside the AsyncSession's greenlet): ``fetch``'s way
    on PostgreSQL, or, given a list of rows, the statement once per row in one round trip (asyncpg's
    ``executemany``). ``None`` where it cannot (another database, a statement not built once): the caller
    runs it through SQLAlchemy.

    ``last``: the transaction writes nothing after it. When nothing has begun the transaction yet (only
    ``read``s ran, no BEGIN went out), it goes out without BEGIN: one statement is a transaction of its
    own, all of it or nothing, and the COMMIT that follows has nothing to send (issue 7: two round trips
    of a login's callback). Its guards (``defer_expecting``) still undo all of it."""
    connection = session.connection()
    begin = not last or bool(session.new or session.dirty or session.deleted)
    driver = _driver_call(
        connection.connection.dbapi_connection, connection.dialect, statement, parameters, begin=begin
    )
    return None if driver is None else _await(driver)


def _driver_call(
    adapted: Any,
    dialect: Any,
    statement: Any,
    parameters: dict[str, Any] | list[dict[str, Any]] | None,
    status: bool = False,
    begin: bool = True,
) -> Coroutine[Any, Any, Any] | None:
    """The statement by asyncpg itself on the adapter's connection, in its transaction, as a coroutine to
    await; ``None`` unless PostgreSQL, SQLAlchemy's asyncpg adapter as 2.x lays it out, a statement built
    once (compiled once, here) and SQL that asyncpg can take as it is (an "expanding" IN is rendered by
    SQLAlchemy per execution)."""
    if dialect.name != "postgresql" or id(statement) not in _BUILT_ONCE:
        return None
    mutex, start = getattr(adapted, "_execute_mutex", None), getattr(adapted, "_start_transaction", None)
    if mutex is None or start is None:
        return None
    compiled = _compiled.get(statement)
    if compiled is None:
        compiled = _compiled[statement] = prepared.Compiled(statement, dialect)
    if "__[POSTCOMPILE" in compiled.sql:
        return None

    async def call() -> Any:
        async with mutex:  # as the adapter's own cursor: one operation at a time on the connection
            if adapted._transaction is None and begin:
                await start()  # the BEGIN the adapter sends before its first statement
            round_trips.count_one()
            driver = adapted._connection
            if isinstance(parameters, list):
                await driver.executemany(compiled.sql, [compiled.arguments(row) for row in parameters])
                return []
            arguments = compiled.arguments(parameters or {})
            if status:
                tag = await driver.execute(compiled.sql, *arguments)
                return int(tag.rsplit(" ", 1)[-1]) if tag[-1:].isdigit() else 0
            return compiled.rows(await driver.fetch(compiled.sql, *arguments))

    return call()


# Statements built once (``built_once``), compiled once for asyncpg by ``fetch``.
_compiled: dict[Any, prepared.Compiled] = {}


async def execute_together(session: AsyncSession, *statements: Any) -> None:
    """INSERT/UPDATE statements whose results nobody reads, in the session's transaction: on PostgreSQL
    as one statement, the first ones in a data-modifying WITH around the last (issue 7: one round trip
    for all). PostgreSQL runs each exactly once, all on one snapshot, so none may need to read another's
    rows (a foreign key to a row inserted beside it is fine: it is checked at the statement's end)."""
    if len(statements) == 1 or session.get_bind().dialect.name != "postgresql":
        for statement in statements:
            await execute(session, statement)
        return
    await execute(session, *together(*((statement, {}) for statement in statements)))


def together(*writes: Write) -> Write:
    """PostgreSQL: the writes as one statement, the first ones data-modifying WITHs of the last (whose
    row count is the statement's). Their parameter names must differ. A guarded write among the first
    (``Expecting``) makes the last one a SELECT or UPDATE that fails, all of it, unless the guarded write
    matched its one row."""
    *first, (last, parameters) = writes
    if isinstance(last, Expecting):  # a guard is checked by the statement that carries it
        first, last = [*first, (last, parameters)], _guard_carrier()
        parameters = {}
    if not first:
        return last, parameters
    merged: dict[str, Any] = {}
    given = len(parameters)
    for _, values in first:
        merged.update(values)
        given += len(values)
    merged.update(parameters)
    assert len(merged) == given, "parameter names clash"
    ctes = tuple(statement for statement, _ in first)
    if id(last) in _BUILT_ONCE and all(id(cte) in _BUILT_ONCE for cte in ctes):
        return _combined(last, ctes), merged  # built once too, and its cache key with it
    return _with_ctes(last, ctes), merged


def built_once(statement: Any) -> Any:
    """Marks a statement kept for the process's life (a ``functools.cache`` factory's): combinations of
    such statements are kept too."""
    _KEPT.append(statement)
    _BUILT_ONCE.add(id(statement))
    return statement


def is_built_once(statement: Any) -> bool:
    return id(statement) in _BUILT_ONCE


_KEPT: list[Any] = []  # so that no id in _BUILT_ONCE is ever another object's
_BUILT_ONCE: set[int] = set()


def _with_ctes(statement: Any, ctes: tuple[Any, ...]) -> Any:
    guards = []
    for index, cte in enumerate(ctes):
        if isinstance(cte, Expecting):
            written = cte.statement.cte(f"with_{index}")
            matched = sa.select(sa.func.count()).select_from(written).scalar_subquery()
            refusal: Any = sa.literal_column(f"'{cte.refusal}'")
            sqlstate: Any = sa.literal_column("'23505'" if cte.conflict else "'BR001'")
            guards.append(sa.func.expect_rows(matched, 1, refusal, sqlstate, type_=sa.Boolean))
        else:
            written = cte.cte(f"with_{index}")
        statement = statement.add_cte(written)
    if not guards:
        return statement
    # The guards are the carrier's condition: an INSERT has none (``together`` gives such writes a SELECT).
    assert hasattr(statement, "where"), "guarded writes are carried by a SELECT, UPDATE or DELETE"
    return statement.where(*guards)


class Expecting:
    """A write deferred with its guard (``defer_expecting``): ``statement``, an INSERT or UPDATE …
    RETURNING built once, must write exactly one row, or the statement carrying it fails (``expect_rows``,
    migration 0016): with SQLSTATE BR001, which ``Database`` raises as ``StoreGuardFailed(refusal)``; or,
    ``conflict``, as a concurrent writer's unique row (23505): ``StoreConflict``, a race lost, which the
    caller runs again."""

    def __init__(self, statement: Any, refusal: str, conflict: bool) -> None:
        assert refusal.isidentifier()  # written into the SQL: the caller's own name, never input
        self.statement, self.refusal, self.conflict = statement, refusal, conflict


@functools.cache
def expecting(statement: Any, refusal: str, conflict: bool = False) -> Expecting:
    """The guarded form of a statement built once, itself kept (so the statements carrying it are too)."""
    return built_once(Expecting(statement, refusal, conflict))


@functools.cache
def _guard_carrier() -> Any:
    # What carries guarded writes that nothing else carries: a SELECT their guards can refuse.
    return built_once(sa.select(sa.true()))


async def defer_expecting(session: AsyncSession, guarded: Expecting, parameters: dict[str, Any]) -> None:
    """``defer`` for a guarded write (``expecting``): it goes out with the statement that carries the
    deferred writes, and that statement, all of it, fails unless the write matched one row; the caller
    learns it as ``StoreGuardFailed`` when that statement runs (at commit, as often as not). Elsewhere than
    on PostgreSQL it runs at once, and a miss raises at once, in the same transaction. Issue 7: a guarded
    move checked between two statements kept a login's transaction open for both."""
    if session.get_bind().dialect.name != "postgresql":
        if len(await fetch(session, guarded.statement, parameters)) != 1:
            raise StoreConflict(guarded.refusal) if guarded.conflict else StoreGuardFailed(guarded.refusal)
        return
    queue: list[Write] = session.sync_session.info.setdefault(_DEFERRED, [])
    queue.append((guarded, parameters))


@functools.cache
def _combined(statement: Any, ctes: tuple[Any, ...]) -> Any:
    return built_once(_with_ctes(statement, ctes))


async def defer(session: AsyncSession, *statements: Any, parameters: dict[str, Any] | None = None) -> None:
    """INSERT/UPDATE statements whose rows nothing later in this transaction reads (a foreign key to them
    is fine): on PostgreSQL they go out as data-modifying WITHs of the transaction's next statement run by
    ``execute`` (or of the audit trail's lock at commit, or alone at commit), a round trip each saved
    (issue 7); elsewhere at once. Still written by the transaction, or by none of it. ``parameters``: the
    named parameters of all of them."""
    if session.get_bind().dialect.name != "postgresql":
        for statement in statements:
            await execute(session, statement, parameters)  # each takes the parameters it names
        return
    queue: list[Write] = session.sync_session.info.setdefault(_DEFERRED, [])
    if parameters and any(name in values for _, values in queue for name in parameters):
        # The same statement deferred twice: what is queued goes out first, with the last of it.
        last = queue.pop()
        await execute(session, *last)
        queue = session.sync_session.info.setdefault(_DEFERRED, [])
    queue.append((statements[0], parameters or {}))
    queue.extend((statement, {}) for statement in statements[1:])


def carrying_deferred(
    session: SyncSession, statement: Any, parameters: dict[str, Any] | None = None
) -> Write:
    """``statement`` with the deferred writes as data-modifying WITHs (PostgreSQL runs each exactly
    once, whatever the statement itself does; its row count stays its own)."""
    deferred = session.info.pop(_DEFERRED, None)
    if not deferred:
        return statement, parameters or {}
    return together(*deferred, (statement, parameters or {}))


def write_deferred(session: SyncSession) -> None:
    """At commit, what no statement carried yet (inside the AsyncSession's greenlet)."""
    deferred = session.info.pop(_DEFERRED, None)
    if deferred:
        if session.new or session.dirty or session.deleted:
            session.flush()  # the deferred rows may name rows the unit of work still holds
        statement, parameters = together(*deferred)
        session.connection().execute(statement, parameters or None)


@event.listens_for(SyncSession, "after_rollback")
def _forget_deferred(session: SyncSession) -> None:
    session.info.pop(_DEFERRED, None)
    session.info.pop(_CONNECTION, None)


@event.listens_for(SyncSession, "after_commit")
def _forget_connection(session: SyncSession) -> None:
    session.info.pop(_CONNECTION, None)


def insert_row(model: Any, row: dict[str, Any], prefix: str) -> Write:
    """The INSERT of ``row`` (``types.row_of``) as a statement built once per set of columns, its
    parameters named ``prefix`` + column (distinct prefixes let writes go together)."""
    statement = _insert(model.__table__, tuple(row), prefix)
    return statement, {prefix + key: value for key, value in row.items()}


@functools.cache
def _insert(table: Any, keys: tuple[str, ...], prefix: str) -> Any:
    return built_once(insert(table).values(set_values(table, keys, prefix)))


def insert_ignoring(
    dialect: str, model: Any, row: dict[str, Any], conflict: tuple[str, ...], prefix: str
) -> Write:
    """``insert_row`` that inserts nothing where a row with the same ``conflict`` key exists (ON CONFLICT
    DO NOTHING): idempotent, also under concurrency."""
    statement = _insert_ignoring(dialect, model.__table__, tuple(row), conflict, prefix)
    return statement, {prefix + key: value for key, value in row.items()}


@functools.cache
def _insert_ignoring(
    dialect: str, table: Any, keys: tuple[str, ...], conflict: tuple[str, ...], prefix: str
) -> Any:
    insert_of = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return built_once(
        insert_of(table)
        .values(set_values(table, keys, prefix))
        .on_conflict_do_nothing(index_elements=conflict)
    )


def set_values(table: Any, keys: tuple[str, ...], prefix: str) -> dict[str, Any]:
    """An UPDATE's SET clause of named parameters (``prefix`` + column), for statements built once."""
    return {key: bindparam(prefix + key, type_=table.c[key].type) for key in keys}


def attach_new(session: AsyncSession, instance: Any) -> None:
    """An object whose row the transaction holds (inserted by a statement of its own, or just read), into
    the session as the unit of work or the loader would have left it: persistent, its values the
    committed state."""
    make_transient_to_detached(instance)
    session.sync_session.add(instance)


def model_row(model: Any, **values: Any) -> dict[str, Any]:
    """``types.row_of(model(**values))`` without building the object: the given values and the fields'
    defaults, in the table's column order, None left out. For rows only written (a login's link, session
    and code: issue 7, SQLModel's construction of a table object, a ``setattr`` through pydantic and the
    ORM's instrumentation per field, was 6 % of a login). The values are the broker's own, as given to
    the constructor, which validates nothing of a table model either."""
    columns, defaults, factories = _fields(model)
    if not values.keys() <= columns.keys():  # as the constructor refuses an unknown keyword
        raise TypeError(f"not columns of {model.__name__}: {sorted(values.keys() - columns.keys())}")
    # The defaults and the values merged over the columns by dict operations, which keep the columns'
    # order, then the factories of the fields not given (issue 7: a loop over every column, a default
    # looked up for each, was 1,800 interpreter steps a login).
    row = columns | defaults | values
    for key, factory in factories:
        if key not in values:
            row[key] = factory()
    return {key: value for key, value in row.items() if value is not None}


@functools.cache
def _fields(model: Any) -> tuple[dict[str, None], dict[str, Any], tuple[tuple[str, Any], ...]]:
    """The table's column keys in order (a dict of None), its fields' defaults that are not None, and
    their default factories (what the constructor would set)."""
    columns: dict[str, None] = {}
    defaults: dict[str, Any] = {}
    factories = []
    for column in model.__table__.columns:
        columns[column.key] = None
        field = model.model_fields[column.key]
        if field.is_required():
            continue
        if field.default_factory is not None:
            factories.append((column.key, field.default_factory))
            continue
        default = field.get_default(call_default_factory=False)
        if default is not None:
            defaults[column.key] = default
    return columns, defaults, tuple(factories)


class ModelColumns:
    """A model's columns for a Core ``select``, and its instance rebuilt from them."""

    def __init__(self, model: type[SQLModel]) -> None:
        table: Any = model.__table__  # type: ignore[attr-defined]
        # The ORM's own queries configure the mappers first; an instance built before that (the first
        # request of a process may be one of these reads) would have attributes without their handlers.
        configure_mappers()
        mapper = inspect(model)
        # The primary key first: a NULL there is how an outer join says "no row".
        self.columns = list(table.primary_key) + [c for c in table.columns if not c.primary_key]
        self.keys = [mapper.get_property_by_column(column).key for column in self.columns]
        self._new = mapper.class_manager.new_instance  # what the ORM's loader itself calls
        self._mapper, self._key_length = mapper, len(table.primary_key)

    def __len__(self) -> int:
        return len(self.columns)

    def instance(self, values: Any) -> Any:
        """The values' object, as the ORM would load it, outside any session (read-only use)."""
        instance = self._new()
        instance.__dict__.update(zip(self.keys, values, strict=True))
        return instance

    def attached(self, session: AsyncSession, values: Any) -> Any:
        """The values' object in the session, as the ORM's loader leaves it (``fetch``'s rows): the
        object the session already holds for that key, else this one, persistent, its values the
        loaded state (what the unit of work and ``attribute.history`` compare changes with)."""
        held = self._held(session, values[: self._key_length])
        if held is not None:
            return held
        instance = self.instance(values)
        attach_new(session, instance)
        return instance

    def attach(self, session: AsyncSession, instance: Any) -> Any:
        """``attached`` for an object ``instance`` built (outside any session): it, or the object the
        session already holds for its key."""
        held = self._held(session, [instance.__dict__[key] for key in self.keys[: self._key_length]])
        if held is not None:
            return held
        attach_new(session, instance)
        return instance

    def _held(self, session: AsyncSession, key_values: Any) -> Any:
        key = self._mapper.identity_key_from_primary_key(list(key_values))
        return session.sync_session.identity_map.get(key)

    def built(self, **values: Any) -> Any:
        """``model(**values)`` as the ORM's loader builds an object (``instance``): every column set, a
        missing one to its field's default; transient, its history empty."""
        row = model_row(self._mapper.class_, **values)
        return self.instance([row.get(key) for key in self.keys])

    def instance_or_none(self, values: Any) -> Any:
        """``None`` for an outer join's missing row (its primary key NULL)."""
        return self.instance(values) if values[0] is not None else None
