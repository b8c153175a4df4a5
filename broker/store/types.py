"""Column types shared by the tables."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from broker.clock import aware_utc, naive_utc


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Stores instants as naive UTC (SQLite has no time zones) and hands back aware UTC datetimes.

    Refuses naive datetimes on the way in: a naive datetime is a bug.
    """

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return naive_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite may hand back text for raw SQL results
            value = datetime.fromisoformat(value)
        return aware_utc(value)


def row_of(instance: Any) -> dict[str, Any]:
    """A table instance as the values of one INSERT: written by a plain statement, not the ORM's unit of
    work, which costs several times more per row on the hot paths (bench/README.md)."""
    # None is left out, as the ORM leaves out an attribute never set: the column's default (SQL NULL, not
    # a JSON null) applies.
    keys = _column_keys(instance.__table__)
    held = instance.__dict__
    if held.keys() >= keys.keys():
        # Every column's value held (a constructed object): read from the instance's own dict, not through
        # the ORM's attribute descriptor per column (issue 7: a first login's account, 40 columns).
        return {key: value for key in keys if (value := held[key]) is not None}
    values = {key: getattr(instance, key) for key in keys}
    return {key: value for key, value in values.items() if value is not None}


@functools.cache
def _column_keys(table: Any) -> dict[str, None]:
    """A table's column keys in its order (a dict: ordered, its keys a set)."""
    return dict.fromkeys(column.key for column in table.columns)
