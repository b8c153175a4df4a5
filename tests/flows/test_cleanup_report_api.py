"""`GET /admin/reports/cleanup` for auditors and ops admins, and the unit of accounts created at a first
VNeID login (issue 9): the relying party's, else the commune of VNeID's address claim, else "unknown";
through real servers on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select

from broker.store.tables import Account
from mock_vneid.settings import packaged_citizens_file
from tests.conftest import Stack, StackFactory
from tests.flows.test_roles_and_officer import AN, MAI, access_token, change_role, verified_claims
from tests.support.browser import RelyingParty


@pytest.fixture
async def rp(stack: Stack) -> RelyingParty:
    """The one-stop system, whose resource servers verify its RFC 9068 access tokens with the JWKS."""
    return await stack.register_client(access_token_format="jwt")


async def test_auditors_read_the_report_and_first_logins_take_the_rp_unit(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    url = f"{stack.broker_url}/admin/reports/cleanup"
    mai_token = await access_token(stack, rp, http, MAI)  # no unit known for this RP yet
    stack.settings.client_unit_codes[rp.client_id] = "17380"  # the operator sets the RP's unit
    await access_token(stack, rp, http, AN)
    async with stack.database() as database, database.read() as session:
        found = dict((await session.execute(select(Account.identification_number, Account.unit_code))).all())
        classes = set((await session.execute(select(col(Account.cleanup_class)))).scalars())
    assert (found[MAI], found[AN]) == ("unknown", "17380")
    assert classes == {"linked"}

    assert (await http.get(url)).status_code == 401
    refused = await http.get(url, headers={"Authorization": f"Bearer {mai_token}"})
    assert refused.status_code == 403 and refused.json()["reason"] == "role_required"

    sub = (await verified_claims(http, stack, mai_token))["sub"]
    assert (await change_role(stack, "grant", sub, role="auditor")).changed
    token = await access_token(stack, rp, http, MAI)
    headers = {"Authorization": f"Bearer {token}"}
    response = await http.get(url, params={"by": "province"}, headers=headers)

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    report = response.json()
    units = {(u["unit_code"], u["account_type"]): u for u in report["units"]}
    assert units[("40", "citizen")]["unit_name"] == "Tỉnh Nghệ An" and units[("40", "citizen")]["linked"] == 1
    assert units[("unknown", "citizen")]["linked"] == 1
    assert report["organisation_accounts"] == 0 and report["totals"]["accounts"] == 2
    bad = await http.get(url, params={"by": "village"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"


async def test_a_first_login_takes_the_unit_of_the_vneid_address_when_the_rp_has_none(
    make_stack: StackFactory, tmp_path: Path, http: httpx.AsyncClient
) -> None:
    binh = "001190023456"
    citizens = json.loads(packaged_citizens_file().read_text(encoding="utf-8"))
    for citizen in citizens:
        if citizen["identification_number"] == AN:
            citizen["address"] = {"formatted": "Xã Nghi Phong, Nghi Lộc, Nghệ An", "commune_code": "17383"}
        if citizen["identification_number"] == MAI:
            citizen["address"] = {"formatted": "Somewhere", "commune_code": "99999"}  # not in the 2024 list
    seed = tmp_path / "citizens.json"
    seed.write_text(json.dumps(citizens, ensure_ascii=False), encoding="utf-8")
    stack = make_stack(citizens_file=seed)
    rp = await stack.register_client(access_token_format="jwt")

    await access_token(stack, rp, http, AN)
    await access_token(stack, rp, http, MAI)
    stack.settings.client_unit_codes[rp.client_id] = "17380"  # the RP's unit, once set, comes first
    await access_token(stack, rp, http, binh)  # Trần Thị Bình

    async with stack.database() as database, database.read() as session:
        found = dict((await session.execute(select(Account.identification_number, Account.unit_code))).all())
    assert (found[AN], found[MAI], found[binh]) == ("17383", "unknown", "17380")
