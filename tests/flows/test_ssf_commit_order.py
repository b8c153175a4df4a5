"""The event feeds never skip an event (issue 8 item 8): two writers interleave, the first to take an event
id commits last, and a relying party reads in between. On PostgreSQL the late commit's id is lower than
one already read, so a cursor over ids would skip it for ever; positions are handed out after commit, in
commit order, so neither ``GET /events`` nor the Shared Signals poll does. On SQLite the second writer
waits for the first (one writer at a time), which the same test shows. Both databases, real broker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx

from broker.store import events
from broker.store.tables import Account, ClientAccount
from tests.conftest import Stack
from tests.support.browser import RelyingParty
from tests.support.ssf_receiver import ACCOUNT_DISABLED, EVERY_EVENT, Receiver, event_of

AT = datetime(2024, 7, 1, 8, 30, tzinfo=UTC)


async def _accounts(stack: Stack, rp: RelyingParty) -> None:
    async with stack.database() as database, database.transaction() as session:
        for sub in ("sub-first", "sub-second"):
            account = Account(sub=sub, account_type="citizen", created_at=AT, updated_at=AT)
            session.add(account)
            await session.flush()
            assert account.id is not None
            session.add(ClientAccount(client_id=rp.client_id, account_id=account.id, first_seen_at=AT))


async def _feed(http: httpx.AsyncClient, stack: Stack, rp: RelyingParty, cursor: int) -> dict:  # type: ignore[type-arg]
    response = await http.get(
        f"{stack.broker_url}/events", params={"after": cursor}, auth=(rp.client_id, rp.client_secret)
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_reader_between_two_interleaved_writers_never_skips_the_late_commit(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    await _accounts(stack, rp)
    receiver = Receiver(stack.broker_url, rp.client_id, rp.client_secret)
    await receiver.discover(http)
    stream = (await receiver.create_stream(http, events_requested=EVERY_EVENT)).json()
    poll_url = stream["delivery"]["endpoint_url"]

    release_first = asyncio.Event()
    first_written = asyncio.Event()

    async def first_writer() -> None:  # a long transaction: a freeze batch, a merge
        async with stack.database() as database, database.transaction() as session:
            await events.append(session, "account.frozen", "sub-first", AT)
            first_written.set()
            await release_first.wait()

    async def second_writer() -> None:
        async with stack.database() as database, database.transaction() as session:
            await events.append(session, "account.frozen", "sub-second", AT)

    first = asyncio.create_task(first_writer())
    await first_written.wait()
    second = asyncio.create_task(second_writer())
    await asyncio.wait({second}, timeout=1.0)  # PostgreSQL: committed; SQLite: waiting for the lock
    between = await _feed(http, stack, rp, 0)
    early_poll = asyncio.create_task(receiver.poll(http, poll_url, returnImmediately=True))
    await asyncio.sleep(0.3)
    # The second writer's event may already be readable (PostgreSQL); the first's cannot be.
    assert ("account.frozen", "sub-first") not in [(e["type"], e["sub"]) for e in between["events"]]
    release_first.set()
    await asyncio.gather(first, second)

    # Read on from the cursor, as a relying party does: the late commit comes after, it is not skipped.
    seen = [(event["type"], event["sub"]) for event in between["events"]]
    page = await _feed(http, stack, rp, between["next_cursor"])
    seen += [(event["type"], event["sub"]) for event in page["events"]]
    assert sorted(seen) == [("account.frozen", "sub-first"), ("account.frozen", "sub-second")]
    assert (await _feed(http, stack, rp, page["next_cursor"]))["events"] == []
    everything = [(event["type"], event["sub"]) for event in (await _feed(http, stack, rp, 0))["events"]]
    assert everything == seen  # in commit order, the same for every reader

    polled = dict((await early_poll)["sets"])
    polled |= (await receiver.poll(http, poll_url, ack=list(polled), returnImmediately=True))["sets"]
    disabled = sorted(
        (claims["events"][ACCOUNT_DISABLED]["event_timestamp"], claims["sub_id"]["sub"], claims["txn"])
        for claims in polled.values()
        if event_of(claims)[0] == ACCOUNT_DISABLED
    )
    assert sorted(sub for _, sub, _ in disabled) == ["sub-first", "sub-second"]
    assert len({txn for *_, txn in disabled}) == 2
