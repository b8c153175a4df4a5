"""In-memory state of the mock: pending logins, authorization codes and access tokens.

The mock keeps no browser session, so this is all it remembers; a restart forgets it.
"""

from __future__ import annotations

import heapq
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class AuthorizationRequest:
    """A validated authorization request (OIDC Core §3.1.2.1)."""

    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    state: str
    nonce: str
    code_challenge: str
    acr_values: tuple[str, ...] = ()
    login_hint: str = ""


@dataclass
class AuthorizationCode:
    request: AuthorizationRequest
    citizen_number: str
    auth_time: datetime
    used: bool = False
    access_token: str | None = None


@dataclass
class AccessToken:
    citizen_number: str
    client_id: str
    scope: tuple[str, ...]
    revoked: bool = False
    # The test controls' fault plan armed when it was issued: spoils its userinfo (issue 10 modes).
    plan: Any = None


@dataclass
class _Entry(Generic[T]):
    value: T
    expires_at: datetime


@dataclass
class Expiries:
    """Keys in order of their expiry (a heap), so that the expired ones are found without looking at the
    live ones: scanning every entry on each new one was a fifth of the mock's CPU per login under the
    benchmark's load (bench/README.md, tenth round), and it grew with the logins of the last minutes. A key
    dropped before its expiry stays here until then; its owner ignores it."""

    _heap: list[tuple[datetime, str]] = field(default_factory=list)

    def add(self, key: str, expires_at: datetime) -> None:
        heapq.heappush(self._heap, (expires_at, key))

    def expired(self, now: datetime) -> Iterator[str]:
        """The keys expired by ``now``, each once, removed as they are given."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            yield heapq.heappop(heap)[1]

    def __len__(self) -> int:
        return len(self._heap)


@dataclass
class ExpiringMap(Generic[T]):
    """Values that vanish at their expiry, judged by the instant the caller passes in; expired entries are
    dropped as new ones come."""

    _entries: dict[str, _Entry[T]] = field(default_factory=dict)
    _expiries: Expiries = field(default_factory=Expiries)

    def add(self, value: T, expires_at: datetime, now: datetime) -> str:
        self._purge(now)
        key = secrets.token_urlsafe(32)
        self._entries[key] = _Entry(value, expires_at)
        self._expiries.add(key, expires_at)
        return key

    def get(self, key: str, now: datetime) -> T | None:
        entry = self._entries.get(key)
        if entry is None or entry.expires_at <= now:
            return None
        return entry.value

    def discard(self, key: str) -> None:
        self._entries.pop(key, None)

    def _purge(self, now: datetime) -> None:
        for key in self._expiries.expired(now):
            self._entries.pop(key, None)


@dataclass
class MemoryStore:
    pending: ExpiringMap[AuthorizationRequest] = field(default_factory=ExpiringMap)
    codes: ExpiringMap[AuthorizationCode] = field(default_factory=ExpiringMap)
    access_tokens: ExpiringMap[AccessToken] = field(default_factory=ExpiringMap)
    upstream_logouts: int = 0  # sessions ended at /oauth2/logout (the portal's logoutUri)
