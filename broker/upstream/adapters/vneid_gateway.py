"""VNeID's gateway for relying parties: authorize with ``response_type, client_id, redirect_uri, scope,
state`` only (no nonce, no PKCE: the broker's own state, bound to the browser's login flow, is what it
keeps); the code may come back encrypted with an ``encrypt_key``; the token request is form-encoded with the
secret in the body; token and userinfo bodies are encrypted envelopes (broker.upstream.gateway_crypto);
no ID token. The identity comes from the decrypted userinfo (``citizenPid``, ``fullName``, ...)."""

from __future__ import annotations

from collections.abc import Mapping

from broker.errors import UpstreamError
from broker.upstream.adapters.base import UpstreamAdapter, UpstreamIdentity
from broker.upstream.adapters.exchange import exchange_code
from broker.upstream.adapters.oauth2_userinfo import identity_from
from broker.upstream.config import UpstreamConfig
from broker.upstream.gateway_crypto import GatewayCipher
from broker.upstream.http import UpstreamHttp


class VneidGatewayAdapter(UpstreamAdapter):
    def __init__(self, config: UpstreamConfig, http: UpstreamHttp, cipher: GatewayCipher) -> None:
        super().__init__(config, http)
        self._cipher = cipher

    async def authorization_request(
        self, *, redirect_uri: str, state: str, nonce: str, code_verifier: str, prompt: str | None, level: int
    ) -> tuple[str, list[tuple[str, str]]]:
        self.http.breaker.check_start()
        assert self.config.authorization_endpoint is not None  # completed by the configuration
        params = self.code_request(redirect_uri, state)
        return self.config.authorization_endpoint, list(params.items())

    async def exchange(
        self, callback: Mapping[str, str], *, redirect_uri: str, code_verifier: str, nonce: str
    ) -> UpstreamIdentity:
        code = callback.get("code")
        if not code:
            raise UpstreamError("upstream_no_code")
        encrypt_key = callback.get("encrypt_key")
        if encrypt_key:
            code = self._cipher.open_code(code, encrypt_key)
        elif self.config.encrypted_code:
            raise UpstreamError("gateway_code_invalid", "no encrypt_key with the code")
        assert self.config.token_endpoint and self.config.userinfo_endpoint
        sealed = await exchange_code(
            self.http, self.config, self.config.token_endpoint, code, redirect_uri, code_verifier
        )
        token = self._cipher.open_body(sealed)
        access_token = token.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise UpstreamError("token_exchange_failed", "no access_token in the token response")
        body = await self.http.get_json(
            "userinfo",
            self.config.userinfo_endpoint,
            headers={"Authorization": f"Bearer {access_token}"},
            retries=0,
        )
        return identity_from(self.id, self._cipher.open_body(body), self.config.mapping.subject)
