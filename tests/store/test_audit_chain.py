"""The audit trail resists its own database role (issue 8, item 9): chained by hash so that
`broker audit verify` names the first edited, deleted or reordered record, even when many transactions
append at once; TRUNCATE refused like UPDATE and DELETE; and on PostgreSQL the application's role (which
does not own the table) can append but not rewrite."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from broker.cli import app
from broker.store import audit
from broker.store.database import Database
from broker.store.db_roles import app_role_grants

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


async def _append(database: Database, n: int, writer: int = 0) -> None:
    async with database.transaction() as session:
        await audit.append(
            session,
            at=T0 + timedelta(microseconds=n),
            actor=f"writer:{writer}",
            action="login.password",
            outcome="refused",
            reason="bad_credentials",
            details={"n": n, "identification_number": "0010******45"},
        )


async def _verify(url: str) -> audit.Verification:
    database = Database(url)
    try:
        async with database.read() as session:
            return await audit.verify(session)
    finally:
        await database.dispose()


async def _as_owner_without_triggers(url: str, *statements: str) -> None:
    """What only the table's owner can do: switch the append-only triggers off, tamper, switch them on."""
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        if url.startswith("sqlite"):
            await connection.execute(text("DROP TRIGGER audit_log_no_update"))
            await connection.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            await connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        for statement in statements:
            await connection.execute(text(statement))
    await engine.dispose()


async def test_concurrent_writers_still_make_one_valid_chain(database_url: str) -> None:
    database = Database(database_url)
    try:
        await asyncio.gather(*(_append(database, n, writer=n % 8) for n in range(48)))
    finally:
        await database.dispose()
    verification = await _verify(database_url)
    assert verification.first_break is None
    assert verification.checked == 48


async def test_verify_names_the_first_edited_record(database_url: str) -> None:
    database = Database(database_url)
    try:
        for n in range(5):
            await _append(database, n)
    finally:
        await database.dispose()
    await _as_owner_without_triggers(database_url, "UPDATE audit_log SET reason = 'allowed' WHERE id = 3")
    verification = await _verify(database_url)
    assert verification.first_break == audit.Break(3, "edited")
    assert verification.checked == 2


async def test_verify_names_the_record_after_a_deleted_or_moved_one(database_url: str) -> None:
    database = Database(database_url)
    try:
        for n in range(6):
            await _append(database, n)
    finally:
        await database.dispose()
    # Record 2 "moved" to the end: deleted, and written again with its own hashes under a new id.
    await _as_owner_without_triggers(
        database_url,
        "INSERT INTO audit_log (at, actor, action, outcome, reason, sub, details, prev_hash, chain_hash) "
        "SELECT at, actor, action, outcome, reason, sub, details, prev_hash, chain_hash FROM audit_log "
        "WHERE id = 2",
        "DELETE FROM audit_log WHERE id = 2",
    )
    assert (await _verify(database_url)).first_break == audit.Break(3, "chain_broken")


def test_broker_audit_verify_reports_and_exits_non_zero_on_a_break(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def prepare() -> None:
        database = Database(database_url)
        try:
            for n in range(3):
                await _append(database, n)
        finally:
            await database.dispose()

    asyncio.run(prepare())
    monkeypatch.setenv("BROKER_DATABASE_URL", database_url)
    intact = CliRunner().invoke(app, ["audit", "verify"])
    assert intact.exit_code == 0, intact.output
    assert json.loads(intact.output)["ok"] is True and json.loads(intact.output)["checked"] == 3

    asyncio.run(_as_owner_without_triggers(database_url, "DELETE FROM audit_log WHERE id = 1"))
    broken = CliRunner().invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert json.loads(broken.output)["first_break"] == {"id": 2, "problem": "chain_broken"}


async def test_the_database_refuses_rewriting_the_trail(database_url: str) -> None:
    database = Database(database_url)
    try:
        await _append(database, 0)
    finally:
        await database.dispose()
    statements = ["UPDATE audit_log SET reason = 'x'", "DELETE FROM audit_log"]
    if not database_url.startswith("sqlite"):
        statements.append("TRUNCATE audit_log")  # SQLite has no TRUNCATE: DELETE without WHERE is refused
    engine = create_async_engine(database_url)
    try:
        for statement in statements:
            with pytest.raises(Exception, match="append-only"):
                async with engine.begin() as connection:
                    await connection.execute(text(statement))
    finally:
        await engine.dispose()
    assert (await _verify(database_url)).checked == 1


async def test_the_application_role_can_append_but_not_rewrite(postgresql_databases) -> None:  # type: ignore[no-untyped-def]
    url = await asyncio.to_thread(postgresql_databases.fresh)
    role = f"hardening_app_{uuid.uuid4().hex[:8]}"
    owner = create_async_engine(url)
    async with owner.begin() as connection:
        await connection.execute(text(f"CREATE ROLE {role} LOGIN"))
        for statement in app_role_grants(role):
            await connection.execute(text(statement))
    app_url = url.replace("://postgres@", f"://{role}@", 1)
    try:
        database = Database(app_url)
        try:
            await _append(database, 0)
            await _append(database, 1)
        finally:
            await database.dispose()
        as_app = create_async_engine(app_url)
        try:
            for statement in (
                "UPDATE audit_log SET reason = 'x'",
                "DELETE FROM audit_log",
                "TRUNCATE audit_log",
                "ALTER TABLE audit_log DISABLE TRIGGER USER",
            ):
                with pytest.raises(Exception, match=r"permission denied|must be owner"):
                    async with as_app.begin() as connection:
                        await connection.execute(text(statement))
        finally:
            await as_app.dispose()
        verification = await _verify(url)
        assert verification.first_break is None and verification.checked == 2
    finally:
        async with owner.begin() as connection:
            await connection.execute(text(f"DROP OWNED BY {role}"))
            await connection.execute(text(f"DROP ROLE {role}"))
        await owner.dispose()


def test_broker_db_grants_prints_the_statements_the_role_test_runs() -> None:
    printed = CliRunner().invoke(app, ["db", "grants", "--role", "broker_app"])
    assert printed.exit_code == 0
    assert printed.output.splitlines() == [f"{statement};" for statement in app_role_grants("broker_app")]
    assert "REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM broker_app;" in printed.output
    refused = CliRunner().invoke(app, ["db", "grants", "--role", "x; DROP TABLE audit_log"])
    assert refused.exit_code != 0


async def _append_several(database: Database, writer: int, count: int) -> None:
    """One transaction of ``count`` rows, their content not ASCII (a Vietnamese name, a "—")."""
    async with database.transaction() as session:
        for n in range(count):
            await audit.append(
                session,
                at=T0 + timedelta(seconds=writer, microseconds=n),
                actor=f"officer:Nguyễn Thị Ánh {writer}",
                action="account.merge",
                outcome="done",
                reason=None,
                sub=f"sub-{writer}",
                details={"note": "hợp nhất — đã xác minh", "n": n, "nested": {"ý": [1, "ư"]}},
            )


async def test_transactions_of_one_to_many_rows_chain_in_order_with_content_beyond_ascii(
    database_url: str,
) -> None:
    """On PostgreSQL a transaction's first rows are chained by the server in the statement that takes the
    lock (SHA-256 over UTF-8, as ``audit_chain.link``), more than those by the broker after it: both
    verify, in id order, while other transactions append beside them."""
    database = Database(database_url)
    try:
        sizes = [1, 2, 4, 5, 9, 1, 3, 2] * 3
        await asyncio.gather(
            *(_append_several(database, writer, count) for writer, count in enumerate(sizes))
        )
    finally:
        await database.dispose()
    verification = await _verify(database_url)
    assert verification.first_break is None
    assert verification.checked == sum(sizes)
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT actor, details FROM audit_log ORDER BY id"))).all()
    finally:
        await engine.dispose()
    by_writer: dict[str, list[int]] = {}
    for actor, details in rows:
        stored = json.loads(details) if isinstance(details, str) else details
        assert stored["note"] == "hợp nhất — đã xác minh"
        by_writer.setdefault(actor, []).append(stored["n"])
    # Each transaction's rows are in id order as it appended them.
    assert all(ns == list(range(len(ns))) for ns in by_writer.values())
    assert len(by_writer) == len(sizes)
