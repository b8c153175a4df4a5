"""`broker legacy reconcile`: duplicate suspects (Case 3) grouped across the whole database with set-based
SQL, each group filed in the review queue once; a rerun changes nothing (issue 9)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlmodel import col, select
from typer.testing import CliRunner

from broker.admin.legacy_import import import_legacy_csv
from broker.admin.reconcile import reconcile
from broker.app import build_registry
from broker.cli import app as cli
from broker.clock import FixedClock
from broker.registry import Registry
from broker.settings import Settings
from broker.store.tables import Account, LegacyAccount, ReviewItem
from tests.support.legacy import csv_text, row

ROWS = csv_text(
    # Two accounts on one CCCD (in two old systems).
    row("a-1", "an1", full_name="Nguyễn Văn An", cccd="001085012345", unit_code="17380"),
    row("a-2", "an2", full_name="Nguyen Van An", cccd="001085012345", unit_code="17380", source_system="mc"),
    # A CMND account and a CCCD account: one name (but for diacritics and case), one birth date.
    row("b-1", "023456789", full_name="Trần Thị Bình", birth_date="1990-07-25", cmnd="023456789"),
    row("b-2", "binh", full_name="TRAN THI  BINH", birth_date="1990-07-25", cccd="001190023456"),
    # Same name, another birth date: not a suspect.
    row("c-1", "031234567", full_name="Trần Thị Bình", birth_date="1991-07-25", cmnd="031234567"),
    # An organisation sharing nothing with anyone.
    row("o-1", "0101234567", "organisation", org_name="Công ty A", tax_code="0101234567"),
)


@pytest.fixture
async def registry(database_url: str) -> AsyncIterator[Registry]:
    built = build_registry(
        Settings(database_url=database_url, reconcile_batch_size=1),  # one group per page: paging tested
        clock=FixedClock(datetime(2024, 7, 2, tzinfo=UTC)),
    )
    try:
        assert not (await import_legacy_csv(built, io.StringIO(ROWS))).errors
        yield built
    finally:
        await built.vneid.aclose()
        await built.db.dispose()


async def state(registry: Registry) -> tuple[list[tuple[str, str | None, bool]], list[tuple[str, list[int]]]]:
    async with registry.db.read() as session:
        accounts = (
            await session.execute(
                select(LegacyAccount.legacy_id, Account.cleanup_class, Account.needs_review)
                .join(Account, col(Account.id) == col(LegacyAccount.account_id))
                .order_by(col(LegacyAccount.legacy_id))
            )
        ).all()
        items = (await session.execute(select(ReviewItem).order_by(col(ReviewItem.id)))).scalars()
        return [tuple(a) for a in accounts], [(item.kind, sorted(item.account_ids)) for item in items]  # type: ignore[misc]


async def test_each_group_of_suspects_is_filed_once_and_a_rerun_changes_nothing(registry: Registry) -> None:
    first = await reconcile(registry)
    after_first = await state(registry)
    second = await reconcile(registry)

    assert (first["groups_found"], first["groups_filed"], first["accounts_marked"]) == (2, 2, 4)
    assert (second["groups_found"], second["groups_filed"], second["accounts_marked"]) == (2, 0, 0)
    assert await state(registry) == after_first
    accounts, items = after_first
    classes = {legacy_id: (cls, review) for legacy_id, cls, review in accounts}
    assert classes["a-1"] == classes["a-2"] == classes["b-1"] == classes["b-2"] == ("duplicate_suspect", True)
    assert classes["c-1"] == ("cmnd_only", False)
    assert classes["o-1"] == ("organisation", False)
    assert [kind for kind, _ in items] == ["duplicate_suspect", "duplicate_suspect"]
    assert all(len(ids) == 2 for _, ids in items)


async def test_a_reimport_keeps_a_suspect_a_suspect(registry: Registry) -> None:
    await reconcile(registry)
    changed = ROWS.replace("an2,citizen", "an2,citizen").replace("Nguyen Van An", "Nguyễn Văn Ân")
    report = await import_legacy_csv(registry, io.StringIO(changed))

    assert report.updated == 1
    accounts, _ = await state(registry)
    assert dict((legacy_id, cls) for legacy_id, cls, _ in accounts)["a-2"] == "duplicate_suspect"


def test_the_command_prints_a_json_summary(database_url: str, tmp_path: object) -> None:
    runner = CliRunner()
    env = {"BROKER_DATABASE_URL": database_url}
    done = runner.invoke(cli, ["legacy", "reconcile"], env=env)
    assert done.exit_code == 0, done.output
    assert '"groups_filed": 0' in done.stdout
