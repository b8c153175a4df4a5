import pytest

from broker.errors import InvalidAuthorizationRequest, InvalidRequest, InvalidScope, UnsupportedResponseType
from broker.oidc import authorize, pkce

CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"  # RFC 7636 appendix B
VALID = [
    ("response_type", "code"),
    ("client_id", "rp-1"),
    ("redirect_uri", "https://rp.example.vn/cb"),
    ("scope", "openid profile"),
    ("state", "s"),
    ("code_challenge", CHALLENGE),
    ("code_challenge_method", "S256"),
]


def _without(name: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in VALID if k != name]


def _with(name: str, value: str) -> list[tuple[str, str]]:
    return [*_without(name), (name, value)]


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://rp.example.vn/cb/",
        "https://RP.example.vn/cb",
        "https://rp.example.vn/CB",
        "https://rp.example.vn/cb?x=1",
        "https://rp.example.vn/cb/../cb",
        "https://rp.example.vn/cb#f",
        "https://rp.example.vn@evil.example/cb",
        "https://rp.example.vn/cb/..;/x",
    ],
)
def test_redirect_uri_matches_byte_for_byte_only(redirect_uri: str) -> None:
    with pytest.raises(InvalidAuthorizationRequest) as raised:
        authorize.trusted_redirect_uri(_with("redirect_uri", redirect_uri), ["https://rp.example.vn/cb"])
    assert raised.value.reason == "redirect_uri_mismatch"


def test_unknown_client_is_a_page_not_a_redirect() -> None:
    with pytest.raises(InvalidAuthorizationRequest):
        authorize.trusted_redirect_uri(VALID, None)


def test_a_valid_request_parses() -> None:
    request = authorize.parse(VALID, "rp-1", "https://rp.example.vn/cb")
    assert request.scope == "openid profile"
    assert request.code_challenge == CHALLENGE


@pytest.mark.parametrize(
    ("query", "error"),
    [
        (_without("response_type"), InvalidRequest),
        (_with("response_type", "token"), UnsupportedResponseType),
        (_with("scope", "profile"), InvalidScope),
        (_without("code_challenge"), InvalidRequest),
        (_with("code_challenge_method", "plain"), InvalidRequest),
        (_with("code_challenge", "a" * 42), InvalidRequest),
        (_with("code_challenge", "a" * 129), InvalidRequest),
        (_with("code_challenge", "a" * 42 + "!"), InvalidRequest),
        ([*VALID, ("state", "again")], InvalidRequest),
        (_with("prompt", "none login"), InvalidRequest),
        (_with("max_age", "-1"), InvalidRequest),
    ],
)
def test_bad_requests_raise_the_wire_error(query: list[tuple[str, str]], error: type[Exception]) -> None:
    with pytest.raises(error):
        authorize.parse(query, "rp-1", "https://rp.example.vn/cb")


def test_response_url_keeps_the_redirect_uris_own_query() -> None:
    url = authorize.response_url("https://rp.example.vn/cb?tenant=a", {"code": "c", "state": None})
    assert url == "https://rp.example.vn/cb?tenant=a&code=c"


def test_pkce_s256_rfc7636_appendix_b() -> None:
    assert pkce.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", CHALLENGE)
    assert not pkce.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj", CHALLENGE)
    assert not pkce.verify("short", CHALLENGE)
