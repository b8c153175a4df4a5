"""Signing keys: generation, JWK export (RFC 7517) and thumbprints (RFC 7638), signing with a key ring."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey
from jwt import api_jws
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from pydantic_core import to_json

SUPPORTED_ALGS = ("RS256", "ES256")
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def generate_private_pem(alg: str) -> str:
    key: PrivateKey
    if alg == "RS256":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif alg == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ValueError(f"unsupported signing algorithm {alg}")
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_jwk(private_pem: str) -> dict[str, Any]:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    if isinstance(key, rsa.RSAPrivateKey):
        return RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    raise ValueError("unsupported key type")


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 §3: SHA-256 over the required members, lexicographically ordered, no whitespace."""
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class KeyPair:
    kid: str
    alg: str
    private_pem: str
    created_at: datetime | None = None
    retired_at: datetime | None = None

    def public(self) -> dict[str, Any]:
        return {**public_jwk(self.private_pem), "kid": self.kid, "alg": self.alg, "use": "sig"}


@dataclass(frozen=True)
class LoadedKey:
    """A key parsed once: PEM parsing (with its RSA consistency check) costs far more than a signature,
    so signing and verification take these objects, never the PEM."""

    kid: str
    alg: str
    private: PrivateKey
    public: rsa.RSAPublicKey | ec.EllipticCurvePublicKey
    jwk: dict[str, Any]
    verifier: RSAKey | ECKey  # the public key as joserfc takes it (verification, below)

    @classmethod
    def parse(cls, pair: KeyPair) -> LoadedKey:
        private = serialization.load_pem_private_key(pair.private_pem.encode(), password=None)
        if not isinstance(private, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ValueError("unsupported key type")
        public = private.public_key()
        verifier: RSAKey | ECKey
        if isinstance(public, rsa.RSAPublicKey):
            exported = RSAAlgorithm.to_jwk(public, as_dict=True)
            verifier = RSAKey.import_key(public)
        else:
            exported = ECAlgorithm.to_jwk(public, as_dict=True)
            verifier = ECKey.import_key(public)
        jwk = {**exported, "kid": pair.kid, "alg": pair.alg, "use": "sig"}
        return cls(pair.kid, pair.alg, private, public, jwk, verifier)


class KeyRing:
    """The keys the broker publishes and the one it signs with per algorithm, as of ``now``.

    Rotation without breaking a relying party's cache (OIDC Core §10.1.1): a new key is published at once
    but signs only ``publish_ahead`` after its creation, so every RP that caches the JWKS for at most that
    long already knows it; the key it replaces stops signing then (its ``retired_at``) and stays published
    until the last token it signed has expired. The ring holds only published keys (the store filters).

    ``loaded`` carries keys parsed for an earlier ring (by kid), so a reload parses only new keys.
    """

    def __init__(
        self,
        keys: list[KeyPair],
        now: datetime | None = None,
        publish_ahead: timedelta = timedelta(0),
        loaded: dict[str, LoadedKey] | None = None,
    ) -> None:
        self._keys = list(keys)
        self._now = now
        self._publish_ahead = publish_ahead
        cache = loaded if loaded is not None else {}
        for key in self._keys:
            if key.kid not in cache or cache[key.kid].alg != key.alg:
                cache[key.kid] = LoadedKey.parse(key)
        self._loaded = {key.kid: cache[key.kid] for key in self._keys}
        self._published = [self._loaded[key.kid].jwk for key in self._keys]
        # Built once per ring: /jwks answers these bytes as they are.
        self.jwks_bytes = json.dumps({"keys": self._published}, separators=(",", ":")).encode()
        self._signing = {}
        for alg in {key.alg for key in self._keys}:
            with contextlib.suppress(LookupError):
                self._signing[alg] = self._loaded[self._choose_signing_key(alg).kid]

    def jwks(self) -> dict[str, Any]:
        return {"keys": list(self._published)}

    def algorithms(self) -> list[str]:
        return sorted({key.alg for key in self._keys})

    def kids(self) -> list[str]:
        return [key.kid for key in self._keys]

    def signing_key(self, alg: str) -> KeyPair:
        return self._choose_signing_key(alg)

    def _choose_signing_key(self, alg: str) -> KeyPair:
        live = [key for key in self._keys if key.alg == alg and not self._retired(key)]
        if not live:
            raise LookupError(f"no signing key for {alg}")
        active = [key for key in live if self._active(key)]
        # The first key of an algorithm signs at once: no relying party can hold an older key set.
        return active[-1] if active else live[0]

    def next_change(self) -> datetime | None:
        """The next instant after ``now`` at which a key starts or stops signing: the ring is stale then."""
        if self._now is None:
            return None
        now = self._now
        instants = [key.created_at + self._publish_ahead for key in self._keys if key.created_at is not None]
        instants += [key.retired_at for key in self._keys if key.retired_at is not None]
        future = [instant for instant in instants if instant > now]
        return min(future) if future else None

    def _retired(self, key: KeyPair) -> bool:
        return key.retired_at is not None and self._now is not None and key.retired_at <= self._now

    def _active(self, key: KeyPair) -> bool:
        if key.created_at is None or self._now is None:
            return True
        return key.created_at + self._publish_ahead <= self._now

    def sign(self, claims: dict[str, Any], alg: str, typ: str = "JWT") -> str:
        key = self._signing.get(alg)
        if key is None:
            raise LookupError(f"no signing key for {alg}")
        # The claims serialised by pydantic-core, signed by PyJWT's JWS layer: ``jwt.encode`` copies them
        # and runs json.dumps, five times as long for an ID token's claims (issue 7, twenty-second round).
        # Every caller's time claims are already NumericDates, which jwt.encode would have made of datetimes.
        payload = to_json(claims)
        return api_jws.encode(payload, key.private, algorithm=alg, headers={"kid": key.kid, "typ": typ})

    def verify(
        self, token: str, *, issuer: str, audience: str | None = None, require: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """The claims of a token this broker signed (access tokens, id_token_hint): its signature by a
        published key, its ``iss``, its ``aud`` (when ``audience`` is given) and the ``require``d claims;
        raises jwt.InvalidTokenError. Time claims are the caller's to compare with the broker's clock.

        By joserfc, not PyJWT (which still signs): PyJWT's decode checks every character of the token in
        Python, a sixth of a userinfo answer (issue 7: 58 -> 30 µs a token on this machine)."""
        key = self._published_key(token)
        try:
            claims = jose_jwt.decode(token, key.verifier, algorithms=[key.alg]).claims
        except (JoseError, ValueError) as exc:
            raise jwt.InvalidTokenError(type(exc).__name__) from exc
        return _checked(claims, issuer, audience, require)

    def verify_issued(
        self,
        token: str,
        stored_hash: str | None,
        *,
        unverified: dict[str, Any],
        issuer: str,
        audience: str | None = None,
        require: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """``verify`` for a token the broker stored the SHA-256 of when it issued it (access tokens since
        migration 0015), given the claims the caller read from it to find that hash (``unverified``): a
        token whose hash equals the stored one is byte for byte the token the broker signed, so its
        signature need not be checked again; its key must still be published, and the claims that
        could have stopped holding since (the issuer and audience asked for, the required claims) are
        checked. Without a stored hash (issued before), ``verify``.

        Issue 7: the RSA verification and its JWS parsing were 60 µs of a 230 µs userinfo answer (the
        signature check also left the caches cold for what followed); the hash costs 2 µs."""
        if stored_hash is None:
            return self.verify(token, issuer=issuer, audience=audience, require=require)
        self._published_key(token)
        if not hmac.compare_digest(hashlib.sha256(token.encode()).hexdigest(), stored_hash):
            raise jwt.InvalidSignatureError("not the token issued")
        # Plain comparisons, not the claims registry of ``verify``: the values are the broker's own, as it
        # wrote them (the registry's type checks were a twentieth of a userinfo answer).
        audiences = unverified.get("aud")
        if unverified.get("iss") != issuer:
            raise jwt.InvalidIssuerError("another issuer")
        if audience is not None and audience != audiences:
            if not (isinstance(audiences, list) and audience in audiences):
                raise jwt.InvalidAudienceError("another audience")
        if any(unverified.get(name) is None for name in require):
            raise jwt.MissingRequiredClaimError("a required claim")
        return unverified

    def _published_key(self, token: str) -> LoadedKey:
        header = _kid_and_alg(token)
        key = self._loaded.get(str(header.get("kid")))
        if key is None or key.alg != header.get("alg"):
            raise jwt.InvalidKeyError("unknown kid")
        return key


def unverified_claims(token: str) -> dict[str, Any]:
    """A compact JWS's payload, NOT verified: only to find the stored row a token names (its ``jti``)
    before ``KeyRing.verify_issued`` decides. Raises jwt.DecodeError for anything else than an object."""
    return _json_segment(token.partition(".")[2].partition(".")[0], "payload")


def _checked(
    claims: dict[str, Any], issuer: str, audience: str | None, require: tuple[str, ...]
) -> dict[str, Any]:
    expected: dict[str, Any] = {name: {"essential": True} for name in require}
    expected["iss"] = {"essential": True, "value": issuer}
    if audience is not None:
        expected["aud"] = {"essential": True, "value": audience}
    try:
        _OwnTokenClaims(**expected).validate(claims)
    except (JoseError, ValueError) as exc:
        raise jwt.InvalidTokenError(type(exc).__name__) from exc
    return claims


class _OwnTokenClaims(jose_jwt.JWTClaimsRegistry):
    """Checks the claims asked for, never the clock: the callers compare ``exp`` with the broker's clock
    (fixed in tests), and an expired token is still revocable and still a valid ``id_token_hint``."""

    def validate_exp(self, value: object) -> None:
        self.check_value("exp", value)

    def validate_iat(self, value: object) -> None:
        self.check_value("iat", value)

    def validate_nbf(self, value: object) -> None:
        self.check_value("nbf", value)


def _kid_and_alg(token: str) -> dict[str, Any]:
    """The header's ``kid`` and ``alg``, only to pick the key: ``jwt.decode`` then checks the whole token,
    header included, strictly. Not ``jwt.get_unverified_header``: it decodes and checks every segment
    (character by character in Python), then ``jwt.decode`` did it all again: 15 % of a userinfo answer."""
    return _json_segment(token.partition(".")[0], "header")


def _json_segment(segment: str, name: str) -> dict[str, Any]:
    """A base64url segment holding a JSON object, decoded without any check of the token around it."""
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, TypeError) as exc:
        raise jwt.DecodeError(f"Invalid {name}") from exc
    if not isinstance(value, dict):
        raise jwt.DecodeError(f"Invalid {name}")
    return value
