"""A first import in bulk (issue 9, fifth round): into an empty ``legacy_accounts``, a large file's rows are
held back and published in one transaction, the tables' secondary indexes dropped and built again after
the rows. Same rows, rejects and counts as a chunked import; a failure or a kill leaves the tables and
their schema as they were; on both databases."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from broker.admin import legacy_import
from broker.admin.legacy_import import import_legacy_csv
from broker.app import build_registry
from broker.clock import FixedClock
from broker.errors import StoreConflict, StoreUnavailable
from broker.registry import Registry
from broker.settings import Settings
from broker.store import legacy_staging
from broker.store.tables import Account, LegacyAccount
from tests.admin.test_legacy_import_scale import counts, database_counts, export

NOW = datetime(2024, 7, 2, tzinfo=UTC)


@pytest.fixture
async def registry(database_url: str) -> AsyncIterator[Registry]:
    settings = Settings(
        database_url=database_url, legacy_import_batch_rows=40, legacy_import_bulk_from_bytes=1
    )
    built = build_registry(settings, clock=FixedClock(NOW))
    yield built
    await built.vneid.aclose()
    await built.db.dispose()


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The rows each import published in bulk (0: it took the chunked way)."""
    seen: list[int] = []
    original = legacy_staging.StagedImport.publish

    async def publish(self: legacy_staging.StagedImport) -> int:
        rows = await original(self)
        seen.append(rows)
        return rows

    monkeypatch.setattr(legacy_staging.StagedImport, "publish", publish)
    return seen


async def schema(registry: Registry) -> set[tuple[str, str]]:
    """The indexes and constraints of the two tables an import fills, as the database describes them."""
    async with registry.db.read() as session:
        if registry.db.engine.dialect.name == "postgresql":
            indexes = await session.execute(
                text(
                    "SELECT indexname, indexdef FROM pg_indexes"
                    " WHERE tablename IN ('accounts', 'legacy_accounts')"
                )
            )
            constraints = await session.execute(
                text(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                    " WHERE conrelid IN ('accounts'::regclass, 'legacy_accounts'::regclass)"
                )
            )
            return {*indexes.all(), *constraints.all()}
        rows = await session.execute(
            text(
                "SELECT name, COALESCE(sql, '') FROM sqlite_master"
                " WHERE tbl_name IN ('accounts', 'legacy_accounts')"
            )
        )
        return set(rows.all())


def with_repeats(tmp_path: Path) -> tuple[Path, list[str]]:
    """150 rows, then the key of line 2 again (a later chunk), a bad row, and the key of the row just
    before it again (the same chunk)."""
    lines = export(range(1, 151)).splitlines()
    bad = lines[1].replace("citizen", "robot").replace("id-1,", "id-bad,")
    path = tmp_path / "export.csv"
    path.write_text("\n".join([*lines, lines[1], bad, lines[150]]) + "\n", encoding="utf-8")
    return path, lines


async def stored(registry: Registry) -> list[tuple[Any, ...]]:
    """Every legacy row with its account, but for ids and the random ``sub``, in key order."""
    return [
        (tuple(legacy.values()), tuple(account.values()))
        for legacy, account in await stored_as_dicts(registry)
    ]


async def test_a_first_import_in_bulk_writes_what_a_chunked_import_does(
    registry: Registry, tmp_path: Path, published: list[int]
) -> None:
    path, _ = with_repeats(tmp_path)
    before = await schema(registry)
    chunked_rejects, bulk_rejects = tmp_path / "chunked.csv", tmp_path / "bulk.csv"
    # Read from a stream, the file goes the chunked way whatever its size.
    chunked = await import_legacy_csv(
        registry, io.StringIO(path.read_text(encoding="utf-8")), rejects=chunked_rejects
    )
    expected = await stored(registry)
    async with registry.db.transaction() as session:
        await session.execute(text("DELETE FROM legacy_accounts"))
        await session.execute(text("DELETE FROM accounts"))

    report = await import_legacy_csv(registry, path, rejects=bulk_rejects)

    assert published == [0, 150]
    assert report.summary() == chunked.summary()
    assert (report.created, report.updated, report.unchanged, report.rejected) == (150, 0, 0, 3)
    assert sorted((error.line, error.column, error.message) for error in report.errors) == [
        (152, "legacy_id", "(source_system, legacy_id) already given on line 2"),
        (153, "account_type", sorted(report.errors, key=lambda error: error.line)[1].message),
        (154, "legacy_id", "(source_system, legacy_id) already given on line 151"),
    ]
    assert bulk_rejects.read_text(encoding="utf-8") == chunked_rejects.read_text(encoding="utf-8")
    assert await stored(registry) == expected and len(expected) == 150
    assert await counts(registry) == (150, 150, 0)
    assert await schema(registry) == before

    again = await import_legacy_csv(registry, path)

    assert published == [0, 150, 0]
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 150, 3)


async def test_an_import_into_a_filled_table_takes_the_chunked_way(
    registry: Registry, tmp_path: Path, published: list[int]
) -> None:
    first = tmp_path / "first.csv"
    first.write_text(export(range(1, 101)), encoding="utf-8")
    newer = tmp_path / "newer.csv"
    newer.write_text(export(range(51, 151), changed=set(range(51, 61))), encoding="utf-8")

    await import_legacy_csv(registry, first)
    report = await import_legacy_csv(registry, newer)

    assert published == [100, 0]
    assert (report.created, report.updated, report.unchanged) == (50, 10, 40)
    assert await counts(registry) == (150, 150, 0)


async def test_a_broker_that_already_has_accounts_imports_chunk_by_chunk(
    registry: Registry, tmp_path: Path, published: list[int]
) -> None:
    """Accounts already there (first VNeID logins): citizens may be logging in, and the bulk way's publish
    would make them wait; the chunked way writes the same rows, a login waiting at most for a chunk."""
    async with registry.db.transaction() as session:
        for n in range(60):
            session.add(Account(sub=f"vneid-{n}", account_type="citizen", created_at=NOW, updated_at=NOW))
    before = await schema(registry)
    path = tmp_path / "export.csv"
    path.write_text(export(range(1, 51)), encoding="utf-8")

    report = await import_legacy_csv(registry, path)

    assert published == [0] and report.created == 50  # nothing held back: each chunk committed as it came
    assert await schema(registry) == before
    async with registry.db.read() as session:
        subs = (await session.execute(select(Account.sub).order_by(col(Account.id)))).scalars().all()
        linked = (
            (
                await session.execute(
                    select(Account.sub).join(LegacyAccount, col(LegacyAccount.account_id) == col(Account.id))
                )
            )
            .scalars()
            .all()
        )
    assert len(subs) == 110 and len(set(subs)) == 110
    assert subs[:60] == [f"vneid-{n}" for n in range(60)]
    assert set(linked) == set(subs[60:])


async def test_a_publish_that_fails_leaves_the_tables_and_their_schema_as_they_were(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The publish is one transaction: a failure in it (the last index build, here) as a crash or a kill
    would, rolls back the rows, the dropped indexes and constraints alike."""
    path, _ = with_repeats(tmp_path)
    before = await schema(registry)
    original = legacy_staging.StagedImport._drop_secondary

    async def then_fail(self: legacy_staging.StagedImport, tables: Any) -> list[str]:
        return [*(await original(self, tables)), "SELECT no_such_column FROM accounts"]

    monkeypatch.setattr(legacy_staging.StagedImport, "_drop_secondary", then_fail)

    with pytest.raises(StoreUnavailable):
        await import_legacy_csv(registry, path)

    assert await counts(registry) == (0, 0, 0)
    assert await schema(registry) == before
    monkeypatch.setattr(legacy_staging.StagedImport, "_drop_secondary", original)

    report = await import_legacy_csv(registry, path)

    assert (report.created, report.rejected) == (150, 3)
    assert await counts(registry) == (150, 150, 0)
    assert await schema(registry) == before


def test_a_killed_bulk_import_leaves_nothing_and_run_again_finishes(
    database_url: str, tmp_path: Path
) -> None:
    rows = 30_000
    path = tmp_path / "big.csv"
    path.write_text(export(range(rows)), encoding="utf-8")
    env = {
        **os.environ,
        "BROKER_DATABASE_URL": database_url,
        "BROKER_LEGACY_IMPORT_BATCH_ROWS": "500",
        "BROKER_LEGACY_IMPORT_BULK_FROM_BYTES": "1",
    }
    command = [sys.executable, "-c", "from broker.cli import main; main()", "legacy", "import", str(path)]
    registry = build_registry(Settings(database_url=database_url))
    before = asyncio.run(schema_of(registry))
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    for line in process.stderr:
        if line.startswith("legacy import: 2000 rows"):  # four chunks held back
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL

    assert database_counts(database_url) == (0, 0, 0)
    assert asyncio.run(schema_of(build_registry(Settings(database_url=database_url)))) == before

    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)

    assert finished.returncode == 0, finished.stderr
    summary: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    assert (summary["created"], summary["unchanged"], summary["rejected"]) == (rows, 0, 0)
    assert database_counts(database_url) == (rows, rows, 0)
    assert asyncio.run(schema_of(build_registry(Settings(database_url=database_url)))) == before


async def schema_of(registry: Registry) -> set[tuple[str, str]]:
    try:
        return await schema(registry)
    finally:
        await registry.vneid.aclose()
        await registry.db.dispose()


async def test_a_file_parsed_apart_imports_as_one_parsed_in_process(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, published: list[int]
) -> None:
    """Large files are parsed in a child process, a chunk or two ahead of the importer."""
    monkeypatch.setattr(legacy_import, "PARSE_APART_FROM_BYTES", 1)
    path, _ = with_repeats(tmp_path)

    first = await import_legacy_csv(registry, path)
    again = await import_legacy_csv(registry, path)

    assert published == [150, 0]
    assert (first.created, first.rejected, again.unchanged, again.rejected) == (150, 3, 150, 3)
    assert await counts(registry) == (150, 150, 0)
    assert multiprocessing.active_children() == []


async def test_an_import_that_fails_midway_stops_its_parser(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(legacy_import, "PARSE_APART_FROM_BYTES", 1)
    path, _ = with_repeats(tmp_path)
    original = legacy_staging.StagedImport.apply
    calls = 0

    async def fail_second(self: legacy_staging.StagedImport, *args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the second chunk fails")
        return await original(self, *args)

    monkeypatch.setattr(legacy_staging.StagedImport, "apply", fail_second)

    with pytest.raises(RuntimeError, match="second chunk"):
        await import_legacy_csv(registry, path)

    assert multiprocessing.active_children() == []
    assert await counts(registry) == (0, 0, 0)  # held back for a publish that never came


async def test_accounts_created_while_rows_are_held_back_keep_their_ids_and_nothing_waits(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, published: list[int]
) -> None:
    """Until the publish, a bulk import holds no lock on the tables between its chunks: a first VNeID
    login creating an account in the meantime neither waits (here it would fail at once if it had to)
    nor collides with the ids the held-back rows take."""
    path, _ = with_repeats(tmp_path)
    original = legacy_staging.StagedImport.apply
    created: list[int] = []

    async def then_a_login(self: legacy_staging.StagedImport, *args: Any) -> Any:
        result = await original(self, *args)
        created.append(await create_account_at_once(registry, f"vneid-{len(created)}"))
        return result

    monkeypatch.setattr(legacy_staging.StagedImport, "apply", then_a_login)

    report = await import_legacy_csv(registry, path)

    assert published == [150] and report.created == 150 and len(created) == 4
    async with registry.db.read() as session:
        rows = (await session.execute(select(Account.id, Account.sub))).all()
        owners = set((await session.execute(select(LegacyAccount.account_id))).scalars())
    assert len(rows) == 154 and len({account_id for account_id, _ in rows}) == 154
    by_sub = {sub: account_id for account_id, sub in rows}
    assert [by_sub[f"vneid-{n}"] for n in range(4)] == created
    assert not owners & set(created) and len(owners) == 150


async def create_account_at_once(registry: Registry, sub: str) -> int:
    """An account inserted as a first login does, refusing to wait for any lock (PostgreSQL: a lock
    timeout; SQLite: a connection of its own without a busy timeout)."""
    if registry.db.engine.dialect.name == "postgresql":
        async with registry.db.transaction() as session:
            await session.execute(text("SET LOCAL lock_timeout = '200ms'"))
            account = Account(sub=sub, account_type="citizen", created_at=NOW, updated_at=NOW)
            session.add(account)
            await session.flush()
            assert account.id is not None
            return account.id
    connection = sqlite3.connect(registry.settings.database_url.split("///", 1)[1], timeout=0)
    try:
        connection.execute("BEGIN IMMEDIATE")
        cursor = connection.execute(
            "INSERT INTO accounts (sub, account_type, status, needs_review, created_at, updated_at)"
            " VALUES (?, 'citizen', 'active', 0, '2024-07-02 00:00:00.000000', '2024-07-02 00:00:00.000000')",
            (sub,),
        )
        connection.execute("COMMIT")
        assert cursor.lastrowid is not None
        return cursor.lastrowid
    finally:
        connection.close()


async def test_a_publish_that_cannot_lock_the_tables_soon_gives_up_as_a_conflict(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: a transaction still reading ``accounts`` when the publish comes (a long report, say):
    the publish does not queue every later login behind its lock request for as long; it gives up after
    5 s, the import to be run again, nothing written."""
    if registry.db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writers queue on its busy timeout instead")
    path, _ = with_repeats(tmp_path)
    before = await schema(registry)
    reading, done = asyncio.Event(), asyncio.Event()

    async def long_reader() -> None:
        async with registry.db.transaction() as session:
            await session.execute(text("SELECT COUNT(*) FROM accounts"))
            reading.set()
            await done.wait()

    original = legacy_staging.StagedImport.publish

    async def publish_while_read(self: legacy_staging.StagedImport) -> int:
        await reading.wait()
        try:
            return await original(self)
        finally:
            done.set()

    monkeypatch.setattr(legacy_staging.StagedImport, "publish", publish_while_read)
    reader = asyncio.create_task(long_reader())

    with pytest.raises(StoreConflict):
        await import_legacy_csv(registry, path)

    await reader
    assert await counts(registry) == (0, 0, 0)
    assert await schema(registry) == before


async def test_json_lines_in_bulk_store_what_the_same_rows_as_csv_store(
    registry: Registry, tmp_path: Path, published: list[int]
) -> None:
    """JSON Lines take the contract's full checks (no fast way) and give the store dates as objects;
    in bulk they end as the CSV rows do."""
    path = tmp_path / "export.csv"
    path.write_text(export(range(1, 61)), encoding="utf-8")
    await import_legacy_csv(registry, path)
    expected = await stored_as_dicts(registry)
    async with registry.db.transaction() as session:
        await session.execute(text("DELETE FROM legacy_accounts"))
        await session.execute(text("DELETE FROM accounts"))
    as_json = tmp_path / "export.jsonl"
    with io.StringIO(path.read_text(encoding="utf-8")) as stream:
        records = list(csv.DictReader(stream))
    as_json.write_text(
        "\n".join(
            json.dumps({**record, "created_at": "2019-03-10"}, ensure_ascii=False) for record in records
        )
        + "\n",
        encoding="utf-8",
    )

    report = await import_legacy_csv(registry, as_json)

    assert published == [60, 60] and report.created == 60
    got = await stored_as_dicts(registry)
    assert len(got) == 60
    assert {legacy.pop("source_created_at") for legacy, _ in got} == {datetime(2019, 3, 9, 17, tzinfo=UTC)}
    for legacy, _ in [*got, *expected]:
        legacy.pop("content_hash")  # covers the instant
        legacy.pop("source_created_at", None)
    assert got == expected


async def stored_as_dicts(registry: Registry) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    async with registry.db.read() as session:
        rows = await session.execute(
            select(LegacyAccount, Account)
            .join(Account, col(Account.id) == col(LegacyAccount.account_id))
            .order_by(col(LegacyAccount.legacy_id))
        )
        return [
            (legacy.model_dump(exclude={"id", "account_id"}), account.model_dump(exclude={"id", "sub"}))
            for legacy, account in rows.all()
        ]
