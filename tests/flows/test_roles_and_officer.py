"""Staff roles and the one-stop officer's account creation (letter 3701/VPCP-KSTT), through real servers.

An officer is a citizen who logs in with VNeID like everyone else and is granted ``one_stop_officer``;
from 15/6/2024 (the letters' default) the officer can no longer create citizen accounts, while
organisation and foreigner accounts are still created. Every decision lands in the audit trail.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from broker.admin import roles
from broker.app import build_registry
from broker.registry import Registry
from broker.store import accounts, audit
from broker.store.tables import AuditEntry
from tests.conftest import DEMO_PASSWORD, Stack, StackFactory
from tests.support.browser import Browser, RelyingParty, redeem


@pytest.fixture
async def rp(stack: Stack) -> RelyingParty:
    """The one-stop system, whose resource servers verify its RFC 9068 access tokens with the JWKS."""
    return await stack.register_client(access_token_format="jwt")


MAI = "048192005566"  # Võ Thị Mai, level 2: the officer at the desk
AN = "001085012345"  # Nguyễn Văn An: a citizen without any role
NEW_CITIZEN = "079203001234"  # a valid CCCD: born 2003, male
CITIZEN = {
    "account_type": "citizen",
    "full_name": "Trần Văn Tư",
    "birth_date": "2003-04-05",
    "gender": "male",
    "identification_number": NEW_CITIZEN,
}
ORGANISATION = {
    "account_type": "organisation",
    "org_name": "Công ty TNHH Sen Vàng",
    "tax_code": "0101234567-001",
}
FOREIGNER = {
    "account_type": "foreigner",
    "full_name": "Anna Schmidt",
    "birth_date": "1990-01-02",
    "gender": "female",
}


@asynccontextmanager
async def registry_of(stack: Stack) -> AsyncIterator[Registry]:
    registry = build_registry(stack.settings)
    try:
        yield registry
    finally:
        await registry.vneid.aclose()
        await registry.db.dispose()


async def access_token(stack: Stack, rp: RelyingParty, http: httpx.AsyncClient, number: str) -> str:
    person = Browser()
    try:
        attempt, back = await person.log_in(stack.broker_url, rp, number, DEMO_PASSWORD)
    finally:
        await person.close()
    response = await redeem(http, stack.broker_url, rp, back.query["code"], attempt.verifier)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def verified_claims(http: httpx.AsyncClient, stack: Stack, token: str) -> dict[str, Any]:
    """What a resource server does with a broker access token (RFC 9068 §4), independently of the broker."""
    jwks = (await http.get(f"{stack.broker_url}/jwks")).json()
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt"
    key = next(entry for entry in jwks["keys"] if entry["kid"] == header["kid"])
    return dict(jwt.decode(token, jwt.PyJWK(key).key, algorithms=["RS256"], audience=stack.broker_url))


async def change_role(stack: Stack, verb: str, sub: str, role: str = "one_stop_officer") -> roles.RoleChange:
    change = roles.grant if verb == "grant" else roles.revoke
    async with registry_of(stack) as registry:
        return await change(registry, actor="cli:lead", role=role, target=roles.Target(sub=sub))


async def create(
    http: httpx.AsyncClient, stack: Stack, token: str | None, body: Any, **headers: str
) -> httpx.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if isinstance(body, bytes):
        return await http.post(f"{stack.broker_url}/admin/accounts", content=body, headers=headers)
    return await http.post(f"{stack.broker_url}/admin/accounts", json=body, headers=headers)


async def audit_of(stack: Stack, action: str, actor: str | None = None) -> list[AuditEntry]:
    """The entries of an action (by one actor: first VNeID logins are ``account.create`` entries too)."""
    async with registry_of(stack) as registry, registry.db.read() as session:
        entries = await audit.entries(session, action)
    return [entry for entry in entries if actor is None or entry.actor == actor]


async def officer(stack: Stack, rp: RelyingParty, http: httpx.AsyncClient) -> tuple[str, str]:
    """Mai logs in with VNeID (creating her account), is granted the role, and logs in again."""
    first = await access_token(stack, rp, http, MAI)
    sub = (await verified_claims(http, stack, first))["sub"]
    assert (await change_role(stack, "grant", sub)).changed
    return sub, await access_token(stack, rp, http, MAI)


async def test_roles_ride_in_the_access_token_and_officers_no_longer_create_citizen_accounts(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    before = await access_token(stack, rp, http, MAI)
    claims = await verified_claims(http, stack, before)
    assert "roles" not in claims
    assert (await create(http, stack, before, ORGANISATION)).json() == {
        "error": "forbidden",
        "reason": "role_required",
    }

    assert (await change_role(stack, "grant", claims["sub"])).changed
    # The role is granted, but a token issued before does not carry it: roles count from the next login.
    assert (await create(http, stack, before, ORGANISATION)).status_code == 403
    token = await access_token(stack, rp, http, MAI)
    assert (await verified_claims(http, stack, token))["roles"] == ["one_stop_officer"]

    refused = await create(http, stack, token, CITIZEN)
    assert refused.status_code == 403, refused.text
    assert refused.headers["cache-control"] == "no-store"
    body = refused.json()
    assert body["error"] == "forbidden"
    assert body["reason"] == "officer_citizen_creation_disabled"
    assert "15/06/2024" in body["messages"]["vi"] and "VNeID" in body["messages"]["vi"]
    assert "1900.0368" in body["messages"]["vi"] and "1900.0368" in body["messages"]["en"]
    assert "Công an" in body["message"] and "commune police" in body["message"]

    organisation = await create(http, stack, token, ORGANISATION)
    assert organisation.status_code == 201, organisation.text
    created = organisation.json()
    assert created["account_type"] == "organisation"
    assert created["org_name"] == ORGANISATION["org_name"]
    assert created["tax_code"] == "0101234567-001"
    assert created["sub"] and created["sub"] != claims["sub"]
    foreigner = await create(http, stack, token, FOREIGNER)
    assert foreigner.status_code == 201, foreigner.text
    assert foreigner.json()["account_type"] == "foreigner"

    trail = await audit_of(
        stack, "account.create", actor=f"officer:{claims['sub']}"
    )  # the officer is the actor
    assert [(e.outcome, e.reason) for e in trail] == [
        ("refused", "role_required"),
        ("refused", "role_required"),
        ("refused", "officer_citizen_creation_disabled"),
        ("allowed", "allowed"),
        ("allowed", "allowed"),
    ]
    assert trail[2].details["identification_number"] == "079******234"
    assert [e.sub for e in trail[3:]] == [created["sub"], foreigner.json()["sub"]]
    assert NEW_CITIZEN not in json.dumps([e.details for e in trail])
    grants = await audit_of(stack, "role.grant")
    assert [(e.actor, e.outcome, e.sub, e.details["role"]) for e in grants] == [
        ("cli:lead", "allowed", claims["sub"], "one_stop_officer")
    ]


async def test_before_the_cut_off_an_officer_creates_citizen_accounts_once_per_person(
    make_stack: StackFactory, http: httpx.AsyncClient
) -> None:
    later = datetime.now(UTC) + timedelta(days=30)
    stack = make_stack(citizen_vneid_only_from=later, officer_citizen_creation_disabled_from=later)
    rp = await stack.register_client(access_token_format="jwt")
    sub, token = await officer(stack, rp, http)

    response = await create(http, stack, token, CITIZEN)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["account_type"] == "citizen"
    assert created["name"] == "Trần Văn Tư"
    assert created["birthdate"] == "2003-04-05"
    assert created["identification_number"] == NEW_CITIZEN
    async with registry_of(stack) as registry, registry.db.read() as session:
        stored = await accounts.get_by_sub(session, created["sub"])
    assert stored is not None and stored.identification_number == NEW_CITIZEN and stored.status == "active"

    again = await create(http, stack, token, {**CITIZEN, "full_name": "Trần Văn Tư (2)"})
    assert again.status_code == 409, again.text
    assert again.json() == {"error": "conflict", "reason": "account_exists"}
    assert (await create(http, stack, token, ORGANISATION)).status_code == 201

    trail = await audit_of(stack, "account.create", actor=f"officer:{sub}")
    assert [(e.outcome, e.reason, e.details.get("identification_number")) for e in trail] == [
        ("allowed", "allowed", "079******234"),
        ("refused", "account_exists", "079******234"),
        ("allowed", "allowed", None),
    ]


async def test_without_a_live_token_the_endpoint_answers_with_a_bearer_challenge(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    for authorization in (None, "Basic dXNlcjpwYXNz"):
        headers = {"Authorization": authorization} if authorization else {}
        response = await create(http, stack, None, ORGANISATION, **headers)
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == 'Bearer realm="broker"'  # RFC 6750 §3.1
    garbage = await create(http, stack, "not-a-token", ORGANISATION)
    assert garbage.status_code == 401
    assert garbage.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in garbage.headers["www-authenticate"]
    malformed = await create(http, stack, "two words", ORGANISATION)
    assert malformed.status_code == 400
    assert 'error="invalid_request"' in malformed.headers["www-authenticate"]
    assert await audit_of(stack, "account.create") == []  # no one to audit: nothing was decided


async def test_a_citizen_without_the_role_is_refused_whatever_the_body(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    token = await access_token(stack, rp, http, AN)
    for body in (ORGANISATION, CITIZEN, {"account_type": "martian"}, [1, 2]):
        response = await create(http, stack, token, body)
        assert response.status_code == 403, (body, response.text)
        assert response.json() == {"error": "forbidden", "reason": "role_required"}
    # Holding another role is not enough.
    sub = (await verified_claims(http, stack, token))["sub"]
    await change_role(stack, "grant", sub, role="auditor")
    auditor = await access_token(stack, rp, http, AN)
    assert (await verified_claims(http, stack, auditor))["roles"] == ["auditor"]
    assert (await create(http, stack, auditor, ORGANISATION)).json()["reason"] == "role_required"


async def test_a_revoked_role_stops_working_at_once_even_with_an_unexpired_token(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    sub, token = await officer(stack, rp, http)
    assert (await create(http, stack, token, ORGANISATION)).status_code == 201

    assert (await change_role(stack, "revoke", sub)).changed
    response = await create(http, stack, token, FOREIGNER)
    assert response.status_code == 403
    assert response.json() == {"error": "forbidden", "reason": "role_required"}
    # The token itself is still good for what it was issued for.
    userinfo = await http.get(f"{stack.broker_url}/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert userinfo.status_code == 200 and userinfo.json()["sub"] == sub
    assert "roles" not in userinfo.json()
    revocations = await audit_of(stack, "role.revoke")
    assert [(e.outcome, e.sub) for e in revocations] == [("allowed", sub)]


async def test_invalid_bodies_get_field_errors_that_never_echo_the_values(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    sub, token = await officer(stack, rp, http)
    future = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    cases: list[tuple[Any, str]] = [
        ({}, "account_type"),
        ({"account_type": "martian"}, "account_type"),
        ({"account_type": 7}, "account_type"),
        ([ORGANISATION], "body"),
        ("organisation", "body"),
        ({"account_type": "organisation", "tax_code": "0101234567"}, "org_name"),
        ({**ORGANISATION, "tax_code": "01012345"}, "tax_code"),
        ({**ORGANISATION, "tax_code": "0101234567-01"}, "tax_code"),
        ({**ORGANISATION, "tax_code": 101234567}, "tax_code"),
        ({**ORGANISATION, "full_name": "Nguyễn Văn Bê"}, "full_name"),
        ({**ORGANISATION, "unit_code": "bad unit code!"}, "unit_code"),
        ({**ORGANISATION, "org_name": "   "}, "org_name"),
        ({**ORGANISATION, "org_name": "x" * 301}, "org_name"),
        ({**ORGANISATION, "nickname": "Sen"}, "nickname"),
        ({**FOREIGNER, "full_name": None}, "full_name"),
        ({**FOREIGNER, "birth_date": future}, "birth_date"),
        ({**FOREIGNER, "birth_date": "02/01/1990"}, "birth_date"),
        ({**FOREIGNER, "birth_date": "1990-02-30"}, "birth_date"),
        ({**FOREIGNER, "gender": "m"}, "gender"),
        ({**FOREIGNER, "full_name": "Anna\x00Schmidt"}, "full_name"),
        ({**FOREIGNER, "identification_number": "07920300123"}, "identification_number"),
        ({**FOREIGNER, "identification_number": "999203001234"}, "identification_number"),
        ({**FOREIGNER, "identification_number": NEW_CITIZEN}, "identification_number"),  # not a woman of 1990
        ({**FOREIGNER, "tax_code": "0101234567"}, "tax_code"),
    ]
    for body, field in cases:
        response = await create(http, stack, token, body)
        assert response.status_code == 400, (body, response.text)
        answer = response.json()
        assert answer["error"] == "invalid_request", answer
        assert field in answer["fields"], (body, answer)
        assert response.headers["cache-control"] == "no-store"
        for value in body.values() if isinstance(body, dict) else []:
            if (
                isinstance(value, str)
                and len(value) > 3
                and value not in ("organisation", "foreigner", "female")
            ):
                assert value not in response.text, (value, response.text)

    not_json = [
        (b'{"account_type": "organisation",', {"Content-Type": "application/json"}),
        (b"\xff\xfe{}", {"Content-Type": "application/json"}),
        (b"[" * 50_000 + b"]" * 10_000, {"Content-Type": "application/json"}),
        (b"account_type=organisation&org_name=X", {"Content-Type": "application/x-www-form-urlencoded"}),
    ]
    for raw, headers in not_json:
        response = await create(http, stack, token, raw, **headers)
        assert response.status_code == 400, (raw[:40], response.text)
        assert response.json()["fields"] == {"body": "must be a JSON object (Content-Type: application/json)"}

    trail = await audit_of(stack, "account.create", actor=f"officer:{sub}")
    assert {e.outcome for e in trail} == {"invalid"}
    assert len(trail) == len(cases) + len(not_json)
    assert NEW_CITIZEN not in json.dumps([e.details for e in trail])
