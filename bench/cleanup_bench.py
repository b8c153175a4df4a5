"""Clean-up at provincial scale (issue 9): import, re-import, reconcile and report on 1,000,000 accounts.

    .venv/bin/python bench/cleanup_bench.py [--rows 1000000] [--database sqlite|postgresql|both]
        [--postgres postgresql://postgres@127.0.0.1:5432/test] [--file var/bench/export.csv]

Each step runs the real command (`broker legacy import FILE`, the same file again, `broker legacy
reconcile`, `broker report cleanup --by commune --format json`) as a child process on a new database, and
prints its wall time, rows per second and the peak resident memory of the command's whole process tree
(the command and the parser it starts; the database server is not counted), sampled every 50 ms. The
report is also timed in-process (without the interpreter's start-up). The export comes from
bench/cleanup_generate.py (made once, kept in var/bench/). Asserts nothing about time; the databases are
dropped afterwards (PostgreSQL: `cleanup_bench_*`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def run(name: str, args: list[str], env: dict[str, str], rows: int) -> Step:
    """Runs a command, sampling the resident memory of it and all its descendants."""
    out = tempfile.TemporaryFile("w+", encoding="utf-8")  # a pipe would fill up and stall the command
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
    out.seek(0)
    output = out.read()
    out.close()
    if process.returncode != 0:
        raise SystemExit(f"{name} failed with status {process.returncode}")
    return Step(name, seconds, peak / 2**20, rows, output)


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


def bench(kind: str, url: str, export: Path, rows: int) -> list[Step]:
    env = {**os.environ, "BROKER_DATABASE_URL": url}
    subprocess.run([*BROKER, "db", "upgrade"], env=env, check=True, capture_output=True)
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
    print(f"{'step':<22}{'wall s':>10}{'rows/s':>12}{'peak RSS MB':>14}")
    for step in steps:
        print(f"{step.name:<22}{step.seconds:>10.1f}{step.rate:>12,.0f}{step.peak_rss_mb:>14.0f}")
    print(f"{'report (in-process)':<22}{in_process:>10.2f}")
    print(f"reconcile: {last_json(steps[2].output)}")
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
            bench("SQLite", f"sqlite+aiosqlite:///{folder}/broker.db", export, args.rows)
    if args.database in ("postgresql", "both"):
        name = f"cleanup_bench_{os.getpid()}"
        try:
            bench("PostgreSQL", postgres_database(args.postgres, name), export, args.rows)
        finally:
            drop_postgres(args.postgres, name)


if __name__ == "__main__":
    main()
