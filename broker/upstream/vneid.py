"""The broker as an OIDC relying party of VNeID: authorization code + PKCE S256 + state + nonce.

Every call has connect and read timeouts; idempotent GETs (metadata, JWKS) get one retry. The code
exchange is never retried: a code is single use, a retry could only fail or, worse, be logged twice.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client

from broker.clock import Clock
from broker.domain.identity import VerifiedIdentity
from broker.errors import UpstreamError
from broker.metrics import Metrics
from broker.upstream import id_token
from broker.upstream.breaker import CircuitBreaker, UpstreamUnavailable
from broker.upstream.claims import to_identity
from broker.upstream.jwks import JwksCache


class VNeIDClient:
    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        scope: str,
        clock: Clock,
        metrics: Metrics,
        connect_timeout: float,
        read_timeout: float,
        leeway: timedelta,
        jwks_min_refetch: timedelta,
        metadata_ttl: timedelta,
        breaker: CircuitBreaker,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.issuer = issuer
        self._client_id = client_id
        self._clock = clock
        self._metrics = metrics
        self._leeway = leeway
        self._metadata_ttl = metadata_ttl
        self._metadata: dict[str, Any] | None = None
        self._metadata_at: datetime | None = None
        self._http = AsyncOAuth2Client(
            client_id=client_id,
            client_secret=client_secret,
            scope=scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",
            transport=transport,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            follow_redirects=False,
        )
        self._jwks = JwksCache(self._fetch_jwks, clock, jwks_min_refetch)
        self._breaker = breaker

    async def aclose(self) -> None:
        await self._http.aclose()

    async def authorization_url(
        self, *, state: str, nonce: str, code_verifier: str, prompt: str | None, acr_values: str | None
    ) -> str:
        metadata = await self.metadata()
        extra = {key: value for key, value in (("prompt", prompt), ("acr_values", acr_values)) if value}
        url, _ = self._http.create_authorization_url(
            metadata["authorization_endpoint"], state=state, code_verifier=code_verifier, nonce=nonce, **extra
        )
        return str(url)

    async def authenticate(self, *, code: str, code_verifier: str, nonce: str) -> VerifiedIdentity:
        """Exchanges the code, validates the ID token, reads userinfo; raises UpstreamError."""
        metadata = await self.metadata()
        token = await self._exchange(metadata["token_endpoint"], code, code_verifier)
        raw_id_token = token.get("id_token")
        if not isinstance(raw_id_token, str):
            raise UpstreamError("token_exchange_failed", "no id_token in the token response")
        claims = await id_token.verify(
            raw_id_token,
            keys=self._jwks,
            issuer=self.issuer,
            client_id=self._client_id,
            nonce=nonce,
            now=self._clock(),
            leeway=self._leeway,
        )
        userinfo: dict[str, Any] = {"sub": claims["sub"]}
        if metadata.get("userinfo_endpoint") and isinstance(token.get("access_token"), str):
            userinfo = await self._userinfo(metadata["userinfo_endpoint"], token["access_token"])
        return to_identity(claims, userinfo, self.issuer)

    async def metadata(self) -> dict[str, Any]:
        now = self._clock()
        if self._metadata is not None and self._metadata_at and now - self._metadata_at < self._metadata_ttl:
            return self._metadata
        document = await self._get_json("discovery", f"{self.issuer}/.well-known/openid-configuration")
        if document.get("issuer") != self.issuer:
            # OIDC Discovery §4.3: the issuer in the document must be exactly the one we asked.
            raise UpstreamError("metadata_invalid", "issuer mismatch")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(name), str):
                raise UpstreamError("metadata_invalid", f"{name} missing")
        self._metadata, self._metadata_at = document, now
        return document

    async def _fetch_jwks(self) -> dict[str, Any]:
        metadata = await self.metadata()
        return await self._get_json("jwks", metadata["jwks_uri"])

    async def _exchange(self, endpoint: str, code: str, code_verifier: str) -> dict[str, Any]:
        self._breaker.check()
        started = time.perf_counter()
        outcome = "error"
        try:
            token = await self._http.fetch_token(endpoint, code=code, code_verifier=code_verifier)
            outcome = "ok"
            self._record(reached=True)
            return dict(token)
        except (httpx.TransportError, httpx.TimeoutException, ValueError) as exc:
            self._record(reached=False)  # VNeID unreachable, or answering HTML/garbage: its side
            raise UpstreamUnavailable("token_exchange_failed", type(exc).__name__) from exc
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code >= 500:
                self._record(reached=False)
            raise UpstreamError("token_exchange_failed", type(exc).__name__) from exc
        except Exception as exc:  # an OAuth error body (invalid_grant...): refused, but VNeID is up
            raise UpstreamError("token_exchange_failed", type(exc).__name__) from exc
        finally:
            self._observe("token", outcome, started)

    async def _userinfo(self, endpoint: str, access_token: str) -> dict[str, Any]:
        return await self._get_json(
            "userinfo", endpoint, headers={"Authorization": f"Bearer {access_token}"}, retries=0
        )

    async def _get_json(
        self, name: str, url: str, headers: dict[str, str] | None = None, retries: int = 1
    ) -> dict[str, Any]:
        self._breaker.check()
        try:
            body = await self._get_json_with_retry(name, url, headers, retries)
        except UpstreamUnavailable:
            self._record(reached=False)
            raise
        self._record(reached=True)
        return body

    async def _get_json_with_retry(
        self, name: str, url: str, headers: dict[str, str] | None, retries: int
    ) -> dict[str, Any]:
        for attempt in range(retries + 1):
            started = time.perf_counter()
            outcome = "error"
            try:
                response = await self._http.request("GET", url, headers=headers, withhold_token=True)
                if response.status_code >= 500:
                    raise UpstreamUnavailable(f"{name}_failed", f"HTTP {response.status_code}")
                if response.status_code != 200:
                    raise UpstreamError(f"{name}_failed", f"HTTP {response.status_code}")
                body = response.json()
                if not isinstance(body, dict):
                    raise UpstreamError(f"{name}_failed", "not a JSON object")
                outcome = "ok"
                return body
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                if attempt == retries:
                    raise UpstreamUnavailable(f"{name}_unreachable", type(exc).__name__) from exc
            except ValueError as exc:
                raise UpstreamUnavailable(f"{name}_failed", "not JSON") from exc
            finally:
                self._observe(name, outcome, started)
        raise AssertionError("unreachable")

    def _observe(self, endpoint: str, outcome: str, started: float) -> None:
        self._metrics.upstream_latency.labels(endpoint, outcome).observe(time.perf_counter() - started)

    def _record(self, reached: bool) -> None:
        if reached:
            self._breaker.record_success()
        else:
            self._breaker.record_failure()
        self._metrics.upstream_circuit_open.set(1 if self._breaker.is_open else 0)
