"""Packaging and the deploy step (issue 12 item 4): the image's recipe (a wheel of the broker alone, every
dependency from the hash-checked lock, no editable install) migrates a fresh database; `broker db upgrade`
runs one at a time under a PostgreSQL advisory lock."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from broker.settings import Settings
from broker.store.migration_lock import MIGRATION_LOCK_KEY
from tests.support.databases import PostgresDatabases
from tests.support.processes import BROKER, broker_environment

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel_install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """What the Dockerfile does: a wheel built from the broker's sources only, installed with
    ``--no-deps`` into a fresh virtualenv whose dependencies come from requirements.lock with hashes."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "broker", source / "broker", ignore=shutil.ignore_patterns("__pycache__"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    lock = str(ROOT / "requirements.lock")
    subprocess.run(
        [*pip, "install", "--quiet", "--require-hashes", "--no-deps", "-r", lock], check=True, timeout=600
    )
    # The build backend comes from the lock too (--no-build-isolation): nothing unpinned enters the image.
    dist = str(work / "dist")
    subprocess.run(
        [*pip, "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", dist, str(source)],
        check=True,
        timeout=300,
    )
    wheels = [str(path) for path in (work / "dist").glob("vneid_broker-*.whl")]
    subprocess.run([*pip, "install", "--quiet", "--no-deps", *wheels], check=True, timeout=120)
    (venv / "bin" / "mock-vneid").unlink(missing_ok=True)
    yield venv


def test_the_wheel_ships_the_broker_and_its_migrations_but_not_the_mock(
    wheel_install: Path, tmp_path: Path
) -> None:
    python = str(wheel_install / "bin" / "python")
    where = subprocess.run(
        [python, "-c", "import broker, pathlib; print(pathlib.Path(broker.__file__).parent)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(wheel_install)), where  # the installed copy, not this checkout
    assert list(Path(where, "migrations", "versions").glob("0001_*.py"))
    mock = subprocess.run([python, "-c", "import mock_vneid"], cwd=tmp_path, capture_output=True, text=True)
    assert mock.returncode != 0  # the image carries no test double


def test_a_wheel_install_migrates_a_fresh_database(
    wheel_install: Path, empty_database_url: str, tmp_path: Path
) -> None:
    env = broker_environment(Settings(database_url=empty_database_url))
    upgrade = subprocess.run(
        [str(wheel_install / "bin" / "broker"), "db", "upgrade"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert upgrade.returncode == 0, upgrade.stderr
    assert "database at head" in upgrade.stdout
    keys = subprocess.run(
        [str(wheel_install / "bin" / "broker"), "keys", "list"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert keys.returncode == 0, keys.stderr  # the schema is there: the command reads it
    assert keys.stdout.strip() == "[]"


def _version_table(url: str) -> str | None:
    async def read() -> str | None:
        connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            exists = await connection.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL")
            return await connection.fetchval("SELECT version_num FROM alembic_version") if exists else None
        finally:
            await connection.close()

    return asyncio.run(read())


def _upgrade(url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [BROKER, "db", "upgrade"],
        env=broker_environment(Settings(database_url=url)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _head() -> str:
    return sorted(p.name for p in (ROOT / "broker" / "migrations" / "versions").glob("0*.py"))[-1].split("_")[
        0
    ]


def test_db_upgrade_waits_for_the_advisory_lock(postgresql_databases: PostgresDatabases) -> None:
    url = postgresql_databases.fresh(migrated=False)

    async def hold_then_release() -> tuple[bool, str | None, int | None]:
        # Advisory locks belong to one database: the holder sits in the one being migrated.
        holder = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        process = _upgrade(url)
        await asyncio.sleep(3)
        waiting = process.poll() is None
        version_meanwhile = await asyncio.to_thread(_version_table, url)
        await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
        await holder.close()
        returncode = await asyncio.to_thread(process.wait, 120)
        return waiting, version_meanwhile, returncode

    waiting, version_meanwhile, returncode = asyncio.run(hold_then_release())
    assert waiting and version_meanwhile is None  # nothing migrated while another run held the lock
    assert returncode == 0
    assert _version_table(url) == _head()


def test_two_concurrent_upgrades_of_one_database_both_succeed_once(
    postgresql_databases: PostgresDatabases,
) -> None:
    url = postgresql_databases.fresh(migrated=False)
    processes = [_upgrade(url), _upgrade(url)]
    started = time.monotonic()
    results = [process.communicate(timeout=180) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], results
    assert time.monotonic() - started < 180
    assert _version_table(url) == _head()
