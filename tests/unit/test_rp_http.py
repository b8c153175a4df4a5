"""The client towards relying parties (broker.outbound.rp_http) over a real loopback server."""

from __future__ import annotations

from broker.outbound.rp_http import RelyingPartyHttp
from tests.support.raw_http import Server, answer, serve


async def test_a_cookie_a_relying_party_sets_is_never_sent_back() -> None:
    """One client makes the broker's calls to every relying party (JWKS, back-channel logout, signals):
    a server-to-server call carries no browser state, and a jar would keep whatever each one set."""
    server = Server(reply=answer(b'{"keys": []}', extra="Set-Cookie: tracking=rp-a; Path=/\r\n"))
    http = RelyingPartyHttp(connect_timeout=1.0, read_timeout=5.0)
    try:
        async for url in serve(server):
            url = url.replace("127.0.0.1", "localhost")  # a name: a jar keeps no cookie of a bare address
            for _ in range(2):
                assert await http.get_json(f"{url}/jwks") == {"keys": []}
                assert await http.post_form(f"{url}/logout", {"logout_token": "t"}) == 200
                assert (await http.post_secevent(f"{url}/events", "a.b.c", None))[0] == 200
    finally:
        await http.aclose()
    assert len(server.requests) == 6
    assert all("cookie" not in headers for _, headers, _ in server.requests)
