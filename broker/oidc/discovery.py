"""OpenID Provider metadata (OIDC Discovery 1.0 §3, RFC 8414). Advertises only what works."""

from __future__ import annotations

from typing import Any

from broker.oidc import scopes

ACR_LEVEL_1 = "urn:vneid:loa:level1"
ACR_LEVEL_2 = "urn:vneid:loa:level2"
ACR_LEGACY = "urn:broker:loa:legacy-password"


def metadata(issuer: str, signing_algs: list[str]) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks",
        "scopes_supported": list(scopes.SUPPORTED_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": signing_algs,
        "userinfo_signing_alg_values_supported": [],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "acr",
            "amr",
            "azp",
            "at_hash",
            *scopes.ALL_CLAIMS,
        ],
        "acr_values_supported": [ACR_LEVEL_1, ACR_LEVEL_2],
        "prompt_values_supported": ["none", "login"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
        "ui_locales_supported": ["vi", "en"],
    }
