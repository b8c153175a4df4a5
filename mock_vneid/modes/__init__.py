"""The shapes mock VNeID can speak besides clean OIDC (MOCK_VNEID_MODE): the national portal's OAuth 2.0 +
userinfo (``oauth2_userinfo``) and VNeID's encrypted gateway (``vneid_gateway``). Same citizens, same login
form; what differs is the authorization response, the token and userinfo bodies, and the claim names."""

from __future__ import annotations

from mock_vneid.context import MockContext
from mock_vneid.gateway_crypto import seal


def code_parameters(ctx: MockContext, code: str) -> dict[str, str]:
    """The authorization response's code: in the gateway mode, encrypted, with its ``encrypt_key``."""
    settings = ctx.settings
    if settings.mode != "vneid-gateway" or not settings.gateway_encrypt_code or ctx.rp_public_key is None:
        return {"code": code}
    sealed, key = seal(code.encode(), ctx.rp_public_key, settings.gateway_cipher_mode)
    return {"code": sealed, "encrypt_key": key}
