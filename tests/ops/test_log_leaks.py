"""The broker's own log, as `broker serve` writes it (JSON, DEBUG), after a full login of every kind through
real servers, holds none of the numbers, passwords, codes and tokens that went through it."""

from __future__ import annotations

import json

import httpx
from sqlmodel import select

from broker.store.tables import Account, LegacyAccount
from tests.conftest import DEMO_PASSWORD
from tests.ops.conftest import ProcessStackFactory
from tests.support.browser import Browser, redeem
from tests.support.chooser import keep_account
from tests.support.html_forms import form_with
from tests.support.legacy import LEGACY_PASSWORD, csv_text, row

AN, AN_CMND = "001085012345", "012345678"  # Case 1; and a legacy citizen refused by password
BINH, BINH_CMND = "001190023456", "023456789"  # Case 3: two legacy accounts
CHAU = "038303004567"  # Case 2: one legacy account on the CCCD
ORGANISATION = "0101234567"


async def _vneid_login(
    browser: Browser, broker_url: str, rp, number: str, secrets: list[str]
) -> tuple[object, httpx.Response]:  # type: ignore[no-untyped-def]
    attempt = browser.attempt(rp)
    secrets += [attempt.params["state"], attempt.params["nonce"], attempt.verifier]
    login_page = await browser.authorize(broker_url, attempt)
    vneid_page = await browser.open_vneid(login_page)
    back = await browser.sign_in_at_vneid(vneid_page, number, DEMO_PASSWORD)
    assert back.status_code == 303, back.text[:500]
    secrets.append(httpx.URL(back.headers["location"]).params["code"])  # VNeID's code to the broker
    return attempt, await browser.http.get(back.headers["location"])


async def _redeem_all(http, stack, rp, code: str, verifier: str, secrets: list[str]) -> None:  # type: ignore[no-untyped-def]
    secrets.append(code)
    response = await redeem(http, stack.broker_url, rp, code, verifier)
    assert response.status_code == 200, response.text
    tokens = response.json()
    secrets += [tokens["access_token"], tokens["id_token"]]
    userinfo = await http.get(
        f"{stack.broker_url}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert userinfo.status_code == 200
    if "refresh_token" in tokens:
        secrets.append(tokens["refresh_token"])
        renewed = await http.post(
            f"{stack.broker_url}/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=(rp.client_id, rp.client_secret),
        )
        assert renewed.status_code == 200, renewed.text
        secrets += [renewed.json()["refresh_token"], renewed.json()["access_token"]]
        # Reusing the rotated one is refused (and revokes the grant): an error path that must not leak it.
        again = await http.post(
            f"{stack.broker_url}/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=(rp.client_id, rp.client_secret),
        )
        assert again.status_code == 400


async def _password_post(browser: Browser, broker_url: str, rp, username: str, password: str, secrets):  # type: ignore[no-untyped-def]
    attempt = browser.attempt(rp)
    secrets += [attempt.params["state"], attempt.verifier]
    login_page = await browser.authorize(broker_url, attempt)
    form = form_with(login_page.text, str(login_page.url), "username", "password")
    response = await browser.http.post(
        form.action, data={**form.fields, "username": username, "password": password}
    )
    return attempt, response


async def test_a_login_of_every_kind_leaves_no_secret_in_the_log(
    make_process_stack: ProcessStackFactory, http: httpx.AsyncClient
) -> None:
    stack = make_process_stack()
    rp = await stack.register_client(grant_types=["authorization_code", "refresh_token"])
    secrets: list[str] = [rp.client_secret, DEMO_PASSWORD, LEGACY_PASSWORD, "wrong-Passw0rd!"]
    await stack.import_legacy(
        csv_text(
            row("c-1", AN_CMND, full_name="Nguyễn Văn An", birth_date="1985-03-12", cmnd=AN_CMND),
            row("c-7", CHAU, full_name="Lê Minh Châu", birth_date="2003-11-02", cccd=CHAU),
            row("b-1", BINH_CMND, full_name="Trần Thị Bình", birth_date="1990-07-25", cmnd=BINH_CMND),
            row(
                "b-2",
                "binh.tran@example.vn",
                source_system="motcua-huyen",
                full_name="Trần Thị Bình",
                birth_date="1990-07-25",
                cccd=BINH,
            ),
            row(
                "org-1", ORGANISATION, "organisation", org_name="Công ty TNHH Sen Vàng", tax_code=ORGANISATION
            ),
        )
    )

    # A citizen refused by password (VNeID only), a wrong password, an unknown user.
    person = Browser()
    _, refused = await _password_post(person, stack.broker_url, rp, AN_CMND, LEGACY_PASSWORD, secrets)
    assert "1900.0368" in refused.text
    _, wrong = await _password_post(person, stack.broker_url, rp, ORGANISATION, "wrong-Passw0rd!", secrets)
    assert wrong.status_code == 200
    await person.close()

    # An organisation by password, all the way to tokens.
    person = Browser()
    attempt, at_rp = await _password_post(
        person, stack.broker_url, rp, ORGANISATION, LEGACY_PASSWORD, secrets
    )
    assert at_rp.status_code == 303, at_rp.text[:500]
    await _redeem_all(
        http, stack, rp, httpx.URL(at_rp.headers["location"]).params["code"], attempt.verifier, secrets
    )
    await person.close()

    # Case 1 (a new citizen: the legacy row on AN's CMND is linked by number, Case 2 by CMND).
    person = Browser()
    attempt, at_rp = await _vneid_login(person, stack.broker_url, rp, AN, secrets)
    assert at_rp.status_code == 303, at_rp.text[:500]
    await _redeem_all(
        http, stack, rp, httpx.URL(at_rp.headers["location"]).params["code"], attempt.verifier, secrets
    )
    await person.close()

    # Case 2 by CCCD.
    person = Browser()
    attempt, at_rp = await _vneid_login(person, stack.broker_url, rp, CHAU, secrets)
    assert at_rp.status_code == 303, at_rp.text[:500]
    await _redeem_all(
        http, stack, rp, httpx.URL(at_rp.headers["location"]).params["code"], attempt.verifier, secrets
    )
    await person.close()

    # Case 3: the citizen chooses which account to keep.
    person = Browser()
    attempt, choosing = await _vneid_login(person, stack.broker_url, rp, BINH, secrets)
    choose_page = await person.follow(choosing)
    assert "Bạn có nhiều tài khoản cũ" in choose_page.text
    async with stack.database() as database, database.read() as session:
        record = (
            await session.execute(select(LegacyAccount).where(LegacyAccount.legacy_id == "b-2"))
        ).scalar_one()
        keep = (await session.execute(select(Account.id).where(Account.id == record.account_id))).scalar_one()
    at_rp = await keep_account(person, choose_page, keep)
    assert at_rp.status_code == 303, at_rp.text[:500]
    await _redeem_all(
        http, stack, rp, httpx.URL(at_rp.headers["location"]).params["code"], attempt.verifier, secrets
    )
    await person.close()

    log = stack.broker.log  # type: ignore[attr-defined]
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    # The log is not empty or silent: every request and every audited decision is in it, with its id.
    requests = [line for line in lines if line.get("logger") == "broker.request"]
    assert len(requests) > 20
    assert all(line["request_id"] and line["level"] and line["message"] for line in requests)
    audited = {
        (line.get("action"), line.get("outcome")) for line in lines if line.get("logger") == "broker.audit"
    }
    assert {
        ("login.password", "refused"),
        ("login.password", "allowed"),
        ("login.vneid", "allowed"),
    } <= audited
    assert ("account.merge", "done") in audited and ("account.link", "done") in audited
    assert any(line.get("client_id") == rp.client_id for line in requests)
    # From /authorize's query as from the token endpoint's Basic credentials; never from another parameter.
    assert any(line.get("client_id") == rp.client_id and line["route"] == "/authorize" for line in requests)
    assert not any(line.get("client_id") for line in requests if line["route"] == "/login/vneid/callback")

    for number in (AN, AN_CMND, BINH, BINH_CMND, CHAU):
        assert number not in log, number
    for secret in secrets:
        assert secret and secret not in log, secret[:6]
