"""Legacy password verification: every scheme the import accepts, and every way input can be bad."""

from __future__ import annotations

import hashlib

import bcrypt
import pytest
from argon2 import PasswordHasher

from broker.domain import passwords

PASSWORD = "Matkhau@123"


def md5(password: str) -> str:
    return hashlib.md5(password.encode(), usedforsecurity=False).hexdigest()


def sha256_salted(password: str, salt: str = "s4lt") -> str:
    return f"{salt}${hashlib.sha256((salt + password).encode()).hexdigest()}"


def bcrypt_hash(password: bytes, prefix: str = "$2b$", cost: int = 4) -> str:
    encoded = bcrypt.hashpw(password, bcrypt.gensalt(cost)).decode()
    return prefix + encoded[4:]


@pytest.fixture(scope="module")
def hashes() -> dict[str, str]:
    return {
        "argon2id": passwords.hash_password(PASSWORD),
        "bcrypt": bcrypt_hash(PASSWORD.encode()),
        "sha256_salted": sha256_salted(PASSWORD),
        "md5": md5(PASSWORD),
    }


@pytest.mark.parametrize("scheme", passwords.SCHEMES)
def test_the_right_password_matches_in_every_scheme(hashes: dict[str, str], scheme: str) -> None:
    assert passwords.verify(PASSWORD, hashes[scheme], scheme)


@pytest.mark.parametrize("scheme", passwords.SCHEMES)
@pytest.mark.parametrize("wrong", ["matkhau@123", "Matkhau@12", "Matkhau@1234", "", " Matkhau@123"])
def test_a_wrong_password_does_not(hashes: dict[str, str], scheme: str, wrong: str) -> None:
    assert not passwords.verify(wrong, hashes[scheme], scheme)


@pytest.mark.parametrize("prefix", ["$2a$", "$2b$", "$2y$"])
def test_bcrypt_accepts_all_three_prefixes_of_the_old_systems(prefix: str) -> None:
    encoded = bcrypt_hash(PASSWORD.encode(), prefix)
    assert encoded.startswith(prefix)
    assert passwords.verify(PASSWORD, encoded, "bcrypt")
    assert not passwords.verify("wrong", encoded, "bcrypt")


def test_hex_digests_compare_without_regard_to_letter_case() -> None:
    assert passwords.verify(PASSWORD, md5(PASSWORD).upper(), "md5")
    salt, digest = sha256_salted(PASSWORD).split("$")
    assert passwords.verify(PASSWORD, f"{salt}${digest.upper()}", "sha256_salted")


def test_a_salt_may_itself_contain_the_separator() -> None:
    assert passwords.verify(PASSWORD, sha256_salted(PASSWORD, "a$b"), "sha256_salted")


def test_bcrypt_checks_only_the_first_72_bytes_as_the_old_systems_did() -> None:
    long_password = "Đ" * 40  # 80 bytes in UTF-8
    encoded = bcrypt_hash(long_password.encode()[:72])
    assert passwords.verify(long_password, encoded, "bcrypt")
    assert passwords.verify(long_password + "anything after byte 72", encoded, "bcrypt")
    assert not passwords.verify("Đ" * 35, encoded, "bcrypt")  # 70 bytes: not the same password


def test_other_schemes_use_the_whole_password() -> None:
    long_password = "x" * 100
    assert passwords.verify(long_password, md5(long_password), "md5")
    assert not passwords.verify(long_password[:72], md5(long_password), "md5")


def test_passwords_longer_than_the_cap_never_match() -> None:
    at_cap, beyond = "a" * passwords.MAX_PASSWORD_CHARS, "a" * (passwords.MAX_PASSWORD_CHARS + 1)
    assert passwords.verify(at_cap, md5(at_cap), "md5")
    assert not passwords.verify(beyond, md5(beyond), "md5")
    assert not passwords.verify("a" * 1_000_000, md5("a"), "md5")


@pytest.mark.parametrize("scheme", passwords.SCHEMES)
def test_a_nul_byte_never_matches(hashes: dict[str, str], scheme: str) -> None:
    assert not passwords.verify(PASSWORD + "\x00", hashes[scheme], scheme)
    assert not passwords.verify("\x00", hashes[scheme], scheme)
    with_nul = PASSWORD + "\x00tail"
    assert not passwords.verify(with_nul, md5(with_nul), "md5")


def test_unencodable_text_is_not_an_error() -> None:
    assert not passwords.verify("\udcff", md5("x"), "md5")


MALFORMED = {
    "argon2id": [
        "",
        "$argon2id$",
        "$argon2id$v=19$m=65536,t=3,p=4$",
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$!!!!",
        "$argon2i$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo",
        "$argon2id$v=19$m=4194304,t=3,p=4$c2FsdHNhbHRzYWx0$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo",
        "argon2id",
        md5(PASSWORD),
    ],
    "bcrypt": [
        "",
        "$2b$10$",
        "$2b$10$" + "a" * 52,
        "$2x$10$" + "a" * 53,
        "$2b$31$" + "a" * 53,
        "$2b$03$" + "a" * 53,
        "$2b$10$" + "é" * 53,
        md5(PASSWORD),
    ],
    "sha256_salted": ["", "$" + "a" * 64, "salt$" + "a" * 63, "salt$" + "g" * 64, "salt", md5(PASSWORD)],
    "md5": ["", "a" * 31, "a" * 33, "z" * 32, md5(PASSWORD) + "\x00", sha256_salted(PASSWORD)],
}


@pytest.mark.parametrize(
    ("scheme", "encoded"), [(scheme, value) for scheme, values in MALFORMED.items() for value in values]
)
def test_malformed_hashes_are_no_match_and_no_error(scheme: str, encoded: str) -> None:
    assert not passwords.is_well_formed(scheme, encoded)
    assert not passwords.verify(PASSWORD, encoded, scheme)


@pytest.mark.parametrize("scheme", [None, "", "plain", "sha1", "ARGON2ID"])
def test_unknown_schemes_never_match(hashes: dict[str, str], scheme: str | None) -> None:
    assert not passwords.verify(PASSWORD, hashes["md5"], scheme)
    assert not passwords.verify(PASSWORD, PASSWORD, scheme)


def test_a_missing_hash_never_matches() -> None:
    assert not passwords.verify(PASSWORD, None, "md5")
    assert not passwords.verify("", None, None)


def test_a_hash_given_under_the_wrong_scheme_never_matches(hashes: dict[str, str]) -> None:
    assert not passwords.verify(PASSWORD, hashes["md5"], "sha256_salted")
    assert not passwords.verify(PASSWORD, hashes["bcrypt"], "argon2id")
    assert not passwords.verify(PASSWORD, hashes["argon2id"], "bcrypt")


def test_new_hashes_are_argon2id_and_need_no_rehash() -> None:
    encoded = passwords.hash_password(PASSWORD)
    assert encoded.startswith("$argon2id$")
    assert passwords.verify(PASSWORD, encoded, "argon2id")
    assert not passwords.needs_rehash("argon2id", encoded)


def test_weaker_schemes_and_outdated_argon2_parameters_need_a_rehash(hashes: dict[str, str]) -> None:
    for scheme in ("bcrypt", "sha256_salted", "md5"):
        assert passwords.needs_rehash(scheme, hashes[scheme])
    outdated = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1).hash(PASSWORD)
    assert passwords.verify(PASSWORD, outdated, "argon2id")
    assert passwords.needs_rehash("argon2id", outdated)


@pytest.mark.parametrize(("scheme", "encoded"), [(None, None), ("argon2id", None), ("argon2id", "garbage")])
def test_anything_unreadable_needs_a_rehash(scheme: str | None, encoded: str | None) -> None:
    assert passwords.needs_rehash(scheme, encoded)


@pytest.mark.parametrize("password", [PASSWORD, "", "\x00", "a" * 100_000, "\udcff"])
def test_the_dummy_verification_accepts_anything_and_returns_nothing(password: str) -> None:
    assert passwords.verify_dummy(password) is None
