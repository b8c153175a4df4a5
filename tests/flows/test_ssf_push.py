"""Shared Signals by push (RFC 8935) to a real receiver on loopback that verifies every SET with its own
JOSE stack (joserfc): the receiver loses the broker's first answers, the broker pushes again with the same
``jti``, and the receiver deduplicates. The events are a citizen's own doings: a VNeID level raised from 1
to 2 (CAEP assurance-level-change) and a logout (CAEP session-revoked), plus a verification event; and a
freeze (RISC account-disabled, CAEP session-revoked) pushed to the RP that knew the account only. Both
databases."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import func, select
from starlette.applications import Starlette
from starlette.responses import RedirectResponse
from starlette.routing import Route

from broker.admin.freeze import freeze_unlinked
from broker.app import build_registry, close_registry
from broker.clock import FixedClock
from broker.store.tables import SsfSet, SsfStream
from mock_vneid.app import create_app as create_mock_vneid
from mock_vneid.settings import packaged_citizens_file
from tests.conftest import Stack, StackFactory
from tests.support.browser import Browser
from tests.support.citizens import AN_CMND, id_claims, password_login
from tests.support.legacy import csv_text, row
from tests.support.op import CHAU, log_in_and_redeem, wait_for
from tests.support.op import id_claims as op_id_claims
from tests.support.servers import LiveServer
from tests.support.ssf_receiver import (
    ACCOUNT_DISABLED,
    ASSURANCE_LEVEL_CHANGE,
    EVERY_EVENT,
    PUSH,
    SESSION_REVOKED,
    VERIFICATION,
    PushReceiver,
    Receiver,
    event_of,
)


@pytest.fixture
def push_stack(make_stack: StackFactory) -> Stack:
    return make_stack(
        ssf_push_allow_private_addresses=True,  # the receiver listens on loopback
        ssf_push_backoff_seconds=0.2,
        ssf_worker_interval_seconds=0.1,
    )


@pytest.fixture
def receiving() -> Iterator[list[PushReceiver]]:
    servers: list[PushReceiver] = []
    yield servers
    for server in servers:
        server.stop()


def _raise_level(stack: Stack, number: str, tmp_path: Path) -> None:
    """VNeID verified the citizen in person: mock VNeID restarts with the citizen at level 2."""
    citizens = json.loads(packaged_citizens_file().read_text(encoding="utf-8"))
    for citizen in citizens:
        if citizen["identification_number"] == number:
            citizen["level"] = 2
    changed = tmp_path / "citizens-level-2.json"
    changed.write_text(json.dumps(citizens), encoding="utf-8")
    stack.vneid.stop()
    settings = stack.vneid_settings.model_copy(update={"citizens_file": changed})
    stack.vneid = LiveServer(create_mock_vneid(settings), stack.vneid.port).start()


async def test_pushed_sets_survive_lost_answers_and_arrive_once_each_after_deduplication(
    push_stack: Stack, http: httpx.AsyncClient, tmp_path: Path, receiving: list[PushReceiver]
) -> None:
    stack = push_stack
    rp = await stack.register_client(
        "Hệ thống TTHC tỉnh", post_logout_redirect_uris=["https://rp.example.vn/bye"]
    )
    receiver = Receiver(stack.broker_url, rp.client_id, rp.client_secret)
    await receiver.discover(http)
    endpoint = PushReceiver(receiver).start()
    receiving.append(endpoint)
    endpoint.state.lose_answers = 2
    created = await receiver.create_stream(
        http, delivery={"method": PUSH, "endpoint_url": endpoint.url}, events_requested=EVERY_EVENT
    )
    assert created.status_code == 201, created.text
    stream = created.json()
    assert stream["delivery"] == {"method": PUSH, "endpoint_url": endpoint.url}
    verify = await http.post(
        receiver.metadata["verification_endpoint"],
        json={"stream_id": stream["stream_id"], "state": "kiem-tra"},
        auth=receiver.auth,
    )
    assert verify.status_code == 204

    browser = Browser()
    first = await log_in_and_redeem(stack, http, browser, rp, CHAU)  # level 1: a new account (Case 1)
    sub = (await op_id_claims(http, stack, rp, first))["sub"]
    await browser.close()
    _raise_level(stack, CHAU, tmp_path)
    browser = Browser()
    second = await log_in_and_redeem(stack, http, browser, rp, CHAU)
    claims = await op_id_claims(http, stack, rp, second)
    assert claims["sub"] == sub and claims["acr"] == "urn:vneid:loa:level2"
    logout = await browser.http.get(
        f"{stack.broker_url}/logout",
        params={"id_token_hint": second["id_token"], "post_logout_redirect_uri": "https://rp.example.vn/bye"},
    )
    assert logout.status_code == 303, logout.text[:300]
    await browser.close()

    def kinds() -> list[str]:
        return [event_of(claims)[0] for claims in endpoint.state.processed.values()]

    await wait_for(
        lambda: {VERIFICATION, ASSURANCE_LEVEL_CHANGE, SESSION_REVOKED} <= set(kinds()), seconds=20
    )
    assert endpoint.state.errors == []  # every SET verified and well formed
    assert set(endpoint.state.content_types) == {"application/secevent+jwt"}
    assert len(endpoint.state.received) > len(endpoint.state.processed)  # redelivered after lost answers
    assert set(endpoint.state.received) == set(endpoint.state.processed)  # ... with the same jti
    assert sorted(kinds()) == sorted([VERIFICATION, ASSURANCE_LEVEL_CHANGE, SESSION_REVOKED])

    by_kind = {event_of(claims)[0]: claims for claims in endpoint.state.processed.values()}
    assert event_of(by_kind[VERIFICATION])[1] == {"state": "kiem-tra"}
    level = by_kind[ASSURANCE_LEVEL_CHANGE]
    assert level["sub_id"] == {"format": "iss_sub", "iss": stack.broker_url, "sub": sub}
    body = event_of(level)[1]
    assert (body["namespace"], body["previous_level"], body["current_level"], body["change_direction"]) == (
        "urn:vneid:loa",
        "urn:vneid:loa:level1",
        "urn:vneid:loa:level2",
        "increase",
    )
    revoked = by_kind[SESSION_REVOKED]
    assert revoked["sub_id"]["user"]["sub"] == sub
    assert revoked["sub_id"]["session"]["id"] == claims["sid"]
    assert event_of(revoked)[1]["initiating_entity"] == "user"

    status = await http.get(
        receiver.metadata["status_endpoint"], params={"stream_id": stream["stream_id"]}, auth=receiver.auth
    )
    assert status.json()["status"] == "enabled"


async def test_a_freeze_is_pushed_to_the_rp_that_knew_the_account_and_to_no_other(
    make_stack: StackFactory, http: httpx.AsyncClient, receiving: list[PushReceiver]
) -> None:
    clock = FixedClock(datetime(2024, 6, 30, 23, 59, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")))
    stack = make_stack(
        clock=clock,
        citizen_vneid_only_from=datetime(2099, 1, 1, tzinfo=UTC),
        ssf_push_allow_private_addresses=True,
        ssf_worker_interval_seconds=0.1,
    )
    rp, stranger_rp = await stack.register_client("TTHC tỉnh"), await stack.register_client("Chưa phục vụ")
    for client in (rp, stranger_rp):
        receiver = Receiver(stack.broker_url, client.client_id, client.client_secret)
        await receiver.discover(http)
        receiving.append(PushReceiver(receiver).start())
        delivery = {"method": PUSH, "endpoint_url": receiving[-1].url}
        assert (
            await receiver.create_stream(http, delivery=delivery, events_requested=EVERY_EVENT)
        ).status_code == 201
    await stack.import_legacy(csv_text(row("c-1", AN_CMND, full_name="Nguyễn Văn An", cmnd=AN_CMND)))
    claims = await id_claims(http, stack, rp, *await password_login(stack, rp, AN_CMND))

    clock.advance(seconds=61)  # 1/7/2024 in Vietnam: the cron freezes unlinked legacy citizens
    registry = build_registry(stack.settings, clock=clock)
    try:
        assert await freeze_unlinked(registry) == 1
    finally:
        await close_registry(registry)

    pushed = receiving[0].state
    await wait_for(lambda: len(pushed.processed) >= 2, seconds=20)
    assert pushed.errors == []
    disabled, revoked = pushed.processed.values()
    assert event_of(disabled)[0] == ACCOUNT_DISABLED and disabled["sub_id"]["sub"] == claims["sub"]
    assert event_of(revoked)[0] == SESSION_REVOKED and revoked["sub_id"]["session"]["id"] == claims["sid"]
    assert receiving[1].state.received == []


async def test_a_push_endpoint_that_redirects_is_not_followed_and_the_set_stays_queued(
    push_stack: Stack, http: httpx.AsyncClient, receiving: list[PushReceiver]
) -> None:
    stack = push_stack
    rp = await stack.register_client()
    receiver = Receiver(stack.broker_url, rp.client_id, rp.client_secret)
    await receiver.discover(http)
    target = PushReceiver(receiver).start()
    receiving.append(target)
    redirecting = LiveServer(
        Starlette(
            routes=[
                Route(
                    "/ssf/events",
                    lambda request: RedirectResponse(target.url, status_code=307),
                    methods=["POST"],
                )
            ]
        )
    ).start()
    try:
        delivery = {"method": PUSH, "endpoint_url": f"{redirecting.url}/ssf/events"}
        stream = (await receiver.create_stream(http, delivery=delivery, events_requested=EVERY_EVENT)).json()
        verify = await http.post(
            receiver.metadata["verification_endpoint"],
            json={"stream_id": stream["stream_id"]},
            auth=receiver.auth,
        )
        assert verify.status_code == 204

        async def last_error() -> str | None:
            async with stack.database() as database, database.read() as session:
                row = await session.get(SsfStream, stream["stream_id"])
                queued = (await session.execute(select(func.count()).select_from(SsfSet))).scalar_one()
                assert queued == 1  # still owed: nothing was delivered
                return row.last_push_error if row is not None else None

        for _ in range(100):
            if await last_error() == "HTTP 307":
                break
            await asyncio.sleep(0.1)
        assert await last_error() == "HTTP 307"
        assert target.state.received == []  # the redirect was not followed
    finally:
        redirecting.stop()
