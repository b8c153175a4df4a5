"""The upstream ID token's rules that PyJWT's decode applied and broker.upstream.id_token now applies
itself around joserfc's signature check (issue 7): the claims' types, ``nbf`` on the injected clock, a key
of the wrong type, malformed tokens, and a header parameter no registry knows (let through)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import jwt
import pytest

from broker.clock import FixedClock
from broker.errors import UpstreamError
from broker.oidc.keys import KeyPair, generate_private_pem, public_jwk, thumbprint
from broker.upstream import id_token
from broker.upstream.jwks import JwksCache
from tests.unit.test_upstream_id_token_rules import CLIENT, ISSUER, KEY, NOW, _claims, _sign


async def _verify(token: str, *jwks: dict[str, Any]) -> dict[str, Any]:
    async def fetch() -> dict[str, Any]:
        return {"keys": list(jwks) or [KEY.public()]}

    return await id_token.verify(
        token,
        keys=JwksCache(fetch, FixedClock(NOW), timedelta(seconds=30)),
        issuer=ISSUER,
        client_id=CLIENT,
        nonce="n",
        now=NOW,
        leeway=timedelta(seconds=60),
    )


async def test_an_audience_list_naming_the_broker_verifies_with_its_azp() -> None:
    claims = await _verify(_sign(_claims(aud=[CLIENT, "other"], azp=CLIENT)))
    assert claims["aud"] == [CLIENT, "other"]
    assert (await _verify(_sign(_claims(aud=[CLIENT]))))["sub"] == "x"


@pytest.mark.parametrize(
    "claims",
    [
        _claims(aud=[]),
        _claims(aud=["other"]),
        _claims(aud=[CLIENT, 7]),
        _claims(aud={"client": CLIENT}),
        _claims(aud=[CLIENT, "other"]),  # several audiences and no azp
        _claims(sub=12345),
        _claims(iss=None),
        _claims(iss=[ISSUER]),
        _claims(jti=7),
        _claims(exp="soon"),
        _claims(nbf=int(NOW.timestamp()) + 61),
        _claims(nbf="later"),
    ],
)
async def test_claims_of_the_wrong_type_or_value_are_refused(claims: dict[str, Any]) -> None:
    # Signed as bytes: PyJWT's encode would refuse some of these claims itself.
    signed = jwt.api_jws.encode(json.dumps(claims).encode(), KEY.private_pem, "RS256", {"kid": KEY.kid})
    with pytest.raises(UpstreamError, match="id_token_invalid"):
        await _verify(signed)


async def test_nbf_is_read_on_the_injected_clock_with_the_leeway() -> None:
    assert await _verify(_sign(_claims(nbf=int(NOW.timestamp()) + 59)))


async def test_an_unknown_header_parameter_is_let_through() -> None:
    assert await _verify(_sign(_claims(), vendor_trace="abc"))


def _segment(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not a token",
        "a.b",
        _sign(_claims()) + ".extra",
        "é" + _sign(_claims()),
        _segment({"alg": "RS256", "kid": KEY.kid}) + "." + _segment({"sub": "x"})[:-1] + "!.c2ln",
        _segment({"alg": "RS256", "kid": 7}) + "." + _segment(_claims()) + ".c2ln",
    ],
)
async def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(UpstreamError, match="id_token_invalid"):
        await _verify(token)


async def test_a_payload_that_is_not_an_object_is_refused() -> None:
    signed = jwt.api_jws.encode(b"[1, 2]", KEY.private_pem, algorithm="RS256", headers={"kid": KEY.kid})
    with pytest.raises(UpstreamError, match="malformed token"):
        await _verify(signed)


async def test_a_key_of_another_type_than_the_algorithm_is_refused() -> None:
    """The JWKS's EC key under the kid an RS256 token names: never tried as an RSA key."""
    pem = generate_private_pem("ES256")
    ec = KeyPair(thumbprint(public_jwk(pem)), "ES256", pem)
    token = _sign(_claims(), KEY, kid=ec.kid)
    with pytest.raises(UpstreamError, match="id_token_invalid"):
        await _verify(token, ec.public())
    es256 = jwt.encode(_claims(), ec.private_pem, algorithm="ES256", headers={"kid": ec.kid})
    assert (await _verify(es256, ec.public()))["sub"] == "x"


async def test_a_symmetric_key_in_the_jwks_is_never_used() -> None:
    secret = base64.urlsafe_b64encode(b"k" * 32).rstrip(b"=").decode()
    hs = jwt.encode(_claims(), b"k" * 32, algorithm="HS256", headers={"kid": "oct"})
    with pytest.raises(UpstreamError, match="id_token_invalid"):
        await _verify(hs, {"kty": "oct", "kid": "oct", "k": secret})
