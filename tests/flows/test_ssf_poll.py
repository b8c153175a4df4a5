"""Shared Signals by poll (RFC 8936), end to end through the real broker, mock VNeID and the citizen's
browser, on both databases: a freeze reaches the relying parties that knew the account, as SETs their own
receiver verifies (joserfc), and nothing reaches one that never served the citizen. A pairwise relying
party sees its own subs only; nothing is lost across a broker restart; what is not acknowledged comes
again with the same ``jti``. (The Case 3 merge, by poll and by push: test_ssf_merge.py.)"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from broker.admin.freeze import freeze_unlinked
from broker.app import build_registry, close_registry, create_app
from broker.clock import FixedClock
from tests.conftest import DEMO_PASSWORD, Stack, StackFactory
from tests.support.browser import Browser, RelyingParty
from tests.support.citizens import AN, AN_CMND, id_claims, password_login
from tests.support.legacy import csv_text, row
from tests.support.servers import LiveServer
from tests.support.ssf_receiver import (
    ACCOUNT_DISABLED,
    ACCOUNT_ENABLED,
    ACCOUNT_LINKED,
    EVERY_EVENT,
    IDENTIFIER_CHANGED,
    SESSION_REVOKED,
    Receiver,
    event_of,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
LATER = datetime(2099, 1, 1, tzinfo=UTC)


async def _subscribe(http: httpx.AsyncClient, stack: Stack, rp: RelyingParty) -> tuple[Receiver, str]:
    receiver = Receiver(stack.broker_url, rp.client_id, rp.client_secret)
    await receiver.discover(http)
    created = await receiver.create_stream(http, events_requested=EVERY_EVENT)
    assert created.status_code == 201, created.text
    return receiver, created.json()["delivery"]["endpoint_url"]


async def _drain(
    http: httpx.AsyncClient, receiver: Receiver, url: str, *, expect: bool = True
) -> list[dict[str, Any]]:
    """Polls and acknowledges until nothing is left; the SETs in the order they came. ``expect``: the
    first poll waits for SETs to arrive (an event reaches the outbox's readers only once every
    transaction older than its own has ended, on the whole PostgreSQL cluster)."""
    got: list[dict[str, Any]] = []
    ack: list[str] = []
    while True:
        answer = await receiver.poll(
            http, url, ack=ack, maxEvents=2, returnImmediately=not (expect and not got)
        )
        got += list(answer["sets"].values())
        ack = list(answer["sets"])
        if not ack:
            return got


def _restart(stack: Stack, clock: FixedClock | None = None) -> LiveServer:
    stack.broker.stop()
    stack.broker = LiveServer(create_app(stack.settings, clock), stack.broker.port).start()
    return stack.broker


async def test_a_freeze_reaches_the_rps_that_knew_the_account_pairwise_as_their_own_subs_across_a_restart(
    make_stack: StackFactory, http: httpx.AsyncClient
) -> None:
    clock = FixedClock(datetime(2024, 6, 30, 23, 59, 0, tzinfo=VN))
    stack = make_stack(clock=clock, citizen_vneid_only_from=LATER)
    public_rp = await stack.register_client("Hệ thống TTHC tỉnh")
    pairwise_rp = await stack.register_client(
        "Bộ, ngành (pairwise)", redirect_uris=["https://dvc.bo-nganh.example.vn/cb"], subject_type="pairwise"
    )
    stranger_rp = await stack.register_client("Hệ thống chưa phục vụ công dân này")
    (public, public_url), (pairwise, pairwise_url), (stranger, stranger_url) = [
        await _subscribe(http, stack, rp) for rp in (public_rp, pairwise_rp, stranger_rp)
    ]
    await stack.import_legacy(csv_text(row("c-1", AN_CMND, full_name="Nguyễn Văn An", cmnd=AN_CMND)))
    public_claims = await id_claims(http, stack, public_rp, *await password_login(stack, public_rp, AN_CMND))
    pairwise_claims = await id_claims(
        http, stack, pairwise_rp, *await password_login(stack, pairwise_rp, AN_CMND)
    )
    assert pairwise_claims["sub"] != public_claims["sub"]

    stack.broker.stop()  # the freeze runs from cron while the broker is down
    clock.advance(seconds=61)  # 1/7/2024 in Vietnam
    registry = build_registry(stack.settings, clock=clock)
    try:
        assert await freeze_unlinked(registry) == 1
    finally:
        await close_registry(registry)
    restarted = _restart(stack, clock)
    try:
        first = await public.poll(http, public_url)  # a long poll: returns once something is there
        assert first["sets"], "the freeze survived the restart"
        assert first["moreAvailable"] is False
        again = await public.poll(http, public_url, returnImmediately=True)  # not acknowledged: again
        assert set(again["sets"]) == set(first["sets"])
        restarted = _restart(stack, clock)
        public_sets = await _drain(http, public, public_url)
        assert {claims["jti"] for claims in public_sets} == set(first["sets"])  # same jti after a restart

        kinds = [event_of(claims)[0] for claims in public_sets]
        assert kinds == [ACCOUNT_DISABLED, SESSION_REVOKED]
        disabled, revoked = public_sets
        assert disabled["sub_id"] == {
            "format": "iss_sub",
            "iss": stack.broker_url,
            "sub": public_claims["sub"],
        }
        assert revoked["sub_id"]["user"] == disabled["sub_id"]
        assert revoked["sub_id"]["session"] == {
            "format": "opaque",
            "id": public_claims["sid"],
        }  # its own only
        assert event_of(revoked)[1]["initiating_entity"] == "policy"

        pairwise_sets = await _drain(http, pairwise, pairwise_url)
        assert [event_of(claims)[0] for claims in pairwise_sets] == [ACCOUNT_DISABLED, SESSION_REVOKED]
        assert {
            claims["sub_id"].get("sub") or claims["sub_id"]["user"]["sub"] for claims in pairwise_sets
        } == {pairwise_claims["sub"]}
        assert public_claims["sub"] not in str(pairwise_sets)  # never the public sub
        assert AN_CMND not in str(pairwise_sets + public_sets) and AN not in str(pairwise_sets + public_sets)

        assert await _drain(http, stranger, stranger_url, expect=False) == []  # it never served this citizen

        # The citizen logs in with VNeID: linked and unfrozen, and the RP that knew the account hears it.
        attempt, back = await Browser().log_in(stack.broker_url, public_rp, AN, DEMO_PASSWORD)
        assert (await id_claims(http, stack, public_rp, back.query["code"], attempt.verifier))[
            "sub"
        ] == public_claims["sub"]
        after_sets = await _drain(http, public, public_url)
        after = [event_of(claims)[0] for claims in after_sets]
        # The legacy account (CMND only) gets its 12-digit number from VNeID: identifier-changed says so
        # without carrying it; then the link, then the unfreeze, in the order they were written.
        assert after == [IDENTIFIER_CHANGED, ACCOUNT_LINKED, ACCOUNT_ENABLED]
        assert event_of(after_sets[0])[1]["identifier"] == "identification_number"
        assert "new-value" not in event_of(after_sets[0])[1]
        assert AN not in str(after_sets) and AN_CMND not in str(after_sets)
        assert await _drain(http, stranger, stranger_url, expect=False) == []
    finally:
        restarted.stop()
