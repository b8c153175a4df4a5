"""Cases 2 and 3 of the letters through real servers: legacy accounts linked at the first VNeID login,
duplicates merged by the citizen or sent to an officer, the RP-facing sub stable, nothing deleted."""

from __future__ import annotations

import asyncio

import httpx
from sqlmodel import select

from broker.store.tables import Account, AccountAlias, AccountEvent, LegacyAccount, ReviewItem, UpstreamLink
from tests.conftest import DEMO_PASSWORD, Stack
from tests.support.browser import Browser, RelyingParty, redeem, verified_id_token
from tests.support.html_forms import form_posting_to, form_with
from tests.support.legacy import csv_text, row

AN, AN_CMND = "001085012345", "012345678"
BINH, BINH_CMND = "001190023456", "023456789"
CHAU = "038303004567"


async def _sub_of(stack: Stack, legacy_id: str) -> str:
    async with stack.database() as database, database.read() as session:
        record = (
            await session.execute(select(LegacyAccount).where(LegacyAccount.legacy_id == legacy_id))
        ).scalar_one()
        account = await session.get(Account, record.account_id)
        assert account is not None
        return account.sub


async def _id_token_claims(
    http: httpx.AsyncClient, stack: Stack, rp: RelyingParty, code: str, verifier: str
) -> dict:  # type: ignore[type-arg]
    response = await redeem(http, stack.broker_url, rp, code, verifier)
    assert response.status_code == 200, response.text
    jwks = (await http.get(f"{stack.broker_url}/jwks")).json()
    return verified_id_token(response.json()["id_token"], jwks, stack.broker_url, rp.client_id)


async def _events(stack: Stack) -> list[AccountEvent]:
    async with stack.database() as database, database.read() as session:
        return list((await session.execute(select(AccountEvent).order_by(AccountEvent.id))).scalars())


async def test_case_2_by_cccd_links_the_legacy_account_and_keeps_its_sub(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient
) -> None:
    await stack.import_legacy(
        csv_text(row("c-7", CHAU, full_name="Lê Minh Châu", birth_date="2003-11-02", cccd=CHAU))
    )
    legacy_sub = await _sub_of(stack, "c-7")

    attempt, back = await browser.log_in(stack.broker_url, rp, CHAU, DEMO_PASSWORD)
    claims = await _id_token_claims(http, stack, rp, back.query["code"], attempt.verifier)

    assert claims["sub"] == legacy_sub
    assert [(e.type, e.sub) for e in await _events(stack)] == [("account.linked", legacy_sub)]


async def test_case_2_by_cmnd_links_and_completes_identity_data_from_vneid(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient
) -> None:
    await stack.import_legacy(csv_text(row("c-1", AN_CMND, full_name="Nguyễn Văn An", cmnd=AN_CMND)))
    legacy_sub = await _sub_of(stack, "c-1")

    attempt, back = await browser.log_in(stack.broker_url, rp, AN, DEMO_PASSWORD)
    claims = await _id_token_claims(http, stack, rp, back.query["code"], attempt.verifier)

    assert claims["sub"] == legacy_sub
    assert claims["identification_number"] == AN  # completed from VNeID
    assert claims["birthdate"] == "1985-03-12"
    async with stack.database() as database, database.read() as session:
        account = (await session.execute(select(Account).where(Account.sub == legacy_sub))).scalar_one()
        assert not account.needs_review


async def test_case_2_with_a_disagreeing_name_links_but_flags_for_review(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient
) -> None:
    await stack.import_legacy(csv_text(row("c-1", AN_CMND, full_name="Nguyen Van Anh", cmnd=AN_CMND)))
    legacy_sub = await _sub_of(stack, "c-1")

    attempt, back = await browser.log_in(stack.broker_url, rp, AN, DEMO_PASSWORD)
    claims = await _id_token_claims(http, stack, rp, back.query["code"], attempt.verifier)

    assert claims["sub"] == legacy_sub
    assert claims["name"] == "Nguyễn Văn An"
    async with stack.database() as database, database.read() as session:
        account = (await session.execute(select(Account).where(Account.sub == legacy_sub))).scalar_one()
        assert account.needs_review
        item = (await session.execute(select(ReviewItem))).scalar_one()
        assert item.kind == "identity_mismatch"
        assert item.details["differences"]["name"] == {"legacy": "Nguyen Van Anh", "vneid": "Nguyễn Văn An"}
        assert AN not in str(item.details)  # numbers only masked


async def test_case_3_the_citizen_chooses_which_account_to_keep_and_nothing_is_deleted(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient
) -> None:
    await stack.import_legacy(
        csv_text(
            row(
                "b-1",
                BINH_CMND,
                full_name="Trần Thị Bình",
                birth_date="1990-07-25",
                cmnd=BINH_CMND,
                created_at="2019-03-01",
            ),
            row(
                "b-2",
                "binh.tran@example.vn",
                source_system="motcua-huyen",
                full_name="Trần Thị Bình",
                birth_date="1990-07-25",
                cccd=BINH,
                created_at="2022-08-15",
            ),
        )
    )
    kept_sub, retired_sub = await _sub_of(stack, "b-2"), await _sub_of(stack, "b-1")

    attempt = browser.attempt(rp)
    login_page = await browser.authorize(stack.broker_url, attempt)
    vneid_page = await browser.open_vneid(login_page)
    back = await browser.sign_in_at_vneid(vneid_page, BINH, DEMO_PASSWORD)
    choose_page = await browser.follow(await browser.follow(back))

    assert choose_page.status_code == 200
    assert "Bạn có nhiều tài khoản cũ" in choose_page.text
    assert "dvc-tinh" in choose_page.text and "motcua-huyen" in choose_page.text
    assert "023***789" in choose_page.text and "bi*******@example.vn" in choose_page.text
    assert BINH_CMND not in choose_page.text  # masked
    assert "checked" not in choose_page.text  # no choice is made for the citizen
    assert "tạo ngày 15/08/2022" in choose_page.text  # dates in Vietnam time
    chooser = form_with(choose_page.text, str(choose_page.url), "keep")
    async with stack.database() as database, database.read() as session:
        keep_id = (await session.execute(select(Account.id).where(Account.sub == kept_sub))).scalar_one()
    confirm_page = await browser.http.get(chooser.action, params={**chooser.fields, "keep": str(keep_id)})
    assert confirm_page.status_code == 200
    kept_part, _, merged_part = confirm_page.text.partition("sẽ được hợp nhất vào tài khoản đó")
    assert "bi*******@example.vn" in kept_part and "023***789" in merged_part
    async with stack.database() as database, database.read() as session:
        assert (await session.execute(select(Account.status))).scalars().all() == ["active", "active"]
    form = form_posting_to(confirm_page, "/login/choose")
    at_rp = await browser.http.post(form.action, data=form.fields)
    assert at_rp.status_code == 303
    claims = await _id_token_claims(
        http, stack, rp, httpx.URL(at_rp.headers["location"]).params["code"], attempt.verifier
    )

    assert claims["sub"] == kept_sub
    async with stack.database() as database, database.read() as session:
        retired = (await session.execute(select(Account).where(Account.sub == retired_sub))).scalar_one()
        assert retired.status == "merged"
        assert retired.merged_into_id == keep_id
        alias = await session.get(AccountAlias, retired_sub)
        assert alias is not None and alias.account_id == keep_id
        records = (await session.execute(select(LegacyAccount))).scalars().all()
        assert {r.legacy_id for r in records} == {"b-1", "b-2"}  # both kept
        assert {r.account_id for r in records} == {keep_id}
    merged = [e for e in await _events(stack) if e.type == "account.merged"]
    assert [(e.data["surviving_sub"], e.data["retired_sub"]) for e in merged] == [(kept_sub, retired_sub)]

    later_attempt, later = await Browser().log_in(stack.broker_url, rp, BINH, DEMO_PASSWORD)
    assert (await _id_token_claims(http, stack, rp, later.query["code"], later_attempt.verifier))[
        "sub"
    ] == kept_sub


async def test_case_3_with_a_disagreeing_birth_date_goes_to_an_officer(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient
) -> None:
    await stack.import_legacy(
        csv_text(
            row("b-1", BINH_CMND, full_name="Trần Thị Bình", birth_date="1991-07-25", cmnd=BINH_CMND),
            row(
                "b-2",
                BINH,
                source_system="motcua-huyen",
                full_name="Trần Thị Bình",
                birth_date="1990-07-25",
                cccd=BINH,
            ),
        )
    )
    best_sub = await _sub_of(stack, "b-2")  # matches the CCCD

    attempt = browser.attempt(rp)
    login_page = await browser.authorize(stack.broker_url, attempt)
    vneid_page = await browser.open_vneid(login_page)
    notice = await browser.follow(await browser.sign_in_at_vneid(vneid_page, BINH, DEMO_PASSWORD))

    assert notice.status_code == 200
    assert "Cán bộ sẽ rà soát" in notice.text
    action, fields = _continue(notice)
    at_rp = await browser.http.post(action, data=fields)
    claims = await _id_token_claims(
        http, stack, rp, httpx.URL(at_rp.headers["location"]).params["code"], attempt.verifier
    )
    assert claims["sub"] == best_sub
    async with stack.database() as database, database.read() as session:
        item = (await session.execute(select(ReviewItem))).scalar_one()
        assert item.kind == "duplicate_accounts" and item.status == "open"
        assert len(item.account_ids) == 2
        assert "birthdate" in str(item.details)
        statuses = (await session.execute(select(Account.status))).scalars().all()
        assert "merged" not in statuses  # the citizen did not merge a doubtful pair


def _continue(page: httpx.Response) -> tuple[str, dict[str, str]]:
    form = form_posting_to(page, "/login/continue")
    return form.action, form.fields


async def test_two_simultaneous_first_logins_of_one_person_make_one_account(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    people = [Browser(), Browser()]

    async def up_to_the_callback(person: Browser) -> str:
        attempt = person.attempt(rp)
        login_page = await person.authorize(stack.broker_url, attempt)
        vneid_page = await person.open_vneid(login_page)
        back = await person.sign_in_at_vneid(vneid_page, CHAU, DEMO_PASSWORD)
        return back.headers["location"]

    callbacks = [await up_to_the_callback(person) for person in people]
    results = await asyncio.gather(
        *(person.http.get(url) for person, url in zip(people, callbacks, strict=True))
    )
    assert [r.status_code for r in results] == [303, 303]
    async with stack.database() as database, database.read() as session:
        assert len((await session.execute(select(Account))).scalars().all()) == 1
        assert len((await session.execute(select(UpstreamLink))).scalars().all()) == 1
    for person in people:
        await person.close()
