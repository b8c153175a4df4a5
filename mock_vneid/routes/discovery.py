"""OpenID Provider metadata (OIDC Discovery 1.0 §3) and the JWKS (RFC 7517)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from mock_vneid.claims import ACR_VALUES, ID_TOKEN_CLAIMS, IDENTITY_CLAIMS, SUPPORTED_SCOPES
from mock_vneid.deps import ContextDep
from mock_vneid.keys import ALGORITHM

router = APIRouter()


@router.get("/.well-known/openid-configuration")
async def openid_configuration(ctx: ContextDep) -> dict[str, Any]:
    issuer = ctx.settings.issuer
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
        "subject_types_supported": ["public"],
        "scopes_supported": list(SUPPORTED_SCOPES),
        "acr_values_supported": list(ACR_VALUES),
        "claims_supported": list(dict.fromkeys(ID_TOKEN_CLAIMS + IDENTITY_CLAIMS)),
        "prompt_values_supported": ["none", "login"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
    }


@router.get("/jwks")
async def jwks(ctx: ContextDep) -> dict[str, Any]:
    return ctx.keys.jwks()
