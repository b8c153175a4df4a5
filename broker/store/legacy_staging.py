"""Bulk loading of legacy exports: a staging table per import, then set-based statements (issue 9).

One connection carries the whole import. Rows arrive in chunks; each chunk is one transaction: the chunk
goes into a temporary staging table (PostgreSQL: ``COPY`` of the parser's CSV through asyncpg; SQLite:
``executemany``), then a handful of statements apply it to ``accounts`` and ``legacy_accounts``:

1. keys already seen earlier in the file (a temporary table of keys) or repeated within the chunk are set
   aside: the first occurrence wins, the others are reported back as duplicates;
2. rows whose content digest equals the stored one are dropped from the staging table: unchanged (looked
   up by the unique (source_system, legacy_id) index). Most unchanged rows never come here: the parser
   knows the digests stored when the import started, and the importer counts a row with one of them as
   unchanged without the database (a re-import's common case);
3. what remains is new or changed: each changed row learns its legacy row and account (one index probe),
   and the stored digest it replaces goes to the caller's ``claim``, which sets aside a row whose key an
   earlier row the database never saw (a known one) already gave;
4. accounts whose legacy row changed take the new identity data, unless the account is linked to VNeID
   (then VNeID is the authority), merged, or a merge survivor with several records;
5. changed legacy rows are updated; a password hash is replaced only when the file's differs from the one
   imported last time, so a rehash done at login survives re-imports;
6. new keys get an account (its random ``sub`` made by the caller) and a legacy row.

Every statement touches only the chunk's rows through an index (PostgreSQL is told so: with a chunk of a
few thousand rows and a table of a million, its estimates otherwise chose hash joins that read the whole
table for every chunk, ~1 s each; EXPLAIN in bench/README.md). A re-import of the same file therefore
writes nothing but the temporary tables; a killed import keeps the chunks it committed, and running it
again finishes the job: the unique (source_system, legacy_id) key never lets a row in twice.

A first import of a large file into a broker without accounts yet goes in bulk instead (``publish``): after
step 1 its rows wait in the temporary table of keys seen, and one transaction at the end writes them all
with the tables' secondary indexes dropped, then builds the indexes again; a kill before or during it
leaves nothing of the import, and running it again does it all.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, cast

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from broker.clock import naive_utc
from broker.errors import StoreConflict
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
    "legacy_row": "INTEGER",
    "account_id": "INTEGER",
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


class CsvChunk(Protocol):
    """Staging rows as CSV in ``COLUMNS`` order, an empty cell NULL (``legacy_parse.CsvRows``)."""

    csv_data: bytes

    def __len__(self) -> int: ...


Rows = Sequence[tuple[Any, ...]] | CsvChunk


@dataclass(frozen=True)
class ChunkResult:
    created: int
    updated: int
    duplicates: list[tuple[int, int]]  # (line, the line where its key first appeared)
    pending: int = 0  # new rows held back for ``publish`` (a bulk first import)


# Given (line, the stored digest it would replace) for each changed row of a chunk, the caller names those
# to set aside as repeats of a key given earlier by a row the database did not see: (line, first line).
Claim = Callable[[list[tuple[int, str]]], list[tuple[int, int]]]


def _sqlite_value(value: Any) -> Any:
    """Dates and instants as SQLAlchemy writes them on SQLite, so that stored values compare alike."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


_DATES = (COLUMNS.index("birth_date"), COLUMNS.index("source_created_at"))


def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    birth, created = (row[index] for index in _DATES)
    if not isinstance(birth, date) and not isinstance(created, date):
        return row  # none, or given as text already (the parser's way)
    values = list(row)
    for index in _DATES:
        values[index] = _sqlite_value(values[index])
    return tuple(values)


def _csv(rows: Sequence[tuple[Any, ...]]) -> bytes:
    """Rows as CSV for ``COPY``, as ``legacy_parse.CsvRows`` writes them (an empty cell is NULL)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode()


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


# The staging columns the chunk's statements join or filter on (PostgreSQL samples only these).
_JOINED = ("line", "source_system", "legacy_id", "content_hash", "sub", "legacy_row")
# Filled by the import itself for changed rows: the legacy row and account the staging row updates.
_WORK_COLUMNS = ("legacy_row", "account_id")


class StagedImport:
    def __init__(self, connection: AsyncConnection, now: datetime, dry_run: bool, bulk: bool = False) -> None:
        self._connection = connection
        self._postgres = connection.dialect.name == "postgresql"
        naive = naive_utc(now)  # staging columns are plain TIMESTAMPs holding UTC, as every instant
        self._now: Any = naive if self._postgres else _sqlite_value(naive)
        self._dry_run = dry_run
        self._differs = "IS DISTINCT FROM" if self._postgres else "IS NOT"
        self._may_change = True
        self._bulk_allowed = bulk and not dry_run
        self.bulk = False  # decided by _setup: a first import held back and published at the end
        self._pending = 0

    async def _setup(self) -> None:
        columns = ", ".join(
            f"{name} {_TYPES.get(name, 'VARCHAR(300)')}" for name in (*COLUMNS, *_WORK_COLUMNS)
        )
        async with self._transaction():
            if not self._postgres:
                # This connection only: room for the indexes a large import walks, and for the temporary
                # tables (their own cache, 2 MB by default: the file's keys, kept for the whole import, and
                # the sort of the stored digests then went to the temporary file page by page).
                await self._sql("PRAGMA cache_size = -32768")
                await self._sql("PRAGMA temp.cache_size = -24576")
                # Checkpoints every 64 MB of log instead of 4 MB: each one writes pages back and waits for
                # the disk (fsync); a chunk of new accounts touched enough pages for several (at 100,000
                # rows: 27 s -> 17 s). Durability is unchanged: every commit is in the log as before.
                await self._sql("PRAGMA wal_autocheckpoint = 16384")
            elif (await self._sql("SELECT pg_my_temp_schema() = 0")).scalar_one():
                # The session's buffers for temporary tables (8 MB by default; settable only before the
                # session's first one): the file's keys, a million of them, are probed and added to for
                # every chunk, and past 8 MB each probe became a read from the server's temporary file.
                await self._sql("SET temp_buffers = '128MB'")
            await self._sql(f"CREATE TEMPORARY TABLE imp_staging ({columns})")
            # A first import into an empty table: every key not repeated in the file is new, so no row
            # need be looked up (another import running at the same time would fail on the unique key).
            found = await self._sql("SELECT 1 FROM legacy_accounts LIMIT 1")
            self._may_change = found.first() is not None
            # The bulk way's publish makes logins wait (~10 s a million rows): only for a broker nobody has
            # an account at yet (a first deployment's import). One that already serves citizens takes the
            # chunked way, where a login waits at most for one chunk's transaction.
            serving = (await self._sql("SELECT 1 FROM accounts LIMIT 1")).first() is not None
            self.bulk = self._bulk_allowed and not self._may_change and not serving
            if self.bulk:
                # The file's rows wait here until ``publish``; their key doubles as the keys seen so far
                # (``imp_seen``'s role otherwise). PostgreSQL draws the id each row's account will take as
                # it arrives (a killed import leaves a gap in the ids, nothing else); SQLite numbers them
                # from the row's place here when it publishes, holding the database's write lock.
                staged = ", ".join(f"{name} {_TYPES.get(name, 'VARCHAR(300)')}" for name in COLUMNS)
                account_id = ""
                if self._postgres:
                    sequence = (
                        await self._sql("SELECT pg_get_serial_sequence('accounts', 'id')")
                    ).scalar_one()
                    account_id = f"account_id BIGINT NOT NULL DEFAULT nextval('{sequence}'), "
                await self._sql(
                    f"CREATE TEMPORARY TABLE imp_seen ({account_id}{staged},"
                    " PRIMARY KEY (source_system, legacy_id))"
                )
                return
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

    async def stored_digests(self, add: Callable[[str], None]) -> None:
        """Gives ``add`` the content digest of every legacy row, in ascending order. Through the driver
        (PostgreSQL: ``COPY ... TO STDOUT``, read in blocks), not a result row by row: streamed through
        SQLAlchemy's result objects, a million digests took some 6 s of the importer's CPU (py-spy, 12 %
        of a 200,000-row re-import)."""
        query = (
            "SELECT content_hash FROM legacy_accounts WHERE content_hash IS NOT NULL ORDER BY content_hash"
        )
        async with self._transaction():
            raw = await self._connection.get_raw_connection()
            driver: Any = raw.driver_connection
            if self._postgres:
                rest = b""

                async def block(data: bytes) -> None:
                    nonlocal rest
                    lines = (rest + data).split(b"\n")
                    rest = lines.pop()
                    for line in lines:
                        add(line.decode("ascii"))

                await driver.copy_from_query(query, output=block)
                if rest:
                    add(rest.decode("ascii"))
                return
            cursor = await driver.execute(query)
            try:
                while batch := await cursor.fetchmany(50_000):
                    for (digest,) in batch:
                        add(digest)
            finally:
                await cursor.close()

    async def refresh_statistics(self) -> None:
        """PostgreSQL: the planner's statistics of the two tables an import fills, sampled again. Without
        autovacuum (or before it comes round) a freshly imported table has none, and the reconcile and the
        logins that follow are planned for an empty table (at 100,000 rows: reconcile 5.1 s -> 3.2 s)."""
        if self._postgres and not self._dry_run:
            async with self._transaction():
                await self._sql("ANALYZE accounts")
                await self._sql("ANALYZE legacy_accounts")

    @property
    def takes_csv(self) -> bool:
        """Whether ``apply`` would rather have its rows as CSV (PostgreSQL's ``COPY`` reads it as is)."""
        return self._postgres

    async def apply(self, rows: Rows, claim: Claim | None = None) -> ChunkResult:
        """One chunk, one transaction. Each row gives the values of ``COLUMNS`` in order."""
        async with self._transaction():
            if self._postgres:
                # Each statement below goes from the chunk's rows to the large tables through an index;
                # the planner's estimates, left alone, read whole tables (EXPLAIN in bench/README.md).
                # The chunk's commit need not wait for the disk: after a crash the database is consistent
                # and holds the chunks whose commit reached the log; running the import again finishes the
                # job (the same guarantee as a killed import). Other transactions keep their setting.
                # (One round trip: each ``SET`` was one, 200 of them ~1.8 s of a million-row import.)
                await self._sql(
                    "SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off',"
                    " true), set_config('synchronous_commit', 'off', true)"
                )
                await self._sql("TRUNCATE imp_staging")
            else:
                await self._sql("DELETE FROM imp_staging")
            await self._load(rows)
            duplicates = await self._set_aside_duplicates(len(rows))
            if self.bulk:
                self._pending += len(rows) - len(duplicates)
                return ChunkResult(0, 0, duplicates, pending=len(rows) - len(duplicates))
            unchanged = await self._drop_unchanged()
            if len(rows) - len(duplicates) - unchanged <= 0:
                return ChunkResult(0, 0, duplicates)  # a re-import: nothing new, nothing changed
            changed = (await self._find_changed()).rowcount if self._may_change else 0
            if changed and claim is not None:
                replaced = await self._sql(
                    "SELECT s.line, l.content_hash FROM imp_staging s JOIN legacy_accounts l"
                    " ON l.id = s.legacy_row WHERE s.legacy_row IS NOT NULL ORDER BY s.line"
                )
                repeats = claim([(int(line), digest) for line, digest in replaced.all()])
                if repeats:
                    await self._delete_lines([line for line, _ in repeats])
                    duplicates = sorted([*duplicates, *repeats])
                    changed -= len(repeats)
            if self._dry_run:
                created, updated = await self._would_change()
            else:
                updated = 0
                if changed:
                    await self._update_accounts()
                    updated = (await self._update_legacy()).rowcount
                created = await self._create()
        return ChunkResult(created, updated, duplicates)

    async def publish(self) -> int:
        """A bulk first import's rows into ``accounts`` and ``legacy_accounts``, in one transaction: the
        secondary indexes (and on PostgreSQL the legacy rows' foreign key) are dropped, the rows inserted,
        and the same indexes and constraints built again, each by one sort, before the commit. A million
        rows inserted into the tables' indexes entry by entry cost PostgreSQL's server 33 s and SQLite 56 s;
        inserted without them and the indexes built after, 13 s and 7 s (bench/README.md, fifth round). A
        crash or a kill rolls it all back: schema and tables as they were, and running the import again
        does it again. Returns the rows written.

        While it runs, logins wait for it (PostgreSQL locks both tables; on SQLite, writers wait for the
        write lock), so it is only for a first import into a broker without accounts yet; ``accounts``'
        indexes are rebuilt only if the table holds no more rows than the import adds (accounts made by
        first logins during the import: else they take the new rows one by one)."""
        if not self.bulk:
            return 0
        async with self._transaction():
            if self._postgres:
                # The lock waits behind any transaction using the tables, and every later one behind it:
                # give up rather than stall logins behind a long-running transaction.
                await self._sql("SET LOCAL lock_timeout = '5s'")
                try:
                    await self._sql("LOCK TABLE accounts, legacy_accounts IN ACCESS EXCLUSIVE MODE")
                except DBAPIError as error:
                    if getattr(error.orig, "sqlstate", None) == "55P03":  # lock_not_available
                        raise StoreConflict("the tables stayed in use") from error
                    raise
                await self._sql("SET LOCAL lock_timeout = 0")
                # The builds' sort memory (64 MB by default): each index sorted in one pass.
                await self._sql("SET LOCAL maintenance_work_mem = '256MB'")
                await self._sql("SET LOCAL synchronous_commit = off")
            if (await self._sql("SELECT 1 FROM legacy_accounts LIMIT 1")).first() is not None:
                raise StoreConflict("legacy_accounts filled during a first import")
            rows = self._pending
            if not rows:
                return 0
            accounts, last = (await self._sql("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM accounts")).one()
            account_id = "s.account_id" if self._postgres else f"{int(last)} + s.rowid"
            rebuilt = ["legacy_accounts", *(["accounts"] if int(accounts) <= rows else [])]
            restore = await self._drop_secondary(rebuilt)
            params = {"now": self._now, "no": False}
            await self._sql(
                "INSERT INTO accounts (id, sub, account_type, status, name, birthdate, gender,"
                " identification_number, old_identification_number, org_name, tax_code, unit_code,"
                " merged_into_id, needs_review, created_at, updated_at, cleanup_class, name_key)"
                f" SELECT {account_id}, s.sub, s.account_type, 'active', s.full_name, s.birth_date, s.gender,"
                " s.identification_number, s.old_identification_number, s.org_name, s.tax_code, s.unit_code,"
                " NULL, :no, :now, :now, s.cleanup_class, s.name_key FROM imp_seen s",
                params,
            )
            # In key order: SQLite's unique key is part of its table and stays; so filled, it grows at
            # its end instead of at a million random places.
            await self._sql(
                f"INSERT INTO legacy_accounts (account_id, source_system, legacy_id, {', '.join(_LEGACY_FIELDS)},"
                " password_hash, hash_scheme, imported_password_hash, content_hash, imported_at, updated_at)"
                f" SELECT {account_id}, s.source_system, s.legacy_id,"
                f" {', '.join(f's.{name}' for name in _LEGACY_FIELDS)}, s.password_hash, s.hash_scheme,"
                " s.password_hash, s.content_hash, :now, :now FROM imp_seen s"
                + ("" if self._postgres else " ORDER BY s.source_system, s.legacy_id"),
                params,
            )
            for statement in restore:
                await self._sql(statement)
        return rows

    async def _drop_secondary(self, tables: Sequence[str]) -> list[str]:
        """Drops the indexes of ``tables`` but their primary keys, with (PostgreSQL) their unique
        constraints and their foreign keys to other rows; returns the statements that make them again as
        they were (names, definitions and storage parameters as the catalog gives them)."""
        restore: list[str] = []
        for table in tables:
            if not self._postgres:
                # A constraint declared in the table (its unique key) has an index without SQL: it stays.
                indexes = await self._sql(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"
                    " AND sql IS NOT NULL ORDER BY name",
                    {"t": table},
                )
                for name, definition in indexes.all():
                    await self._sql(f'DROP INDEX "{name}"')
                    restore.append(definition)
                continue
            # Foreign keys to other rows (not a table's own: a new account's merged_into_id is empty), and
            # unique constraints no foreign key leans on.
            constraints = await self._sql(
                "SELECT c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c"
                " WHERE c.conrelid = CAST(:t AS regclass) AND (c.contype = 'f' AND c.confrelid <> c.conrelid"
                " OR c.contype = 'u' AND NOT EXISTS (SELECT 1 FROM pg_constraint f"
                " WHERE f.contype = 'f' AND f.conindid = c.conindid))"
                " ORDER BY c.contype DESC, c.conname",
                {"t": table},
            )
            for name, definition in constraints.all():
                await self._sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
                restore.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            indexes = await self._sql(
                "SELECT CAST(indexrelid AS regclass)::text, pg_get_indexdef(indexrelid) FROM pg_index i"
                " WHERE indrelid = CAST(:t AS regclass) AND NOT indisprimary"
                " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
                " ORDER BY 1",
                {"t": table},
            )
            for name, definition in indexes.all():
                await self._sql(f"DROP INDEX {name}")
                restore.insert(0, definition)
        return restore

    async def _load(self, rows: Rows) -> None:
        raw = await self._connection.get_raw_connection()
        driver: Any = raw.driver_connection
        if self._postgres:
            data = getattr(rows, "csv_data", None)
            if data is None:  # rows as tuples: the parser's dates are text, which binary COPY refuses
                data = _csv(cast(Sequence[tuple[Any, ...]], rows))
            # Handed over as it is (an iterable, not a file: asyncpg would read a file in 512 kB pieces on
            # a pool thread each, leaving the importer's memory fragmented: 226 MB at a million rows).
            await driver.copy_to_table("imp_staging", source=_once(data), columns=list(COLUMNS), format="csv")
            if self.bulk:
                return  # nothing joins the chunk with a large table
            # Statistics for the planner: a temporary table has none, and a wrong guess joins it row by row.
            # Only the row count and the columns the statements join or filter on: all 28 columns took
            # 71 ms a chunk, 2.9 of a 200,000-row import's 19 s (statements timed one by one).
            await self._sql(f"ANALYZE imp_staging ({', '.join(_JOINED)})")
        else:
            # One prepared statement run for every row by the driver (sqlite3's executemany, in aiosqlite's
            # thread): the parser is another process, so nothing waits on the interpreter's lock meanwhile.
            # Profiled at 100,000 rows: 3 s, where reading the chunk as one JSON document (json.dumps here,
            # then ``value ->> n`` 26 times a row in SQLite) took 9 s.
            marks = ", ".join("?" for _ in COLUMNS)
            await driver.executemany(
                f"INSERT INTO imp_staging ({', '.join(COLUMNS)}) VALUES ({marks})",
                [_sqlite_row(row) for row in cast(Sequence[tuple[Any, ...]], rows)],
            )

    async def _set_aside_duplicates(self, count: int) -> list[tuple[int, int]]:
        """The chunk's keys join the keys seen, in line order; a key already there (from an earlier chunk
        or an earlier line of this one) stays out, and its row is a repeat, set aside: the first
        occurrence wins. One statement for a chunk without repeats, the common case."""
        names = ", ".join(COLUMNS) if self.bulk else "source_system, legacy_id, line"
        added = await self._sql(
            f"INSERT {'' if self._postgres else 'OR IGNORE '}INTO imp_seen ({names}) SELECT {names}"
            f" FROM imp_staging ORDER BY line{' ON CONFLICT DO NOTHING' if self._postgres else ''}"
        )
        if added.rowcount == count:
            return []
        # One probe of the keys seen per staging row (as a join, PostgreSQL's guess for the never-analysed
        # key table, one row, made it the outer side, each of its rows scanning the chunk).
        repeated = await self._sql(
            "SELECT line, first_line FROM (SELECT s.line, (SELECT seen.line FROM imp_seen seen"
            " WHERE seen.source_system = s.source_system AND seen.legacy_id = s.legacy_id) AS first_line"
            " FROM imp_staging s) probed WHERE first_line <> line ORDER BY line"
        )
        duplicates = [(int(line), int(first)) for line, first in repeated.all()]
        await self._delete_lines([line for line, _ in duplicates])
        return duplicates

    async def _delete_lines(self, lines: Sequence[int]) -> None:
        for start in range(0, len(lines), 500):
            batch = lines[start : start + 500]
            params = {f"l{index}": line for index, line in enumerate(batch)}
            marks = ", ".join(f":l{index}" for index in range(len(batch)))
            await self._sql(f"DELETE FROM imp_staging WHERE line IN ({marks})", params)

    async def _drop_unchanged(self) -> int:
        """Unchanged rows leave the staging table: those with the stored digest (by the unique key's index:
        written as ``OR EXISTS``, PostgreSQL hashed the whole table instead)."""
        if not self._may_change:
            return 0
        if self._postgres:
            same = await self._sql(
                "DELETE FROM imp_staging s USING legacy_accounts l WHERE l.source_system = s.source_system"
                " AND l.legacy_id = s.legacy_id AND l.content_hash = s.content_hash"
            )
        else:
            same = await self._sql(
                "DELETE FROM imp_staging WHERE EXISTS (SELECT 1 FROM legacy_accounts l"
                " WHERE l.source_system = imp_staging.source_system AND l.legacy_id = imp_staging.legacy_id"
                " AND l.content_hash = imp_staging.content_hash)"
            )
        return int(same.rowcount)

    async def _find_changed(self) -> Any:
        """Each remaining row that names a stored key is a change: its legacy row and account, by index."""
        if self._postgres:
            return await self._sql(
                "UPDATE imp_staging s SET legacy_row = l.id, account_id = l.account_id FROM legacy_accounts l"
                " WHERE l.source_system = s.source_system AND l.legacy_id = s.legacy_id"
            )
        return await self._sql(
            "UPDATE imp_staging SET (legacy_row, account_id) = (SELECT l.id, l.account_id"
            " FROM legacy_accounts l WHERE l.source_system = imp_staging.source_system"
            " AND l.legacy_id = imp_staging.legacy_id) WHERE EXISTS (SELECT 1 FROM legacy_accounts l"
            " WHERE l.source_system = imp_staging.source_system AND l.legacy_id = imp_staging.legacy_id)"
        )

    async def _would_change(self) -> tuple[int, int]:
        counts = await self._sql("SELECT COUNT(*) - COUNT(legacy_row), COUNT(legacy_row) FROM imp_staging")
        created, updated = counts.one()
        return int(created), int(updated)

    async def _update_accounts(self) -> None:
        await self._sql(
            "UPDATE accounts SET account_type = s.account_type, name = s.full_name,"
            " birthdate = s.birth_date, gender = s.gender, identification_number = s.identification_number,"
            " old_identification_number = s.old_identification_number, org_name = s.org_name,"
            " tax_code = s.tax_code, unit_code = s.unit_code, name_key = s.name_key, updated_at = :now,"
            " cleanup_class = CASE WHEN accounts.cleanup_class = 'duplicate_suspect'"
            f" AND s.cleanup_class IN {_NOT_CLEANED} THEN 'duplicate_suspect' ELSE s.cleanup_class END"
            " FROM imp_staging s WHERE s.legacy_row IS NOT NULL AND accounts.id = s.account_id"
            " AND accounts.merged_into_id IS NULL AND accounts.status <> 'merged'"
            " AND NOT EXISTS (SELECT 1 FROM upstream_links u WHERE u.account_id = accounts.id)"
            " AND NOT EXISTS (SELECT 1 FROM legacy_accounts other"
            " WHERE other.account_id = accounts.id AND other.id <> s.legacy_row)",
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
            " FROM imp_staging s WHERE s.legacy_row IS NOT NULL AND legacy_accounts.id = s.legacy_row",
            {"now": self._now},
        )

    async def _create(self) -> int:
        fields = ", ".join(_LEGACY_FIELDS)
        values = ", ".join(f"s.{name}" for name in _LEGACY_FIELDS)
        new_accounts = (
            "INSERT INTO accounts (sub, account_type, status, name, birthdate, gender,"
            " identification_number, old_identification_number, org_name, tax_code, unit_code,"
            " merged_into_id, needs_review, created_at, updated_at, cleanup_class, name_key)"
            " SELECT s.sub, s.account_type, 'active', s.full_name, s.birth_date, s.gender,"
            " s.identification_number, s.old_identification_number, s.org_name, s.tax_code, s.unit_code,"
            " NULL, :no, :now, :now, s.cleanup_class, s.name_key FROM imp_staging s"
            " WHERE s.legacy_row IS NULL"
        )
        new_legacy = (
            f"INSERT INTO legacy_accounts (account_id, source_system, legacy_id, {fields}, password_hash,"
            " hash_scheme, imported_password_hash, content_hash, imported_at, updated_at)"
            f" SELECT a.id, s.source_system, s.legacy_id, {values}, s.password_hash, s.hash_scheme,"
            " s.password_hash, s.content_hash, :now, :now"
        )
        params = {"now": self._now, "no": False}
        if self._postgres:
            # The new accounts' ids come back from the insert itself: joined with the chunk by sub (a hash
            # join of two small sets), where a join with ``accounts`` would look among a million.
            await self._sql("SET LOCAL enable_hashjoin = on")
            created = await self._sql(
                f"WITH a AS ({new_accounts} RETURNING id, sub) {new_legacy}"
                " FROM a JOIN imp_staging s ON s.sub = a.sub",
                params,
            )
            return int(created.rowcount)
        created = await self._sql(new_accounts, params)
        if not created.rowcount:
            return 0
        await self._sql(
            f"{new_legacy} FROM imp_staging s JOIN accounts a ON a.sub = s.sub WHERE s.legacy_row IS NULL",
            params,
        )
        return int(created.rowcount)


@asynccontextmanager
async def staged_import(
    db: Database, now: datetime, *, dry_run: bool = False, bulk: bool = False
) -> AsyncIterator[StagedImport]:
    """A connection of its own for one import, with its temporary tables; they go with the connection.
    ``bulk``: a first import into an empty ``legacy_accounts`` may hold its rows back for ``publish``."""
    with _translated_errors():
        async with db.engine.execution_options(sqlite_immediate=True).connect() as connection:
            staged = StagedImport(connection, now, dry_run, bulk)
            await staged._setup()
            try:
                yield staged
            finally:
                async with staged._transaction():
                    await staged._sql("DROP TABLE IF EXISTS imp_staging")
                    await staged._sql("DROP TABLE IF EXISTS imp_seen")
                    if not staged._postgres:
                        await staged._sql("PRAGMA wal_autocheckpoint = 1000")  # the pool's default again
