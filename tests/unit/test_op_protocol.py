"""The OP's pure protocol pieces, at a fixed instant: assurance levels, pairwise subjects, logout tokens,
client assertions, the key ring's publish-ahead and retirement."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from broker.errors import InvalidClient, InvalidRequest
from broker.oidc import assurance, client_assertion, client_auth, logout_token, pairwise, revocation
from broker.oidc.keys import KeyPair, KeyRing, generate_private_pem, unverified_claims

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
L1, L2 = assurance.ACR_LEVEL_1, assurance.ACR_LEVEL_2


@pytest.mark.parametrize(
    ("requested", "default", "minimum", "level"),
    [
        ([], [], None, 1),
        ([L2], [], None, 2),
        ([L1, L2], [], None, 1),  # either is acceptable: the lower one is what must be reached
        ([], [L2], None, 2),
        ([L1], [L2], None, 1),  # the request wins over the default
        ([L1], [], L2, 2),  # the minimum wins over everything
        (["urn:unknown"], [], None, 1),
    ],
)
def test_required_level(requested: list[str], default: list[str], minimum: str | None, level: int) -> None:
    assert assurance.required_level(requested, default, minimum) == level


def test_pairwise_subjects_differ_by_sector_and_are_stable() -> None:
    key = b"k" * 32
    a = pairwise.subject("sub-1", "pairwise", "a.gov.vn", key)
    assert a == pairwise.subject("sub-1", "pairwise", "a.gov.vn", key)
    assert a != pairwise.subject("sub-1", "pairwise", "b.gov.vn", key)
    assert a != pairwise.subject("sub-2", "pairwise", "a.gov.vn", key)
    assert pairwise.subject("sub-1", "public", None, key) == "sub-1"
    assert pairwise.sector_of_redirect_uris(["https://a.gov.vn/1", "https://a.gov.vn/2"]) == "a.gov.vn"
    with pytest.raises(ValueError, match="sector"):
        pairwise.sector_of_redirect_uris(["https://a.gov.vn/1", "https://b.gov.vn/2"])


def test_logout_token_claims() -> None:
    claims = logout_token.claims(
        issuer="https://op", client_id="rp", sub="s", sid="x", jti="j", now=NOW, ttl_seconds=120
    )
    assert claims["events"] == {"http://schemas.openid.net/event/backchannel-logout": {}}
    assert claims["exp"] - claims["iat"] == 120 and "nonce" not in claims
    with pytest.raises(ValueError, match="sub"):
        logout_token.claims(issuer="i", client_id="rp", sub=None, sid=None, jti="j", now=NOW, ttl_seconds=1)


def _client_key() -> tuple[bytes, dict[str, object]]:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem, {"keys": [{**ECAlgorithm.to_jwk(private.public_key(), as_dict=True), "kid": "k1"}]}


def test_client_assertion_rules() -> None:
    pem, jwks = _client_key()
    now = datetime.fromtimestamp(int(time.time()), UTC)

    def assertion(**claims: object) -> str:
        body = {
            "iss": "rp",
            "sub": "rp",
            "aud": "https://op/token",
            "exp": int(now.timestamp()) + 60,
            "jti": "1",
        }
        body.update(claims)
        return jwt.encode(
            {k: v for k, v in body.items() if v is not None}, pem, algorithm="ES256", headers={"kid": "k1"}
        )

    def check(token: str) -> client_assertion.VerifiedAssertion:
        return client_assertion.verify(
            token,
            jwks=jwks,
            client_id="rp",
            audiences={"https://op", "https://op/token"},
            now=now,
            max_lifetime=timedelta(minutes=5),
            leeway=timedelta(seconds=30),
        )

    assert check(assertion()).jti == "1"
    for bad in (
        assertion(sub="other"),
        assertion(iss="other"),
        assertion(aud="https://elsewhere"),
        assertion(exp=None),
        assertion(exp=int(now.timestamp()) + 3600),
        assertion(jti=None),
    ):
        with pytest.raises(InvalidClient):
            check(bad)
    with pytest.raises(client_assertion.UnknownKey):
        check(jwt.encode({"sub": "rp"}, pem, algorithm="ES256", headers={"kid": "other"}))


def test_assertion_credentials_are_one_method() -> None:
    type_ = client_auth.ASSERTION_TYPE
    token = jwt.encode({"sub": "rp"}, "x" * 32, algorithm="HS256")
    credentials = client_auth.credentials(None, {"client_assertion_type": type_, "client_assertion": token})
    assert (credentials.client_id, credentials.method) == ("rp", "private_key_jwt")
    with pytest.raises(InvalidRequest):
        client_auth.credentials(
            None, {"client_assertion_type": type_, "client_assertion": token, "client_secret": "s"}
        )
    with pytest.raises(InvalidClient):
        client_auth.credentials(None, {"client_assertion_type": "urn:other", "client_assertion": token})


def test_key_ring_publishes_ahead_and_retires() -> None:
    ahead = timedelta(minutes=10)
    old = KeyPair("old", "RS256", generate_private_pem("RS256"), NOW - timedelta(days=30), NOW + ahead)
    new = KeyPair("new", "RS256", generate_private_pem("RS256"), NOW, None)
    assert KeyRing([old, new], NOW, ahead).signing_key("RS256").kid == "old"
    assert {key["kid"] for key in KeyRing([old, new], NOW, ahead).jwks()["keys"]} == {"old", "new"}
    assert KeyRing([old, new], NOW + ahead, ahead).signing_key("RS256").kid == "new"
    first = KeyPair("first", "ES256", generate_private_pem("ES256"), NOW, None)
    assert KeyRing([first], NOW, ahead).signing_key("ES256").kid == "first"  # the first key signs at once


def test_revocation_request_grammar() -> None:
    assert revocation.parse({"token": "t", "token_type_hint": "other"}).hint is None
    with pytest.raises(InvalidRequest):
        revocation.parse({})


def test_a_token_recognised_by_its_stored_hash_still_needs_a_published_key_and_its_claims() -> None:
    pair = KeyPair("k1", "RS256", generate_private_pem("RS256"))
    ring = KeyRing([pair], NOW)
    issuer = "https://broker.example"
    claims = {"iss": issuer, "aud": issuer, "sub": "s", "jti": "j", "exp": int(NOW.timestamp()) + 60}
    token = ring.sign(claims, "RS256", typ="at+jwt")
    stored = hashlib.sha256(token.encode()).hexdigest()
    read = unverified_claims(token)

    def verify(ring: KeyRing, stored: str | None, **expected: object) -> dict[str, object]:
        return ring.verify_issued(token, stored, unverified=read, **expected)  # type: ignore[arg-type]

    assert verify(ring, stored, issuer=issuer, audience=issuer, require=("jti",)) == claims
    assert verify(ring, None, issuer=issuer, audience=issuer) == claims  # by its signature
    with pytest.raises(jwt.InvalidTokenError):  # another token's hash
        verify(ring, hashlib.sha256(b"other").hexdigest(), issuer=issuer)
    refused: list[dict[str, object]] = [
        {"issuer": "https://elsewhere.example"},
        {"issuer": issuer, "audience": "https://rp.example"},
        {"issuer": issuer, "audience": "https://broker"},  # a prefix of the token's audience
        {"issuer": issuer, "require": ("sid",)},
    ]
    for expected in refused:  # by the hash or by the signature, the same claims are refused
        for hashed in (stored, None):
            with pytest.raises(jwt.InvalidTokenError):
                verify(ring, hashed, **expected)
    other = KeyRing([KeyPair("k2", "RS256", generate_private_pem("RS256"))], NOW)
    with pytest.raises(jwt.PyJWTError):  # its key no longer published: refused, hash or not
        verify(other, stored, issuer=issuer)
