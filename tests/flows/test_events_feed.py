"""The account-event feed as a relying party reads it: client_secret_basic, a cursor, pages, no caching.

Events are seeded through the outbox (``broker.store.events.append``) in a transaction, as the link,
merge and freeze flows write them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlmodel import select

from broker.app import build_registry
from broker.store import events
from broker.store.tables import Account, ClientAccount
from tests.conftest import Stack
from tests.support.browser import RelyingParty

AT = datetime(2024, 7, 1, 8, 30, tzinfo=UTC)
SEEDED = [
    ("account.linked", "sub-a", {}),
    ("account.merged", "sub-a", {"surviving_sub": "sub-a", "retired_sub": "sub-b"}),
    ("account.frozen", "sub-c", {}),
    ("account.unfrozen", "sub-c", {}),
    ("account.linked", "sub-d", {}),
]


async def seed(stack: Stack, rp: RelyingParty | None = None) -> None:
    """The events above, plus one about "sub-x", a citizen who never used ``rp``: accounts exist for every
    sub, and ``rp`` has dealt with sub-a, sub-c and sub-d (sub-b, merged into sub-a, it never saw)."""
    registry = build_registry(stack.settings)
    try:
        async with registry.db.transaction() as session:
            ids = {}
            for sub in ("sub-a", "sub-b", "sub-c", "sub-d", "sub-x"):
                account = Account(sub=sub, account_type="citizen", created_at=AT, updated_at=AT)
                session.add(account)
                await session.flush()
                ids[sub] = account.id
            for sub in ("sub-a", "sub-c", "sub-d") if rp else ():
                session.add(ClientAccount(client_id=rp.client_id, account_id=ids[sub], first_seen_at=AT))
            for minutes, (type_, sub, data) in enumerate(SEEDED):
                related = data.get("retired_sub")
                await events.append(
                    session, type_, sub, AT + timedelta(minutes=minutes), related_sub=related, **data
                )
            await events.append(session, "account.linked", "sub-x", AT + timedelta(minutes=9))
    finally:
        await registry.vneid.aclose()
        await registry.db.dispose()


async def feed(
    http: httpx.AsyncClient, stack: Stack, rp: RelyingParty, query: str = "", **auth: tuple[str, str] | None
) -> httpx.Response:
    credentials = auth.get("auth", (rp.client_id, rp.client_secret))
    return await http.get(f"{stack.broker_url}/events{query}", auth=credentials)


async def test_a_relying_party_reads_every_event_once_page_by_page(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    empty = await feed(http, stack, rp)
    assert empty.status_code == 200, empty.text
    assert empty.json() == {"events": [], "next_cursor": 0}
    await seed(stack, rp)

    everything = await feed(http, stack, rp)
    assert everything.status_code == 200
    assert everything.headers["cache-control"] == "no-store"
    # Deprecated for the Shared Signals transmitter (RFC 9745 Deprecation, RFC 8288 successor link).
    assert everything.headers["deprecation"].startswith("@")
    assert everything.headers["link"] == (
        f'<{stack.broker_url}/.well-known/ssf-configuration>; rel="successor-version"'
    )
    body = everything.json()
    assert [(e["type"], e["sub"], e["data"]) for e in body["events"]] == SEEDED
    first = body["events"][0]
    assert set(first) == {"id", "type", "sub", "data", "created_at"}
    assert first["created_at"] == "2024-07-01T08:30:00Z"  # RFC 3339, UTC
    merged = body["events"][1]
    assert merged["data"] == {"surviving_sub": "sub-a", "retired_sub": "sub-b"}
    ids = [e["id"] for e in body["events"]]
    assert ids == sorted(ids) and body["next_cursor"] == ids[-1]

    cursor, pages = 0, []
    while True:
        page = (await feed(http, stack, rp, f"?after={cursor}&limit=2")).json()
        if not page["events"]:
            assert page["next_cursor"] == cursor  # nothing new: keep the cursor
            break
        pages.append([e["id"] for e in page["events"]])
        cursor = page["next_cursor"]
    assert pages == [ids[0:2], ids[2:4], ids[4:5]]
    assert (await feed(http, stack, rp, f"?after={ids[-1] + 100}")).json() == {
        "events": [],
        "next_cursor": ids[-1] + 100,
    }


async def test_limits_and_cursors_outside_their_bounds_are_invalid_requests(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    await seed(stack, rp)
    assert len((await feed(http, stack, rp, "?limit=1")).json()["events"]) == 1
    assert len((await feed(http, stack, rp, "?limit=1000")).json()["events"]) == len(SEEDED)
    for query in (
        "?limit=0",
        "?limit=1001",
        "?limit=-1",
        "?limit=ten",
        "?limit=1.5",
        "?after=-1",
        "?after=abc",
        "?after=%C2%B2",  # a superscript two: a digit to str.isdigit, not to a cursor
        "?after=99999999999999999999",
        "?after=1&after=2",
        "?limit=5&limit=5",
    ):
        response = await feed(http, stack, rp, query)
        assert response.status_code == 400, (query, response.text)
        assert response.json()["error"] == "invalid_request", query
        assert response.headers["cache-control"] == "no-store"


async def test_only_an_authenticated_client_reads_the_feed(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    await seed(stack)
    other = await stack.register_client(name="Another RP")
    attempts = {
        "wrong secret": (rp.client_id, "not-the-secret"),
        "another client's secret": (rp.client_id, other.client_secret),
        "unknown client": ("rp-unknown", rp.client_secret),
        "no credentials": None,
    }
    for name, credentials in attempts.items():
        response = await feed(http, stack, rp, auth=credentials)
        assert response.status_code == 401, (name, response.text)
        assert response.json()["error"] == "invalid_client", name
        assert response.headers["www-authenticate"] == 'Basic realm="broker"', name
        assert "events" not in response.json()
    bearer = await http.get(f"{stack.broker_url}/events", headers={"Authorization": "Bearer x"})
    assert bearer.status_code == 401
    assert bearer.json()["error"] == "invalid_client"
    # Credentials are checked before the query: a stranger learns nothing from a bad cursor.
    assert (await feed(http, stack, rp, "?after=abc", auth=None)).status_code == 401
    assert (await feed(http, stack, other)).status_code == 200


async def test_a_relying_party_sees_only_its_own_citizens_and_a_pairwise_one_only_pairwise_subs(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    await seed(stack, rp)
    stranger = await stack.register_client(name="RP that served nobody")
    assert (await feed(http, stack, stranger)).json()["events"] == []
    assert "sub-x" not in str((await feed(http, stack, rp)).json())  # a citizen who never used this RP

    pairwise_rp = await stack.register_client(
        name="Bộ, ngành (pairwise)",
        redirect_uris=["https://dvc.bo-nganh.example.vn/cb"],
        subject_type="pairwise",
    )
    await seed_tokens(stack, pairwise_rp, "sub-a")
    body = (await feed(http, stack, pairwise_rp)).json()
    assert [e["type"] for e in body["events"]] == ["account.linked", "account.merged"]
    text = str(body)
    assert "sub-a" not in text and "sub-b" not in text  # never the public subs
    merged = body["events"][1]
    assert merged["sub"] == merged["data"]["surviving_sub"] == body["events"][0]["sub"]
    assert merged["data"]["retired_sub"] != merged["sub"]


async def seed_tokens(stack: Stack, rp: RelyingParty, sub: str) -> None:
    registry = build_registry(stack.settings)
    try:
        async with registry.db.transaction() as session:
            account = (await session.execute(select(Account).where(Account.sub == sub))).scalar_one()
            session.add(ClientAccount(client_id=rp.client_id, account_id=account.id, first_seen_at=AT))
    finally:
        await registry.vneid.aclose()
        await registry.db.dispose()
