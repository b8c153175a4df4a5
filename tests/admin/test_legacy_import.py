"""`broker legacy import`: the CSV contract of DESIGN.md, all or nothing, idempotent, on both databases."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, func, select
from typer.testing import CliRunner

from broker.admin.legacy_csv import HEADER, read_file
from broker.admin.legacy_import import BATCH, ImportReport, import_legacy_csv
from broker.app import build_registry
from broker.cli import app as cli
from broker.clock import FixedClock
from broker.domain import passwords
from broker.domain.identity import VerifiedIdentity
from broker.login import link_account
from broker.registry import Registry
from broker.settings import VIETNAM, Settings
from broker.store.tables import Account, AuditEntry, LegacyAccount, ReviewItem, UpstreamLink

SEED = Path(__file__).resolve().parents[2] / "seed" / "legacy_accounts.csv"
PASSWORD = "Matkhau@123"
NOW = datetime(2024, 5, 20, 9, 0, tzinfo=VIETNAM)


def md5(password: str = PASSWORD) -> str:
    return hashlib.md5(password.encode(), usedforsecurity=False).hexdigest()


def row(legacy_id: str, username: str, **fields: Any) -> dict[str, str]:
    values = {
        "source_system": "dvc-tinh",
        "legacy_id": legacy_id,
        "username": username,
        "account_type": "citizen",
        "password_hash": md5(),
        "hash_scheme": "md5",
    }
    values.update({key: str(value) for key, value in fields.items()})
    return values


def csv_text(*rows: dict[str, str], header: tuple[str, ...] = HEADER) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(header), lineterminator="\n")
    writer.writeheader()
    for item in rows:
        writer.writerow({name: item.get(name, "") for name in header})
    return out.getvalue()


@pytest.fixture
async def registry(database_url: str) -> AsyncIterator[Registry]:
    built = build_registry(Settings(database_url=database_url), clock=FixedClock(NOW))
    yield built
    await built.vneid.aclose()
    await built.db.dispose()


async def run(registry: Registry, text: str, **options: Any) -> ImportReport:
    return await import_legacy_csv(registry, io.StringIO(text), **options)


async def rows_of(registry: Registry, table: Any) -> list[Any]:
    async with registry.db.read() as session:
        return list((await session.execute(select(table).order_by(col(table.id)))).scalars())


async def count(registry: Registry, table: Any) -> int:
    async with registry.db.read() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


async def legacy_by_id(registry: Registry) -> dict[str, tuple[LegacyAccount, Account]]:
    async with registry.db.read() as session:
        statement = select(LegacyAccount, Account).join(
            Account, col(Account.id) == col(LegacyAccount.account_id)
        )
        return {record.legacy_id: (record, account) for record, account in (await session.execute(statement))}


# ---- the seed file ------------------------------------------------------------------------------------


async def test_the_seed_file_imports_whole(registry: Registry) -> None:
    report = await import_legacy_csv(registry, SEED)

    assert report.errors == []
    assert (report.created, report.updated, report.unchanged, report.skipped) == (14, 0, 0, 0)
    imported = await legacy_by_id(registry)
    assert len(imported) == 14
    an, an_account = imported["DVC-000101"]
    assert (an.username, an.username_key, an.cmnd, an.cccd) == ("012345678", "012345678", "012345678", None)
    assert an.imported_password_hash == an.password_hash
    assert an_account.account_type == "citizen" and an_account.status == "active"
    assert (an_account.name, an_account.birthdate, an_account.gender) == (
        "Nguyễn Văn An",
        date(1985, 3, 12),
        "male",
    )
    assert an_account.old_identification_number == "012345678"
    assert an_account.identification_number is None
    assert an.source_created_at == datetime(2018, 4, 2, tzinfo=VIETNAM)
    binh, binh_account = imported["MC-2041"]
    assert (
        binh.username_key == "binh.tran@example.vn" and binh_account.identification_number == "001190023456"
    )
    _, org_account = imported["DVC-ORG-001"]
    assert org_account.account_type == "organisation" and org_account.tax_code == "2901234567"
    assert len({account.sub for _, account in imported.values()}) == 14
    # Every demo password is the documented one, whatever the scheme.
    for record, _ in imported.values():
        assert passwords.verify(PASSWORD, record.password_hash, record.hash_scheme), record.legacy_id
    assert {record.hash_scheme for record, _ in imported.values()} == set(passwords.SCHEMES)


def _citizen(number: str) -> VerifiedIdentity:
    """Mock VNeID's verified identity of one of its seeded citizens."""
    citizens = json.loads((SEED.parents[1] / "mock_vneid" / "seed" / "citizens.json").read_text("utf-8"))
    person = next(item for item in citizens if item["identification_number"] == number)
    return VerifiedIdentity(
        issuer="http://127.0.0.1:9000",
        subject=f"sub-{number}",
        identification_number=number,
        old_identification_number=person.get("old_identification_number"),
        name=person["name"],
        birthdate=date.fromisoformat(person["birthdate"]),
        gender=person["gender"],
        level=person["level"],
        acr="vneid",
        amr=("pwd",),
        auth_time=NOW,
    )


async def test_the_seed_shows_cases_2_and_3_against_mock_vneid(registry: Registry) -> None:
    await import_legacy_csv(registry, SEED)
    imported = await legacy_by_id(registry)

    def sub_of(legacy_id: str) -> str:
        return imported[legacy_id][1].sub

    an = await link_account.account_for(registry, _citizen("001085012345"))  # Case 2 via CMND
    chau = await link_account.account_for(registry, _citizen("038303004567"))  # Case 2 via CCCD
    dung = await link_account.account_for(registry, _citizen("031075003344"))  # Case 2, misspelt name
    binh = await link_account.account_for(registry, _citizen("001190023456"))  # Case 3, self-merge
    nhung = await link_account.account_for(registry, _citizen("079188001122"))  # Case 3, officer

    assert isinstance(an, link_account.Resolved) and an.account.sub == sub_of("DVC-000101")
    assert isinstance(chau, link_account.Resolved) and chau.account.sub == sub_of("DVC-000102")
    assert isinstance(dung, link_account.Resolved) and dung.account.sub == sub_of("DVC-000103")
    assert dung.account.needs_review and not an.account.needs_review
    assert isinstance(binh, link_account.MustChoose)
    assert sorted(binh.candidate_ids) == sorted(imported[key][1].id for key in ("DVC-000104", "MC-2041"))
    assert isinstance(nhung, link_account.Resolved) and nhung.notice is not None
    kinds = {item.kind for item in await rows_of(registry, ReviewItem)}
    assert {"duplicate_accounts", "identity_mismatch"} <= kinds  # Nhung's pair; Dũng's name


async def test_the_import_leaves_one_audit_entry_without_personal_data(registry: Registry) -> None:
    await import_legacy_csv(registry, SEED, actor="admin:test")

    (entry,) = await rows_of(registry, AuditEntry)
    assert (entry.actor, entry.action, entry.outcome) == ("admin:test", "legacy.import", "done")
    assert entry.details["created"] == 14 and entry.details["rows"] == 14
    assert not re.search(r"\d{9}", json.dumps(entry.details))


async def test_a_reimport_changes_nothing(registry: Registry) -> None:
    await import_legacy_csv(registry, SEED)
    before = {key: account.sub for key, (_, account) in (await legacy_by_id(registry)).items()}

    again = await import_legacy_csv(registry, SEED)

    assert (again.created, again.updated, again.unchanged, again.skipped) == (0, 0, 14, 0)
    assert await count(registry, LegacyAccount) == 14
    assert await count(registry, Account) == 14
    assert {key: account.sub for key, (_, account) in (await legacy_by_id(registry)).items()} == before


# ---- updates ------------------------------------------------------------------------------------------


async def test_a_changed_row_updates_its_account_in_place(registry: Registry) -> None:
    first = row("1", "an.nguyen", full_name="Nguyen Van An", phone="0912", cmnd="012345678")
    other = row("2", "other")
    await run(registry, csv_text(first, other))
    (record, account) = (await legacy_by_id(registry))["1"]

    changed = {**first, "full_name": "Nguyễn Văn An", "phone": "0913", "cccd": "001085012345"}
    report = await run(registry, csv_text(changed, other))

    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    updated, updated_account = (await legacy_by_id(registry))["1"]
    assert updated.id == record.id and updated_account.sub == account.sub
    assert (updated.full_name, updated.phone, updated.cccd) == ("Nguyễn Văn An", "0913", "001085012345")
    assert updated_account.name == "Nguyễn Văn An"
    assert updated_account.identification_number == "001085012345"
    assert await count(registry, Account) == 2


async def test_a_new_hash_in_the_file_replaces_the_old_one(registry: Registry) -> None:
    await run(registry, csv_text(row("1", "an")))

    report = await run(registry, csv_text(row("1", "an", password_hash=md5("Moi@2024"))))

    assert report.updated == 1
    record, _ = (await legacy_by_id(registry))["1"]
    assert record.password_hash == record.imported_password_hash == md5("Moi@2024")
    assert passwords.verify("Moi@2024", record.password_hash, record.hash_scheme)


async def test_a_rehash_done_at_login_survives_a_reimport_of_the_same_file(registry: Registry) -> None:
    text = csv_text(row("1", "an"))
    await run(registry, text)
    # What a successful legacy login does: the weak hash is replaced by argon2id, the imported one kept.
    async with registry.db.transaction() as session:
        record = (await session.execute(select(LegacyAccount))).scalar_one()
        record.password_hash = passwords.hash_password(PASSWORD)
        record.hash_scheme = "argon2id"

    report = await run(registry, text)

    assert (report.updated, report.unchanged) == (0, 1)
    record, _ = (await legacy_by_id(registry))["1"]
    assert record.hash_scheme == "argon2id" and record.password_hash.startswith("$argon2id$")
    assert record.imported_password_hash == md5()
    assert passwords.verify(PASSWORD, record.password_hash, record.hash_scheme)


async def test_vneid_stays_the_authority_once_an_account_is_linked(registry: Registry) -> None:
    first = row("1", "an", full_name="Nguyen Van An", birth_date="1985-03-12", cmnd="012345678")
    await run(registry, csv_text(first))
    async with registry.db.transaction() as session:
        account = (await session.execute(select(Account))).scalar_one()
        account.name, account.identification_number = "Nguyễn Văn An", "001085012345"
        assert account.id is not None
        session.add(
            UpstreamLink(
                account_id=account.id,
                issuer="https://vneid.example",
                subject="s-1",
                created_at=NOW,
                last_login_at=NOW,
            )
        )

    report = await run(registry, csv_text({**first, "full_name": "Nguyen V. An", "birth_date": "1985-03-21"}))

    assert report.updated == 1
    record, account = (await legacy_by_id(registry))["1"]
    assert (record.full_name, record.birth_date) == ("Nguyen V. An", date(1985, 3, 21))
    assert (account.name, account.birthdate) == ("Nguyễn Văn An", date(1985, 3, 12))
    assert account.identification_number == "001085012345"


async def test_imports_larger_than_one_batch(registry: Registry) -> None:
    rows = [row(f"id-{n}", f"user{n}", cmnd=f"{n:09d}") for n in range(BATCH * 2 + 7)]
    progress: list[int] = []

    created = await run(registry, csv_text(*rows), progress=progress.append)
    rows[BATCH + 1]["full_name"] = "Đổi tên"
    again = await run(registry, csv_text(*rows))

    assert created.created == len(rows) and sum(progress) == len(rows)
    assert (again.created, again.updated, again.unchanged) == (0, 1, len(rows) - 1)
    assert await count(registry, LegacyAccount) == len(rows)


# ---- invalid files ------------------------------------------------------------------------------------


BAD_ROWS = [
    row("1", "ok.user", cmnd="012345678"),
    row("2", "bad.cccd", cccd="999190023456"),  # province 999 does not exist: kept, classed invalid_id
    row("3", "bad.cmnd", cmnd="0123456789"),  # 10 digits: kept, classed invalid_id
    row("4", "", account_type="robot"),
    row("5", "bad.date", birth_date="1990-02-30", gender="nam", created_at="hôm qua"),
    row("6", "bad.hash", password_hash="not-a-hash", hash_scheme="bcrypt"),
    row("7", "bad.scheme", hash_scheme="sha1"),
    row("1", "repeated.id"),
    row("9", "long.cccd", cccd="0011900234567"),  # 13 characters do not fit the column
]


async def test_bad_rows_are_rejected_and_the_good_ones_imported(registry: Registry, tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.csv"
    report = await run(registry, csv_text(*BAD_ROWS), rejects=rejects)

    assert (report.created, report.updated, report.unchanged, report.rejected) == (3, 0, 0, 6)
    imported = await legacy_by_id(registry)
    assert sorted(imported) == ["1", "2", "3"]
    assert imported["1"][0].username == "ok.user"  # the first occurrence of a repeated key wins
    assert {imported[key][1].cleanup_class for key in ("2", "3")} == {"invalid_id"}
    assert imported["2"][1].identification_number is None  # an invalid number never reaches the account
    by_line = {(error.line, error.column) for error in report.errors}
    assert by_line == {
        (5, "username"),
        (5, "account_type"),
        (6, "birth_date"),
        (6, "gender"),
        (6, "created_at"),
        (7, "password_hash"),
        (8, "hash_scheme"),
        (9, "legacy_id"),
        (10, "cccd"),
    }
    (entry,) = await rows_of(registry, AuditEntry)
    assert entry.details["rejected"] == 6 and entry.reason == "rows_rejected"


async def test_the_reject_file_holds_each_bad_line_as_written_with_its_number_and_reason(
    registry: Registry, tmp_path: Path
) -> None:
    rejects = tmp_path / "rejects.csv"
    text = csv_text(*BAD_ROWS)
    await run(registry, text, rejects=rejects)

    written = list(csv.DictReader(rejects.open(encoding="utf-8", newline="")))
    lines = text.splitlines()
    assert sorted(int(item["line"]) for item in written) == [5, 6, 7, 8, 9, 10]
    for item in written:
        assert item["original"] == lines[int(item["line"]) - 1]
    reasons = {int(item["line"]): item["reason"] for item in written}
    assert "account_type" in reasons[5] and "already given on line 2" in reasons[9]
    assert "longer than 12 characters" in reasons[10]


async def test_error_messages_never_carry_a_full_number_or_a_hash(registry: Registry, tmp_path: Path) -> None:
    report = await run(registry, csv_text(*BAD_ROWS), rejects=tmp_path / "rejects.csv")

    text = "\n".join(str(error) for error in report.errors)
    for secret in ("999190023456", "0123456789", "0011900234567", "not-a-hash", md5()):
        assert secret not in text


async def test_a_dry_run_counts_what_an_import_would_do_and_writes_nothing(registry: Registry) -> None:
    await run(registry, csv_text(row("1", "an"), row("2", "binh")))
    text = csv_text(row("1", "an"), row("2", "binh", full_name="Trần Bình"), row("3", "chau"), row("4", ""))

    dry = await run(registry, text, dry_run=True)

    assert (dry.created, dry.updated, dry.unchanged, dry.rejected, dry.written) == (1, 1, 1, 1, False)
    assert await count(registry, LegacyAccount) == 2
    assert (await legacy_by_id(registry))["2"][0].full_name is None
    assert len(await rows_of(registry, AuditEntry)) == 1  # the first, real import only


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("source_system,legacy_id,username\ndvc,1,an\n", "missing columns"),
        (csv_text(row("1", "an")).replace("cccd", "cmnd"), "repeated columns"),
    ],
)
async def test_a_file_without_the_contract_header_is_refused(
    registry: Registry, text: str, message: str
) -> None:
    report = await run(registry, text)

    assert report.unreadable and not report.written
    assert report.errors[0].line == 1 and message in report.errors[0].message
    assert await count(registry, AuditEntry) == 0


# ---- format details -----------------------------------------------------------------------------------


async def test_extra_columns_and_any_column_order_are_accepted(registry: Registry) -> None:
    header = ("ghi_chu", *reversed(HEADER), "ma_ho_so")
    text = csv_text(row("1", "an", full_name="An", ghi_chu="x", ma_ho_so="HS-1"), header=header)

    report = await run(registry, text)

    assert report.created == 1
    record, _ = (await legacy_by_id(registry))["1"]
    assert (record.username, record.full_name, record.hash_scheme) == ("an", "An", "md5")


async def test_a_byte_order_mark_is_accepted(registry: Registry, tmp_path: Path) -> None:
    text = csv_text(row("1", "an"), row("2", "binh"))
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())

    from_path = await import_legacy_csv(registry, path)
    from_stream = await run(registry, "\ufeff" + text)

    assert from_path.created == 2 and from_stream.unchanged == 2


async def test_empty_cells_are_unknown_and_multi_line_cells_keep_line_numbers(registry: Registry) -> None:
    text = csv_text(
        row("1", "an", org_name="Công ty\nhai dòng", account_type="organisation"),
        row("2", "binh", gender="nam"),
    )

    report = await run(registry, text)

    assert [(error.line, error.column) for error in report.errors] == [(4, "gender")]


def test_created_at_accepts_iso_dates_and_times_naive_ones_in_vietnam_time() -> None:
    rows = [
        row("1", "a", created_at="2020-01-02"),
        row("2", "b", created_at="2020-01-02T08:30:00"),
        row("3", "c", created_at="2020-01-02T08:30:00Z"),
        row("4", "d", created_at="2020-01-02 08:30:00+07:00"),
    ]
    parsed = read_file(io.StringIO(csv_text(*rows)), date(2024, 1, 1))

    assert parsed.errors == []
    assert [item.created_at for item in parsed.rows] == [
        datetime(2020, 1, 2, tzinfo=VIETNAM),
        datetime(2020, 1, 2, 8, 30, tzinfo=VIETNAM),
        datetime(2020, 1, 2, 8, 30, tzinfo=UTC),
        datetime(2020, 1, 2, 1, 30, tzinfo=UTC),
    ]


def test_usernames_are_keyed_for_lookup_and_lockout() -> None:
    parsed = read_file(io.StringIO(csv_text(row("1", "BINH.TRAN@Example.VN"))), date(2024, 1, 1))

    assert parsed.rows[0].username == "BINH.TRAN@Example.VN"
    assert parsed.rows[0].username_key == "binh.tran@example.vn"


# ---- the command --------------------------------------------------------------------------------------


def test_the_command_imports_and_prints_a_json_summary(database_url: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("BROKER_DATABASE_URL", database_url)
    runner = CliRunner()

    first = runner.invoke(cli, ["legacy", "import", str(SEED)])
    again = runner.invoke(cli, ["legacy", "import", str(SEED)])

    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout.strip().splitlines()[-1])["created"] == 14
    assert json.loads(again.stdout)["unchanged"] == 14


def test_the_command_sets_bad_rows_aside_and_refuses_an_unreadable_file(
    database_url: str, monkeypatch: Any, tmp_path: Path
) -> None:
    monkeypatch.setenv("BROKER_DATABASE_URL", database_url)
    path, rejects, broken = tmp_path / "bad.csv", tmp_path / "rejects.csv", tmp_path / "broken.csv"
    path.write_text(csv_text(*BAD_ROWS), encoding="utf-8")
    broken.write_text("source_system,legacy_id\ndvc,1\n", encoding="utf-8")
    runner = CliRunner()

    done = runner.invoke(cli, ["legacy", "import", str(path), "--rejects", str(rejects)])
    refused = runner.invoke(cli, ["legacy", "import", str(broken)])

    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert (summary["created"], summary["rejected"]) == (3, 6)
    assert "rejected: line 5, username" in done.stderr and "0011900234567" not in done.stderr
    assert len(rejects.read_text(encoding="utf-8").splitlines()) == 7  # header and six rows
    assert refused.exit_code == 2 and "missing columns" in refused.stderr
