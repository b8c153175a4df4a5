"""Fixtures: fresh databases (SQLite and PostgreSQL), real servers on loopback, a scripted browser."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from broker.admin import clients
from broker.app import build_registry, close_registry, create_app
from broker.clock import Clock
from broker.outbound import tls
from broker.settings import Settings
from broker.store.database import Database
from mock_vneid import keys as mock_keys
from mock_vneid.app import create_app as create_mock_vneid
from mock_vneid.settings import MockSettings
from tests.support.browser import Browser, RelyingParty
from tests.support.databases import POSTGRES_URL, PostgresDatabases, SqliteDatabases
from tests.support.servers import LiveServer, free_port, stop_all

DEMO_PASSWORD = "Vneid@2024"


@pytest.fixture(scope="session")
def sqlite_databases(tmp_path_factory: pytest.TempPathFactory) -> SqliteDatabases:
    databases = SqliteDatabases(tmp_path_factory.mktemp("sqlite"))
    databases.make_template()
    return databases


@pytest.fixture(scope="session")
def postgresql_databases() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(POSTGRES_URL)
    databases.reachable_or_skip()
    databases.make_template()
    yield databases
    databases.drop_all()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A freshly migrated, empty database of each kind: tests using it run on both."""
    databases = request.getfixturevalue(f"{request.param}_databases")
    url = databases.fresh()
    yield url
    if isinstance(databases, PostgresDatabases):
        databases.drop(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A new database of each kind with no schema at all, for migration tests."""
    databases = request.getfixturevalue(f"{request.param}_databases")
    url = databases.fresh(migrated=False)
    yield url
    if isinstance(databases, PostgresDatabases):
        databases.drop(url)


@dataclass
class Stack:
    """Mock VNeID and the broker, running on loopback, sharing one database URL and clock."""

    vneid: LiveServer
    broker: LiveServer
    settings: Settings
    vneid_settings: MockSettings

    @property
    def broker_url(self) -> str:
        return self.broker.url

    @property
    def vneid_url(self) -> str:
        return self.vneid.url

    async def register_client(
        self, name: str = "Hệ thống TTHC tỉnh", redirect_uris: list[str] | None = None, **metadata: Any
    ) -> RelyingParty:
        """Registers an RP as an operator would (`broker clients create`); metadata as in OIDC Registration."""
        redirect_uris = redirect_uris or [f"http://127.0.0.1:{free_port()}/callback"]
        registry = build_registry(self.settings)
        try:
            created = await clients.create(registry, name=name, redirect_uris=redirect_uris, **metadata)
        finally:
            await close_registry(registry)
        return RelyingParty(created.client_id, created.client_secret or "", redirect_uris[0])

    @asynccontextmanager
    async def database(self) -> AsyncIterator[Database]:
        """The broker's database, for asserting what a change left behind."""
        database = Database(self.settings.database_url)
        try:
            yield database
        finally:
            await database.dispose()

    async def import_legacy(self, csv_text: str) -> None:
        """Loads legacy accounts exactly as `broker legacy import` does."""
        from broker.admin.legacy_import import import_legacy_csv

        registry = build_registry(self.settings)
        try:
            report = await import_legacy_csv(registry, io.StringIO(csv_text))
            assert not report.errors, report.errors
        finally:
            await registry.vneid.aclose()
            await registry.db.dispose()

    async def vneid_faults(self, **faults: Any) -> None:
        async with httpx.AsyncClient() as http:
            response = await http.post(f"{self.vneid_url}/_test/faults", json=faults)
            response.raise_for_status()


StackFactory = Callable[..., Stack]


@pytest.fixture(scope="session")
def vneid_key_pem(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """One mock VNeID signing key for the session's stacks: an RSA key takes 50-200 ms to generate."""
    return mock_keys.load_or_create(tmp_path_factory.mktemp("vneid-key") / "signing_key.pem").private_pem()


@pytest.fixture
def make_stack(tmp_path: Path, database_url: str, vneid_key_pem: bytes) -> Iterator[StackFactory]:
    started: list[LiveServer] = []
    key_file = tmp_path / "vneid" / "signing_key.pem"
    key_file.parent.mkdir(exist_ok=True)
    key_file.write_bytes(vneid_key_pem)
    key_file.chmod(0o600)

    def make(clock: Clock | None = None, citizens_file: Path | None = None, **broker_overrides: Any) -> Stack:
        vneid_port, broker_port = free_port(), free_port()
        vneid_url, broker_url = f"http://127.0.0.1:{vneid_port}", f"http://127.0.0.1:{broker_port}"
        vneid_settings = MockSettings(
            issuer=vneid_url,
            key_file=key_file,
            redirect_uris=[f"{broker_url}/login/vneid/callback"],
            test_controls=True,
            **({"citizens_file": citizens_file} if citizens_file is not None else {}),
        )
        settings = Settings(
            database_url=database_url,
            issuer=broker_url,
            vneid_issuer=vneid_url,
            vneid_jwks_min_refetch_seconds=0,
            **broker_overrides,
        )
        vneid = LiveServer(create_mock_vneid(vneid_settings, clock), vneid_port).start()
        started.append(vneid)
        broker = LiveServer(create_app(settings, clock), broker_port).start()
        started.append(broker)
        return Stack(vneid, broker, settings, vneid_settings)

    yield make
    stop_all(reversed(started))


@pytest.fixture
def stack(make_stack: StackFactory) -> Stack:
    return make_stack()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    person = Browser()
    yield person
    await person.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30, verify=tls.client_context()) as client:
        yield client


@pytest.fixture
async def rp(stack: Stack) -> RelyingParty:
    return await stack.register_client()
