"""Verifying the passwords of legacy accounts as the old systems hashed them, and rehashing to Argon2id.

Schemes, as the legacy import contract names them (DESIGN.md, "Contracts"):
- ``argon2id``: the standard encoded string ``$argon2id$v=19$m=...,t=...,p=...$salt$hash`` (argon2-cffi);
- ``bcrypt``: ``$2a$``/``$2b$``/``$2y$`` (the ``bcrypt`` package);
- ``sha256_salted``: ``SALT$HEX`` with HEX = hex sha256(SALT + password);
- ``md5``: hex md5(password), unsalted.

Nothing here raises on bad input: a malformed hash, an unknown scheme, a NUL byte or an oversized
password is simply not a match, so a login page never turns bad data into a 500.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from functools import cache

import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

SCHEMES = ("argon2id", "bcrypt", "sha256_salted", "md5")

# Longer input is refused before any hashing: a megabyte "password" must not buy a megabyte of work.
MAX_PASSWORD_CHARS = 1024
MAX_ENCODED_CHARS = 512
# bcrypt only ever used the first 72 bytes; the old systems' C libraries cut there silently.
BCRYPT_MAX_BYTES = 72
# Work factors beyond these would let one imported row tie up a worker for seconds per attempt.
BCRYPT_MAX_COST = 15
ARGON2_MAX_MEMORY_KIB = 256 * 1024
ARGON2_MAX_TIME_COST = 10
ARGON2_MAX_PARALLELISM = 16

_ARGON2ID = re.compile(r"\$argon2id\$(v=\d+\$)?m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+")
_BCRYPT = re.compile(r"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")

# argon2-cffi's defaults follow RFC 9106's second recommended option (m=64 MiB, t=3, p=4).
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """Argon2id with the library's current parameters: what a successful legacy login rehashes to."""
    return _hasher.hash(password)


def is_well_formed(scheme: str | None, encoded: str | None) -> bool:
    """Whether ``encoded`` is a hash of ``scheme`` that verification will accept (also used by the import)."""
    if not scheme or not encoded or len(encoded) > MAX_ENCODED_CHARS or not encoded.isascii():
        return False
    if scheme == "argon2id":
        return _argon2_acceptable(encoded)
    if scheme == "bcrypt":
        match = _BCRYPT.fullmatch(encoded)
        return match is not None and 4 <= int(match.group(1)) <= BCRYPT_MAX_COST
    if scheme == "sha256_salted":
        salt, separator, digest = encoded.rpartition("$")
        return bool(salt) and bool(separator) and _HEX64.fullmatch(digest) is not None
    if scheme == "md5":
        return _HEX32.fullmatch(encoded) is not None
    return False


def verify(password: str, encoded: str | None, scheme: str | None) -> bool:
    """Whether ``password`` matches ``encoded``; False for anything malformed, never an exception."""
    if not _acceptable_password(password) or not is_well_formed(scheme, encoded):
        return False
    assert encoded is not None
    if scheme == "argon2id":
        return _verify_argon2(password, encoded)
    if scheme == "bcrypt":
        return _verify_bcrypt(password, encoded)
    if scheme == "sha256_salted":
        salt, _, digest = encoded.rpartition("$")
        computed = hashlib.sha256((salt + password).encode("utf-8")).hexdigest()
        return hmac.compare_digest(computed, digest.lower())
    computed = hashlib.md5(password.encode("utf-8"), usedforsecurity=False).hexdigest()
    return hmac.compare_digest(computed, encoded.lower())


def needs_rehash(scheme: str | None, encoded: str | None) -> bool:
    """Everything but Argon2id with today's parameters is rehashed after a successful login."""
    if scheme != "argon2id" or not encoded or not _argon2_acceptable(encoded):
        return True
    try:
        return _hasher.check_needs_rehash(encoded)
    except (InvalidHashError, ValueError):
        return True


def verify_dummy(password: str) -> None:
    """Costs what a real Argon2id verification costs, for usernames that match no account: the answer
    must not come back faster for them (no enumeration by timing)."""
    _verify_argon2(password[:MAX_PASSWORD_CHARS], _dummy_hash())


@cache
def _dummy_hash() -> str:
    # A hash of a random secret nobody knows, made with the same parameters as real ones.
    return hash_password(secrets.token_urlsafe(32))


def _acceptable_password(password: str) -> bool:
    # A NUL byte never came from the old systems' forms, and C-based verifiers stop at it, so
    # "secret\0anything" could match "secret" there: refused everywhere instead.
    if not isinstance(password, str) or len(password) > MAX_PASSWORD_CHARS or "\x00" in password:
        return False
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from a badly decoded form
        return False
    return True


def _argon2_acceptable(encoded: str) -> bool:
    # The pattern is what argon2-cffi's extract_parameters accepts for Argon2id (the version optional);
    # the work factors are read from its groups, without that function's cost per call (the import checks
    # every row's hash).
    match = _ARGON2ID.fullmatch(encoded)
    if match is None:
        return False
    memory, time, parallelism = (int(value) for value in match.group(2, 3, 4))
    return (
        memory <= ARGON2_MAX_MEMORY_KIB
        and time <= ARGON2_MAX_TIME_COST
        and parallelism <= ARGON2_MAX_PARALLELISM
    )


def _verify_argon2(password: str, encoded: str) -> bool:
    try:
        return _hasher.verify(encoded, password)
    except (VerificationError, InvalidHashError, ValueError):
        return False


def _verify_bcrypt(password: str, encoded: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode("utf-8")[:BCRYPT_MAX_BYTES], encoded.encode("ascii"))
    except ValueError:  # e.g. an impossible salt in a well-shaped string
        return False
