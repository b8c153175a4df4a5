"""A login's lookup by its VNeID identity reads one link however many citizens are linked, even with a
plan PostgreSQL made while the links table was empty.

PostgreSQL plans a prepared statement once for every value of its parameters (a generic plan) and keeps
that plan while the statement lives. On an empty table, an index led by the issuer alone looked as good as
the (issuer, subject) one, and a broker started on a fresh database then read every link of VNeID's issuer
at each login: a cost that grew with the citizens linked (issue 7, seventeenth round; migration 0020).
Real PostgreSQL, the broker's own statement, a generic plan forced at its first execution."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from broker.store import accounts, prepared
from broker.store.database import Database
from tests.support.databases import PostgresDatabases

LINKS = 3000


@pytest.fixture
def postgres_url(postgresql_databases: PostgresDatabases) -> Iterator[str]:
    url = postgresql_databases.fresh()
    yield url
    postgresql_databases.drop(url)


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


async def test_the_lookup_planned_on_an_empty_table_reads_one_link_among_thousands(postgres_url: str) -> None:
    db = Database(postgres_url, pool_size=1, pool_timeout=5.0)
    issuer = "https://vneid.example"
    try:
        statement, parameters = accounts._first_lookup(issuer, "not-linked-yet", "001099012345", None, True)
        compiled = prepared.Compiled(statement, db.engine.dialect)
        arguments = compiled.arguments(parameters)
        # EXECUTE takes no bound parameters: the values as literals (the test's own constants, all text).
        assert all(isinstance(value, str) and "'" not in value for value in arguments)
        values = ", ".join(f"'{value}'" for value in arguments)
        assert db._statements is not None
        async with db._statements.connection() as connection:
            await connection.execute("SET plan_cache_mode = force_generic_plan")
            await connection.execute(f"PREPARE lookup AS {compiled.sql}")
            await connection.fetch(f"EXECUTE lookup({values})")  # planned while no link exists
            await connection.execute(
                "INSERT INTO accounts (id, sub, account_type, status, created_at, updated_at) "
                f"SELECT 100000 + n, 'sub-' || n, 'citizen', 'active', now(), now() "
                f"FROM generate_series(1, {LINKS}) AS n"
            )
            await connection.execute(
                "INSERT INTO upstream_links (account_id, issuer, subject, level, created_at, last_login_at) "
                f"SELECT 100000 + n, $1, 'subject-' || n, 2, now(), now() FROM generate_series(1, {LINKS}) AS n",
                issuer,
            )
            explained = await connection.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE lookup({values})")
            await connection.execute("DEALLOCATE lookup")
            await connection.execute("RESET plan_cache_mode")
        plan = (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]
        links = [node for node in _nodes(plan) if node.get("Relation Name") == "upstream_links"]
        assert links  # the link, and the "not linked" guards of the other searches
        assert {node.get("Index Name") for node in links} == {"uq_upstream_links_issuer_subject"}
        assert sum(node.get("Rows Removed by Filter", 0) for node in links) == 0
    finally:
        await db.dispose()
