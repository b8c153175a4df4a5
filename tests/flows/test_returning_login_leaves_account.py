"""A returning citizen's login is recorded on its VNeID link and leaves the account's row alone: no UPDATE
of an account whose data did not change (each was a new row version, WAL and vacuum work for nothing, and
a lock on the row beside the citizen's other logins). When VNeID's data differs from the account's, the
login still replaces it, and the account's ``updated_at`` says when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text

from tests.conftest import DEMO_PASSWORD, Stack
from tests.flows.test_authorize_errors import AN
from tests.support.browser import Browser, RelyingParty


async def _account(stack: Stack) -> dict[str, Any]:
    async with stack.database() as database, database.read() as session:
        # PostgreSQL: the transaction that wrote the row's current version (any UPDATE makes a new one)
        version = "a.xmin::text" if database.is_postgresql else "NULL"
        row = (
            await session.execute(
                text(
                    f"SELECT a.name, a.updated_at, l.last_login_at, {version} AS version FROM accounts a"
                    " JOIN upstream_links l ON l.account_id = a.id WHERE a.identification_number = :number"
                ),
                {"number": AN},
            )
        ).one()
    return {
        "name": row.name,
        "updated_at": _instant(row.updated_at),
        "last_login": _instant(row.last_login_at),
        "version": row.version,
    }


def _instant(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


async def _log_in(stack: Stack, rp: RelyingParty) -> None:
    browser = Browser()
    try:
        _, back = await browser.log_in(stack.broker_url, rp, AN, DEMO_PASSWORD)
        assert back.query["code"]
    finally:
        await browser.close()


async def test_a_returning_citizens_login_is_recorded_on_its_link_not_its_account(
    stack: Stack, rp: RelyingParty
) -> None:
    await _log_in(stack, rp)  # the first login makes the account
    first = await _account(stack)

    await _log_in(stack, rp)
    again = await _account(stack)
    assert again["last_login"] > first["last_login"]
    assert (again["name"], again["updated_at"], again["version"]) == (
        first["name"],
        first["updated_at"],
        first["version"],
    )

    # The account's name differs from VNeID's (as a legacy account's may): the next login replaces it.
    async with stack.database() as database, database.transaction() as session:
        await session.execute(
            text("UPDATE accounts SET name = 'Tên cũ' WHERE identification_number = :n"), {"n": AN}
        )
    await _log_in(stack, rp)
    changed = await _account(stack)
    assert changed["name"] == first["name"]
    assert changed["updated_at"] > again["updated_at"]
