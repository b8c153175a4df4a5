import base64

import pytest

from broker.errors import InvalidClient, InvalidRequest
from broker.oidc import client_auth

KEY = b"k" * 32


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def test_basic_credentials_are_form_url_decoded() -> None:
    credentials = client_auth.credentials(_basic("rp%3A1", "a+b"), {})
    assert (credentials.client_id, credentials.secret, credentials.method) == (
        "rp:1",
        "a b",
        "client_secret_basic",
    )


def test_post_credentials() -> None:
    credentials = client_auth.credentials(None, {"client_id": "rp", "client_secret": "s"})
    assert credentials.method == "client_secret_post"


def test_secret_in_header_and_body_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        client_auth.credentials(_basic("rp", "s"), {"client_secret": "s"})


@pytest.mark.parametrize(
    "header", ["Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(), "Digest x"]
)
def test_malformed_headers_are_invalid_client(header: str) -> None:
    with pytest.raises(InvalidClient):
        client_auth.credentials(header, {})


def test_secrets_are_stored_as_keyed_hashes() -> None:
    stored = client_auth.hash_secret("secret", KEY)
    assert "secret" not in stored
    assert client_auth.secret_matches("secret", stored, KEY)
    assert not client_auth.secret_matches("secreT", stored, KEY)
    assert not client_auth.secret_matches("secret", None, KEY)
