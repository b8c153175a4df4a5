"""The flows' HTTP client: aiohttp's, behind the few httpx calls the flows make.

The flows' load generator shares its core with mock VNeID, and with httpx it was that core, not the servers,
that bound every flow phase: 7.6 ms of the client's CPU per broker login (6.1 per peer login), its core
70–97 % busy while each server's ran at 40–50 % (bench/README.md, twelfth round). With aiohttp's client it
is 3.4 and 2.25 ms, so the servers get closer to saturated, which is where "CPU per operation under load"
is meant to be read: the peer's core 91–95 % busy, the broker's 60–75 % (mock VNeID's 2–3 ms per login
still shares the client's core).

Only what `op_load.Op`'s flows use: GET with ``params``, POST with ``data`` and ``auth``, redirects never
followed, one cookie jar per client (cleared between jobs), and a response with ``status_code``,
``headers``, ``text``, ``url`` and ``json()``, as httpx's. The other benches keep httpx.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy


class Answer:
    """A whole response, read: the part of ``httpx.Response`` the flows read."""

    def __init__(self, status: int, headers: CIMultiDictProxy[str], body: bytes, url: str) -> None:
        self.status_code, self.headers, self.url, self._body = status, headers, url, body

    @property
    def text(self) -> str:
        return self._body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self._body)


class Client:
    """One browser of the flows (``drive``'s worker): its own connections and cookie jar."""

    def __init__(self, connections: int, timeout: float = 30) -> None:
        # unsafe: cookies for the IP address 127.0.0.1, which aiohttp's jar refuses by default
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections, force_close=False),
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            timeout=aiohttp.ClientTimeout(total=timeout),
            trust_env=False,
            auto_decompress=False,
        )

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._session.close()

    def clear_cookies(self) -> None:
        self._session.cookie_jar.clear()

    async def get(
        self, url: str, *, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> Answer:
        return await self._send("GET", url, params=params, headers=headers)

    async def post(
        self, url: str, *, data: dict[str, str] | None = None, auth: tuple[str, str] | None = None
    ) -> Answer:
        basic = aiohttp.BasicAuth(*auth) if auth is not None else None
        return await self._send("POST", url, data=data, auth=basic)

    async def _send(self, method: str, url: str, **options: Any) -> Answer:
        async with self._session.request(method, url, allow_redirects=False, **options) as response:
            body = await response.read()
            return Answer(response.status, response.headers, body, str(response.url))
