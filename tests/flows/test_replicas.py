"""Two real broker processes on one PostgreSQL (`broker serve`, one of them with `--workers 2`), as two
replicas behind a load balancer: whatever one did, the other sees at once, because it lives in the database
(and a key rotation is announced to every process by NOTIFY)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from broker.admin import clients
from broker.app import build_registry, close_registry
from broker.settings import Settings
from mock_vneid.app import create_app as create_mock_vneid
from mock_vneid.settings import MockSettings
from tests.conftest import DEMO_PASSWORD
from tests.support.browser import Browser, RelyingParty, redeem, verified_id_token
from tests.support.databases import PostgresDatabases
from tests.support.servers import LiveServer, free_port

BROKER = str(Path(sys.executable).parent / "broker")
AN = "001085012345"


class Replicas:
    def __init__(self, database_url: str, vneid_url: str, issuer: str, ports: list[int]) -> None:
        self.database_url, self.issuer, self.ports = database_url, issuer, ports
        self.environment = {
            **{key: value for key, value in os.environ.items() if not key.startswith("BROKER_")},
            "BROKER_DATABASE_URL": database_url,
            "BROKER_ISSUER": issuer,
            "BROKER_VNEID_ISSUER": vneid_url,
            "BROKER_VNEID_JWKS_MIN_REFETCH_SECONDS": "0",
            # An hour: a key that reaches the other replica within seconds was not picked up by reloading.
            "BROKER_KEY_RELOAD_SECONDS": "3600",
            "BROKER_LOG_LEVEL": "WARNING",
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def start(self) -> None:
        for index, port in enumerate(self.ports):
            argv = [BROKER, "serve", "--port", str(port)]
            environment = self.environment
            if index == 1:
                # Two workers share their metrics through files of their own replica (multiprocess mode).
                argv += ["--workers", "2"]
                metrics_dir = tempfile.mkdtemp(prefix="broker-replica-metrics-")
                environment = {**environment, "PROMETHEUS_MULTIPROC_DIR": metrics_dir}
            self.processes.append(subprocess.Popen(argv, env=environment))
        for url, process in zip(self.urls, self.processes, strict=True):
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, f"broker on {url} exited"
                try:
                    if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, f"broker on {url} did not start"
                time.sleep(0.2)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()

    def cli(self, *args: str) -> object:
        result = subprocess.run(
            [BROKER, *args], env=self.environment, capture_output=True, text=True, check=True
        )
        return json.loads(result.stdout)


@pytest.fixture
def replicas(postgresql_databases: PostgresDatabases, tmp_path: Path) -> Iterator[Replicas]:
    database_url = postgresql_databases.fresh()
    ports = [free_port(), free_port()]
    issuer = f"http://127.0.0.1:{ports[0]}"
    vneid_port = free_port()
    vneid_url = f"http://127.0.0.1:{vneid_port}"
    mock = MockSettings(
        issuer=vneid_url,
        key_file=tmp_path / "vneid" / "signing_key.pem",
        redirect_uris=[f"{issuer}/login/vneid/callback"],
    )
    vneid = LiveServer(create_mock_vneid(mock), vneid_port).start()
    replicas = Replicas(database_url, vneid_url, issuer, ports)
    try:
        replicas.start()
        yield replicas
    finally:
        replicas.stop()
        vneid.stop()


async def _register(replicas: Replicas) -> RelyingParty:
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
    settings = Settings(database_url=replicas.database_url, issuer=replicas.issuer)
    registry = build_registry(settings)
    try:
        created = await clients.create(registry, name="TTHC", redirect_uris=[redirect_uri])
    finally:
        await close_registry(registry)
    return RelyingParty(created.client_id, created.client_secret or "", redirect_uri)


async def test_a_code_issued_by_one_replica_is_redeemed_at_the_other_and_the_session_is_seen_by_both(
    replicas: Replicas, http: httpx.AsyncClient, browser: Browser
) -> None:
    first, second = replicas.urls
    rp = await _register(replicas)

    attempt, back = await browser.log_in(first, rp, AN, DEMO_PASSWORD)
    response = await redeem(http, second, rp, back.query["code"], attempt.verifier)
    assert response.status_code == 200, response.text
    jwks = (await http.get(f"{second}/jwks")).json()
    claims = verified_id_token(response.json()["id_token"], jwks, replicas.issuer, rp.client_id)
    assert claims["identification_number"] == AN

    # The same browser at the other replica: single sign-on, straight back to the RP with a code.
    again = browser.attempt(rp)
    answer = await browser.authorize(second, again)
    assert answer.status_code == 303
    location = httpx.URL(answer.headers["location"])
    assert str(location).startswith(rp.redirect_uri), location
    code = location.params["code"]
    tokens = await redeem(http, first, rp, code, again.verifier)
    assert tokens.status_code == 200, tokens.text
    sso_claims = verified_id_token(tokens.json()["id_token"], jwks, replicas.issuer, rp.client_id)
    assert sso_claims["sub"] == claims["sub"]
    assert sso_claims["sid"] == claims["sid"]

    # Single use across replicas too: the first replica refuses the code the second redeemed.
    replay = await redeem(http, first, rp, back.query["code"], attempt.verifier)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"


async def test_a_rotated_key_is_published_by_every_replica_at_once(
    replicas: Replicas, http: httpx.AsyncClient
) -> None:
    before = [{key["kid"] for key in (await http.get(f"{url}/jwks")).json()["keys"]} for url in replicas.urls]
    assert before[0] == before[1]

    added = replicas.cli("keys", "rotate")
    assert isinstance(added, list)
    new = {str(key["kid"]) for key in added}
    assert new and not new & before[0]

    # Every process: a new connection per request, so the second replica's two workers both answer.
    deadline = time.monotonic() + 10
    for url in replicas.urls:
        for _ in range(8):
            while True:
                async with httpx.AsyncClient() as fresh:
                    published = {key["kid"] for key in (await fresh.get(f"{url}/jwks")).json()["keys"]}
                if new <= published:
                    break
                assert time.monotonic() < deadline, f"{url} still publishes only {published}"
                await asyncio.sleep(0.1)
            assert before[0] <= published  # the old keys stay, for tokens they signed
