"""Issue 8, items 1 and 3: the legacy password form under load, and the time each refusal takes.

    .venv/bin/python bench/hardening_passwords.py load   [--rate 20] [--seconds 15] [--port 19001]
    .venv/bin/python bench/hardening_passwords.py timing [--samples 50] [--port 19002]

Both start a real broker (uvicorn, its own process) on a new PostgreSQL database (BROKER_TEST_POSTGRES_URL,
default postgresql://postgres@127.0.0.1:5432/test), dropped afterwards. To measure the code before a change,
run the same script with PYTHONPATH pointing at an export of the older tree (see bench/README.md).

``load``: password logins (correct passwords, Argon2id accounts as the app rehashes them) arrive at
``--rate`` per second, open loop, while ``/healthz`` is polled 20 times a second and the token endpoint
10 times a second (an authenticated client redeeming an unknown code: client authentication and one
database read). Prints p50/p99 of each, first with no logins (baseline), then under the login load.

``timing``: every refusal path of the form, interleaved, ``--samples`` times each: a wrong password for a
known bcrypt (cost 12), MD5 and salted SHA-256 account, an unknown username, a locked username and a
citizen refused by the cut-off (right password). Prints the median of each and the spread between the
slowest and the fastest median. Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import csv
import hashlib
import http.client
import io
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import bcrypt
import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from broker.admin import clients
from broker.admin.legacy_import import import_legacy_csv
from broker.app import build_registry, close_registry
from broker.cli import upgrade_database
from broker.domain import passwords
from broker.settings import Settings

POSTGRES = os.environ.get("BROKER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
HEADER = (
    "source_system,legacy_id,username,account_type,full_name,birth_date,gender,cmnd,cccd,org_name,"
    "tax_code,email,phone,unit_code,password_hash,hash_scheme,created_at"
).split(",")
PASSWORD = "Bench@2024"


def _database_url(name: str) -> str:
    parts = urlsplit(POSTGRES)
    return urlunsplit(("postgresql+asyncpg", parts.netloc, f"/{name}", "", ""))


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(POSTGRES)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER)
    writer.writeheader()
    for item in rows:
        writer.writerow({name: item.get(name, "") for name in HEADER})
    return out.getvalue()


@asynccontextmanager
async def running_broker(port: int, rows: list[dict[str, str]], **env: str):  # type: ignore[no-untyped-def]
    """A migrated database with ``rows`` imported and one client, and the broker serving it on ``port``."""
    name = f"hardening_bench_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = _database_url(name)
    issuer = f"http://127.0.0.1:{port}"
    settings = Settings(database_url=url, issuer=issuer)
    await asyncio.to_thread(upgrade_database, settings)
    registry = build_registry(settings)
    try:
        report = await import_legacy_csv(registry, io.StringIO(_csv(rows)))
        assert not report.errors, report.errors
        client = await clients.create(registry, name="bench", redirect_uris=["http://127.0.0.1:19099/cb"])
    finally:
        await close_registry(registry)
    environment = {
        **os.environ,
        "BROKER_DATABASE_URL": url,
        "BROKER_ISSUER": issuer,
        "BROKER_BACKCHANNEL_WORKER": "false",
        **env,
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "broker.app:create_app_from_environment"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"]
    command += os.environ.get("HARDENING_BENCH_UVICORN_ARGS", "").split()
    server = subprocess.Popen(command, env=environment)  # noqa: ASYNC220
    try:
        async with httpx.AsyncClient(timeout=60) as http:
            for _ in range(200):
                try:
                    if (await http.get(f"{issuer}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        yield issuer, client
    finally:
        server.terminate()
        server.wait(timeout=20)
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _login_form(http: httpx.AsyncClient, issuer: str, client: Any) -> dict[str, str]:
    """Opens a login flow as a relying party's redirect would; returns the password form's fields."""
    verifier = "v" * 64
    response = await http.get(
        f"{issuer}/authorize",
        params={
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": "http://127.0.0.1:19099/cb",
            "scope": "openid",
            "state": uuid.uuid4().hex,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        },
    )
    # The login page is /authorize's answer: the flow id is in its forms' hidden input.
    flow = re.search(r'name="flow" value="([^"]+)"', response.text)
    if flow is None:
        raise RuntimeError(f"no login page: {response.status_code}")
    return {"flow": flow.group(1)}


async def _probe(issuer: str, client: Any, seconds: float) -> list[list[float]]:
    """/healthz (20/s) and the token endpoint (10/s) timed from a process of their own, so that the load
    generator's own event loop never adds to the figures."""
    command = [sys.executable, __file__, "probe", "--issuer", issuer, "--seconds", str(seconds)]
    command += ["--client-id", client.client_id, "--client-secret", client.client_secret or ""]
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    output, _ = await process.communicate()
    figures = json.loads(output)
    return [figures["healthz"], figures["token"]]


def probe(issuer: str, client_id: str, client_secret: str, seconds: float) -> None:
    """Two threads, each one request at a time on a kept-alive connection, paced (open loop)."""
    address = urlsplit(issuer)
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    body = "grant_type=authorization_code&code=unknown&redirect_uri=http%3A%2F%2F127.0.0.1%3A19099%2Fcb"
    results: dict[str, list[float]] = {"healthz": [], "token": []}

    def run(
        name: str, rate: float, method: str, path: str, payload: str | None, headers: dict[str, str]
    ) -> None:
        connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=120)
        start = time.monotonic()
        for n in range(int(rate * seconds)):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            began = time.monotonic()
            connection.request(method, path, body=payload, headers=headers)
            connection.getresponse().read()
            results[name].append((time.monotonic() - began) * 1000)

    form = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {basic}"}
    threads = [
        threading.Thread(target=run, args=("healthz", 20, "GET", "/healthz", None, {})),
        threading.Thread(target=run, args=("token", 10, "POST", "/token", body, form)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(results))


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


async def _paced(
    rate: float, seconds: float, action: Callable[[], Coroutine[Any, Any, float | None]]
) -> list[float]:
    """Starts ``action`` ``rate`` times a second (open loop: a slow answer does not slow the arrivals)."""
    tasks: list[asyncio.Task[float | None]] = []
    start = time.monotonic()
    for n in range(int(rate * seconds)):
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(action()))
    return [value for value in await asyncio.gather(*tasks) if value is not None]


async def load(rate: float, seconds: float, port: int) -> None:
    argon2 = passwords.hash_password(PASSWORD)
    accounts = 200
    rows = [
        {
            "source_system": "bench",
            "legacy_id": f"org-{n}",
            "username": f"org-{n}@bench.vn",
            "account_type": "organisation",
            "org_name": f"Công ty {n}",
            "password_hash": argon2,
            "hash_scheme": "argon2id",
        }
        for n in range(accounts)
    ]
    env = {"BROKER_LOGIN_MAX_ATTEMPTS_PER_ADDRESS": "1000000"}
    async with running_broker(port, rows, **env) as (issuer, client):
        limits = httpx.Limits(max_connections=500, max_keepalive_connections=100)
        async with httpx.AsyncClient(timeout=120, limits=limits) as http:
            # One flow per login, opened before any login (after one, the SSO session would answer).
            planned = int(rate * seconds)
            forms = [await _login_form(http, issuer, client) for _ in range(planned)]

            outcomes: list[int] = []

            async def login() -> float | None:
                """Time to a successful login; shed (503) and failed answers are counted, not timed."""
                form = forms.pop()
                n = len(forms) % accounts
                began = time.monotonic()
                response = await http.post(
                    f"{issuer}/login/password",
                    data={**form, "username": f"org-{n}@bench.vn", "password": PASSWORD},
                )
                outcomes.append(response.status_code)
                return (time.monotonic() - began) * 1000 if response.status_code == 303 else None

            baseline = [*await _probe(issuer, client, 5), []]
            probe = asyncio.create_task(_probe(issuer, client, seconds))
            logins = await _paced(rate, seconds, login)
            loaded = [*await probe, logins]
    print(f"broker from {Path(passwords.__file__).parents[2]}")
    print(f"{rate:g} password logins/s for {seconds:g} s; /healthz 20/s; token endpoint 10/s\n")
    print("| phase | /healthz p50 | /healthz p99 | token p50 | token p99 | login p50 | login p99 |")
    print("|---|---|---|---|---|---|---|")
    for phase, figures in (("no logins", baseline), ("under login load", loaded)):
        cells = []
        for values in figures:
            cells += (
                [f"{_percentile(values, 0.5):.0f} ms", f"{_percentile(values, 0.99):.0f} ms"]
                if values
                else ["-", "-"]
            )
        print(f"| {phase} | " + " | ".join(cells) + " |")
    print(f"\nlogin answers: {sorted(set(outcomes))} ({outcomes.count(303)} of {len(outcomes)} logged in)")


async def timing(samples: int, port: int) -> None:
    bcrypt12 = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(12)).decode()
    md5 = hashlib.md5(PASSWORD.encode(), usedforsecurity=False).hexdigest()
    sha = f"s4lt${hashlib.sha256(('s4lt' + PASSWORD).encode()).hexdigest()}"

    def account(kind: str, n: int, password_hash: str, scheme: str, account_type: str) -> dict[str, str]:
        return {"source_system": "bench", "legacy_id": f"{kind}-{n}", "username": f"{kind}-{n}",
                "account_type": account_type, "password_hash": password_hash, "hash_scheme": scheme}  # fmt: skip

    rows = []
    for n in range(samples):
        rows += [
            account("bcrypt", n, bcrypt12, "bcrypt", "organisation"),
            account("md5", n, md5, "md5", "organisation"),
            account("sha", n, sha, "sha256_salted", "organisation"),
            account("citizen", n, md5, "md5", "citizen"),
        ]
    rows.append(account("locked", 0, md5, "md5", "organisation"))
    env = {
        "BROKER_LOGIN_MAX_ATTEMPTS_PER_ADDRESS": "1000000",
        "BROKER_LOGIN_BACKOFF_SECONDS": "3600",
        "BROKER_LOGIN_LOCKOUT_SECONDS": "3600",
    }
    paths: dict[str, Callable[[int], tuple[str, str]]] = {
        "known bcrypt (cost 12), wrong password": lambda n: (f"bcrypt-{n}", "wrong"),
        "known MD5, wrong password": lambda n: (f"md5-{n}", "wrong"),
        "known salted SHA-256, wrong password": lambda n: (f"sha-{n}", "wrong"),
        "unknown username": lambda n: (f"nobody-{n}", "wrong"),
        "locked username": lambda n: ("locked-0", "wrong"),
        "citizen refused by the cut-off (right password)": lambda n: (f"citizen-{n}", PASSWORD),
    }
    async with running_broker(port, rows, **env) as (issuer, client):
        async with httpx.AsyncClient(timeout=60) as http:
            for _ in range(6):  # lock "locked-0" before measuring
                form = await _login_form(http, issuer, client)
                await http.post(
                    f"{issuer}/login/password", data={**form, "username": "locked-0", "password": "x"}
                )
            times: dict[str, list[float]] = {name: [] for name in paths}
            for n in range(samples):
                for name, credentials in paths.items():
                    username, password = credentials(n)
                    form = await _login_form(http, issuer, client)
                    began = time.monotonic()
                    response = await http.post(
                        f"{issuer}/login/password", data={**form, "username": username, "password": password}
                    )
                    times[name].append((time.monotonic() - began) * 1000)
                    assert response.status_code == 200 and "location" not in response.headers, name
    print(f"broker from {Path(passwords.__file__).parents[2]}")
    print(f"{samples} refusals per path, interleaved, one at a time\n")
    print("| refusal path | median |")
    print("|---|---|")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        print(f"| {name} | {median:.0f} ms |")
    spread = (max(medians.values()) - min(medians.values())) / min(medians.values())
    print(f"\nslowest median / fastest median - 1: {spread:.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["load", "timing", "probe"])
    parser.add_argument("--issuer")
    parser.add_argument("--client-id")
    parser.add_argument("--client-secret")
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--port", type=int, default=None)
    arguments = parser.parse_args()
    if arguments.what == "probe":
        probe(arguments.issuer, arguments.client_id, arguments.client_secret, arguments.seconds)
    elif arguments.what == "load":
        asyncio.run(load(arguments.rate, arguments.seconds, arguments.port or 19001))
    else:
        asyncio.run(timing(arguments.samples, arguments.port or 19002))


if __name__ == "__main__":
    main()
