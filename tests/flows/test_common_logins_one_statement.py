"""Issue 7: on PostgreSQL the two common VNeID logins (a returning citizen with nothing to change, a first
login on no legacy account) are written as one statement without an ORM session
(``broker.login.common_login``). Each must write exactly what the callback's whole transaction writes for
the same login: the same new rows and the same changes, table by table, but for the values that differ from
any login to the next (ids, secrets, instants; for two first logins, the two people's own data); the audit
chain still verifies."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

import broker.store.tables  # noqa: F401  (the tables' metadata)
from broker.login import common_login
from broker.store import audit
from tests.conftest import DEMO_PASSWORD, Stack
from tests.flows.test_authorize_errors import AN
from tests.support.browser import Browser, RelyingParty

BINH = "001190023456"  # mock VNeID's second citizen

_TABLES = (
    "accounts",
    "account_events",
    "audit_log",
    "authorization_codes",
    "client_accounts",
    "login_flows",
    "sso_session_clients",
    "sso_sessions",
    "upstream_links",
    "verified_numbers",
    "review_items",
)
# Values no two logins share: ids, hashes of secrets, the RP's and VNeID's random values, instants.
_VARYING = {
    "id",
    "sid",
    "cookie_hash",
    "code_hash",
    "grant_id",
    "browser_hash",
    "rp_state",
    "nonce",
    "code_challenge",
    "upstream_nonce",
    "upstream_code_verifier",
    "prev_hash",
    "chain_hash",
    "at",
    "auth_time",
    "created_at",
    "expires_at",
    "first_seen_at",
    "last_login_at",
    "updated_at",
}


async def _snapshot(stack: Stack) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    tables: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
    async with stack.database() as database, database.read() as session:
        for name in _TABLES:
            keys = [column.name for column in SQLModel.metadata.tables[name].primary_key]
            rows = (await session.execute(text(f"SELECT * FROM {name}"))).mappings().all()
            tables[name] = {tuple(row[key] for key in keys): dict(row) for row in rows}
        assert (await audit.verify(session)).first_break is None
    return tables


# What two people's first logins write differently: their own data, and what is made or hashed from it.
_PERSONAL = {
    "name",
    "birthdate",
    "gender",
    "identification_number",
    "old_identification_number",
    "name_key",
    "subject",
    "sub",
    "actor",
    "details",
    "account_id",
}


def _written(
    before: dict[str, Any], after: dict[str, Any], varying: set[str] = _VARYING
) -> list[tuple[str, str, Any]]:
    """What a login wrote: its new rows and the columns it changed, without the values every login varies."""
    found = []
    for table in _TABLES:
        for key, row in after[table].items():
            old = before[table].get(key)
            if old is None:
                kept = sorted((k, str(v)) for k, v in row.items() if k not in varying)
                found.append((table, "new", kept))
            elif old != row:
                found.append((table, "changed", sorted(k for k in row if row[k] != old[k])))
    return sorted(found)


async def _log_in(
    stack: Stack, rp: RelyingParty, number: str = AN, varying: set[str] = _VARYING
) -> list[tuple[str, str, Any]]:
    before = await _snapshot(stack)
    browser = Browser()
    try:
        await browser.log_in(stack.broker_url, rp, number, DEMO_PASSWORD)
    finally:
        await browser.close()
    return _written(before, await _snapshot(stack), varying)


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each login the callback offered ``common_login`` was written by it."""
    taken: list[bool] = []
    shortcut = common_login.log_in

    async def counted(*args: Any) -> Any:
        outcome = await shortcut(*args)
        taken.append(outcome is not None)
        return outcome

    monkeypatch.setattr(common_login, "log_in", counted)
    return taken


async def _declined(*_: Any) -> None:
    return None


async def test_a_common_login_writes_what_the_whole_transaction_writes(
    stack: Stack, rp: RelyingParty, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _log_in(stack, rp)  # the first login: the account and its link
    taken = _counting(monkeypatch)
    quick = await _log_in(stack, rp)
    # PostgreSQL: taken; SQLite: the transaction's way from the start
    assert taken == ([True] if stack.settings.database_url.startswith("postgresql") else [])
    monkeypatch.setattr(common_login, "log_in", _declined)
    whole = await _log_in(stack, rp)
    assert quick == whole
    tables = {table for table, _, _ in whole}
    assert {"audit_log", "authorization_codes", "login_flows", "sso_sessions", "upstream_links"} <= tables
    assert ("accounts", "changed") not in {(table, kind) for table, kind, _ in whole}  # left alone


async def test_a_first_login_writes_what_the_whole_transaction_writes(
    stack: Stack, rp: RelyingParty, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two people alike (both level 2, both with an old CMND, neither on a legacy account): An's first login
    the common way, Bình's the transaction's."""
    taken = _counting(monkeypatch)
    quick = await _log_in(stack, rp, AN, _VARYING | _PERSONAL)
    assert taken == ([True] if stack.settings.database_url.startswith("postgresql") else [])
    monkeypatch.setattr(common_login, "log_in", _declined)
    whole = await _log_in(stack, rp, BINH, _VARYING | _PERSONAL)
    assert quick == whole
    tables = {table for table, kind, _ in whole if kind == "new"}
    assert {"accounts", "upstream_links", "verified_numbers", "sso_sessions", "authorization_codes"} <= tables
    async with stack.database() as database, database.read() as session:
        trail = [(entry.action, entry.sub) for entry in await audit.entries(session)]
        subs = (await session.execute(text("SELECT identification_number, sub FROM accounts"))).all()
    for number, sub in subs:  # each person's account, created then logged in to, in the trail's order
        assert number in (AN, BINH)
        assert [action for action, of in trail if of == sub] == ["account.create", "login.vneid"]
