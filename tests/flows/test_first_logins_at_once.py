"""Issue 7: on PostgreSQL a first login inserts its account, its link and the verified number in one
statement; the guards stay the database's (the link's unique identity, the number's primary key). Six
first logins of one person at once, each through its own browser, make one account, one link and one
held number; the logins that lost the race run again and log in to the winner's account."""

from __future__ import annotations

import asyncio

import httpx
from sqlmodel import select

from broker.store import audit
from broker.store.tables import Account, UpstreamLink, VerifiedNumber
from tests.conftest import DEMO_PASSWORD, Stack
from tests.support.browser import Browser, RelyingParty, redeem, verified_id_token
from tests.support.op import CHAU
from tests.support.scrapes import value


async def test_six_simultaneous_first_logins_of_one_person_make_one_account(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    people = [Browser() for _ in range(6)]
    try:
        attempts, callbacks = [], []
        for person in people:
            attempt = person.attempt(rp)
            login_page = await person.authorize(stack.broker_url, attempt)
            vneid_page = await person.open_vneid(login_page)
            back = await person.sign_in_at_vneid(vneid_page, CHAU, DEMO_PASSWORD)
            attempts.append(attempt)
            callbacks.append(back.headers["location"])
        answers = await asyncio.gather(
            *(person.http.get(url) for person, url in zip(people, callbacks, strict=True))
        )
        assert [answer.status_code for answer in answers] == [303] * len(people)
        jwks = (await http.get(f"{stack.broker_url}/jwks")).json()
        subs = set()
        for answer, attempt in zip(answers, attempts, strict=True):
            code = httpx.URL(answer.headers["location"]).params["code"]
            tokens = await redeem(http, stack.broker_url, rp, code, attempt.verifier)
            assert tokens.status_code == 200, tokens.text
            id_token = tokens.json()["id_token"]
            subs.add(verified_id_token(id_token, jwks, stack.broker_url, rp.client_id)["sub"])
    finally:
        for person in people:
            await person.close()

    assert len(subs) == 1
    async with stack.database() as database, database.read() as session:
        accounts = (await session.execute(select(Account))).scalars().all()
        links = (await session.execute(select(UpstreamLink))).scalars().all()
        numbers = (await session.execute(select(VerifiedNumber))).scalars().all()
        trail = await audit.entries(session)
        verification = await audit.verify(session)
    assert [account.sub for account in accounts] == list(subs)
    assert [link.account_id for link in links] == [accounts[0].id]
    assert [(held.identification_number, held.account_id) for held in numbers] == [(CHAU, accounts[0].id)]
    assert [entry.action for entry in trail].count("account.create") == 1
    assert [entry.action for entry in trail].count("login.vneid") == len(people)
    assert verification.first_break is None
    # Counted once each, as committed: the logins that lost the race made no account.
    metrics = (await http.get(f"{stack.broker_url}/metrics")).text
    assert value(metrics, "broker_accounts_created_total") == 1
    allowed = dict(upstream="vneid", method="vneid", account_type="citizen", outcome="allowed", reason="none")
    assert value(metrics, "broker_login_attempts_total", **allowed) == len(people)
