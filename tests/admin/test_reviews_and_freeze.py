"""Officers resolving the review queue, and the freeze sweep, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from broker import cli
from broker.admin import freeze, reviews
from broker.admin.legacy_import import import_legacy_csv
from broker.app import build_registry
from broker.clock import FixedClock
from broker.domain.identity import VerifiedIdentity
from broker.login.link_account import Resolved, account_for
from broker.registry import Registry
from broker.settings import Settings
from broker.store.tables import Account, AccountAlias, AccountEvent, AuditEntry
from tests.support.legacy import csv_text, row

VN = ZoneInfo("Asia/Ho_Chi_Minh")
BINH, BINH_CMND = "001190023456", "023456789"
BINH_VNEID = VerifiedIdentity(
    issuer="https://vneid.example",
    subject="vneid-binh",
    identification_number=BINH,
    old_identification_number=BINH_CMND,
    name="Trần Thị Bình",
    birthdate=date(1990, 7, 25),
    gender="female",
    level=2,
    acr="urn:vneid:loa:level2",
    amr=("pwd",),
    auth_time=datetime(2024, 7, 2, tzinfo=UTC),
)


@pytest.fixture
async def registry(database_url: str) -> AsyncIterator[Registry]:
    made = build_registry(
        Settings(database_url=database_url), clock=FixedClock(datetime(2024, 7, 2, 9, tzinfo=VN))
    )
    yield made
    await made.vneid.aclose()
    await made.db.dispose()


async def _doubtful_pair(registry: Registry) -> tuple[int, Resolved]:
    report = await import_legacy_csv(
        registry,
        io.StringIO(
            csv_text(
                row("b-1", BINH_CMND, full_name="Trần Thị Bình", birth_date="1991-07-25", cmnd=BINH_CMND),
                row("b-2", BINH, full_name="Trần Thị Bình", birth_date="1990-07-25", cccd=BINH),
            )
        ),
    )
    assert not report.errors
    resolved = await account_for(registry, BINH_VNEID)
    assert isinstance(resolved, Resolved) and resolved.notice == "review_notice"
    [item] = await reviews.list_items(registry)
    assert item.id is not None
    return item.id, resolved


async def test_an_officer_merges_a_doubtful_pair_into_the_account_they_choose(registry: Registry) -> None:
    item_id, resolved = await _doubtful_pair(registry)
    async with registry.db.read() as session:
        other = (
            await session.execute(select(Account).where(Account.sub != resolved.account.sub))
        ).scalar_one()

    done = await reviews.resolve(registry, item_id, officer="officer-sub-1", merge_into=resolved.account.sub)

    assert done.retired_subs == [other.sub]
    assert await reviews.list_items(registry) == []
    async with registry.db.read() as session:
        assert (await session.get(AccountAlias, other.sub)) is not None
        merged = (
            await session.execute(select(AccountEvent).where(AccountEvent.type == "account.merged"))
        ).scalar_one()
        assert merged.data == {"surviving_sub": resolved.account.sub, "retired_sub": other.sub}
        audit = (
            await session.execute(select(AuditEntry).where(AuditEntry.action == "review.resolve"))
        ).scalar_one()
        assert audit.actor == "officer:officer-sub-1" and audit.reason == "merged"
    with pytest.raises(reviews.ReviewError, match="already resolved"):
        await reviews.resolve(registry, item_id, officer="officer-sub-1", not_same_person=True)


async def test_not_the_same_person_changes_no_account(registry: Registry) -> None:
    item_id, _ = await _doubtful_pair(registry)
    async with registry.db.read() as session:
        before = sorted((a.sub, a.status) for a in (await session.execute(select(Account))).scalars())

    done = await reviews.resolve(registry, item_id, officer="officer-sub-2", not_same_person=True)

    assert done.resolution == "not_same_person"
    async with registry.db.read() as session:
        assert sorted((a.sub, a.status) for a in (await session.execute(select(Account))).scalars()) == before


async def test_resolving_needs_exactly_one_decision_and_a_member_account(registry: Registry) -> None:
    item_id, _ = await _doubtful_pair(registry)
    with pytest.raises(reviews.ReviewError):
        await reviews.resolve(registry, item_id, officer="o")
    with pytest.raises(reviews.ReviewError, match="one of the item's accounts"):
        await reviews.resolve(registry, item_id, officer="o", merge_into="someone-else")


async def test_the_freeze_sweep_freezes_unlinked_citizens_only_and_is_idempotent(database_url: str) -> None:
    async def sweep(at: datetime) -> int:
        registry = build_registry(Settings(database_url=database_url), clock=FixedClock(at))
        try:
            return await freeze.freeze_unlinked(registry)
        finally:
            await registry.vneid.aclose()
            await registry.db.dispose()

    setup = build_registry(Settings(database_url=database_url))
    await import_legacy_csv(
        setup,
        io.StringIO(
            csv_text(
                row("c-1", "nguoidan1", full_name="Người Dân Một"),
                row("o-1", "0101234567", "organisation", org_name="Công ty A", tax_code="0101234567"),
                row("f-1", "P1234567", "foreigner", full_name="John Smith"),
            )
        ),
    )
    await setup.vneid.aclose()
    await setup.db.dispose()

    assert await sweep(datetime(2024, 6, 30, 23, 59, 59, tzinfo=VN)) == 0
    assert await sweep(datetime(2024, 7, 1, 0, 0, 0, tzinfo=VN)) == 1
    assert await sweep(datetime(2024, 7, 2, tzinfo=VN)) == 0
    async with (
        Settings(database_url=database_url)
        and build_registry(Settings(database_url=database_url)).db.read() as session
    ):
        statuses = dict((await session.execute(select(Account.account_type, Account.status))).all())
        events = (await session.execute(select(AccountEvent.type))).scalars().all()
    assert statuses == {"citizen": "frozen", "organisation": "active", "foreigner": "active"}
    assert events == ["account.frozen"]


def test_the_cli_freezes_and_refuses_an_ambiguous_resolution(database_url: str, tmp_path: Path) -> None:
    seed = tmp_path / "legacy.csv"
    seed.write_text(csv_text(row("c-1", "nguoidan1", full_name="Người Dân Một")), encoding="utf-8")
    env = {"BROKER_DATABASE_URL": database_url}
    runner = CliRunner()

    assert runner.invoke(cli.app, ["legacy", "import", str(seed)], env=env).exit_code == 0
    frozen = runner.invoke(cli.app, ["accounts", "freeze"], env=env)
    assert frozen.exit_code == 0, frozen.output
    assert json.loads(frozen.output) == {"frozen": 1}
    assert json.loads(runner.invoke(cli.app, ["review", "list"], env=env).output) == []
    ambiguous = runner.invoke(cli.app, ["review", "resolve", "1", "--officer", "o"], env=env)
    assert ambiguous.exit_code == 2
    assert "choose exactly one" in ambiguous.output
