"""No 500 anywhere a person or a relying party can reach (issue 8, item 4), through real servers on both
databases: bad input is a 400, a saturated pool a 503 with Retry-After, a client that hangs up is not an
error, and the Case 3 chooser survives a double submit and two browsers at once."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import select

from broker.store.tables import Account, AccountEvent
from tests.conftest import DEMO_PASSWORD, Stack, StackFactory
from tests.support.browser import Browser, RelyingParty, redeem, verified_id_token
from tests.support.chooser import confirmation_form
from tests.support.html_forms import form_with
from tests.support.legacy import csv_text, row

BINH, BINH_CMND = "001190023456", "023456789"
BINH_TWICE = csv_text(
    row("b-1", BINH_CMND, full_name="Trần Thị Bình", birth_date="1990-07-25", cmnd=BINH_CMND),
    row(
        "b-2",
        "binh.tran@example.vn",
        source_system="motcua-huyen",
        full_name="Trần Thị Bình",
        birth_date="1990-07-25",
        cccd=BINH,
    ),
)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")


@pytest.fixture
def error_lines() -> Iterator[list[str]]:
    """Every ERROR line the servers log (the broker's loggers, and uvicorn's, which do not propagate)."""
    handler = _Collect()
    loggers = [logging.getLogger(), logging.getLogger("uvicorn"), logging.getLogger("uvicorn.error")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler.lines
    for logger in loggers:
        logger.removeHandler(handler)


async def test_nul_bytes_in_client_id_flow_state_and_username_are_bad_input(
    stack: Stack, rp: RelyingParty, browser: Browser, error_lines: list[str]
) -> None:
    base = stack.broker_url
    attempt = browser.attempt(rp, client_id="client\x00id")
    assert (await browser.authorize(base, attempt)).status_code == 400
    assert (await browser.http.get(f"{base}/login", params={"flow": "flow\x00id"})).status_code == 400
    posted = await browser.http.post(f"{base}/login/password", data={"flow": "f\x00", "username": "a"})
    assert posted.status_code == 400
    callback = await browser.http.get(f"{base}/login/vneid/callback", params={"state": "s\x00", "code": "c"})
    assert callback.status_code == 400
    token = await browser.http.post(
        f"{base}/token", data={"grant_type": "authorization_code", "code": "c", "client_id": "c\x00"}
    )
    assert token.status_code in (400, 401) and "error" in token.json()

    login_page = await browser.authorize(base, browser.attempt(rp))
    form = form_with(login_page.text, str(login_page.url), "username", "password")
    refused = await browser.http.post(
        form.action, data={**form.fields, "username": "0101\x00234567", "password": "x\x00y"}
    )
    assert refused.status_code == 200 and "location" not in refused.headers  # the usual refusal page
    assert error_lines == []


async def _another_login_until_refused(stack: Stack, rp: RelyingParty) -> httpx.Response:
    """Another citizen's login, step by step, up to the first answer that needed the exhausted pool: on
    SQLite the first; on PostgreSQL the password attempt (/authorize and the login page run single
    statements on a pool of their own, broker.store.prepared.StatementPool)."""
    other = Browser()
    try:
        answer = await other.authorize(stack.broker_url, other.attempt(rp))  # the login page, or 503
        if answer.status_code != 503:
            form = form_with(answer.text, str(answer.url), "username", "password")
            answer = await other.http.post(
                form.action, data={**form.fields, "username": "someone-else", "password": "x"}
            )
        return answer
    finally:
        await other.close()


async def _hold_the_database(url: str, held: asyncio.Event, release: asyncio.Event) -> None:
    """Another client keeps the throttle table locked, so a password login waits holding its connection."""
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        if url.startswith("sqlite"):
            await connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            await connection.begin()
            await connection.execute(text("LOCK TABLE login_throttles IN ACCESS EXCLUSIVE MODE"))
        held.set()
        await release.wait()
        await connection.rollback()
    await engine.dispose()


async def test_an_exhausted_connection_pool_answers_503_with_retry_after(
    make_stack: StackFactory, browser: Browser, http: httpx.AsyncClient, error_lines: list[str]
) -> None:
    stack = make_stack(
        database_pool_size=1,
        database_max_overflow=0,
        database_pool_timeout_seconds=0.5,
        password_refusal_floor_seconds=0.0,
    )
    rp = await stack.register_client()
    login_page = await browser.authorize(stack.broker_url, browser.attempt(rp))
    form = form_with(login_page.text, str(login_page.url), "username", "password")

    held, release = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(_hold_the_database(stack.settings.database_url, held, release))
    await held.wait()
    waiting = asyncio.create_task(
        browser.http.post(form.action, data={**form.fields, "username": "someone", "password": "x"})
    )
    await asyncio.sleep(1.0)  # the login now waits for the lock, holding the pool's only connection
    page = await _another_login_until_refused(stack, rp)
    # Revocation writes in a transaction of the engine's pool (the token endpoint's single statements run
    # on a pool of their own, broker.store.prepared.StatementPool).
    api = await http.post(
        f"{stack.broker_url}/revoke",
        data={"token": "t" * 43, "token_type_hint": "refresh_token"},
        auth=(rp.client_id, rp.client_secret),
    )
    release.set()
    await holder
    finished = await waiting

    assert page.status_code == 503 and int(page.headers["retry-after"]) > 0
    assert api.status_code == 503 and api.json()["error"] == "temporarily_unavailable"
    assert int(api.headers["retry-after"]) > 0
    assert finished.status_code == 200  # the waiting login went on once the lock was released
    assert all("database unavailable" in line for line in error_lines), error_lines


@pytest.mark.parametrize("path", ["/token", "/login/password", "/logout"])
async def test_a_client_that_hangs_up_mid_body_is_not_an_error(
    stack: Stack, path: str, error_lines: list[str]
) -> None:
    host, port = urlsplit(stack.broker_url).hostname, urlsplit(stack.broker_url).port
    assert host is not None and port is not None
    with socket.create_connection((host, port)) as connection:
        connection.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4000\r\n\r\n"
            "grant_type=authoriz".encode()
        )
        await asyncio.sleep(0.3)
    await asyncio.sleep(0.5)
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{stack.broker_url}/healthz")).status_code == 200
    assert error_lines == []


async def _at_the_chooser(stack: Stack, rp: RelyingParty, browser: Browser):  # type: ignore[no-untyped-def]
    attempt = browser.attempt(rp)
    login_page = await browser.authorize(stack.broker_url, attempt)
    vneid_page = await browser.open_vneid(login_page)
    back = await browser.sign_in_at_vneid(vneid_page, BINH, DEMO_PASSWORD)
    choose_page = await browser.follow(await browser.follow(back))
    assert choose_page.status_code == 200, choose_page.text[:500]
    return attempt, choose_page


async def _account_ids(stack: Stack) -> list[int]:
    async with stack.database() as database, database.read() as session:
        return sorted((await session.execute(select(Account.id))).scalars())


async def _sub_for(
    http: httpx.AsyncClient, stack: Stack, rp: RelyingParty, browser: Browser, response, attempt
) -> str:  # type: ignore[no-untyped-def]
    while not response.headers["location"].startswith(rp.redirect_uri):
        response = await browser.follow(response)
    code = httpx.URL(response.headers["location"]).params["code"]
    tokens = (await redeem(http, stack.broker_url, rp, code, attempt.verifier)).json()
    jwks = (await http.get(f"{stack.broker_url}/jwks")).json()
    return str(verified_id_token(tokens["id_token"], jwks, stack.broker_url, rp.client_id)["sub"])


async def _merges(stack: Stack) -> list[AccountEvent]:
    async with stack.database() as database, database.read() as session:
        statement = select(AccountEvent).where(AccountEvent.type == "account.merged")
        return list((await session.execute(statement)).scalars())


async def test_a_double_submit_of_the_chooser_lands_where_the_first_did(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient, error_lines: list[str]
) -> None:
    await stack.import_legacy(BINH_TWICE)
    first_id, _second_id = await _account_ids(stack)
    attempt, chooser = await _at_the_chooser(stack, rp, browser)
    form = await confirmation_form(browser, chooser, first_id)

    answers = await asyncio.gather(
        browser.http.post(form.action, data=form.fields),
        browser.http.post(form.action, data=form.fields),
    )
    assert [answer.status_code for answer in answers] == [303, 303]
    subs = {await _sub_for(http, stack, rp, browser, answer, attempt) for answer in answers}
    assert len(subs) == 1
    assert len(await _merges(stack)) == 1
    assert error_lines == []


async def test_two_browsers_choosing_at_once_both_land_in_the_one_survivor(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient, error_lines: list[str]
) -> None:
    await stack.import_legacy(BINH_TWICE)
    first_id, second_id = await _account_ids(stack)
    phone, desk = Browser(), Browser()
    phone_attempt, phone_chooser = await _at_the_chooser(stack, rp, phone)
    desk_attempt, desk_chooser = await _at_the_chooser(stack, rp, desk)
    phone_form = await confirmation_form(phone, phone_chooser, first_id)
    desk_form = await confirmation_form(desk, desk_chooser, second_id)

    on_phone, at_desk = await asyncio.gather(
        phone.http.post(phone_form.action, data=phone_form.fields),
        desk.http.post(desk_form.action, data=desk_form.fields),
    )
    assert (on_phone.status_code, at_desk.status_code) == (303, 303)
    phone_sub = await _sub_for(http, stack, rp, phone, on_phone, phone_attempt)
    desk_sub = await _sub_for(http, stack, rp, desk, at_desk, desk_attempt)
    assert phone_sub == desk_sub
    merges = await _merges(stack)
    assert len(merges) == 1 and merges[0].data["surviving_sub"] == phone_sub
    assert error_lines == []
    await phone.close()
    await desk.close()
