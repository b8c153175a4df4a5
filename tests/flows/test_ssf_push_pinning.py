"""SET pushes connect only to the addresses they checked (issue 13: a receiver's endpoint cannot be turned
into a probe of the broker's network by a name that resolves to a public address first and 127.0.0.1 next).

A live receiver on loopback stands for "an internal service"; the resolver is the only thing replaced, so
the test controls what the name answers without touching the machine's DNS."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from broker.outbound.endpoints import PublicAddressTransport, public_addresses
from broker.outbound.rp_http import FetchFailed, RelyingPartyHttp
from tests.support.servers import LiveServer

NAME = "receiver.example"


@pytest.fixture
def receiver() -> Iterator[tuple[LiveServer, list[str]]]:
    hosts: list[str] = []

    async def ssf(request: Request) -> Response:
        hosts.append(request.headers["host"])
        return Response(status_code=202)

    server = LiveServer(Starlette(routes=[Route("/ssf", ssf, methods=["POST"])])).start()
    yield server, hosts
    server.stop()


def _resolver(answers: list[list[str]]):  # type: ignore[no-untyped-def]
    """Answers each lookup with the next list (the last one again when they run out); counts lookups."""
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[min(len(calls), len(answers)) - 1]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


async def test_a_name_that_rebinds_to_loopback_after_the_check_reaches_nothing(receiver) -> None:  # type: ignore[no-untyped-def]
    server, hosts = receiver
    # The stream was saved while the name answered a public address; now it answers loopback.
    resolve = _resolver([["93.184.216.34"], ["127.0.0.1"]])
    assert await public_addresses(NAME, server.port, resolve) == ["93.184.216.34"]
    http = RelyingPartyHttp(1.0, 2.0, push_transport=PublicAddressTransport(resolve))
    try:
        with pytest.raises(FetchFailed):
            await http.post_secevent(f"http://{NAME}:{server.port}/ssf", "eyJ.a.b", None)
    finally:
        await http.aclose()
    assert resolve.calls == [NAME, NAME]  # the connection asked again, and refused what it heard
    assert hosts == []  # the internal service never saw a byte


async def test_one_internal_answer_among_public_ones_refuses_the_connection(receiver) -> None:  # type: ignore[no-untyped-def]
    server, hosts = receiver
    transport = PublicAddressTransport(_resolver([["93.184.216.34", "127.0.0.1"]]))
    async with httpx.AsyncClient(transport=transport) as http:
        with pytest.raises(httpx.ConnectError, match="internal address"):
            await http.post(f"http://{NAME}:{server.port}/ssf", content=b"x")
    assert hosts == []


async def test_the_connection_goes_to_the_checked_address_under_the_receiver_s_name(receiver) -> None:  # type: ignore[no-untyped-def]
    server, hosts = receiver
    # Here the check is told loopback is fine, to show where the socket goes: to the address the
    # resolver gave (receiver.example resolves nowhere else), with the receiver's name as its Host.
    resolve = _resolver([["127.0.0.1"]])
    transport = PublicAddressTransport(resolve, internal=lambda address: False)
    http = RelyingPartyHttp(1.0, 2.0, push_transport=transport)
    try:
        status, _ = await http.post_secevent(f"http://{NAME}:{server.port}/ssf", "eyJ.a.b", None)
        again, _ = await http.post_secevent(f"http://{NAME}:{server.port}/ssf", "eyJ.a.b", None)
    finally:
        await http.aclose()
    assert (status, again) == (202, 202)
    assert hosts == [f"{NAME}:{server.port}"] * 2
    assert resolve.calls == [NAME]  # the kept-alive connection is reused, not resolved again
