"""An HTTP client towards relying parties, with timeouts, and a per-client cache of ``jwks_uri`` documents."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx

from broker.clock import Clock


class FetchFailed(Exception):
    """The relying party's document could not be fetched or is not what it should be."""


def _no_cookies() -> CookieJar:
    """A jar that keeps nothing: these calls are the broker's own, server to server, for every relying
    party alike; a cookie one of them set would go back with each later call to it, and the jar would
    grow with whatever they set (httpx has no switch for it; an empty ``allowed_domains`` refuses all)."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class RelyingPartyHttp:
    def __init__(
        self,
        connect_timeout: float,
        read_timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
        push_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``push_transport`` carries the SETs pushed to endpoints that relying parties chose themselves
        (it refuses internal addresses at connect time); the rest goes to endpoints an operator registered."""
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._http = httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, transport=transport, cookies=_no_cookies()
        )
        self._push = (
            httpx.AsyncClient(
                timeout=timeout, follow_redirects=False, transport=push_transport, cookies=_no_cookies()
            )
            if push_transport is not None
            else self._http
        )

    async def aclose(self) -> None:
        await self._http.aclose()
        if self._push is not self._http:
            await self._push.aclose()

    async def get_json(self, url: str) -> Any:
        try:
            response = await self._http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise FetchFailed(type(exc).__name__) from exc
        if response.status_code != 200:
            raise FetchFailed(f"HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise FetchFailed("not JSON") from exc

    async def post_form(self, url: str, data: dict[str, str]) -> int:
        """Returns the status code; raises FetchFailed when there was no answer at all."""
        try:
            response = await self._http.post(url, data=data)
        except httpx.HTTPError as exc:
            raise FetchFailed(type(exc).__name__) from exc
        return response.status_code

    async def post_secevent(self, url: str, token: str, authorization: str | None) -> tuple[int, Any]:
        """RFC 8935 §2.1: one SET as ``application/secevent+jwt``; returns the status and the JSON body of
        an error answer (§2.3), if any. Redirects are not followed."""
        headers = {"Content-Type": "application/secevent+jwt", "Accept": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        try:
            response = await self._push.post(url, content=token.encode("ascii"), headers=headers)
        except httpx.HTTPError as exc:
            raise FetchFailed(type(exc).__name__) from exc
        body: Any = None
        if response.status_code == 400:
            try:
                body = response.json()
            except ValueError:
                body = None
        return response.status_code, body


class ClientJwksCache:
    """Caches each client's ``jwks_uri`` document; refetches early (at most every ``min_refetch``) when an
    assertion names a key the cached set does not have, for a client that just rotated its keys."""

    def __init__(
        self,
        http: RelyingPartyHttp,
        clock: Clock,
        ttl: timedelta,
        min_refetch: timedelta = timedelta(seconds=10),
    ) -> None:
        self._http = http
        self._clock = clock
        self._ttl = ttl
        self._min_refetch = min_refetch
        self._entries: dict[str, tuple[datetime, dict[str, Any]]] = {}
        self._lock = asyncio.Lock()

    async def get(self, jwks_uri: str, refresh: bool = False) -> dict[str, Any]:
        now = self._clock()
        cached = self._entries.get(jwks_uri)
        if cached is not None:
            age = now - cached[0]
            if age < self._ttl and not (refresh and age >= self._min_refetch):
                return cached[1]
        async with self._lock:
            document = await self._http.get_json(jwks_uri)
            if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
                raise FetchFailed("not a JWK set")
            self._entries[jwks_uri] = (now, document)
            return document
