"""The key ring the request path uses: parsed once, served from memory, re-read exactly when it goes stale
(a key starts or stops signing, a rotation is announced, or the reload interval passed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jwt

from broker.clock import FixedClock
from broker.login.keys import KeyRingSource, KeyTiming, ensure_signing_keys, rotate
from broker.oidc.keys import KeyPair, KeyRing, LoadedKey, generate_private_pem
from broker.store.database import Database
from broker.store.key_encryption import KeyEncryption

TIMING = KeyTiming(publish_ahead=timedelta(minutes=10), grace=timedelta(hours=1), reload=timedelta(hours=1))


def test_a_ring_parses_only_the_keys_it_has_not_seen() -> None:
    first = KeyPair("first", "RS256", generate_private_pem("RS256"))
    second = KeyPair("second", "ES256", generate_private_pem("ES256"))
    parsed: dict[str, LoadedKey] = {}
    KeyRing([first], loaded=parsed)
    kept = parsed["first"]
    ring = KeyRing([first, second], loaded=parsed)
    assert parsed["first"] is kept  # the same parsed object, not a second parse of the PEM
    assert set(parsed) == {"first", "second"}

    claims = {"iss": "https://broker.example", "sub": "x"}
    token = ring.sign(claims, "ES256")
    keys = {key["kid"]: key for key in json.loads(ring.jwks_bytes)["keys"]}  # as /jwks serves them
    header = jwt.get_unverified_header(token)
    assert jwt.decode(token, jwt.PyJWK(keys[header["kid"]]).key, algorithms=["ES256"]) == claims
    assert ring.verify(token, issuer="https://broker.example") == claims


async def test_the_ring_is_reread_when_a_new_key_starts_signing_and_when_told(database_url: str) -> None:
    clock = FixedClock(datetime(2025, 3, 1, 8, 0, tzinfo=UTC))
    # Keys are sealed at rest: the database handle carries the key that wraps them, as the app's does.
    db = Database(database_url, key_encryption=KeyEncryption.from_config(None, None, "test-secret-key"))
    try:
        await ensure_signing_keys(db, clock)
        clock.advance(days=30)  # the first keys have been signing for a while
        source = KeyRingSource(db, clock, TIMING)
        before = await source()
        old = before.signing_key("RS256").kid

        added = {key.kid for key in await rotate(db, clock, TIMING)}
        assert await source() is before  # served from memory: no database read per request

        source.invalidate()  # what a NOTIFY from `broker keys rotate` does on PostgreSQL
        told = await source()
        assert added <= set(told.kids())  # published at once ...
        assert told.signing_key("RS256").kid == old  # ... but signing only after publish-ahead

        clock.advance(minutes=9)
        assert await source() is told
        clock.advance(minutes=1, seconds=1)  # the new key's first instant as signer: well before an hour
        switched = await source()
        assert switched.signing_key("RS256").kid in added
        assert old in switched.kids()  # still published for the tokens it signed
    finally:
        await db.dispose()
