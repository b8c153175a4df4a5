"""OIDC Core §3.1.3.7 rules on a locally signed token, with the time fixed: no network, no sleep."""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from broker.clock import FixedClock
from broker.errors import UpstreamError
from broker.oidc.keys import KeyPair, generate_private_pem, public_jwk, thumbprint
from broker.upstream import id_token
from broker.upstream.jwks import JwksCache

NOW = datetime(2024, 6, 15, 8, 0, tzinfo=UTC)
ISSUER, CLIENT = "https://vneid.example", "broker"


def _key() -> KeyPair:
    pem = generate_private_pem("RS256")
    return KeyPair(thumbprint(public_jwk(pem)), "RS256", pem)


KEY = _key()


def _claims(**changes: Any) -> dict[str, Any]:
    base = {
        "iss": ISSUER,
        "aud": CLIENT,
        "sub": "x",
        "nonce": "n",
        "iat": int(NOW.timestamp()),
        "exp": int(NOW.timestamp()) + 300,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def _sign(claims: dict[str, Any], key: KeyPair = KEY, **headers: Any) -> str:
    return jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid, **headers})


class _Fetches:
    def __init__(self, *documents: dict[str, Any]) -> None:
        self.documents = list(documents)
        self.count = 0

    async def __call__(self) -> dict[str, Any]:
        self.count += 1
        return self.documents[min(self.count, len(self.documents)) - 1]


async def _verify(
    token: str, fetch: _Fetches | None = None, clock: FixedClock | None = None
) -> dict[str, Any]:
    clock = clock or FixedClock(NOW)
    cache = JwksCache(fetch or _Fetches({"keys": [KEY.public()]}), clock, timedelta(seconds=30))
    return await id_token.verify(
        token,
        keys=cache,
        issuer=ISSUER,
        client_id=CLIENT,
        nonce="n",
        now=clock(),
        leeway=timedelta(seconds=60),
    )


async def test_a_good_token_verifies() -> None:
    assert (await _verify(_sign(_claims())))["sub"] == "x"


@pytest.mark.parametrize(
    "claims",
    [
        _claims(iss="https://evil.example"),
        _claims(aud="someone-else"),
        _claims(nonce="other"),
        _claims(nonce=None),
        _claims(exp=int(NOW.timestamp()) - 61),
        _claims(iat=int(NOW.timestamp()) + 61),
        _claims(sub=None),
    ],
)
async def test_rule_breaking_tokens_are_refused(claims: dict[str, Any]) -> None:
    with pytest.raises(UpstreamError):
        await _verify(_sign(claims))


async def test_expiry_within_the_leeway_is_accepted() -> None:
    assert await _verify(_sign(_claims(exp=int(NOW.timestamp()) - 59)))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_none_is_refused() -> None:
    unsigned = jwt.encode(_claims(), None, algorithm="none", headers={"kid": KEY.kid})
    with pytest.raises(UpstreamError):
        await _verify(unsigned)


async def test_hs256_signed_with_the_public_key_is_refused() -> None:
    """The classic confusion attack: HMAC keyed with the RSA public key a verifier might accept."""
    public_pem = jwt.PyJWK(KEY.public()).key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    signing_input = (
        _b64(json.dumps({"alg": "HS256", "kid": KEY.kid}).encode())
        + "."
        + _b64(json.dumps(_claims()).encode())
    )
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(UpstreamError):
        await _verify(signing_input + "." + _b64(signature))


async def test_a_key_in_the_header_is_never_used() -> None:
    attacker = _key()
    with pytest.raises(UpstreamError):
        await _verify(_sign(_claims(), attacker, jwk=attacker.public()))


async def test_an_unknown_kid_refetches_once_then_gives_up() -> None:
    new_key = _key()
    fetches = _Fetches({"keys": [KEY.public()]}, {"keys": [KEY.public(), new_key.public()]})
    clock = FixedClock(NOW)
    cache = JwksCache(fetches, clock, timedelta(seconds=30))
    common = {
        "keys": cache,
        "issuer": ISSUER,
        "client_id": CLIENT,
        "nonce": "n",
        "now": NOW,
        "leeway": timedelta(0),
    }
    await id_token.verify(_sign(_claims()), **common)
    assert fetches.count == 1
    clock.advance(seconds=31)
    await id_token.verify(_sign(_claims(), new_key), **common)
    assert fetches.count == 2
    stranger = _key()
    with pytest.raises(UpstreamError):
        await id_token.verify(_sign(_claims(), stranger), **common)
    with pytest.raises(UpstreamError):
        await id_token.verify(_sign(_claims(), stranger), **common)
    assert fetches.count == 2  # rate-limited: a garbage kid cannot make us hammer VNeID


async def test_a_key_the_upstream_withdrew_stops_being_trusted_once_the_cache_expires() -> None:
    """Issue 8 item 7: no restart needed. Within max_age the cached key still verifies (no refetch per
    login); after it, the JWKS is read again and the withdrawn key is refused."""
    replacement = _key()
    fetches = _Fetches({"keys": [KEY.public()]}, {"keys": [replacement.public()]})
    clock = FixedClock(NOW)
    cache = JwksCache(fetches, clock, timedelta(seconds=30), max_age=timedelta(minutes=15))

    async def verify(key: KeyPair) -> dict[str, Any]:
        now = clock()
        claims = _claims(iat=int(now.timestamp()), exp=int(now.timestamp()) + 300)
        return await id_token.verify(
            _sign(claims, key),
            keys=cache,
            issuer=ISSUER,
            client_id=CLIENT,
            nonce="n",
            now=now,
            leeway=timedelta(0),
        )

    await verify(KEY)
    clock.advance(minutes=14)
    await verify(KEY)
    assert fetches.count == 1
    clock.advance(minutes=2)
    with pytest.raises(UpstreamError, match="unknown signing key"):
        await verify(KEY)
    assert fetches.count == 2
    await verify(replacement)
    assert fetches.count == 2
