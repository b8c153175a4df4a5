"""Real uvicorn servers on loopback, each in a thread with its own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import uvicorn

# Ports for test servers come from below Linux's ephemeral range (32768-60999 here), a block of its own
# for each pytest-xdist worker: a port probed free cannot be taken before its server binds it, neither by
# another worker's probe nor as the source port of an outgoing connection. The benchmarks keep to
# 18000-19999 and 4000, so tests can run beside them.
_FIRST_PORT = 20_000
_BLOCK = 3_000
_WORKERS = 4


def _worker_ports() -> Iterator[int]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    start = _FIRST_PORT + (int(worker or 0) % _WORKERS) * _BLOCK
    return itertools.cycle(range(start, start + _BLOCK))


_ports = _worker_ports()
_ports_lock = threading.Lock()


def free_port() -> int:
    """A loopback port nothing listens on, different from the ones handed out just before."""
    with _ports_lock:
        for _ in range(_BLOCK):
            port = next(_ports)
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port left in this worker's block")


class _StoppableServer(uvicorn.Server):
    """uvicorn's server, told to exit by an event rather than noticing a flag at its next 0.1 s tick:
    tests start and stop two or three servers each, a thousand times a run."""

    _wake: asyncio.Event
    _loop: asyncio.AbstractEventLoop

    async def main_loop(self) -> None:
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()  # after the event: request_exit takes a loop to mean both
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864_000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)
            should_exit = await self.on_tick(counter)

    def request_exit(self) -> None:
        self.should_exit = True
        loop = getattr(self, "_loop", None)
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed already
                loop.call_soon_threadsafe(self._wake.set)


class LiveServer:
    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # As `broker serve`: the app alone decides whom to trust for X-Forwarded-For.
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on", proxy_headers=False
        )
        self._server = _StoppableServer(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"server on {self.url} died during start-up")
            if time.monotonic() > deadline:
                raise TimeoutError(f"server on {self.url} did not start")
            time.sleep(0.005)
        return self

    def request_stop(self) -> None:
        self._server.request_exit()

    def join(self) -> None:
        self._thread.join(timeout=10)

    def stop(self) -> None:
        stop_all([self])


def stop_all(servers: Iterable[LiveServer]) -> None:
    """Stops the servers together: each waits for its connections and runs its shutdown meanwhile."""
    servers = list(servers)
    for server in servers:
        server.request_stop()
    for server in servers:
        server.join()
