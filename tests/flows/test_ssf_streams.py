"""The Shared Signals transmitter's metadata and stream management API (SSF 1.0 §7 and §8), as a receiver
that knows only the specification uses it, through a real broker on both databases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx

from broker.store import events
from broker.store.tables import Account, ClientAccount
from tests.conftest import Stack
from tests.support.browser import RelyingParty
from tests.support.ssf_receiver import (
    ACCOUNT_ENABLED,
    EVERY_EVENT,
    POLL,
    PUSH,
    VERIFICATION,
    Receiver,
    event_of,
)


async def _receiver(stack: Stack, rp: RelyingParty, http: httpx.AsyncClient) -> Receiver:
    receiver = Receiver(stack.broker_url, rp.client_id, rp.client_secret)
    await receiver.discover(http)
    return receiver


async def test_the_metadata_is_truthful_every_endpoint_it_names_answers(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    receiver = await _receiver(stack, rp, http)
    metadata = receiver.metadata
    assert metadata["spec_version"] == "1_0"
    assert metadata["delivery_methods_supported"] == [PUSH, POLL]
    assert metadata["authorization_schemes"] == [{"spec_urn": "urn:ietf:rfc:7617"}]
    assert metadata["jwks_uri"] == f"{stack.broker_url}/jwks"
    assert receiver.keys is not None and len(receiver.keys.keys) >= 1
    for name in ("configuration_endpoint", "status_endpoint", "verification_endpoint"):
        assert metadata[name].startswith(stack.broker_url)
        # Each exists and wants the client's credentials (HTTP Basic, RFC 7617).
        method = http.get if name != "verification_endpoint" else http.post
        unauthenticated = await method(metadata[name])
        assert unauthenticated.status_code == 401, name
        assert unauthenticated.headers["www-authenticate"] == 'Basic realm="broker"'
    assert "add_subject_endpoint" not in metadata and "remove_subject_endpoint" not in metadata
    assert (await http.get(metadata["configuration_endpoint"], auth=receiver.auth)).json() == []


async def test_a_receiver_creates_reads_updates_replaces_and_deletes_its_one_stream(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    receiver = await _receiver(stack, rp, http)
    endpoint = receiver.metadata["configuration_endpoint"]
    created = await receiver.create_stream(
        http, events_requested=[*EVERY_EVENT[:3], "urn:example:unknown"], description="TTHC tỉnh"
    )
    assert created.status_code == 201, created.text
    stream = created.json()
    assert stream["iss"] == stack.broker_url and stream["aud"] == rp.client_id
    assert stream["delivery"] == {
        "method": POLL,
        "endpoint_url": f"{stack.broker_url}/ssf/poll/{stream['stream_id']}",
    }
    assert stream["events_supported"] == EVERY_EVENT
    assert stream["events_requested"] == [*EVERY_EVENT[:3], "urn:example:unknown"]
    assert stream["events_delivered"] == EVERY_EVENT[:3]  # the unknown URI is ignored
    assert stream["description"] == "TTHC tỉnh"
    assert (await receiver.create_stream(http)).status_code == 409  # one stream per receiver

    stream_id = stream["stream_id"]
    read = await http.get(endpoint, params={"stream_id": stream_id}, auth=receiver.auth)
    assert read.status_code == 200 and read.json() == stream
    assert read.headers["cache-control"] == "no-store"
    assert (await http.get(endpoint, auth=receiver.auth)).json() == [stream]

    patched = await http.patch(
        endpoint, json={"stream_id": stream_id, "events_requested": EVERY_EVENT}, auth=receiver.auth
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["events_delivered"] == EVERY_EVENT
    assert patched.json()["description"] == "TTHC tỉnh"  # absent from a PATCH: unchanged
    mismatch = await http.patch(
        endpoint, json={"stream_id": stream_id, "aud": "someone-else"}, auth=receiver.auth
    )
    assert mismatch.status_code == 400

    replaced = await http.put(
        endpoint, json={"stream_id": stream_id, "events_requested": EVERY_EVENT[3:5]}, auth=receiver.auth
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["events_delivered"] == EVERY_EVENT[3:5]
    assert "description" not in replaced.json()  # absent from a PUT: deleted

    deleted = await http.delete(endpoint, params={"stream_id": stream_id}, auth=receiver.auth)
    assert deleted.status_code == 204
    assert (await http.get(endpoint, params={"stream_id": stream_id}, auth=receiver.auth)).status_code == 404
    assert (await receiver.create_stream(http, events_requested=EVERY_EVENT)).status_code == 201


async def test_another_receiver_never_reaches_a_stream_that_is_not_its_own(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    owner = await _receiver(stack, rp, http)
    stream_id = (await owner.create_stream(http, events_requested=EVERY_EVENT)).json()["stream_id"]
    other_rp = await stack.register_client(name="Another RP")
    other = await _receiver(stack, other_rp, http)
    endpoint = owner.metadata["configuration_endpoint"]
    assert (await http.get(endpoint, params={"stream_id": stream_id}, auth=other.auth)).status_code == 404
    assert (await http.delete(endpoint, params={"stream_id": stream_id}, auth=other.auth)).status_code == 404
    status = await http.get(
        owner.metadata["status_endpoint"], params={"stream_id": stream_id}, auth=other.auth
    )
    assert status.status_code == 404
    poll = await http.post(f"{stack.broker_url}/ssf/poll/{stream_id}", json={}, auth=other.auth)
    assert poll.status_code == 404
    wrong_secret = await http.get(endpoint, auth=(rp.client_id, "not-the-secret"))
    assert wrong_secret.status_code == 401 and wrong_secret.json()["error"] == "invalid_client"


async def test_bad_requests_get_400_and_push_to_an_internal_address_is_refused(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    receiver = await _receiver(stack, rp, http)
    endpoint = receiver.metadata["configuration_endpoint"]
    for body in (
        b"not json",
        b"[]",
        b'{"delivery": {"method": "urn:example:carrier-pigeon"}}',
        b'{"delivery": {"method": "urn:ietf:rfc:8935"}}',
        b'{"events_requested": "all"}',
    ):
        response = await http.post(endpoint, content=body, auth=receiver.auth)
        assert response.status_code == 400, (body, response.text)
    for url in (
        "http://127.0.0.1:9/ssf",
        "http://10.0.0.8/ssf",
        "http://localhost/ssf",
        "ftp://example.vn/x",
    ):
        refused = await receiver.create_stream(http, delivery={"method": PUSH, "endpoint_url": url})
        assert refused.status_code == 400, url
        assert "endpoint_url refused" in refused.json()["error_description"]
    assert (await http.get(endpoint, auth=receiver.auth)).json() == []  # nothing was created


async def test_status_pauses_and_disables_and_verification_echoes_state_once_per_interval(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    receiver = await _receiver(stack, rp, http)
    stream = (await receiver.create_stream(http, events_requested=EVERY_EVENT)).json()
    stream_id, poll_url = stream["stream_id"], stream["delivery"]["endpoint_url"]
    status_url, verify_url = receiver.metadata["status_endpoint"], receiver.metadata["verification_endpoint"]
    assert (await http.get(status_url, params={"stream_id": stream_id}, auth=receiver.auth)).json() == {
        "stream_id": stream_id,
        "status": "enabled",
    }

    # Ten receivers' threads asking at once: one verification is queued, the others hear 429.
    answers = await asyncio.gather(
        *(
            http.post(verify_url, json={"stream_id": stream_id, "state": f"s-{n}"}, auth=receiver.auth)
            for n in range(10)
        )
    )
    assert sorted(a.status_code for a in answers) == [204] + [429] * 9
    state = next(f"s-{n}" for n, a in enumerate(answers) if a.status_code == 204)

    paused = await http.post(
        status_url, json={"stream_id": stream_id, "status": "paused"}, auth=receiver.auth
    )
    assert paused.json() == {"stream_id": stream_id, "status": "paused"}
    assert (await receiver.poll(http, poll_url, returnImmediately=True))["sets"] == {}  # held
    await http.post(status_url, json={"stream_id": stream_id, "status": "enabled"}, auth=receiver.auth)
    got = (await receiver.poll(http, poll_url, returnImmediately=True))["sets"]
    assert len(got) == 1
    ((jti, claims),) = got.items()
    assert event_of(claims) == (VERIFICATION, {"state": state})
    assert claims["sub_id"] == {"format": "opaque", "id": stream_id}
    assert (await receiver.poll(http, poll_url, ack=[jti], maxEvents=0))["sets"] == {}
    assert (await receiver.poll(http, poll_url, returnImmediately=True))["sets"] == {}  # acknowledged

    disabled = await http.post(
        status_url,
        json={"stream_id": stream_id, "status": "disabled", "reason": "maintenance"},
        auth=receiver.auth,
    )
    assert disabled.json() == {"stream_id": stream_id, "status": "disabled", "reason": "maintenance"}
    bad = await http.post(status_url, json={"stream_id": stream_id, "status": "asleep"}, auth=receiver.auth)
    assert bad.status_code == 400


async def test_concurrent_creates_make_one_stream(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    receiver = await _receiver(stack, rp, http)
    answers = await asyncio.gather(
        *(receiver.create_stream(http, events_requested=EVERY_EVENT) for _ in range(8))
    )
    assert sorted(answer.status_code for answer in answers) == [201] + [409] * 7
    assert len((await http.get(receiver.metadata["configuration_endpoint"], auth=receiver.auth)).json()) == 1


async def test_a_bad_poll_is_a_400_and_acknowledging_unknown_sets_is_harmless(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    receiver = await _receiver(stack, rp, http)
    poll_url = (await receiver.create_stream(http, events_requested=EVERY_EVENT)).json()["delivery"][
        "endpoint_url"
    ]
    for body in (b"{", b'{"maxEvents": -1}', b'{"ack": "x"}', b'{"returnImmediately": 1}', b"\x00"):
        response = await http.post(poll_url, content=body, auth=receiver.auth)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"] == "invalid_request"
    answer = await receiver.poll(
        http, poll_url, ack=["never-sent"], setErrs={"x": {"err": "invalid_key"}}, returnImmediately=True
    )
    assert answer == {"sets": {}, "moreAvailable": False}


async def test_a_new_stream_starts_at_the_present_and_carries_what_follows(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    at = datetime(2024, 7, 1, tzinfo=UTC)
    async with stack.database() as database, database.transaction() as session:
        account = Account(sub="sub-1", account_type="citizen", created_at=at, updated_at=at)
        session.add(account)
        await session.flush()
        assert account.id is not None
        session.add(ClientAccount(client_id=rp.client_id, account_id=account.id, first_seen_at=at))
        await events.append(session, "account.frozen", "sub-1", at)
    receiver = await _receiver(stack, rp, http)
    poll_url = (await receiver.create_stream(http, events_requested=EVERY_EVENT)).json()["delivery"][
        "endpoint_url"
    ]
    assert (await receiver.poll(http, poll_url, returnImmediately=True))["sets"] == {}  # no replay
    async with stack.database() as database, database.transaction() as session:
        await events.append(session, "account.unfrozen", "sub-1", at)
    got = (await receiver.poll(http, poll_url))["sets"]
    assert [event_of(claims)[0] for claims in got.values()] == [ACCOUNT_ENABLED]
