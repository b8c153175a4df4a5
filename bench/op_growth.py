"""Issue 7's benchmark: does a login cost more as data grows? (targets 3d and 5 of the issue)

1. One citizen's first 100 logins, then ``--growth`` more past logins of that citizen synthesised in bulk
   (flows, sessions, codes, access and refresh tokens, audit rows: what a real login leaves), then 100
   logins again: the cost per login must not change.
2. ``--purge-rows`` past logins of everyone synthesised (nine in ten of them older than the purge's 24
   hours), table sizes, then `broker maintenance purge` run while citizens log in (their latency during
   the purge), table sizes after, and the login cost after.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import asyncpg
from op_load import BrokerOp, complete_login, drive
from op_servers import BIN, LOAD_CPU, ROOT, BrokerStack, pg_url

TABLES = [
    "login_flows",
    "login_flow_requirements",
    "sso_sessions",
    "sso_session_clients",
    "authorization_codes",
    "access_tokens",
    "refresh_tokens",
    "audit_log",
]

# Past logins, rows as the broker writes them: {n} of them, by the accounts {accounts} (cycled), at the
# client {client} and its redirect URI {redirect}; login g happened at {at}.
SYNTHESIS = [
    """INSERT INTO login_flows (id, browser_hash, state, client_id, redirect_uri, scope, code_challenge,
         account_id, amr, candidate_account_ids, auth_time, acr, created_at, expires_at)
       SELECT '{tag}f' || g, md5(g::text), 'completed', {client}, {redirect}, 'openid profile', repeat('c', 43),
         ({accounts}::int[])[1 + g % cardinality({accounts}::int[])], '["pwd"]', '[]', {at}, 'urn:vneid:loa:level2', {at},
         {at} + interval '10 minutes'
       FROM generate_series(1, {n}) AS g""",
    """INSERT INTO login_flow_requirements (flow_id, min_level, force_login)
       SELECT '{tag}f' || g, 1, false FROM generate_series(1, {n}) AS g""",
    """INSERT INTO sso_sessions (sid, cookie_hash, account_id, auth_time, acr, amr, created_at, expires_at, ended_at)
       SELECT '{tag}s' || g, md5('{tag}' || g), ({accounts}::int[])[1 + g % cardinality({accounts}::int[])], {at},
         'urn:vneid:loa:level2', '["pwd"]', {at}, {at} + interval '8 hours', {at} + interval '1 hour'
       FROM generate_series(1, {n}) AS g""",
    """INSERT INTO sso_session_clients (sid, client_id, created_at)
       SELECT '{tag}s' || g, {client}, {at} FROM generate_series(1, {n}) AS g""",
    """INSERT INTO authorization_codes (code_hash, grant_id, client_id, redirect_uri, account_id, scope,
         code_challenge, auth_time, acr, amr, used, created_at, expires_at, sid)
       SELECT md5('{tag}c' || g), '{tag}g' || g, {client}, {redirect}, ({accounts}::int[])[1 + g % cardinality({accounts}::int[])],
         'openid profile', repeat('c', 43), {at}, 'urn:vneid:loa:level2', '["pwd"]', true, {at},
         {at} + interval '1 minute', '{tag}s' || g
       FROM generate_series(1, {n}) AS g""",
    """INSERT INTO access_tokens (jti, grant_id, client_id, account_id, scope, created_at, expires_at, sid, offline)
       SELECT '{tag}a' || g, '{tag}g' || g, {client}, ({accounts}::int[])[1 + g % cardinality({accounts}::int[])], 'openid profile',
         {at}, {at} + interval '10 minutes', '{tag}s' || g, false
       FROM generate_series(1, {n}) AS g""",
    """INSERT INTO refresh_tokens (token_hash, grant_id, client_id, account_id, scope, sid, offline, auth_time,
         acr, amr, created_at, expires_at)
       SELECT md5('{tag}r' || g), '{tag}g' || g, {client}, ({accounts}::int[])[1 + g % cardinality({accounts}::int[])],
         'openid profile', '{tag}s' || g, false, {at}, 'urn:vneid:loa:level2', '["pwd"]', {at},
         {at} + interval '30 days'
       FROM generate_series(1, {n}) AS g""",
    """INSERT INTO audit_log (at, actor, action, outcome, sub, details)
       SELECT {at}, 'citizen:synthetic', 'login.vneid', 'allowed', 'synthetic', '{{}}'
       FROM generate_series(1, {n}) AS g""",
]


async def _connect(stack: BrokerStack) -> asyncpg.Connection:
    return await asyncpg.connect(pg_url(stack.database, "postgresql"))


async def synthesise(
    stack: BrokerStack, tag: str, count: int, account_ids: list[int], days_ago: float, spread_days: float
) -> float:
    """``count`` past logins, ``days_ago`` to ``days_ago + spread_days`` ago; returns the seconds it took."""
    at = f"(now() - interval '{days_ago} days' - (g::float / {count}) * interval '{spread_days} days')"
    values = {
        "n": count,
        "accounts": account_ids,
        "client": stack.client["client_id"],
        "redirect": _redirect(),
    }
    started = time.monotonic()
    connection = await _connect(stack)
    try:
        async with connection.transaction():
            for statement in SYNTHESIS:
                names = [name for name in re.findall(r"\{(\w+)\}", statement) if name in values]
                order = list(dict.fromkeys(names))
                sql = statement
                for position, name in enumerate(order, start=1):
                    sql = sql.replace("{" + name + "}", f"${position}")
                sql = sql.replace("{tag}", tag).replace("{at}", at).replace("{{}}", "{}")
                await connection.execute(sql, *(values[name] for name in order))
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return time.monotonic() - started


def _redirect() -> str:
    return "http://127.0.0.1:18999/cb"


async def table_sizes(stack: BrokerStack) -> dict[str, dict[str, int]]:
    connection = await _connect(stack)
    try:
        sizes = {}
        for table in TABLES:
            rows = await connection.fetchval(f"SELECT count(*) FROM {table}")
            size = await connection.fetchval("SELECT pg_total_relation_size($1::regclass)", table)
            sizes[table] = {"rows": int(rows), "bytes": int(size)}
        return sizes
    finally:
        await connection.close()


async def account_ids(stack: BrokerStack, numbers: list[str] | None = None) -> list[int]:
    connection = await _connect(stack)
    try:
        if numbers is None:
            return [int(row[0]) for row in await connection.fetch("SELECT id FROM accounts ORDER BY id")]
        rows = await connection.fetch(
            "SELECT id FROM accounts WHERE identification_number = ANY($1)", numbers
        )
        return [int(row[0]) for row in rows]
    finally:
        await connection.close()


async def growth_phases(stack: BrokerStack, op: BrokerOp, citizens: list[str], args: Any) -> dict[str, Any]:
    assert stack.broker is not None
    one = citizens[len(citizens) // 2]
    conc = min(args.concurrency, 16)

    same_citizen = complete_login(op, lambda _: one)

    # Every "many" phase logs in 100 citizens it has not seen: a first login (Case 1) each time, comparable.
    fresh = iter(range(len(citizens) // 2 + 1, len(citizens)))

    many = complete_login(op, lambda _: citizens[next(fresh)])

    report: dict[str, Any] = {}

    assert stack.broker is not None  # up() started it
    broker = stack.broker

    async def phase(name: str, job: Any, count: int = 100) -> None:
        result = await drive(
            broker, name, job, concurrency=conc, count=count, seconds=120, upstream=stack.vneid
        )
        report[name] = result.summary()

    await phase("many_citizens_before_growth", many)
    await phase("one_citizen_first_100", same_citizen)
    [account] = await account_ids(stack, [one])
    report["synthesised_one_citizen_seconds"] = round(
        await synthesise(stack, "x", args.growth, [account], days_ago=0.01, spread_days=30), 1
    )
    await phase(f"one_citizen_after_{args.growth}", same_citizen)

    everyone = await account_ids(stack)
    recent = args.purge_rows // 10
    report["synthesised_everyone_seconds"] = round(
        await synthesise(stack, "old", args.purge_rows - recent, everyone, days_ago=2, spread_days=60)
        + await synthesise(stack, "new", recent, everyone, days_ago=0.01, spread_days=0.5),
        1,
    )
    await phase(f"many_citizens_with_{args.purge_rows}_past_logins", many)
    report["tables_before_purge"] = await table_sizes(stack)

    purge = await asyncio.create_subprocess_exec(
        "taskset",
        "-c",
        LOAD_CPU,
        str(BIN / "broker"),
        "maintenance",
        "purge",
        env=stack.env(),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    started = time.monotonic()
    await phase("many_citizens_during_purge", many, count=400)
    raw, _ = await purge.communicate()
    output = raw.decode()
    report["purge_seconds"] = round(time.monotonic() - started, 1)
    report["purge_output"] = output.strip().splitlines()[-1] if output.strip() else ""
    report["tables_after_purge"] = await table_sizes(stack)
    await phase("many_citizens_after_purge", many)
    await phase("one_citizen_after_purge", same_citizen)
    return report
