"""Model objects rebuilt from the rows of Core statements, for the hottest reads (issue 7).

A Core statement run on a pooled connection (``Database.rows``) skips the ORM session, its identity map
and its loading machinery, which cost more than the round trip itself; these objects are built the way the
ORM's loader builds them, outside any session, and are only read.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session as SyncSession
from sqlalchemy.orm import configure_mappers
from sqlmodel import SQLModel

_DEFERRED = "core_rows_deferred"  # Session.info key: writes that go out with the next statement


async def execute(
    session: AsyncSession, statement: Any, parameters: dict[str, Any] | None = None
) -> Result[Any]:
    """A Core statement in the session's transaction, on its connection: without the ORM's statement
    handling (its DML and loading states were a tenth of a token request each, bench/README.md).
    It carries the writes ``defer`` queued (their rows are not what it reads or counts)."""
    if session.new or session.dirty or session.deleted:
        await session.flush()  # what the session's autoflush would have done first
    connection = await session.connection()
    return await connection.execute(carrying_deferred(session.sync_session, statement), parameters)


async def defer(session: AsyncSession, *statements: Any) -> None:
    """INSERT/UPDATE statements whose rows nothing later in this transaction reads (a foreign key to them
    is fine): on PostgreSQL they go out as data-modifying WITHs of the transaction's next statement run by
    ``execute`` (or of the audit trail's lock at commit, or alone at commit), a round trip each saved
    (issue 7); elsewhere at once. Still written by the transaction, or by none of it."""
    if session.get_bind().dialect.name != "postgresql":
        for statement in statements:
            await execute(session, statement)
        return
    session.sync_session.info.setdefault(_DEFERRED, []).extend(statements)


def carrying_deferred(session: SyncSession, statement: Any) -> Any:
    """``statement`` with the deferred writes as data-modifying WITHs (PostgreSQL runs each exactly
    once, whatever the statement itself does; its row count stays its own)."""
    deferred = session.info.pop(_DEFERRED, None)
    for index, write in enumerate(deferred or ()):
        statement = statement.add_cte(write.cte(f"deferred_{index}"))
    return statement


def write_deferred(session: SyncSession) -> None:
    """At commit, what no statement carried yet (inside the AsyncSession's greenlet)."""
    deferred = session.info.pop(_DEFERRED, None)
    if deferred:
        if session.new or session.dirty or session.deleted:
            session.flush()  # the deferred rows may name rows the unit of work still holds
        *first, last = deferred
        session.info[_DEFERRED] = first
        session.connection().execute(carrying_deferred(session, last))


@event.listens_for(SyncSession, "after_rollback")
def _forget_deferred(session: SyncSession) -> None:
    session.info.pop(_DEFERRED, None)


async def execute_together(session: AsyncSession, *statements: Any) -> None:
    """INSERT/UPDATE statements whose results nobody reads, in the session's transaction: on PostgreSQL
    as one statement, the first ones in a data-modifying WITH around the last (issue 7: one round trip
    for all). PostgreSQL runs each exactly once, all on one snapshot, so none may need to read another's
    rows (a foreign key to a row inserted beside it is fine: it is checked at the statement's end)."""
    if len(statements) == 1 or session.get_bind().dialect.name != "postgresql":
        for statement in statements:
            await execute(session, statement)
        return
    await execute(session, together(*statements))


def together(*statements: Any) -> Any:
    """PostgreSQL: the statements as one, the first ones data-modifying WITHs of the last (whose row
    count is the statement's)."""
    *first, last = statements
    for index, statement in enumerate(first):
        last = last.add_cte(statement.cte(f"together_{index}"))
    return last


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

    def __len__(self) -> int:
        return len(self.columns)

    def instance(self, values: Any) -> Any:
        """The values' object, as the ORM would load it, outside any session (read-only use)."""
        instance = self._new()
        instance.__dict__.update(zip(self.keys, values, strict=True))
        return instance

    def instance_or_none(self, values: Any) -> Any:
        """``None`` for an outer join's missing row (its primary key NULL)."""
        return self.instance(values) if values[0] is not None else None
