"""Clean-up at provincial scale (issue 9): import, re-import, reconcile and report on 1,000,000 accounts.

    .venv/bin/python bench/cleanup_bench.py [--rows 1000000] [--database sqlite|postgresql|both]
        [--postgres postgresql://postgres@127.0.0.1:5432/test] [--file var/bench/export.csv]

Each step runs the real command (`broker legacy import FILE`, the same file again, `broker legacy
reconcile`, `broker report cleanup --by commune --format json`) as a child process on a new database, and
prints its wall time, rows per second and the peak resident memory of the command's whole process tree
(the command and the parser it starts; the database server is not counted), sampled every 50 ms, and
the CPU seconds of that tree (the machine is shared: CPU time says what wall time under load cannot). The
report is also timed in-process (without the interpreter's start-up). ``--logins N`` then times N first
VNeID logins and N repeat logins in-process: the broker's callback work after the token exchange
(``account_for``, which looks legacy accounts up by number, and the clean-up step), for citizens of the
export's first 10,000 rows (so that a 10,000-row and a 1,000,000-row database are compared on the same
people), with p50/p95 wall and CPU milliseconds, and the plan of every statement that read
``legacy_accounts`` (EXPLAIN). The export comes from
bench/cleanup_generate.py (made once, kept in var/bench/). Asserts nothing about time; the databases are
dropped afterwards (PostgreSQL: `cleanup_bench_*`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil

ROOT = Path(__file__).resolve().parents[1]
BROKER = [sys.executable, "-c", "from broker.cli import main; main()"]
DEFAULT_POSTGRES = os.environ.get("BROKER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass
class Step:
    name: str
    seconds: float
    peak_rss_mb: float
    rows: int
    output: str
    cpu_seconds: float = 0.0  # user + system of the command's process tree (not the database server)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


class LoginWaits:
    """While a command runs: every 50 ms what a login does to the two tables an import fills, on its own
    connection (PostgreSQL: read an account and the legacy rows of a CCCD; SQLite: the same, then write
    the account, as a login's update does), and the longest any of them took: how long a login waited."""

    def __init__(self, url: str) -> None:
        import threading

        self._url = url
        self._stop = threading.Event()
        self.longest = 0.0
        self.count = 0
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> LoginWaits:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        if self._url.startswith("postgresql"):
            asyncio.run(self._watch_postgres())
            return
        import sqlite3

        connection = sqlite3.connect(self._url.split("///", 1)[1], timeout=10, isolation_level=None)
        try:
            while not self._stop.wait(0.05):
                started = time.perf_counter()
                connection.execute("SELECT id FROM accounts WHERE id = 1").fetchall()
                connection.execute("SELECT id FROM legacy_accounts WHERE cccd = '001090000001'").fetchall()
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("UPDATE accounts SET updated_at = updated_at WHERE id = 1")
                connection.execute("COMMIT")
                self._took(time.perf_counter() - started)
        finally:
            connection.close()

    async def _watch_postgres(self) -> None:
        import asyncpg

        connection = await asyncpg.connect(self._url.replace("postgresql+asyncpg", "postgresql"))
        try:
            while not self._stop.wait(0.05):
                started = time.perf_counter()
                await connection.fetch("SELECT id FROM accounts WHERE id = 1")
                await connection.fetch("SELECT id FROM legacy_accounts WHERE cccd = '001090000001'")
                self._took(time.perf_counter() - started)
        finally:
            await connection.close()

    def _took(self, seconds: float) -> None:
        self.longest = max(self.longest, seconds)
        self.count += 1


def run(name: str, args: list[str], env: dict[str, str], rows: int) -> Step:
    """Runs a command, sampling the resident memory of it and all its descendants."""
    out = tempfile.TemporaryFile("w+", encoding="utf-8")  # a pipe would fill up and stall the command
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.DEVNULL, text=True)
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            tree = [watched, *watched.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    out.seek(0)
    output = out.read()
    out.close()
    if process.returncode != 0:
        raise SystemExit(f"{name} failed with status {process.returncode}")
    return Step(name, seconds, peak / 2**20, rows, output, cpu)


def last_json(output: str) -> dict[str, object]:
    return dict(json.loads(output.strip().splitlines()[-1]))


async def report_in_process(url: str) -> float:
    from broker.admin import reports
    from broker.app import build_registry, close_registry
    from broker.domain.units import Level
    from broker.settings import Settings

    registry = build_registry(Settings(database_url=url))
    try:
        await reports.cleanup_report(registry, Level.COMMUNE)  # warm: the unit lists load once per process
        started = time.perf_counter()
        await reports.cleanup_report(registry, Level.COMMUNE)
        return time.perf_counter() - started
    finally:
        await close_registry(registry)


def citizens(export: Path, count: int) -> list[dict[str, str]]:
    """Citizens of the export's first 10,000 rows with a valid CCCD consistent with the record."""
    import csv
    from datetime import date

    from broker.domain.classification import Cleanup, Facts, classify

    found: list[dict[str, str]] = []
    with export.open(encoding="utf-8", newline="") as stream:
        for index, row in enumerate(csv.DictReader(stream)):
            if index >= 10_000 or len(found) >= count:
                break
            if row["account_type"] != "citizen" or not row["cccd"] or not row["birth_date"]:
                continue
            facts = Facts("citizen", row["cccd"], None, date.fromisoformat(row["birth_date"]), row["gender"])
            if classify(facts, date.today()) is Cleanup.CLEAN_UNLINKED and not row["cmnd"]:
                found.append(row)
    return found


async def login_latency(url: str, export: Path, count: int) -> None:
    from datetime import UTC, date, datetime

    from sqlalchemy import event

    from broker.app import build_registry, close_registry
    from broker.domain.identity import VerifiedIdentity
    from broker.login.link_account import MustChoose, account_for
    from broker.settings import Settings
    from broker.store import cleanup

    registry = build_registry(Settings(database_url=url))
    statements: dict[str, tuple[str, object]] = {}

    def capture(_conn: object, _cursor: object, statement: str, parameters: object, *_: object) -> None:
        if "legacy_accounts" in statement and statement.lstrip().upper().startswith("SELECT"):
            statements.setdefault(statement, (statement, parameters))

    event.listen(registry.db.engine.sync_engine, "before_cursor_execute", capture)
    people = citizens(export, count)
    timings: dict[str, list[tuple[float, float]]] = {"first login": [], "repeat login": []}
    try:
        for phase in timings:
            for row in people:
                identity = VerifiedIdentity(
                    issuer="https://vneid.bench",
                    subject=f"bench-{row['cccd']}",
                    identification_number=row["cccd"],
                    old_identification_number=None,
                    name=row["full_name"],
                    birthdate=date.fromisoformat(row["birth_date"]),
                    gender=row["gender"],
                    level=2,
                    acr="urn:vneid:loa:level2",
                    amr=("pwd",),
                    auth_time=datetime.now(UTC),
                )
                wall, cpu = time.perf_counter(), time.process_time()
                resolved = await account_for(registry, identity)
                if not isinstance(resolved, MustChoose):
                    async with registry.db.transaction() as session:
                        # The callback does this in account_for's transaction: the account attached as
                        # loaded there, without reading it again.
                        account = await session.merge(resolved.account, load=False)
                        await cleanup.after_vneid_login(
                            session, account, None, None, registry.clock(), created=resolved.created
                        )
                timings[phase].append((time.perf_counter() - wall, time.process_time() - cpu))
    finally:
        event.remove(registry.db.engine.sync_engine, "before_cursor_execute", capture)
        await close_registry(registry)
    for phase, values in timings.items():
        walls = sorted(1000 * wall for wall, _ in values)
        cpus = sorted(1000 * cpu for _, cpu in values)
        print(
            f"{phase:<14} n={len(values)}: p50 {walls[len(walls) // 2]:.2f} ms, p95"
            f" {walls[int(len(walls) * 0.95)]:.2f} ms wall; CPU (this process) p50 {cpus[len(cpus) // 2]:.2f} ms"
        )
    await explain(url, list(statements.values()))


async def explain(url: str, statements: list[tuple[str, object]]) -> None:
    """The plan of each captured read of ``legacy_accounts``, with the parameters it ran with."""
    if url.startswith("postgresql"):
        import asyncpg

        connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            for statement, parameters in statements:
                plan = await connection.fetch(f"EXPLAIN {statement}", *(parameters or ()))  # type: ignore[misc]
                print(" ".join(statement.split())[:160])
                print("\n".join(f"    {line[0]}" for line in plan))
        finally:
            await connection.close()
    else:
        import sqlite3

        connection = sqlite3.connect(url.split("///", 1)[1])
        try:
            for statement, parameters in statements:
                plan = connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters or ()).fetchall()  # type: ignore[arg-type]
                print(" ".join(statement.split())[:160])
                print("\n".join(f"    {line[-1]}" for line in plan))
        finally:
            connection.close()


def bench(kind: str, url: str, export: Path, rows: int, logins: int = 0) -> list[Step]:
    env = {**os.environ, "BROKER_DATABASE_URL": url}
    subprocess.run([*BROKER, "db", "upgrade"], env=env, check=True, capture_output=True)
    with LoginWaits(url) as waits:
        steps = [run("import", [*BROKER, "legacy", "import", str(export)], env, rows)]
    first = last_json(steps[0].output)
    steps.append(run("re-import", [*BROKER, "legacy", "import", str(export)], env, rows))
    again = last_json(steps[1].output)
    changed = int(again["created"]) + int(again["updated"])  # type: ignore[call-overload]
    steps.append(run("reconcile", [*BROKER, "legacy", "reconcile"], env, rows))
    steps.append(
        run(
            "report --by commune",
            [*BROKER, "report", "cleanup", "--by", "commune", "--format", "json"],
            env,
            rows,
        )
    )
    in_process = asyncio.run(report_in_process(url))
    print(f"\n{kind}: {rows:,} rows; import {first}; re-import changed {changed} rows")
    print(f"{'step':<22}{'wall s':>10}{'rows/s':>12}{'peak RSS MB':>14}{'CPU s':>8}")
    for step in steps:
        print(
            f"{step.name:<22}{step.seconds:>10.1f}{step.rate:>12,.0f}{step.peak_rss_mb:>14.0f}"
            f"{step.cpu_seconds:>8.1f}"
        )
    print(f"load average after: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    print(
        f"during the import, a login's statements waited at most {waits.longest:.2f} s ({waits.count} probes)"
    )
    print(f"{'report (in-process)':<22}{in_process:>10.2f}")
    print(f"reconcile: {last_json(steps[2].output)}")
    if logins:
        asyncio.run(login_latency(url, export, logins))
    return steps


def postgres_database(base: str, name: str) -> str:
    parts = urlsplit(base)
    admin = urlunsplit(parts._replace(scheme="postgresql"))
    for statement in (f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"):
        subprocess.run(["psql", admin, "-q", "-c", statement], check=True, capture_output=True)
    return urlunsplit(parts._replace(scheme="postgresql+asyncpg", path=f"/{name}"))


def drop_postgres(base: str, name: str) -> None:
    admin = urlunsplit(urlsplit(base)._replace(scheme="postgresql"))
    subprocess.run(
        ["psql", admin, "-q", "-c", f"DROP DATABASE IF EXISTS {name}"], check=False, capture_output=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument("--file", type=Path, default=None)
    parser.add_argument("--logins", type=int, default=0, help="then time this many first and repeat logins")
    args = parser.parse_args()
    export = args.file or ROOT / "var" / "bench" / f"cleanup_{args.rows}.csv"
    if not export.exists():
        export.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench" / "cleanup_generate.py"),
                "--rows",
                str(args.rows),
                "--out",
                str(export),
            ],
            check=True,
        )
    print(f"export: {export} ({export.stat().st_size / 2**20:.0f} MB)")
    if args.database in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="cleanup_bench_") as folder:
            bench("SQLite", f"sqlite+aiosqlite:///{folder}/broker.db", export, args.rows, args.logins)
    if args.database in ("postgresql", "both"):
        name = f"cleanup_bench_{os.getpid()}"
        try:
            bench("PostgreSQL", postgres_database(args.postgres, name), export, args.rows, args.logins)
        finally:
            drop_postgres(args.postgres, name)


if __name__ == "__main__":
    main()
