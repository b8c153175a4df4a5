"""Fixtures for the mock VNeID tests: a fixed clock, an app per test, a client, a browser-like login."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mock_vneid.app import create_app
from mock_vneid.settings import MockSettings, packaged_citizens_file
from tests.mock_vneid.vneid_kit import (
    CLIENT_ID,
    CLIENT_SECRET,
    ISSUER,
    REDIRECT_URI,
    FakeClock,
    Login,
    asgi_client,
    login_with,
)


@pytest.fixture(autouse=True)
def no_mock_vneid_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's MOCK_VNEID_* variables must not change what these tests see."""
    for name in [n for n in os.environ if n.startswith("MOCK_VNEID_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path) -> MockSettings:
    return MockSettings(
        issuer=ISSUER,
        citizens_file=packaged_citizens_file(),
        key_file=tmp_path / "keys" / "signing_key.pem",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=[REDIRECT_URI],
        test_controls=True,
    )


@pytest.fixture
def make_app(settings: MockSettings, clock: FakeClock) -> Callable[..., FastAPI]:
    """An app on the test settings, with some of them changed."""

    def make(**overrides: Any) -> FastAPI:
        return create_app(settings.model_copy(update=overrides), clock)

    return make


@pytest.fixture
def app(make_app: Callable[..., FastAPI]) -> FastAPI:
    return make_app()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as http:
        yield http


@pytest.fixture
def login(client: httpx.AsyncClient) -> Login:
    return login_with(client)
