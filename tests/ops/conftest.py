"""Fixtures for operations tests: the broker as `broker serve` in its own process beside mock VNeID."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from broker.settings import Settings
from mock_vneid.app import create_app as create_mock_vneid
from mock_vneid.settings import MockSettings
from tests.conftest import Stack
from tests.support.processes import BrokerProcess, broker_environment
from tests.support.servers import LiveServer, free_port

ProcessStackFactory = Callable[..., Stack]


@pytest.fixture
def make_process_stack(tmp_path: Path, database_url: str) -> Iterator[ProcessStackFactory]:
    """Mock VNeID on loopback and `broker serve` as a separate process (JSON logs, captured)."""
    started: list[Any] = []

    def make(log_level: str = "DEBUG", **environment: str) -> Stack:
        vneid_port, broker_port = free_port(), free_port()
        vneid_url, broker_url = f"http://127.0.0.1:{vneid_port}", f"http://127.0.0.1:{broker_port}"
        vneid_settings = MockSettings(
            issuer=vneid_url,
            key_file=tmp_path / "vneid" / "signing_key.pem",
            redirect_uris=[f"{broker_url}/login/vneid/callback"],
            test_controls=True,
        )
        settings = Settings(
            database_url=database_url,
            issuer=broker_url,
            vneid_issuer=vneid_url,
            vneid_jwks_min_refetch_seconds=0,
        )
        vneid = LiveServer(create_mock_vneid(vneid_settings), vneid_port).start()
        started.append(vneid)
        env = broker_environment(
            settings, BROKER_LOG_FORMAT="json", BROKER_LOG_LEVEL=log_level, **environment
        )
        broker = BrokerProcess(env, tmp_path / f"broker-{broker_port}.log", broker_port)
        started.append(broker)
        broker.wait_ready()
        return Stack(vneid, broker, settings, vneid_settings)  # type: ignore[arg-type]

    yield make
    for server in reversed(started):
        server.stop()
