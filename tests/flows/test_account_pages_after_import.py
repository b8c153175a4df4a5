"""After a bulk legacy import, a login's update of its account stays on the account's page (PostgreSQL).

An import fills the table's pages; without room on the page, the UPDATE a login makes writes the row's
new version elsewhere, with an entry in each of the table's indexes (issue 9: about 1 ms a login at a
million accounts). Migration 0013 leaves a tenth of each page free."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import DEMO_PASSWORD, Stack
from tests.support.browser import Browser, RelyingParty
from tests.support.legacy import csv_text, row

CHAU = "038303004567"


def _filler(index: int) -> dict[str, str]:
    return row(
        f"f-{index}",
        f"nguoidan{index}@example.vn",
        full_name=f"Nguyễn Văn Thử {index}",
        birth_date="1980-01-01",
        email=f"nguoidan{index}@example.vn",
        unit_code="001",
    )


async def _page_of(stack: Stack, legacy_id: str) -> int:
    async with stack.database() as database, database.read() as session:
        ctid = (
            await session.execute(
                text(
                    "SELECT a.ctid::text FROM accounts a JOIN legacy_accounts l ON l.account_id = a.id"
                    " WHERE l.legacy_id = :legacy_id"
                ),
                {"legacy_id": legacy_id},
            )
        ).scalar_one()
    return int(ctid.strip("()").split(",")[0])


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_first_login_after_an_import_updates_its_account_on_its_page(
    stack: Stack, rp: RelyingParty, browser: Browser
) -> None:
    rows = [_filler(i) for i in range(150)]
    rows.insert(75, row("c-7", CHAU, full_name="Lê Minh Châu", birth_date="2003-11-02", cccd=CHAU))
    await stack.import_legacy(csv_text(*rows))
    before = await _page_of(stack, "c-7")

    _, back = await browser.log_in(stack.broker_url, rp, CHAU, DEMO_PASSWORD)
    assert back.query["code"]  # linked by the CCCD (Case 2): the account's class and times changed

    assert await _page_of(stack, "c-7") == before
