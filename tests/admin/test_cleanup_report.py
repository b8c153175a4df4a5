"""The province's clean-up report (rule 5 of the letters) counts what the data really holds, per unit."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

from typer.testing import CliRunner

from broker import cli
from broker.admin import reports
from broker.admin.legacy_import import import_legacy_csv
from broker.app import build_registry
from broker.clock import FixedClock
from broker.domain.identity import VerifiedIdentity
from broker.login.link_account import account_for
from broker.settings import Settings
from tests.support.legacy import csv_text, row

AN, AN_CMND = "001085012345", "012345678"
ROWS = csv_text(
    row("c-1", AN_CMND, full_name="Nguyễn Văn An", cmnd=AN_CMND, unit_code="17380"),
    row("c-2", "nguoidan2", full_name="Người Dân Hai", unit_code="17380"),
    row("c-3", "038303004567", full_name="Lê Minh Châu", cccd="038303004567", unit_code="17383"),
    row("o-1", "0101234567", "organisation", org_name="Công ty A", tax_code="0101234567", unit_code="17383"),
)


async def test_the_report_counts_cleaned_and_not_cleaned_accounts_per_unit(database_url: str) -> None:
    registry = build_registry(
        Settings(database_url=database_url), clock=FixedClock(datetime(2024, 7, 2, tzinfo=UTC))
    )
    try:
        assert not (await import_legacy_csv(registry, io.StringIO(ROWS))).errors
        await account_for(  # An logs in with VNeID: his CMND account is linked, so cleaned
            registry,
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
                auth_time=datetime(2024, 7, 2, tzinfo=UTC),
            ),
        )
        report = await reports.cleanup(registry)
    finally:
        await registry.vneid.aclose()
        await registry.db.dispose()

    assert report["generated_at"] == "2024-07-02T07:00:00+07:00"  # Vietnam time
    assert report["citizens_not_cleaned"] == 2  # c-2 (no number at all) and c-3 (not yet logged in)
    assert report["citizens_without_number"] == 1
    units = {(u["unit_code"], u["account_type"]): u for u in report["units"]}
    assert units[("17380", "citizen")] == {
        "unit_code": "17380",
        "account_type": "citizen",
        "accounts": 2,
        "linked": 1,
        "not_linked": 1,
        "without_number": 1,
        "frozen": 0,
        "needs_review": 0,
        "merged": 0,
    }
    assert units[("17383", "organisation")]["not_linked"] == 1
    assert report["totals"]["accounts"] == 4


def test_the_cli_prints_json_or_a_spreadsheet(database_url: str, tmp_path: Path) -> None:
    seed = tmp_path / "legacy.csv"
    seed.write_text(ROWS, encoding="utf-8")
    env = {"BROKER_DATABASE_URL": database_url}
    runner = CliRunner()
    assert runner.invoke(cli.app, ["legacy", "import", str(seed)], env=env).exit_code == 0

    as_json = runner.invoke(cli.app, ["report", "cleanup"], env=env)
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output)["citizens_not_cleaned"] == 3
    as_csv = runner.invoke(cli.app, ["report", "cleanup", "--csv"], env=env)
    lines = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert {(line["unit_code"], line["account_type"], line["not_linked"]) for line in lines} == {
        ("17380", "citizen", "2"),
        ("17383", "citizen", "1"),
        ("17383", "organisation", "1"),
    }
