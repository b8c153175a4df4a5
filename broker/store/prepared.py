"""The hottest statements on PostgreSQL through asyncpg itself, prepared once per connection (issue 7).

Measured in one process on this machine: a Core statement through ``Database.rows`` costs 0.31 ms of CPU,
the same statement by asyncpg's ``fetch`` 0.02 ms (SQLAlchemy's execution context, compiled-cache lookup,
events, result and adapter layers were the rest). The statement is still written with SQLAlchemy and
compiled once by its asyncpg dialect; its parameters and rows go through the statement's own column types
(the JSON and UTC-instant conversions), so callers see exactly what ``Database.rows`` returns. The
connection comes from the engine's pool (its size, metrics and closed-connection check apply) and runs
outside any transaction: each statement commits on its own, as the read sessions already did on
PostgreSQL. SQLite runs the same statements through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.engine import Dialect

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
        self._results: list[Processor] = results
        self._any_result_processor = any(processor is not None for processor in results)

    def arguments(self, parameters: dict[str, Any]) -> list[Any]:
        values = []
        for name, processor in self._parameters:
            value = parameters[name] if name in parameters else self._fixed[name]
            values.append(processor(value) if processor is not None and value is not None else value)
        return values

    def rows(self, records: list[Any]) -> list[tuple[Any, ...]]:
        if not self._any_result_processor:
            return [tuple(record) for record in records]
        processors = self._results
        return [
            tuple(
                processor(value) if processor is not None else value
                for processor, value in zip(processors, record, strict=True)
            )
            for record in records
        ]
