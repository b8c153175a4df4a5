"""In-memory state of the mock: pending logins, authorization codes and access tokens.

The mock keeps no browser session, so this is all it remembers; a restart forgets it.
"""

from __future__ import annotations

import heapq
import secrets
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
class ExpiringMap(Generic[T]):
    """Values that vanish at their expiry, judged by the instant the caller passes in.

    Expired entries are dropped as new ones come, from a heap ordered by expiry: scanning every entry on
    each add was a fifth of the mock's CPU per login under the benchmark's load (bench/README.md, tenth
    round), and it grew with the logins still inside their lifetime."""

    _entries: dict[str, _Entry[T]] = field(default_factory=dict)
    _expiries: list[tuple[datetime, str]] = field(default_factory=list)

    def add(self, value: T, expires_at: datetime, now: datetime) -> str:
        self._purge(now)
        key = secrets.token_urlsafe(32)
        self._entries[key] = _Entry(value, expires_at)
        heapq.heappush(self._expiries, (expires_at, key))
        return key

    def get(self, key: str, now: datetime) -> T | None:
        entry = self._entries.get(key)
        if entry is None or entry.expires_at <= now:
            return None
        return entry.value

    def discard(self, key: str) -> None:
        self._entries.pop(key, None)  # its heap item goes when it expires

    def _purge(self, now: datetime) -> None:
        expiries = self._expiries
        while expiries and expiries[0][0] <= now:
            self._entries.pop(heapq.heappop(expiries)[1], None)


@dataclass
class MemoryStore:
    pending: ExpiringMap[AuthorizationRequest] = field(default_factory=ExpiringMap)
    codes: ExpiringMap[AuthorizationCode] = field(default_factory=ExpiringMap)
    access_tokens: ExpiringMap[AccessToken] = field(default_factory=ExpiringMap)
    upstream_logouts: int = 0  # sessions ended at /oauth2/logout (the portal's logoutUri)
