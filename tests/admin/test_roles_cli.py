"""`broker roles grant|revoke|list`, as an operator runs them, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from broker.cli import app
from broker.store import accounts, audit
from broker.store.database import Database
from broker.store.tables import Account, AccountAlias, AuditEntry, UpstreamLink

MAI = "048192005566"
NOW = datetime(2024, 7, 1, tzinfo=UTC)


def seed(url: str) -> None:
    """A citizen linked to VNeID, the same person's retired legacy account, and an organisation."""

    async def run() -> None:
        db = Database(url)
        try:
            async with db.transaction() as session:
                person = await accounts.add(session, _account("sub-mai", "citizen", MAI))
                assert person.id is not None
                await accounts.add_link(
                    session,
                    UpstreamLink(
                        account_id=person.id,
                        issuer="https://vneid.example",
                        subject="vneid-mai",
                        created_at=NOW,
                        last_login_at=NOW,
                    ),
                )
                retired = _account("sub-mai-old", "citizen", MAI)
                retired.merged_into_id = person.id
                await accounts.add(session, retired)
                # What a merge leaves behind: the retired sub stands for the survivor.
                await accounts.add_alias(
                    session, AccountAlias(sub="sub-mai-old", account_id=person.id, created_at=NOW)
                )
                await accounts.add(session, _account("sub-legacy", "citizen", "001190023456"))
                await accounts.add(session, _account("sub-org", "organisation", None))
        finally:
            await db.dispose()

    asyncio.run(run())


def _account(sub: str, account_type: str, number: str | None) -> Account:
    return Account(
        sub=sub, account_type=account_type, identification_number=number, created_at=NOW, updated_at=NOW
    )


def audit_trail(url: str) -> list[AuditEntry]:
    async def run() -> list[AuditEntry]:
        db = Database(url)
        try:
            async with db.read() as session:
                return [e for e in await audit.entries(session) if e.action.startswith("role.")]
        finally:
            await db.dispose()

    return asyncio.run(run())


Invoke = Callable[..., Result]


@pytest.fixture
def broker(database_url: str) -> Invoke:
    """`broker roles ...` against a seeded database."""
    seed(database_url)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, ["roles", *args], env={"BROKER_DATABASE_URL": database_url})

    return invoke


def printed(result: Result) -> Any:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_grant_list_and_revoke_a_role(broker: Invoke, database_url: str) -> None:
    grant = ("grant", "--sub", "sub-mai", "--role", "one_stop_officer", "--actor", "cli:lead")
    assert printed(broker(*grant)) == {"sub": "sub-mai", "role": "one_stop_officer", "changed": True}
    assert printed(broker(*grant))["changed"] is False  # granting twice changes nothing
    assert printed(broker("grant", "--sub", "sub-mai", "--role", "auditor"))["changed"] is True

    listed = printed(broker("list"))
    assert [(h["sub"], h["role"]) for h in listed] == [
        ("sub-mai", "auditor"),
        ("sub-mai", "one_stop_officer"),
    ]
    assert listed[0]["granted_by"].startswith("cli:")  # the operator's login name by default
    assert listed[1]["granted_by"] == "cli:lead"
    assert printed(broker("list", "--sub", "sub-org")) == []

    revoke = ("revoke", "--sub", "sub-mai", "--role", "one_stop_officer", "--actor", "cli:lead")
    assert printed(broker(*revoke)) == {"sub": "sub-mai", "role": "one_stop_officer", "changed": True}
    assert printed(broker(*revoke))["changed"] is False
    assert [h["role"] for h in printed(broker("list", "--sub", "sub-mai"))] == ["auditor"]

    trail = audit_trail(database_url)
    assert [(e.action, e.outcome, e.sub, e.details["role"]) for e in trail] == [
        ("role.grant", "allowed", "sub-mai", "one_stop_officer"),
        ("role.grant", "unchanged", "sub-mai", "one_stop_officer"),
        ("role.grant", "allowed", "sub-mai", "auditor"),
        ("role.revoke", "allowed", "sub-mai", "one_stop_officer"),
        ("role.revoke", "unchanged", "sub-mai", "one_stop_officer"),
    ]
    assert trail[0].actor == "cli:lead"


def test_the_account_is_found_by_its_number_and_the_audit_masks_it(broker: Invoke, database_url: str) -> None:
    result = broker("grant", "--identification-number", MAI, "--role", "one_stop_officer")
    # The retired legacy account with the same number is not a candidate: the survivor gets the role.
    assert printed(result) == {"sub": "sub-mai", "role": "one_stop_officer", "changed": True}
    assert MAI not in result.stdout
    # A merged-away sub stands for its survivor, too.
    assert [h["sub"] for h in printed(broker("list", "--sub", "sub-mai-old"))] == ["sub-mai"]

    (entry,) = audit_trail(database_url)
    assert entry.details == {
        "role": "one_stop_officer",
        "lookup": "identification_number",
        "identification_number": "048******566",
    }
    assert MAI not in json.dumps(entry.details)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--sub", "sub-mai", "--role", "superuser"), "unknown role 'superuser'"),
        (
            ("--sub", "sub-mai", "--role", "ONE_STOP_OFFICER"),
            "known roles: auditor, one_stop_officer, ops_admin",
        ),
        (("--sub", "no-such-sub", "--role", "auditor"), "no account found"),
        (("--identification-number", "079203001234", "--role", "auditor"), "no account found"),
        (("--identification-number", "12345", "--role", "auditor"), "12-digit"),
        (("--role", "auditor"), "exactly one of --sub and --identification-number"),
        (("--sub", "sub-mai", "--identification-number", MAI, "--role", "auditor"), "exactly one of"),
        (("--sub", "sub-org", "--role", "auditor"), "linked to VNeID"),
        (("--sub", "sub-legacy", "--role", "auditor"), "linked to VNeID"),
    ],
)
def test_refusals_are_clear_errors_and_change_nothing(
    broker: Invoke, args: tuple[str, ...], message: str
) -> None:
    result = broker("grant", *args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert result.stdout == ""
    assert printed(broker("list")) == []


def test_refusals_are_audited(broker: Invoke, database_url: str) -> None:
    broker("grant", "--sub", "sub-mai", "--role", "superuser", "--actor", "cli:lead")
    broker("grant", "--identification-number", "079203001234", "--role", "auditor", "--actor", "cli:lead")
    broker("grant", "--sub", "sub-org", "--role", "auditor", "--actor", "cli:lead")
    trail = audit_trail(database_url)
    assert [(e.outcome, e.reason, e.sub) for e in trail] == [
        ("refused", "unknown_role", "sub-mai"),
        ("refused", "unknown_account", None),
        ("refused", "not_a_vneid_person", "sub-org"),
    ]
    assert trail[1].details["identification_number"] == "079******234"
