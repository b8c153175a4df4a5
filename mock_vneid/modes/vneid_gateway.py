"""MOCK_VNEID_MODE=vneid-gateway: VNeID's gateway for relying parties as public adapters show it.

``/gateway/authorize`` takes ``response_type, client_id, redirect_uri, scope, state`` (the same login form);
the code comes back encrypted with its ``encrypt_key`` (mock_vneid.modes.code_parameters); ``/gateway/token``
(form, secret in the body) and ``/gateway/userinfo`` answer ``{"data": …, "key": …}`` encrypted for the
relying party's RSA public key (mock_vneid.gateway_crypto); no ID token.
"""

from __future__ import annotations

import base64
import json

from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from mock_vneid.citizens import Citizen
from mock_vneid.context import MockContext
from mock_vneid.deps import ContextDep
from mock_vneid.errors import OAuthError
from mock_vneid.gateway_crypto import seal, seal_json
from mock_vneid.modes.common import (
    NO_STORE,
    bearer,
    issue_access_token,
    oauth_error,
    spoil,
    token_endpoint_fault,
)
from mock_vneid.routes.authorize import authorization_request
from mock_vneid.store import AccessToken

router = APIRouter(prefix="/gateway", tags=["vneid-gateway mode"])
router.add_api_route("/authorize", authorization_request, methods=["GET"])

ACCOUNT_TYPE_CITIZEN = "1"


@router.post("/token")
async def token(request: Request, ctx: ContextDep) -> Response:
    plan = ctx.faults.take()
    if (failed := await token_endpoint_fault(plan)) is not None:
        return failed
    try:
        value, access_token = await issue_access_token(request, ctx, plan)
    except OAuthError as exc:
        return oauth_error(exc)
    body = {
        "access_token": value,
        "token_type": "Bearer",
        "expires_in": ctx.settings.access_token_ttl_seconds,
    }
    return JSONResponse(_sealed(ctx, body, access_token), headers=NO_STORE)


@router.api_route("/userinfo", methods=["GET", "POST"])
async def userinfo(request: Request, ctx: ContextDep) -> Response:
    try:
        _, access_token, citizen = bearer(request, ctx)
    except OAuthError as exc:
        return oauth_error(exc)
    claims = spoil(gateway_claims(citizen), access_token, "citizenPid")
    return JSONResponse(seal_json(claims, _rp_key(ctx), ctx.settings.gateway_cipher_mode), headers=NO_STORE)


def gateway_claims(citizen: Citizen) -> dict[str, object]:
    return {
        "citizenPid": citizen.identification_number,
        "fullName": citizen.name,
        "birthDate": citizen.birthdate.strftime("%d/%m/%Y"),
        "accountType": ACCOUNT_TYPE_CITIZEN,
        "accountLevel": str(citizen.level),
    }


def _rp_key(ctx: MockContext) -> rsa.RSAPublicKey:
    assert ctx.rp_public_key is not None  # create_app refuses the gateway mode without it
    return ctx.rp_public_key


def _sealed(ctx: MockContext, body: dict[str, object], access_token: AccessToken) -> dict[str, str]:
    """The token response's envelope, spoiled as the test controls asked."""
    mode = ctx.settings.gateway_cipher_mode
    fault = access_token.plan.gateway if access_token.plan is not None else None
    plain = json.dumps(body).encode()
    if fault == "foreign_rp_key":  # encrypted for another relying party
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
        return seal_json(dict(body), other, mode)
    data, key = seal(plain, _rp_key(ctx), mode)
    if fault == "wrong_wrapped_key":  # the data's key is not the one wrapped
        _, key = seal(plain, _rp_key(ctx), mode)
    if fault == "tampered_data":
        raw = bytearray(base64.b64decode(data))
        raw[0] ^= 0x01
        data = base64.b64encode(bytes(raw)).decode()
    return {"data": data, "key": key}
