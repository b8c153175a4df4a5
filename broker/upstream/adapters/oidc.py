"""A clean OpenID Provider (today's VNeID, and mock_vneid's ``oidc`` mode): discovery, authorization code
with PKCE S256, state and nonce, a signed ID token checked by broker.upstream.id_token, then userinfo
(unless the upstream is configured ``userinfo: false``), whose ``sub`` must be the ID token's (OIDC Core
§5.3.2)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from broker.clock import Clock, seconds
from broker.errors import IdentityRefused, UpstreamError
from broker.upstream import id_token
from broker.upstream.adapters.base import UpstreamAdapter, UpstreamIdentity
from broker.upstream.adapters.exchange import exchange_code
from broker.upstream.config import UpstreamConfig
from broker.upstream.http import UpstreamHttp
from broker.upstream.jwks import JwksCache


class OidcAdapter(UpstreamAdapter):
    def __init__(self, config: UpstreamConfig, http: UpstreamHttp, clock: Clock) -> None:
        super().__init__(config, http)
        assert config.issuer is not None  # the configuration requires it for this type
        self.issuer = config.issuer
        self._clock = clock
        self._metadata: dict[str, Any] | None = None
        self._metadata_at: datetime | None = None
        self._jwks = JwksCache(
            self._fetch_jwks,
            clock,
            timedelta(seconds=config.jwks_min_refetch_seconds),
            timedelta(seconds=config.jwks_max_age_seconds),
        )

    @property
    def uses_nonce(self) -> bool:
        return True

    async def authorization_request(
        self, *, redirect_uri: str, state: str, nonce: str, code_verifier: str, prompt: str | None, level: int
    ) -> tuple[str, list[tuple[str, str]]]:
        self.http.breaker.check_start()
        # While the circuit is half-open, the discovery document is fetched again: that call is the probe.
        metadata = await self.metadata(force=self.http.breaker.is_open)
        params = self.code_request(redirect_uri, state) | {"nonce": nonce}
        if self.config.pkce:
            params |= {
                "code_challenge": create_s256_code_challenge(code_verifier),
                "code_challenge_method": "S256",
            }
        extra = {"prompt": prompt, "acr_values": self.acr_values(level)}
        params |= {key: value for key, value in extra.items() if value}
        return metadata["authorization_endpoint"], list(params.items())

    async def exchange(
        self, callback: Mapping[str, str], *, redirect_uri: str, code_verifier: str, nonce: str
    ) -> UpstreamIdentity:
        code = callback.get("code")
        if not code:
            raise UpstreamError("upstream_no_code")
        metadata = await self.metadata()
        token = await exchange_code(
            self.http, self.config, metadata["token_endpoint"], code, redirect_uri, code_verifier
        )
        raw_id_token = token.get("id_token")
        if not isinstance(raw_id_token, str):
            raise UpstreamError("token_exchange_failed", "no id_token in the token response")
        claims = await id_token.verify(
            raw_id_token,
            keys=self._jwks,
            issuer=self.issuer,
            client_id=self.config.client_id,
            nonce=nonce,
            now=self._clock(),
            leeway=seconds(self.config.leeway_seconds),
        )
        userinfo: dict[str, Any] = {"sub": claims["sub"]}
        endpoint = metadata.get("userinfo_endpoint")
        if self.config.userinfo and isinstance(endpoint, str) and isinstance(token.get("access_token"), str):
            body = await self.http.get_json(
                "userinfo", endpoint, headers={"Authorization": f"Bearer {token['access_token']}"}, retries=0
            )
            if not isinstance(body, dict):
                raise UpstreamError("userinfo_failed", "not a JSON object")
            userinfo = body
        if userinfo.get("sub") != claims["sub"]:
            # OIDC Core §5.3.2: a userinfo response for another subject must not be used.
            raise IdentityRefused("userinfo_invalid", "sub differs from the ID token")
        auth_time = claims.get("auth_time", claims["iat"])
        return UpstreamIdentity(
            upstream_id=self.id,
            subject=str(claims["sub"]),
            claims={**userinfo, **claims},
            auth_time=datetime.fromtimestamp(float(auth_time), UTC),
            amr=tuple(item for item in claims.get("amr", []) if isinstance(item, str)),
        )

    async def check_ready(self) -> None:
        await self.metadata()

    def sends_without_calling(self) -> bool:
        return super().sends_without_calling() and self._metadata_fresh()

    def _metadata_fresh(self) -> bool:
        ttl = seconds(self.config.metadata_ttl_seconds)
        return (
            self._metadata is not None
            and self._metadata_at is not None
            and self._clock() - self._metadata_at < ttl
        )

    async def metadata(self, force: bool = False) -> dict[str, Any]:
        if not force and self._metadata is not None and self._metadata_fresh():
            return self._metadata
        document = await self.http.get_json("discovery", f"{self.issuer}/.well-known/openid-configuration")
        if not isinstance(document, dict) or document.get("issuer") != self.issuer:
            # OIDC Discovery §4.3: the issuer in the document must be exactly the one we asked.
            raise UpstreamError("metadata_invalid", "issuer mismatch")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(name), str):
                raise UpstreamError("metadata_invalid", f"{name} missing")
        self._metadata, self._metadata_at = document, self._clock()
        return document

    async def _fetch_jwks(self) -> dict[str, Any]:
        metadata = await self.metadata()
        document = await self.http.get_json("jwks", metadata["jwks_uri"])
        return document if isinstance(document, dict) else {}
