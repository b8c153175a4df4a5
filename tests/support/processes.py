"""The broker as operators run it: `broker serve` in a process of its own, its log captured to a file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from broker.settings import Settings
from tests.support.servers import free_port

BROKER = str(Path(sys.executable).with_name("broker"))


def broker_environment(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that makes `broker` see ``settings`` (only the fields tests set)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("BROKER_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        BROKER_DATABASE_URL=settings.database_url,
        BROKER_ISSUER=settings.issuer,
        BROKER_VNEID_ISSUER=settings.vneid_issuer,
        BROKER_VNEID_JWKS_MIN_REFETCH_SECONDS=str(settings.vneid_jwks_min_refetch_seconds),
        BROKER_SECRET_KEY=settings.secret_key,
    )
    env.update(extra)
    return env


class BrokerProcess:
    """`broker serve` on a free port; ``log`` is everything it wrote to stderr and stdout."""

    def __init__(self, env: dict[str, str], log_file: Path, port: int | None = None, *args: str) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_file = log_file
        self._out = log_file.open("wb")
        self.process = subprocess.Popen(
            [BROKER, "serve", "--port", str(self.port), *args],
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> BrokerProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"broker exited {self.process.returncode}: {self.log[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"broker did not start: {self.log[-3000:]}")

    @property
    def log(self) -> str:
        if not self._out.closed:
            self._out.flush()
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._out.close()
