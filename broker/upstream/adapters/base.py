"""The one interface every upstream adapter speaks, and the neutral carrier it returns.

An adapter only translates its upstream's protocol (SATOSA's backends): it builds the authorization URL
and turns a callback into an ``UpstreamIdentity``: who the upstream says this is, in the upstream's own
claim names. The claim mapping (broker.upstream.mapping) then makes a ``VerifiedIdentity`` of it, and the
login steps never see a wire format.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from authlib.common.urls import add_params_to_uri

from broker.upstream.config import UpstreamConfig
from broker.upstream.http import UpstreamHttp


@dataclass(frozen=True)
class UpstreamIdentity:
    """What one upstream asserted about the citizen, before the claim mapping."""

    upstream_id: str
    subject: str
    claims: dict[str, Any]
    auth_time: datetime | None = None
    amr: tuple[str, ...] = field(default_factory=tuple)


class UpstreamAdapter(ABC):
    def __init__(self, config: UpstreamConfig, http: UpstreamHttp) -> None:
        self.config = config
        self.http = http

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def uses_nonce(self) -> bool:
        """Whether the upstream binds a nonce into what it returns (only an ID token can)."""
        return False

    async def aclose(self) -> None:
        await self.http.aclose()

    def code_request(self, redirect_uri: str, state: str) -> dict[str, str]:
        """The parameters every upstream's authorization request carries (RFC 6749 §4.1.1); each shape adds
        what it supports (nonce, PKCE, acr_values)."""
        return {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "scope": self.config.scope,
            "state": state,
        }

    def sends_without_calling(self) -> bool:
        """Whether ``authorization_url`` would answer now without calling the upstream: its circuit closed
        (neither open nor probing) and nothing to fetch first. /authorize prepares the login page's button
        only then, so that an upstream that is down or slow never delays the page (organisations log in on
        it too)."""
        return not self.http.breaker.is_open

    async def check_ready(self) -> None:
        """Raises UpstreamError when what a login needs beforehand is unavailable (``/readyz``). Shapes
        without a metadata document need nothing beforehand."""
        return None

    @abstractmethod
    async def authorization_request(
        self, *, redirect_uri: str, state: str, nonce: str, code_verifier: str, prompt: str | None, level: int
    ) -> tuple[str, list[tuple[str, str]]]:
        """Where the browser goes: the authorization endpoint and the request's parameters; ``state`` is the
        broker's flow id, ``level`` the minimum level needed."""

    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_verifier: str, prompt: str | None, level: int
    ) -> str:
        """``authorization_request`` as one URL, for a redirect."""
        endpoint, params = await self.authorization_request(
            redirect_uri=redirect_uri,
            state=state,
            nonce=nonce,
            code_verifier=code_verifier,
            prompt=prompt,
            level=level,
        )
        return str(add_params_to_uri(endpoint, params))

    @abstractmethod
    async def exchange(
        self, callback: Mapping[str, str], *, redirect_uri: str, code_verifier: str, nonce: str
    ) -> UpstreamIdentity:
        """Exchanges the callback's code at once and returns the upstream's identity; UpstreamError if not."""

    def acr_values(self, level: int) -> str | None:
        """What to ask of the upstream for a minimum level (None: nothing to ask, level 1 or not supported)."""
        if level < 2:
            return None
        assert self.config.acr_values is not None
        return self.config.acr_values.get(level)
