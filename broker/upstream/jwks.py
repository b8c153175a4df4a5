"""An upstream's signing keys, cached for ``max_age`` (so a key the upstream withdrew stops being trusted
without a restart), and refetched at most once per interval when an unknown ``kid`` appears. Each key is
parsed once per fetch, into the joserfc key that ``broker.upstream.id_token`` verifies with."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from broker.clock import Clock
from broker.errors import UpstreamError


class JwksCache:
    def __init__(
        self,
        fetch: Callable[[], Awaitable[dict[str, Any]]],
        clock: Clock,
        min_refetch_interval: timedelta,
        max_age: timedelta = timedelta(minutes=15),
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._min_interval = min_refetch_interval
        self._max_age = max_age
        self._keys: dict[str, RSAKey | ECKey] = {}
        self._fetched_at: datetime | None = None
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> RSAKey | ECKey:
        if kid is None:
            raise UpstreamError("id_token_invalid", "no kid in the header")
        if self._expired():
            await self._refresh(only_if_expired=True)
        if kid not in self._keys:
            await self._refresh_if_allowed()
        try:
            return self._keys[kid]
        except KeyError:
            raise UpstreamError("id_token_invalid", "unknown signing key") from None

    def _expired(self) -> bool:
        return self._fetched_at is not None and self._clock() - self._fetched_at >= self._max_age

    async def _refresh(self, only_if_expired: bool) -> None:
        async with self._lock:
            if only_if_expired and not self._expired():
                return  # another request refreshed while this one waited for the lock
            document = await self._fetch()
            self._fetched_at = self._clock()
            self._keys = _parse(document)

    async def _refresh_if_allowed(self) -> None:
        async with self._lock:
            now = self._clock()
            if self._fetched_at is not None and now - self._fetched_at < self._min_interval:
                return  # an attacker's garbage kid must not make us hammer VNeID
            document = await self._fetch()
            self._fetched_at = now
            self._keys = _parse(document)


def _parse(document: dict[str, Any]) -> dict[str, RSAKey | ECKey]:
    keys: dict[str, RSAKey | ECKey] = {}
    for entry in document.get("keys", []) if isinstance(document, dict) else []:
        if not isinstance(entry, dict) or "kid" not in entry or entry.get("use", "sig") != "sig":
            continue
        if entry.get("kty") not in ("RSA", "EC"):
            continue  # never a symmetric ("oct") key from a public document
        try:
            keys[entry["kid"]] = (
                RSAKey.import_key(entry) if entry["kty"] == "RSA" else ECKey.import_key(entry)
            )
        except (JoseError, ValueError, TypeError):
            continue
    return keys
