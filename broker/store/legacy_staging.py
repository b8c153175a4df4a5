"""Bulk loading of legacy exports: a staging table per import, then set-based statements (issue 9).

One connection carries the whole import. Rows arrive in chunks; each chunk is one transaction: the chunk
goes into a temporary staging table (PostgreSQL: ``COPY`` through asyncpg; SQLite: one ``executemany``),
then a handful of statements apply it to ``accounts`` and ``legacy_accounts``:

1. keys already seen earlier in the file (a temporary table of keys) or repeated within the chunk are set
   aside: the first occurrence wins, the others are reported back as duplicates;
2. accounts whose legacy row changed (a different content digest) take the new identity data, unless the
   account is linked to VNeID (then VNeID is the authority), merged, or a merge survivor with several
   records;
3. legacy rows whose digest changed are updated; a password hash is replaced only when the file's differs
   from the one imported last time, so a rehash done at login survives re-imports;
4. new keys get an account (its random ``sub`` made by the caller) and a legacy row.

A re-import of the same file therefore writes nothing; a killed import keeps the chunks it committed, and
running it again finishes the job: the unique (source_system, legacy_id) key never lets a row in twice.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from broker.store.database import Database, _translated_errors

# The staging table's columns, in the order callers give each row's values.
COLUMNS = (
    "line",
    "source_system",
    "legacy_id",
    "username",
    "username_key",
    "account_type",
    "full_name",
    "birth_date",
    "gender",
    "cmnd",
    "cccd",
    "org_name",
    "tax_code",
    "email",
    "phone",
    "unit_code",
    "password_hash",
    "hash_scheme",
    "source_created_at",
    "content_hash",
    "sub",
    "identification_number",  # the account's: a valid CCCD, else empty
    "old_identification_number",  # the account's: a valid CMND, else empty
    "cleanup_class",
    "name_key",
)
_TYPES = {
    "line": "INTEGER NOT NULL",
    "birth_date": "DATE",
    "source_created_at": "TIMESTAMP",
    "password_hash": "TEXT",
}
_LEGACY_FIELDS = (
    "username",
    "username_key",
    "account_type",
    "full_name",
    "birth_date",
    "gender",
    "cmnd",
    "cccd",
    "org_name",
    "tax_code",
    "email",
    "phone",
    "unit_code",
    "source_created_at",
)
# Classes of citizens not cleaned: a suspected duplicate stays one until reconcile or a link says otherwise.
_NOT_CLEANED = "('clean_unlinked','cmnd_only','no_id','invalid_id','inconsistent_id')"


@dataclass(frozen=True)
class ChunkResult:
    created: int
    updated: int
    duplicates: list[tuple[int, int]]  # (line, the line where its key first appeared)


def utc_naive(at: datetime | None) -> datetime | None:
    """Staging columns are plain TIMESTAMPs holding UTC, like every instant the store keeps."""
    return at.astimezone(UTC).replace(tzinfo=None) if at is not None else None


def _sqlite_value(value: Any) -> Any:
    """Dates and instants as SQLAlchemy writes them on SQLite, so that stored values compare alike."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


_DATE_COLUMNS = [COLUMNS.index("birth_date"), COLUMNS.index("source_created_at")]


def _sqlite_row(row: tuple[Any, ...]) -> list[Any]:
    values = list(row)
    for index in _DATE_COLUMNS:
        if values[index] is not None:
            values[index] = _sqlite_value(values[index])
    return values


class StagedImport:
    def __init__(self, connection: AsyncConnection, now: datetime, dry_run: bool) -> None:
        self._connection = connection
        self._postgres = connection.dialect.name == "postgresql"
        naive = utc_naive(now)
        self._now: Any = naive if self._postgres else _sqlite_value(naive)
        self._dry_run = dry_run
        self._differs = "IS DISTINCT FROM" if self._postgres else "IS NOT"

    async def _setup(self) -> None:
        columns = ", ".join(f"{name} {_TYPES.get(name, 'VARCHAR(300)')}" for name in COLUMNS)
        async with self._transaction():
            if not self._postgres:
                # This connection only: room for the indexes a large import walks. (The staging tables stay
                # in SQLite's temporary file: the file's keys, kept for the whole import, grow with it.)
                await self._sql("PRAGMA cache_size = -32768")
            await self._sql(f"CREATE TEMPORARY TABLE imp_staging ({columns})")
            await self._sql(
                "CREATE TEMPORARY TABLE imp_seen (source_system VARCHAR(100) NOT NULL,"
                " legacy_id VARCHAR(100) NOT NULL, line INTEGER NOT NULL,"
                " PRIMARY KEY (source_system, legacy_id))"
            )

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        with _translated_errors():
            async with self._connection.begin():
                yield

    async def _sql(self, statement: str, params: dict[str, Any] | None = None) -> Any:
        return await self._connection.execute(text(statement), params or {})

    async def apply(self, rows: Sequence[tuple[Any, ...]]) -> ChunkResult:
        """One chunk, one transaction. Each row gives the values of ``COLUMNS`` in order."""
        async with self._transaction():
            await self._sql("DELETE FROM imp_staging")
            await self._load(rows)
            duplicates = await self._set_aside_duplicates()
            if self._dry_run:
                created, updated = await self._would_change()
            else:
                await self._update_accounts()
                updated = (await self._update_legacy()).rowcount
                created = await self._create()
        return ChunkResult(created, updated, duplicates)

    async def _load(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if self._postgres:
            raw = await self._connection.get_raw_connection()
            driver: Any = raw.driver_connection
            await driver.copy_records_to_table("imp_staging", records=rows, columns=list(COLUMNS))
            # Statistics for the planner: a temporary table has none, and a wrong guess joins it row by row.
            await self._sql("ANALYZE imp_staging")
        else:
            # One statement reading the chunk as a JSON array: SQLite runs it without the interpreter's lock,
            # where an executemany would take that lock back for every row (and queue behind the parser).
            picks = ", ".join(f"value ->> {index}" for index in range(len(COLUMNS)))
            document = json.dumps(
                [[_sqlite_value(value) for value in row] for row in rows], ensure_ascii=False
            )
            await self._sql(
                f"INSERT INTO imp_staging SELECT {picks} FROM json_each(:rows)", {"rows": document}
            )

    async def _set_aside_duplicates(self) -> list[tuple[int, int]]:
        within = await self._sql(
            "SELECT line, first_line FROM (SELECT line, MIN(line) OVER (PARTITION BY source_system, legacy_id)"
            " AS first_line FROM imp_staging) keyed WHERE line <> first_line"
        )
        earlier = await self._sql(
            "SELECT s.line, seen.line FROM imp_staging s JOIN imp_seen seen"
            " ON seen.source_system = s.source_system AND seen.legacy_id = s.legacy_id"
        )
        duplicates = sorted({(line, first) for line, first in [*within.all(), *earlier.all()]})
        lines = sorted({line for line, _ in duplicates})
        for start in range(0, len(lines), 500):
            batch = lines[start : start + 500]
            params = {f"l{index}": line for index, line in enumerate(batch)}
            marks = ", ".join(f":l{index}" for index in range(len(batch)))
            await self._sql(f"DELETE FROM imp_staging WHERE line IN ({marks})", params)
        await self._sql("INSERT INTO imp_seen SELECT source_system, legacy_id, line FROM imp_staging")
        return duplicates

    async def _would_change(self) -> tuple[int, int]:
        created = await self._sql(
            "SELECT COUNT(*) FROM imp_staging s WHERE NOT EXISTS (SELECT 1 FROM legacy_accounts l"
            " WHERE l.source_system = s.source_system AND l.legacy_id = s.legacy_id)"
        )
        updated = await self._sql(
            "SELECT COUNT(*) FROM imp_staging s JOIN legacy_accounts l ON l.source_system = s.source_system"
            f" AND l.legacy_id = s.legacy_id WHERE l.content_hash {self._differs} s.content_hash"
        )
        return int(created.scalar_one()), int(updated.scalar_one())

    async def _update_accounts(self) -> None:
        await self._sql(
            "UPDATE accounts SET account_type = s.account_type, name = s.full_name,"
            " birthdate = s.birth_date, gender = s.gender, identification_number = s.identification_number,"
            " old_identification_number = s.old_identification_number, org_name = s.org_name,"
            " tax_code = s.tax_code, unit_code = s.unit_code, name_key = s.name_key, updated_at = :now,"
            " cleanup_class = CASE WHEN accounts.cleanup_class = 'duplicate_suspect'"
            f" AND s.cleanup_class IN {_NOT_CLEANED} THEN 'duplicate_suspect' ELSE s.cleanup_class END"
            " FROM imp_staging s JOIN legacy_accounts l"
            " ON l.source_system = s.source_system AND l.legacy_id = s.legacy_id"
            f" WHERE accounts.id = l.account_id AND l.content_hash {self._differs} s.content_hash"
            " AND accounts.merged_into_id IS NULL AND accounts.status <> 'merged'"
            " AND NOT EXISTS (SELECT 1 FROM upstream_links u WHERE u.account_id = accounts.id)"
            " AND NOT EXISTS (SELECT 1 FROM legacy_accounts other"
            " WHERE other.account_id = accounts.id AND other.id <> l.id)",
            {"now": self._now},
        )

    async def _update_legacy(self) -> Any:
        fields = ", ".join(f"{name} = s.{name}" for name in _LEGACY_FIELDS)
        return await self._sql(
            f"UPDATE legacy_accounts SET {fields},"
            " password_hash = CASE WHEN s.password_hash"
            f" {self._differs} legacy_accounts.imported_password_hash"
            " THEN s.password_hash ELSE legacy_accounts.password_hash END,"
            f" hash_scheme = CASE WHEN s.password_hash {self._differs} legacy_accounts.imported_password_hash"
            " THEN s.hash_scheme ELSE legacy_accounts.hash_scheme END,"
            " imported_password_hash = s.password_hash, content_hash = s.content_hash, updated_at = :now"
            " FROM imp_staging s WHERE legacy_accounts.source_system = s.source_system"
            " AND legacy_accounts.legacy_id = s.legacy_id"
            f" AND legacy_accounts.content_hash {self._differs} s.content_hash",
            {"now": self._now},
        )

    async def _create(self) -> int:
        created = await self._sql(
            "INSERT INTO accounts (sub, account_type, status, name, birthdate, gender,"
            " identification_number, old_identification_number, org_name, tax_code, unit_code,"
            " merged_into_id, needs_review, created_at, updated_at, cleanup_class, name_key)"
            " SELECT s.sub, s.account_type, 'active', s.full_name, s.birth_date, s.gender,"
            " s.identification_number, s.old_identification_number, s.org_name, s.tax_code, s.unit_code,"
            " NULL, :no, :now, :now, s.cleanup_class, s.name_key FROM imp_staging s"
            " WHERE NOT EXISTS (SELECT 1 FROM legacy_accounts l"
            " WHERE l.source_system = s.source_system AND l.legacy_id = s.legacy_id)",
            {"now": self._now, "no": False},
        )
        if not created.rowcount:
            return 0  # a re-import: nothing new, and no join to make
        fields = ", ".join(_LEGACY_FIELDS)
        values = ", ".join(f"s.{name}" for name in _LEGACY_FIELDS)
        await self._sql(
            f"INSERT INTO legacy_accounts (account_id, source_system, legacy_id, {fields}, password_hash,"
            " hash_scheme, imported_password_hash, content_hash, imported_at, updated_at)"
            f" SELECT a.id, s.source_system, s.legacy_id, {values}, s.password_hash, s.hash_scheme,"
            " s.password_hash, s.content_hash, :now, :now FROM imp_staging s JOIN accounts a ON a.sub = s.sub",
            {"now": self._now},
        )
        return int(created.rowcount)


@asynccontextmanager
async def staged_import(db: Database, now: datetime, *, dry_run: bool = False) -> AsyncIterator[StagedImport]:
    """A connection of its own for one import, with its temporary tables; they go with the connection."""
    with _translated_errors():
        async with db.engine.execution_options(sqlite_immediate=True).connect() as connection:
            staged = StagedImport(connection, now, dry_run)
            await staged._setup()
            try:
                yield staged
            finally:
                async with staged._transaction():
                    await staged._sql("DROP TABLE IF EXISTS imp_staging")
                    await staged._sql("DROP TABLE IF EXISTS imp_seen")
