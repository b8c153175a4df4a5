"""What one broker replica costs, for sizing deploy/kubernetes (resource requests) and PostgreSQL
(docs/operations.md): database round trips per VNeID login (every statement, BEGIN and COMMIT, as the broker
counts them with ``BROKER_BENCH_COUNT_ROUND_TRIPS``: its ``X-DB-Round-Trips`` answers, those sent by asyncpg
directly included), and the resident memory and CPU time of a `broker serve` process after N logins.

    .venv/bin/python bench/bench_footprint.py [--logins 50]

Needs PostgreSQL at 127.0.0.1:5432 (database operations_bench_* is created and dropped); servers use
ports 19400-19499.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from broker.app import create_app
from broker.cli import upgrade_database
from broker.settings import Settings
from mock_vneid.app import create_app as create_mock_vneid
from mock_vneid.settings import MockSettings
from tests.conftest import DEMO_PASSWORD, Stack
from tests.support.browser import Browser, redeem
from tests.support.processes import BrokerProcess, broker_environment
from tests.support.servers import LiveServer

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
CITIZENS = ["001085012345", "001190023456", "038303004567"]


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(ADMIN)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _logins(stack: Stack, count: int, trips: list[int] | None = None) -> float:
    """``trips``: where to add each broker answer's round trips (when the broker counts them)."""

    async def counted(response: httpx.Response) -> None:
        if trips is not None:
            trips.append(int(response.headers.get("x-db-round-trips", 0)))

    rp = await stack.register_client()
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=30, event_hooks={"response": [counted]}) as http:
        for index in range(count):
            person = Browser()
            person.http.event_hooks["response"].append(counted)
            attempt, back = await person.log_in(stack.broker_url, rp, CITIZENS[index % 3], DEMO_PASSWORD)
            response = await redeem(http, stack.broker_url, rp, back.query["code"], attempt.verifier)
            assert response.status_code == 200, response.text
            await person.close()
    return time.perf_counter() - started


def _status(pid: int) -> dict[str, int]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    ticks = os.sysconf("SC_CLK_TCK")
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return {
        "rss_mib": int(fields["VmRSS"].split()[0]) // 1024,
        "hwm_mib": int(fields["VmHWM"].split()[0]) // 1024,
        "cpu_ms": (int(stat[11]) + int(stat[12])) * 1000 // ticks,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logins", type=int, default=50)
    count = parser.parse_args().logins
    name = f"operations_bench_{os.getpid()}"
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    work = Path(tempfile.mkdtemp(prefix="operations-bench-"))
    servers: list[object] = []
    try:
        upgrade_database(Settings(database_url=url))
        vneid_url, broker_url = "http://127.0.0.1:19401", "http://127.0.0.1:19402"
        vneid_settings = MockSettings(
            issuer=vneid_url,
            key_file=work / "vneid.pem",
            redirect_uris=[
                f"{broker_url}/login/vneid/callback",
                "http://127.0.0.1:19403/login/vneid/callback",
            ],
        )
        vneid = LiveServer(create_mock_vneid(vneid_settings), 19401).start()
        servers.append(vneid)

        # 1. Database round trips per login, as the broker counts them (mock VNeID's answers carry none).
        settings = Settings(
            database_url=url, issuer=broker_url, vneid_issuer=vneid_url, bench_count_round_trips=True
        )
        broker = LiveServer(create_app(settings), 19402).start()
        servers.append(broker)
        stack = Stack(vneid, broker, settings, vneid_settings)
        asyncio.run(_logins(stack, 3))  # warm-up: accounts created, keys and metadata cached
        trips: list[int] = []
        elapsed = asyncio.run(_logins(stack, count, trips))
        print(f"logins (VNeID, code redeemed): {count} in {elapsed:.1f} s in-process")
        print(f"database round trips per login (statements, BEGIN, COMMIT): {sum(trips) / count:.1f}")

        # 2. One `broker serve` process: memory and CPU after the same logins.
        process_settings = Settings(database_url=url, issuer="http://127.0.0.1:19403", vneid_issuer=vneid_url)
        env = broker_environment(process_settings, BROKER_LOG_LEVEL="WARNING")
        served = BrokerProcess(env, work / "broker.log", 19403).wait_ready()
        servers.append(served)
        idle = _status(served.process.pid)
        stack = Stack(vneid, served, process_settings, vneid_settings)  # type: ignore[arg-type]
        elapsed = asyncio.run(_logins(stack, count))
        busy = _status(served.process.pid)
        print(f"broker serve at start: RSS {idle['rss_mib']} MiB")
        print(
            f"broker serve after {count} logins: RSS {busy['rss_mib']} MiB (peak {busy['hwm_mib']} MiB), "
            f"CPU {(busy['cpu_ms'] - idle['cpu_ms']) / count:.0f} ms per login, {count / elapsed:.1f} logins/s "
            "(one client, sequential, the mock VNeID sharing the 2 cores)"
        )
    finally:
        for server in reversed(servers):
            server.stop()  # type: ignore[attr-defined]
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main()
