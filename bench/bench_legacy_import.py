"""How fast `broker legacy import` goes: 50,000 generated rows on SQLite and on PostgreSQL.

    .venv/bin/python bench/bench_legacy_import.py [--rows 50000] [--postgres postgresql://postgres@127.0.0.1:5432/test]

Three runs per database: the first import (every row created), the same file again (every row unchanged)
and a file with one row in ten changed. Prints rows per second; asserts nothing about time. PostgreSQL is
skipped when unreachable. Each run uses a new database, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import io
import os
import tempfile
import time
import uuid
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from broker.admin.legacy_csv import HEADER
from broker.admin.legacy_import import import_legacy_csv
from broker.app import build_registry
from broker.cli import upgrade_database
from broker.domain import passwords
from broker.settings import Settings

DEFAULT_POSTGRES = os.environ.get("BROKER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@cache
def _hashes() -> list[tuple[str, str]]:
    """One hash per scheme, reused: hashing 50,000 bcrypt or argon2 passwords would time the hashing."""
    import bcrypt

    password = "Matkhau@123"
    return [
        (hashlib.md5(password.encode(), usedforsecurity=False).hexdigest(), "md5"),
        (f"s4lt${hashlib.sha256(('s4lt' + password).encode()).hexdigest()}", "sha256_salted"),
        (bcrypt.hashpw(password.encode(), bcrypt.gensalt(10)).decode(), "bcrypt"),
        (passwords.hash_password(password), "argon2id"),
    ]


def generate(rows: int, changed_every: int = 0) -> str:
    hashes = _hashes()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for n in range(rows):
        kind = ("citizen", "citizen", "citizen", "organisation", "foreigner")[n % 5]
        password_hash, scheme = hashes[n % len(hashes)]
        name = f"Nguyễn Văn {n}" + (" (đổi)" if changed_every and n % changed_every == 0 else "")
        writer.writerow(
            [
                ("dvc-tinh", "motcua-huyen")[n % 2],
                f"L{n:07d}",
                f"user{n:07d}" if kind != "citizen" else f"{100000000 + n:09d}",
                kind,
                name,
                f"{1950 + n % 50}-{1 + n % 12:02d}-{1 + n % 28:02d}",
                ("male", "female", "")[n % 3],
                f"{100000000 + n:09d}" if kind == "citizen" else "",
                f"0010{(n % 50) + 50:02d}{n:06d}" if kind == "citizen" and n % 2 else "",
                f"Công ty {n}" if kind == "organisation" else "",
                f"{2900000000 + n}" if kind == "organisation" else "",
                f"user{n}@example.vn",
                f"09{n:08d}",
                f"{17380 + n % 20}",
                password_hash,
                scheme,
                "2020-01-02T08:30:00",
            ]
        )
    return out.getvalue()


async def _timed(url: str, label: str, text: str) -> None:
    registry = build_registry(Settings(database_url=url))
    try:
        started = time.perf_counter()
        report = await import_legacy_csv(registry, io.StringIO(text))
        elapsed = time.perf_counter() - started
    finally:
        await registry.vneid.aclose()
        await registry.db.dispose()
    rows = report.created + report.updated + report.unchanged
    print(
        f"  {label:<28} {rows:>7} rows in {elapsed:6.1f} s = {rows / elapsed:8.0f} rows/s "
        f"(created {report.created}, updated {report.updated}, unchanged {report.unchanged})",
        flush=True,
    )


async def _runs(url: str, rows: int) -> None:
    first = generate(rows)
    await _timed(url, "first import", first)
    await _timed(url, "same file again", first)
    await _timed(url, "one row in ten changed", generate(rows, changed_every=10))


def bench_sqlite(rows: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        upgrade_database(Settings(database_url=url))
        print("SQLite", flush=True)
        asyncio.run(_runs(url, rows))


def bench_postgres(admin_url: str, rows: int) -> None:
    name = f"broker_bench_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(admin_url, timeout=5)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        print(f"PostgreSQL skipped: {error!r}")
        return
    try:
        parts = urlsplit(admin_url)
        url = urlunsplit(("postgresql+asyncpg", parts.netloc, f"/{name}", parts.query, ""))
        upgrade_database(Settings(database_url=url))
        print("PostgreSQL", flush=True)
        asyncio.run(_runs(url, rows))
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    arguments = parser.parse_args()
    bench_sqlite(arguments.rows)
    bench_postgres(arguments.postgres, arguments.rows)


if __name__ == "__main__":
    main()
