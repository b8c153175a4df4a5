"""The broker's form encoding (``broker.form_encoding``) writes what ``urllib.parse.urlencode`` writes, for
values it passes through untouched, values it quotes and remembers, and values seen again; and a redirect
with response parameters (``authorize.response_url``) keeps the relying party's own query as before."""

from __future__ import annotations

import random
import string
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from broker.form_encoding import form_encoded
from broker.oidc.authorize import response_url

VALUES = [
    "",
    "abcXYZ019_.-~",
    "openid profile",
    "http://127.0.0.1:8000/login/vneid/callback",
    "https://rp.example/cb?x=1&y=a b",
    "a+b=c&d",
    "Nguyễn Văn An",
    "100%",
    "line\nbreak",
    "~tilde*star'quote(paren)",
    "/",
]


@pytest.mark.parametrize("value", VALUES)
def test_each_value_as_urlencode_writes_it(value: str) -> None:
    for _ in range(2):  # quoted, then remembered
        assert form_encoded({"k y": value, value or "empty": "v"}) == urlencode(
            {"k y": value, value or "empty": "v"}
        )


def test_random_values_as_urlencode_writes_them() -> None:
    alphabet = string.printable + "ăâđêôơưĂÂĐÊÔƠƯ€\u00a0"
    chooser = random.Random(7)
    for _ in range(2000):
        pairs = [
            (
                "".join(chooser.choices(alphabet, k=chooser.randint(0, 12))),
                "".join(chooser.choices(alphabet, k=chooser.randint(0, 40))),
            )
            for _ in range(chooser.randint(0, 4))
        ]
        assert form_encoded(pairs) == urlencode(pairs)


def test_values_not_text_as_urlencode_writes_them() -> None:
    pairs = [("n", 5), ("b", b"a b&"), ("t", True)]
    assert form_encoded(pairs) == urlencode(pairs)  # type: ignore[arg-type]


def _response_url_before(redirect_uri: str, params: dict[str, str | None]) -> str:
    """``response_url`` as it was written before its split and quoting were remembered."""
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.extend((name, value) for name, value in params.items() if value is not None)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://rp.example/cb",
        "https://rp.example/cb?",
        "https://rp.example/cb?tenant=a%20b&empty=",
        "https://rp.example:8443/a/b?x=1#frag",
        "com.example.app:/oauth2redirect",
    ],
)
@pytest.mark.parametrize(
    "params",
    [
        {"code": "abc", "state": "s t&u", "iss": "https://broker.example"},
        {"code": "abc", "state": None, "iss": "https://broker.example"},
        {"error": "access_denied", "error_description": "Người dùng từ chối", "state": None},
        {},
    ],
)
def test_a_response_url_is_the_one_written_before(redirect_uri: str, params: dict[str, str | None]) -> None:
    for _ in range(2):
        assert response_url(redirect_uri, params) == _response_url_before(redirect_uri, params)
