"""The province's clean-up report (rule 5 of the letters; issue 9) against a hand-counted fixture: per unit
with names, citizens not cleaned by class, frozen by the policy date (before the freeze cron has run),
organisations and foreigners apart; snapshots, the trend and the roadmap."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from broker import cli
from broker.admin import reports
from broker.admin.legacy_import import import_legacy_csv
from broker.admin.reconcile import reconcile
from broker.app import build_registry
from broker.clock import FixedClock
from broker.domain.identity import VerifiedIdentity
from broker.domain.units import Level
from broker.login.link_account import account_for
from broker.registry import Registry
from broker.settings import Settings
from tests.support.legacy import csv_text, row

AN, AN_CMND = "001085012345", "012345678"
IMPORTED = datetime(2024, 6, 20, 3, 0, tzinfo=UTC)  # before the freeze date (1/7/2024, Vietnam)
LINKED = datetime(2024, 7, 2, tzinfo=UTC)  # after it
ROWS = csv_text(
    # Xã Khai Sơn (17380), Huyện Anh Sơn, Tỉnh Nghệ An
    row("c-1", AN_CMND, full_name="Nguyễn Văn An", birth_date="1985-03-12", gender="male", cmnd=AN_CMND, unit_code="17380"),
    row("c-2", "nguoidan2", full_name="Người Dân Hai", unit_code="17380"),
    row("c-6", "023456789", full_name="Trần Thị Bình", birth_date="1990-07-25", cmnd="023456789", unit_code="17380"),
    row("c-7", "binh", full_name="TRAN THI BINH", birth_date="1990-07-25", cccd="001190023456", unit_code="17380"),
    row("f-1", "anna", "foreigner", full_name="Anna Schmidt", unit_code="17380"),
    # Xã Lĩnh Sơn (17383), same district
    row("c-3", "038303004567", full_name="Lê Minh Châu", birth_date="2003-11-02", gender="female", cccd="038303004567", unit_code="17383"),
    row("c-4", "sai.so", full_name="Số Sai", cccd="097085012345", unit_code="17383"),
    row("o-1", "0101234567", "organisation", org_name="Công ty A", tax_code="0101234567", unit_code="17383"),
    row("o-2", "cty.b", "organisation", org_name="Công ty B", unit_code="17383"),
    # no unit at all
    row("c-5", "lech", full_name="Lệch Năm", birth_date="1990-01-01", cccd="001085099999"),
)  # fmt: skip


@pytest.fixture
async def registry(database_url: str) -> AsyncIterator[Registry]:
    built = build_registry(Settings(database_url=database_url), clock=FixedClock(IMPORTED))
    try:
        assert not (await import_legacy_csv(built, io.StringIO(ROWS))).errors
        built.clock.advance(days=12)  # type: ignore[attr-defined]
        await account_for(  # An logs in with VNeID: his CMND account is linked, so cleaned
            built,
            VerifiedIdentity(
                issuer="https://vneid.example",
                subject="an",
                identification_number=AN,
                old_identification_number=AN_CMND,
                name="Nguyễn Văn An",
                birthdate=date(1985, 3, 12),
                gender="male",
                level=2,
                acr="urn:vneid:loa:level2",
                amr=("pwd",),
                auth_time=LINKED,
            ),
        )
        await reconcile(built)  # Bình's CMND and CCCD accounts: one group of duplicate suspects
        yield built
    finally:
        await built.vneid.aclose()
        await built.db.dispose()


CHAU = VerifiedIdentity(
    issuer="https://vneid.example",
    subject="chau",
    identification_number="038303004567",
    old_identification_number=None,
    name="Lê Minh Châu",
    birthdate=date(2003, 11, 2),
    gender="female",
    level=2,
    acr="urn:vneid:loa:level2",
    amr=("pwd",),
    auth_time=LINKED,
)


def classes(**counts: int) -> dict[str, int]:
    names = ("clean_unlinked", "cmnd_only", "no_id", "invalid_id", "inconsistent_id", "duplicate_suspect")
    return {name: counts.get(name, 0) for name in names}


async def test_the_report_counts_a_hand_counted_fixture_per_commune(registry: Registry) -> None:
    report = (await reports.cleanup_report(registry, Level.COMMUNE)).to_json()

    assert report["as_of"] == "2024-07-02T10:00:00+07:00"  # Vietnam time
    units = {(u["unit_code"], u["account_type"]): u for u in report["units"]}
    khai_son = units[("17380", "citizen")]
    assert (khai_son["unit_name"], khai_son["today_unit"]) == ("Xã Khai Sơn", "Xã Yên Xuân")
    assert {key: khai_son[key] for key in ("accounts", "linked", "not_linked", "without_number")} == {
        "accounts": 4,
        "linked": 1,
        "not_linked": 3,
        "without_number": 1,
    }
    assert khai_son["not_cleaned"] == classes(no_id=1, duplicate_suspect=2)
    # Frozen by the policy date (1/7/2024), although the freeze cron never ran.
    assert (khai_son["frozen"], khai_son["needs_review"], khai_son["merged"]) == (3, 2, 0)
    assert units[("17383", "citizen")]["not_cleaned"] == classes(clean_unlinked=1, invalid_id=1)
    assert units[("unknown", "citizen")]["not_cleaned"] == classes(inconsistent_id=1)
    assert units[("unknown", "citizen")]["unit_name"] == "Không xác định"
    # Organisations and foreigners: counted apart, never as citizens not cleaned.
    assert (
        units[("17383", "organisation")]["accounts"] == 2 and units[("17383", "organisation")]["frozen"] == 0
    )
    assert units[("17380", "foreigner")]["not_cleaned"] == classes()
    assert (report["organisation_accounts"], report["foreigner_accounts"]) == (2, 1)
    assert (report["citizens_not_cleaned"], report["citizens_without_number"], report["citizens_frozen"]) == (
        6,
        1,
        6,
    )
    assert report["totals"]["accounts"] == 10 and report["totals"]["linked"] == 1


async def test_units_roll_up_to_districts_and_provinces(registry: Registry) -> None:
    by_province = (await reports.cleanup_report(registry, Level.PROVINCE)).to_json()
    by_district = (await reports.cleanup_report(registry, Level.DISTRICT)).to_json()

    province = {(u["unit_code"], u["account_type"]): u for u in by_province["units"]}
    assert province[("40", "citizen")]["unit_name"] == "Tỉnh Nghệ An"
    assert province[("40", "citizen")]["accounts"] == 6
    district = {(u["unit_code"], u["account_type"]): u for u in by_district["units"]}
    assert district[("424", "citizen")]["unit_name"] == "Huyện Anh Sơn"
    assert by_province["totals"] == by_district["totals"]


async def test_as_of_a_day_before_the_freeze_and_the_link(registry: Registry) -> None:
    earlier = (
        await reports.cleanup_report(registry, Level.PROVINCE, reports.end_of_day(date(2024, 6, 25)))
    ).to_json()

    assert earlier["as_of"] == "2024-06-25T23:59:59+07:00"
    assert earlier["totals"]["linked"] == 0 and earlier["citizens_frozen"] == 0
    assert earlier["totals"]["accounts"] == 10
    before_import = await reports.cleanup_report(
        registry, Level.PROVINCE, reports.end_of_day(date(2024, 6, 1))
    )
    assert before_import.totals.accounts == 0


async def test_snapshots_are_idempotent_per_day_and_feed_the_roadmap(registry: Registry) -> None:
    assert await reports.take_snapshot(registry) == await reports.take_snapshot(registry)
    registry.clock.advance(days=1)  # type: ignore[attr-defined]
    await account_for(registry, CHAU)
    await reports.take_snapshot(registry)

    series = await reports.trend(registry, Level.PROVINCE)
    assert [(p.day, p.linked, p.accounts) for p in series[reports.TOTAL]] == [
        (date(2024, 7, 2), 1, 7),
        (date(2024, 7, 3), 2, 7),
    ]
    # One more link a day, five citizens' accounts to go: 8/7/2024.
    assert reports.roadmap(series)[reports.TOTAL] == {
        "linked_share": round(2 / 7, 4),
        "projected_date": "2024-07-08",
    }


async def test_the_console_dashboard_draws_the_snapshots_and_their_roadmap(registry: Registry) -> None:
    from broker.admin.console_dashboard import cleanup_figures

    await reports.take_snapshot(registry)  # 2/7: six citizens' accounts not cleaned
    registry.clock.advance(days=1)  # type: ignore[attr-defined]
    await account_for(registry, replace(CHAU, auth_time=registry.clock()))
    await reports.take_snapshot(registry)  # 3/7: five
    registry.clock.advance(days=1)  # type: ignore[attr-defined]

    figures = await cleanup_figures(registry)

    by_day = {point.day: point for point in figures.trend}
    assert len(figures.trend) == 30 and figures.trend[-1].day == date(2024, 7, 4)
    assert (by_day[date(2024, 7, 2)].not_cleaned, by_day[date(2024, 7, 2)].measured) == (6, True)
    assert (by_day[date(2024, 7, 3)].not_cleaned, by_day[date(2024, 7, 3)].measured) == (5, True)
    assert (by_day[date(2024, 7, 4)].not_cleaned, by_day[date(2024, 7, 4)].measured) == (5, True)  # live
    assert not by_day[date(2024, 7, 1)].measured  # no snapshot that day: an estimate, drawn as one
    # The report's roadmap over the snapshots (a link a day, five to go), not the 30-day pace (75 days).
    assert figures.projected_date == date(2024, 7, 8)


def test_the_cli_prints_json_csv_a_table_and_a_workbook_with_vietnamese_headers(
    database_url: str, tmp_path: Path
) -> None:
    seed = tmp_path / "legacy.csv"
    seed.write_text(ROWS, encoding="utf-8")
    env = {"BROKER_DATABASE_URL": database_url}
    runner = CliRunner()
    assert runner.invoke(cli.app, ["legacy", "import", str(seed)], env=env).exit_code == 0
    assert runner.invoke(cli.app, ["report", "snapshot"], env=env).exit_code == 0

    as_json = runner.invoke(cli.app, ["report", "cleanup", "--format", "json", "--by", "province"], env=env)
    assert as_json.exit_code == 0, as_json.output
    document: dict[str, Any] = json.loads(as_json.stdout)
    assert document["organisation_accounts"] == 2 and document["totals"]["accounts"] == 10
    assert document["citizens_not_cleaned"] == 7  # nobody linked in this database
    assert document["roadmap"]["total"]["linked_share"] == 0.0

    as_csv = runner.invoke(cli.app, ["report", "cleanup", "--format", "csv"], env=env)
    lines = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert {(line["Mã đơn vị"], line["Loại tài khoản"], line["Chưa liên kết"]) for line in lines} >= {
        ("17380", "Công dân", "4"),
        ("17383", "Tổ chức, doanh nghiệp", "2"),
    }
    assert lines[-1]["Mã đơn vị"] == "Tổng cộng" and lines[-1]["Số tài khoản"] == "10"

    table = runner.invoke(cli.app, ["report", "cleanup", "--format", "table", "--by", "province"], env=env)
    assert table.exit_code == 0 and "Tỉnh Nghệ An" in table.stdout and "Đã liên kết VNeID" in table.stdout

    workbook, chart = tmp_path / "bao-cao.xlsx", tmp_path / "tien-do.svg"
    done = runner.invoke(
        cli.app,
        ["report", "cleanup", "--format", "xlsx", "--output", str(workbook), "--chart", str(chart)],
        env=env,
    )
    assert done.exit_code == 0, done.output
    sheet = load_workbook(workbook).active
    assert sheet is not None
    header = [cell.value for cell in sheet[4]]
    assert header[:2] == ["Mã đơn vị", "Tên đơn vị"] and "Đã đóng băng" in header
    assert chart.read_text(encoding="utf-8").lstrip().startswith("<?xml") and "<svg" in chart.read_text(
        "utf-8"
    )
    refused = runner.invoke(cli.app, ["report", "cleanup", "--chart", str(tmp_path / "c.gif")], env=env)
    assert refused.exit_code == 2
