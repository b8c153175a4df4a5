"""The national portal's SSO shape (DVCQG): a plain OAuth 2.0 code flow at explicit endpoints, no discovery,
no ID token relied on; the identity comes from userinfo, fetched right after the exchange with the access
token. ``acr_values`` asks for LoA1/LoA2; PKCE only when configured (the public clients send none)."""

from __future__ import annotations

from collections.abc import Mapping

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from broker.errors import IdentityRefused, UpstreamError
from broker.upstream.adapters.base import UpstreamAdapter, UpstreamIdentity
from broker.upstream.adapters.exchange import exchange_code


class OAuth2UserinfoAdapter(UpstreamAdapter):
    async def authorization_request(
        self, *, redirect_uri: str, state: str, nonce: str, code_verifier: str, prompt: str | None, level: int
    ) -> tuple[str, list[tuple[str, str]]]:
        self.http.breaker.check_start()
        assert self.config.authorization_endpoint is not None  # completed by the configuration
        params = self.code_request(redirect_uri, state)
        if self.config.pkce:
            params |= {
                "code_challenge": create_s256_code_challenge(code_verifier),
                "code_challenge_method": "S256",
            }
        if acr := self.acr_values(level):
            params["acr_values"] = acr
        return self.config.authorization_endpoint, list(params.items())

    async def exchange(
        self, callback: Mapping[str, str], *, redirect_uri: str, code_verifier: str, nonce: str
    ) -> UpstreamIdentity:
        code = callback.get("code")
        if not code:
            raise UpstreamError("upstream_no_code")
        assert self.config.token_endpoint and self.config.userinfo_endpoint
        token = await exchange_code(
            self.http, self.config, self.config.token_endpoint, code, redirect_uri, code_verifier
        )
        access_token = token.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise UpstreamError("token_exchange_failed", "no access_token in the token response")
        claims = await self.http.get_json(
            "userinfo",
            self.config.userinfo_endpoint,
            headers={"Authorization": f"Bearer {access_token}"},
            retries=0,
        )
        if not isinstance(claims, dict):
            raise UpstreamError("userinfo_failed", "not a JSON object")
        return identity_from(self.id, claims, self.config.mapping.subject)


def identity_from(upstream_id: str, claims: dict[str, object], subject_claim: str) -> UpstreamIdentity:
    subject = claims.get(subject_claim)
    if isinstance(subject, int) and not isinstance(subject, bool):
        subject = str(subject)
    if not isinstance(subject, str) or not subject.strip():
        raise IdentityRefused(f"claim_missing:{subject_claim}", "no subject in userinfo")
    return UpstreamIdentity(upstream_id=upstream_id, subject=subject.strip(), claims=dict(claims))
