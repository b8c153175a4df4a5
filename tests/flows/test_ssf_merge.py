"""A Case 3 merge reaches the relying party that knew the retired account, by poll (RFC 8936) and by push
(RFC 8935): RISC identifier-changed from the retired sub to the kept one, then the broker's account-merged
event with both, one ``txn``, verified by a receiver with its own JOSE stack; a relying party that never
served the citizen hears nothing. Real broker, mock VNeID and browser, both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.conftest import StackFactory
from tests.support.citizens import BINH, BINH_CMND, case_3_merge
from tests.support.op import wait_for
from tests.support.ssf_receiver import (
    ACCOUNT_MERGED,
    EVERY_EVENT,
    IDENTIFIER_CHANGED,
    PUSH,
    PushReceiver,
    Receiver,
    event_of,
)

LATER = datetime(2099, 1, 1, tzinfo=UTC)


@pytest.fixture
def endpoints() -> Iterator[list[PushReceiver]]:
    started: list[PushReceiver] = []
    yield started
    for endpoint in started:
        endpoint.stop()


async def _poll_all(
    http: httpx.AsyncClient, receiver: Receiver, url: str, wait: bool
) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    ack: list[str] = []
    while True:
        answer = await receiver.poll(http, url, ack=ack, returnImmediately=not (wait and not got))
        got += list(answer["sets"].values())
        ack = list(answer["sets"])
        if not ack:
            return got


@pytest.mark.parametrize("delivery", ["poll", "push"])
async def test_a_case_3_merge_tells_the_rp_that_knew_the_retired_account_which_sub_replaced_it(
    delivery: str, make_stack: StackFactory, http: httpx.AsyncClient, endpoints: list[PushReceiver]
) -> None:
    stack = make_stack(
        citizen_vneid_only_from=LATER,
        unlinked_legacy_frozen_from=LATER,
        ssf_push_allow_private_addresses=True,  # the push receiver listens on loopback
        ssf_worker_interval_seconds=0.1,
    )
    rp = await stack.register_client("Hệ thống TTHC tỉnh")
    stranger_rp = await stack.register_client("Hệ thống chưa phục vụ công dân này")
    receivers = []
    for client in (rp, stranger_rp):
        receiver = Receiver(stack.broker_url, client.client_id, client.client_secret)
        await receiver.discover(http)
        body: dict[str, Any] = {"events_requested": EVERY_EVENT}
        if delivery == "push":
            endpoints.append(PushReceiver(receiver).start())
            body["delivery"] = {"method": PUSH, "endpoint_url": endpoints[-1].url}
        created = await receiver.create_stream(http, **body)
        assert created.status_code == 201, created.text
        receivers.append((receiver, created.json()["delivery"]["endpoint_url"]))

    retired_sub, kept_sub = await case_3_merge(stack, http, rp)

    if delivery == "poll":
        sets = await _poll_all(http, *receivers[0], wait=True)
    else:
        pushed = endpoints[0].state
        await wait_for(lambda: ACCOUNT_MERGED in [event_of(c)[0] for c in pushed.processed.values()], 20)
        assert pushed.errors == []
        sets = list(pushed.processed.values())  # in the order they arrived
    kinds = [event_of(claims)[0] for claims in sets]
    assert kinds.index(IDENTIFIER_CHANGED) < kinds.index(ACCOUNT_MERGED)
    changed = next(c for c in sets if event_of(c)[0] == IDENTIFIER_CHANGED and "new-value" in event_of(c)[1])
    merged = next(c for c in sets if event_of(c)[0] == ACCOUNT_MERGED)
    assert changed["sub_id"]["sub"] == retired_sub
    assert event_of(changed)[1]["new-value"] == kept_sub
    assert merged["sub_id"]["sub"] == kept_sub
    assert event_of(merged)[1]["retired_sub_id"]["sub"] == retired_sub
    assert event_of(merged)[1]["surviving_sub_id"]["sub"] == kept_sub
    assert changed["txn"] == merged["txn"]  # one change, two SETs
    assert len({claims["jti"] for claims in sets}) == len(sets)
    assert BINH not in str(sets) and BINH_CMND not in str(sets)

    if delivery == "poll":
        assert await _poll_all(http, *receivers[1], wait=False) == []
    else:
        assert endpoints[1].state.received == []  # it never served this citizen
