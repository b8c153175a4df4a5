"""OpenID Provider metadata (OIDC Discovery 1.0 §3, RFC 8414 §2, Back-Channel Logout 1.0 §2.1,
RP-Initiated Logout 1.0 §2.1). Advertises only what works."""

from __future__ import annotations

import functools
import json
from typing import Any

from broker.oidc import assurance, scopes
from broker.oidc.client_assertion import ASYMMETRIC_ALGS
from broker.oidc.client_auth import AUTH_METHODS
from broker.oidc.pairwise import SUBJECT_TYPES

ACR_LEVEL_1 = assurance.ACR_LEVEL_1
ACR_LEVEL_2 = assurance.ACR_LEVEL_2
ACR_LEGACY = "urn:broker:loa:legacy-password"

# Introspection needs a client that can prove who it is (RFC 7662 §2.1): public clients may not use it.
INTROSPECTION_AUTH_METHODS = [method for method in AUTH_METHODS if method != "none"]


def metadata(issuer: str, signing_algs: list[str]) -> dict[str, Any]:
    assertion_algs = list(ASYMMETRIC_ALGS)
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks",
        "end_session_endpoint": f"{issuer}/logout",
        "introspection_endpoint": f"{issuer}/introspect",
        "revocation_endpoint": f"{issuer}/revoke",
        "scopes_supported": list(scopes.SUPPORTED_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": list(SUBJECT_TYPES),
        "id_token_signing_alg_values_supported": signing_algs,
        "userinfo_signing_alg_values_supported": [],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "introspection_endpoint_auth_methods_supported": INTROSPECTION_AUTH_METHODS,
        "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs,
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
            "sid",
            *scopes.ALL_CLAIMS,
        ],
        "acr_values_supported": list(assurance.SUPPORTED),
        "prompt_values_supported": ["none", "login"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": False,
        "frontchannel_logout_session_supported": False,
        "ui_locales_supported": ["vi", "en"],
    }


@functools.lru_cache(maxsize=8)
def metadata_bytes(issuer: str, signing_algs: tuple[str, ...]) -> bytes:
    """The document as served: built once per issuer and key ring's algorithms, not per request."""
    return json.dumps(metadata(issuer, list(signing_algs)), separators=(",", ":")).encode()
