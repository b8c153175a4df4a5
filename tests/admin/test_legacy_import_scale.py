"""`broker legacy import` at provincial scale (issue 9): a re-import changes nothing, an overlapping newer
export updates only what changed, JSON Lines, the stored class, and a killed import resumed without
duplicates (a real process, killed with SIGKILL), on both databases."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, func, select

from broker.admin.legacy_import import import_legacy_csv
from broker.app import build_registry
from broker.clock import FixedClock
from broker.domain.identity import VerifiedIdentity
from broker.login.link_account import account_for
from broker.registry import Registry
from broker.settings import Settings
from broker.store.tables import Account, LegacyAccount
from tests.support.legacy import csv_text, row

NOW = datetime(2024, 7, 2, tzinfo=UTC)


def export(numbers: range, changed: set[int] = frozenset()) -> str:  # type: ignore[assignment]
    return csv_text(
        *(
            row(
                f"id-{n}",
                f"user{n}",
                full_name=f"Người Dân {n}" + (" (đã sửa)" if n in changed else ""),
                cmnd=f"{n:09d}",
                unit_code="17380",
            )
            for n in numbers
        )
    )


@pytest.fixture
async def registry(database_url: str) -> AsyncIterator[Registry]:
    built = build_registry(
        Settings(database_url=database_url, legacy_import_batch_rows=40), clock=FixedClock(NOW)
    )
    yield built
    await built.vneid.aclose()
    await built.db.dispose()


async def counts(registry: Registry) -> tuple[int, int, int]:
    """Accounts, legacy records, and accounts without a legacy record (which a half import would leave)."""
    async with registry.db.read() as session:
        accounts = (await session.execute(select(func.count()).select_from(Account))).scalar_one()
        records = (await session.execute(select(func.count()).select_from(LegacyAccount))).scalar_one()
        orphans = (
            await session.execute(
                select(func.count())
                .select_from(Account)
                .where(
                    ~select(LegacyAccount.id).where(col(LegacyAccount.account_id) == col(Account.id)).exists()
                )
            )
        ).scalar_one()
    return int(accounts), int(records), int(orphans)


async def test_a_reimport_changes_nothing_and_a_newer_overlapping_export_only_what_changed(
    registry: Registry,
) -> None:
    first = await import_legacy_csv(registry, io.StringIO(export(range(1, 101))))
    again = await import_legacy_csv(registry, io.StringIO(export(range(1, 101))))
    async with registry.db.read() as session:
        stamps = dict(
            (await session.execute(select(LegacyAccount.legacy_id, LegacyAccount.updated_at))).all()
        )
    registry.clock.advance(days=1)  # type: ignore[attr-defined]
    newer = await import_legacy_csv(registry, io.StringIO(export(range(51, 151), changed=set(range(51, 61)))))

    assert (first.created, first.updated, first.unchanged) == (100, 0, 0)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 100)
    assert (newer.created, newer.updated, newer.unchanged) == (50, 10, 40)
    assert await counts(registry) == (150, 150, 0)
    async with registry.db.read() as session:
        after = dict((await session.execute(select(LegacyAccount.legacy_id, LegacyAccount.updated_at))).all())
        renamed = (
            await session.execute(select(Account.name).where(col(Account.name).like("%đã sửa%")))
        ).all()
    touched = {key for key in stamps if after[key] != stamps[key]}
    assert touched == {f"id-{n}" for n in range(51, 61)}
    assert len(renamed) == 10


async def test_a_key_repeated_in_a_reimport_is_rejected_whether_or_not_its_row_is_stored(
    registry: Registry, tmp_path: Path
) -> None:
    """A re-import sends rows found among the stored ones as their key and digest only: a key given twice
    is still rejected, the first occurrence winning, and the reject file still has the row as written."""
    await import_legacy_csv(registry, io.StringIO(export(range(1, 4))))
    lines = export(range(1, 4)).splitlines()  # header, id-1, id-2, id-3: all stored as they are
    changed_2 = export(range(2, 3), changed={2}).splitlines()[1]
    text = "\n".join([*lines, lines[1], changed_2, lines[3]]) + "\n"  # lines 5-7 repeat keys of 2-4
    rejects = tmp_path / "rejects.csv"
    path = tmp_path / "again.csv"
    path.write_text(text, encoding="utf-8")

    report = await import_legacy_csv(registry, path, rejects=rejects)

    assert (report.created, report.updated, report.unchanged, report.rejected) == (0, 0, 3, 3)
    assert sorted((error.line, error.message) for error in report.errors) == [
        (5, "(source_system, legacy_id) already given on line 2"),
        (6, "(source_system, legacy_id) already given on line 3"),
        (7, "(source_system, legacy_id) already given on line 4"),
    ]
    written = list(csv.reader(io.StringIO(rejects.read_text(encoding="utf-8"))))
    assert [original for _, _, original in written[1:]] == [lines[1], changed_2, lines[3]]
    async with registry.db.read() as session:
        names = set((await session.execute(select(Account.name))).scalars())
    assert names == {
        "Người Dân 1",
        "Người Dân 2",
        "Người Dân 3",
    }  # the change on a repeated key was not applied


async def test_json_lines_carry_the_same_fields(registry: Registry, tmp_path: Path) -> None:
    path, rejects = tmp_path / "export.jsonl", tmp_path / "rejects.csv"
    lines = [
        json.dumps(
            row("j-1", "an", full_name="Nguyễn Văn An", cccd="001085012345", birth_date="1985-03-12"),
            ensure_ascii=False,
        ),
        json.dumps(
            {**row("j-2", "org", "organisation", org_name="Công ty A"), "tax_code": None, "extra": [1]}
        ),
        "{not json",
        json.dumps(row("j-4", "", account_type="robot")),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    report = await import_legacy_csv(registry, path, rejects=rejects)

    assert (report.created, report.rejected) == (2, 2)
    assert [line.split(",", 1)[0] for line in rejects.read_text(encoding="utf-8").splitlines()[1:]] == [
        "3",
        "4",
    ]
    async with registry.db.read() as session:
        classes = dict((await session.execute(select(Account.name, Account.cleanup_class))).all())
    assert classes["Nguyễn Văn An"] == "clean_unlinked" and classes[None] == "organisation_no_tax_code"


async def test_the_class_follows_a_vneid_link(registry: Registry) -> None:
    await import_legacy_csv(registry, io.StringIO(csv_text(row("1", "012345678", cmnd="012345678"))))
    await account_for(
        registry,
        VerifiedIdentity(
            issuer="https://vneid.example",
            subject="an",
            identification_number="001085012345",
            old_identification_number="012345678",
            name="Nguyễn Văn An",
            birthdate=date(1985, 3, 12),
            gender="male",
            level=2,
            acr="urn:vneid:loa:level2",
            amr=("pwd",),
            auth_time=NOW,
        ),
    )
    async with registry.db.read() as session:
        assert (await session.execute(select(Account.cleanup_class))).scalar_one() == "linked"


def test_a_killed_import_run_again_finishes_without_duplicates(database_url: str, tmp_path: Path) -> None:
    rows = 30_000
    path = tmp_path / "big.csv"
    path.write_text(export(range(rows)), encoding="utf-8")
    env = {
        **os.environ,
        "BROKER_DATABASE_URL": database_url,
        "BROKER_LEGACY_IMPORT_BATCH_ROWS": "500",
    }
    command = [sys.executable, "-c", "from broker.cli import main; main()", "legacy", "import", str(path)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    for line in process.stderr:
        if line.startswith("legacy import: 2000 rows"):  # four chunks committed
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL

    accounts_after_kill, records_after_kill, orphans = database_counts(database_url)
    assert 2000 <= records_after_kill < rows and accounts_after_kill == records_after_kill and orphans == 0

    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)

    assert finished.returncode == 0, finished.stderr
    summary: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    assert summary["unchanged"] == records_after_kill
    assert summary["created"] == rows - records_after_kill and summary["rejected"] == 0
    assert database_counts(database_url) == (rows, rows, 0)


def database_counts(database_url: str) -> tuple[int, int, int]:
    async def run() -> tuple[int, int, int]:
        registry = build_registry(Settings(database_url=database_url))
        try:
            return await counts(registry)
        finally:
            await registry.vneid.aclose()
            await registry.db.dispose()

    return asyncio.run(run())


@pytest.mark.parametrize("batch_rows", [1, 100])
async def test_a_stored_row_after_a_change_of_its_key_is_the_repeat(
    registry: Registry, tmp_path: Path, batch_rows: int
) -> None:
    """Rows found among the stored ones are checked for repeated keys without the database: a changed row
    comes first and wins, and the stored row given again after it (in its chunk or a later one) is the
    repeat, reported with the changed row's line."""
    await import_legacy_csv(registry, io.StringIO(export(range(1, 4))))
    lines = export(range(1, 4)).splitlines()  # header, id-1, id-2, id-3: all stored as they are
    changed_2 = export(range(2, 3), changed={2}).splitlines()[1]
    rejects = tmp_path / "rejects.csv"
    path = tmp_path / "again.csv"
    path.write_text("\n".join([lines[0], changed_2, lines[1], lines[2], lines[2]]) + "\n", encoding="utf-8")

    report = await import_legacy_csv(registry, path, rejects=rejects, batch_rows=batch_rows)

    assert (report.created, report.updated, report.unchanged, report.rejected) == (0, 1, 1, 2)
    assert [(error.line, error.message) for error in report.errors] == [
        (4, "(source_system, legacy_id) already given on line 2"),
        (5, "(source_system, legacy_id) already given on line 2"),
    ]
    written = list(csv.reader(io.StringIO(rejects.read_text(encoding="utf-8"))))
    assert [original for _, _, original in written[1:]] == [lines[2], lines[2]]
    async with registry.db.read() as session:
        names = set((await session.execute(select(Account.name))).scalars())
    assert names == {"Người Dân 1", "Người Dân 2 (đã sửa)", "Người Dân 3"}
