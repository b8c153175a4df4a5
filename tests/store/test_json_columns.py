"""JSON columns, written and read by pydantic-core since the twenty-second round of issue 7 (the engine's
serializer, the statement pool's codecs): what goes in comes back the same, on both databases, through the
ORM and through a statement on a pooled connection, Vietnamese text and integer keys included."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from broker.store import core_rows
from broker.store.database import Database
from broker.store.tables import AccountEvent

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
DATA: dict[str, Any] = {
    "name": "Nguyễn Thị Ánh Tuyết",
    "units": ["Xã Đông Hưng", None, True, 3, 2.5],
    "nested": {"amr": ["pwd", "otp"], "level": 2},
    "quote": 'a "b" \\ c\n',
}

INTEGER_KEYED: dict[Any, Any] = {1: "one"}


@cache
def _data_of() -> Any:
    return core_rows.built_once(
        select(col(AccountEvent.data)).where(col(AccountEvent.sub) == sa.bindparam("sub"))
    )


async def test_a_json_column_comes_back_as_written(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with database.transaction() as session:
            session.add(AccountEvent(type="note", sub="acc-1", data=DATA, created_at=NOW))
            session.add(AccountEvent(type="note", sub="acc-2", data=INTEGER_KEYED, created_at=NOW))
        async with database.read() as session:
            read = (
                await session.execute(select(AccountEvent).where(col(AccountEvent.sub) == "acc-1"))
            ).scalar_one()
            assert read.data == DATA
        # On PostgreSQL by asyncpg on the statement pool's connections, with its own JSON codecs.
        assert await database.rows(_data_of(), {"sub": "acc-1"}) == [(DATA,)]
        # An integer key is written as its text, as json.dumps wrote it.
        assert await database.rows(_data_of(), {"sub": "acc-2"}) == [({"1": "one"},)]
    finally:
        await database.dispose()
