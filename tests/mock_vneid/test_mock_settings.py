"""Settings: MOCK_VNEID_* variables, the documented defaults, nothing built at import time."""

from __future__ import annotations

from pathlib import Path

import pytest

from mock_vneid.settings import MockSettings, packaged_citizens_file


def test_defaults() -> None:
    settings = MockSettings()

    assert settings.issuer == "http://127.0.0.1:9000"
    assert (settings.host, settings.port) == ("127.0.0.1", 9000)
    assert settings.citizens_file == packaged_citizens_file()
    assert settings.key_file == Path("var/mock_vneid/signing_key.pem")
    assert (settings.client_id, settings.client_secret) == ("broker-dev", "broker-dev-secret")
    assert settings.redirect_uris == ["http://127.0.0.1:8000/login/vneid/callback"]
    assert settings.subject_secret
    assert (settings.code_ttl_seconds, settings.access_token_ttl_seconds, settings.id_token_ttl_seconds) == (
        60,
        300,
        300,
    )
    assert settings.test_controls is False


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOCK_VNEID_ISSUER", "https://vneid.mock.example/")
    monkeypatch.setenv("MOCK_VNEID_REDIRECT_URIS", '["https://a.example/cb", "https://b.example/cb"]')
    monkeypatch.setenv("MOCK_VNEID_TEST_CONTROLS", "true")
    monkeypatch.setenv("MOCK_VNEID_CLIENT_SECRET", "s")

    settings = MockSettings()

    assert settings.issuer == "https://vneid.mock.example"  # no trailing slash: "iss" must match exactly
    assert settings.redirect_uris == ["https://a.example/cb", "https://b.example/cb"]
    assert settings.test_controls is True
    assert settings.client_secret == "s"


@pytest.mark.parametrize(
    ("host", "port", "issuer"),
    [("127.0.0.1", 9100, "http://127.0.0.1:9100"), ("0.0.0.0", 9000, "http://127.0.0.1:9000")],
)
def test_issuer_follows_the_listener_unless_set(host: str, port: int, issuer: str) -> None:
    assert MockSettings(host=host, port=port).issuer == issuer
    assert MockSettings(host=host, port=port, issuer="http://x.example").issuer == "http://x.example"


def test_nothing_is_built_at_import_time() -> None:
    import mock_vneid.app

    assert not hasattr(mock_vneid.app, "app")
