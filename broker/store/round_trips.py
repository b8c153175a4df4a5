"""Counts database round trips per request, for the benchmark only (``BROKER_BENCH_COUNT_ROUND_TRIPS``).

Every statement, BEGIN, COMMIT and ROLLBACK is one round trip to the server. The count is
kept in a context variable that the request's middleware opens, so concurrent requests never mix; the
hooks are not installed at all unless the setting asks for them.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

_current: ContextVar[list[int] | None] = ContextVar("db_round_trips", default=None)


def open_count() -> tuple[list[int], Token[list[int] | None]]:
    holder = [0]
    return holder, _current.set(holder)


def close_count(token: Token[list[int] | None]) -> None:
    _current.reset(token)


def _bump(*_: Any, **__: Any) -> None:
    holder = _current.get()
    if holder is not None:
        holder[0] += 1


def count_one() -> None:
    """A statement sent without SQLAlchemy (broker.store.prepared)."""
    _bump()


def _bump_transaction(connection: Any) -> None:
    # Under AUTOCOMMIT the driver sends no BEGIN, COMMIT or ROLLBACK.
    if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        _bump()


def _bump_sent_transaction(connection: Any) -> None:
    # PostgreSQL: asyncpg's adapter sends BEGIN with a transaction's first statement, not when SQLAlchemy
    # begins it, and none at all for one whose statements all ran outside it (core_rows.read,
    # run_in_commit(last=True)); so a transaction is counted as it ends, BEGIN and COMMIT (or ROLLBACK),
    # only if it went out.
    if getattr(connection.connection.dbapi_connection, "_transaction", None) is not None:
        _bump()
        _bump()


def install(engine: AsyncEngine) -> None:
    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", _bump)
    if sync.dialect.name == "sqlite":
        # The BEGIN is a statement of its own there (broker.store.database._sqlite_begin), counted above.
        for name in ("commit", "rollback"):
            event.listen(sync, name, _bump_transaction)
        return
    for name in ("commit", "rollback"):
        event.listen(sync, name, _bump_sent_transaction)
