"""Two broker replicas on one database, both running the Shared Signals worker and both answering polls:
every account event becomes its SETs exactly once (the stream's row is the lock of its fan-out), and a
receiver polling either replica at random gets each once it acknowledges it. Both databases."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import httpx

from broker.app import create_app
from broker.store import events
from broker.store.tables import Account, ClientAccount
from tests.conftest import StackFactory
from tests.support.servers import LiveServer
from tests.support.ssf_receiver import ACCOUNT_DISABLED, ACCOUNT_ENABLED, EVERY_EVENT, Receiver, event_of

AT = datetime(2024, 7, 1, 8, 30, tzinfo=UTC)
EVENTS = 30


async def test_two_replicas_fan_out_and_hand_out_every_event_exactly_once(
    make_stack: StackFactory, http: httpx.AsyncClient
) -> None:
    stack = make_stack(ssf_worker_interval_seconds=0.02)
    second = LiveServer(create_app(stack.settings)).start()
    try:
        rp = await stack.register_client()
        receiver = Receiver(stack.broker_url, rp.client_id, rp.client_secret)
        await receiver.discover(http)
        stream = (await receiver.create_stream(http, events_requested=EVERY_EVENT)).json()
        replicas = [stream["delivery"]["endpoint_url"], f"{second.url}/ssf/poll/{stream['stream_id']}"]
        async with stack.database() as database, database.transaction() as session:
            account = Account(sub="sub-1", account_type="citizen", created_at=AT, updated_at=AT)
            session.add(account)
            await session.flush()
            assert account.id is not None
            session.add(ClientAccount(client_id=rp.client_id, account_id=account.id, first_seen_at=AT))

        async def write(n: int) -> None:  # concurrent writers, as concurrent freezes and logins are
            async with stack.database() as database, database.transaction() as session:
                kind = "account.frozen" if n % 2 == 0 else "account.unfrozen"
                await events.append(session, kind, "sub-1", AT)

        await asyncio.gather(*(write(n) for n in range(EVENTS)))
        seen: set[str] = set()
        txns: Counter[str] = Counter()
        kinds: Counter[str] = Counter()
        ack: list[str] = []
        deadline = asyncio.get_running_loop().time() + 30
        for turn in range(10_000):
            assert asyncio.get_running_loop().time() < deadline, (len(seen), kinds)
            answer = await receiver.poll(
                http, replicas[turn % 2], ack=ack, maxEvents=7, returnImmediately=True
            )
            ack = list(answer["sets"])
            for jti, claims in answer["sets"].items():
                assert jti not in seen  # an acknowledged SET never comes back
                seen.add(jti)
                txns[claims["txn"]] += 1
                kinds[event_of(claims)[0]] += 1
            if len(seen) == EVENTS and not ack:
                break
            if not ack:
                await asyncio.sleep(0.05)
        assert len(txns) == EVENTS and set(txns.values()) == {1}  # every event, exactly once
        assert kinds == {ACCOUNT_DISABLED: EVENTS // 2, ACCOUNT_ENABLED: EVENTS // 2}
    finally:
        second.stop()
