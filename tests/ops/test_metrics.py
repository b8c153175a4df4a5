"""The metrics a dashboard needs, read from a real server's /metrics as Prometheus would (issue 12 item 2)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from pathlib import Path

import httpx

from broker.app import build_registry, close_registry
from broker.metrics import Metrics
from broker.password_pool import PasswordPool
from broker.settings import Settings
from tests.conftest import DEMO_PASSWORD, StackFactory
from tests.support.browser import Browser, redeem
from tests.support.html_forms import form_with
from tests.support.legacy import LEGACY_PASSWORD, csv_text, row
from tests.support.processes import BrokerProcess, broker_environment
from tests.support.scrapes import after_first_refresh, samples, value

AN, AN_CMND = "001085012345", "012345678"
CHAU = "038303004567"


async def test_a_login_is_counted_by_upstream_method_account_type_outcome_and_reason(
    make_stack: StackFactory, http: httpx.AsyncClient
) -> None:
    stack = make_stack(metrics_refresh_seconds=0.2, cleanup_gauges_refresh_seconds=0.2)
    rp = await stack.register_client()
    await stack.import_legacy(
        csv_text(
            row("c-1", AN_CMND, full_name="Nguyễn Văn An", birth_date="1985-03-12", cmnd=AN_CMND),
            row("c-7", CHAU, full_name="Lê Minh Châu", birth_date="2003-11-02", cccd=CHAU),
        )
    )
    person = Browser()
    attempt = person.attempt(rp)
    login_page = await person.authorize(stack.broker_url, attempt)
    form = form_with(login_page.text, str(login_page.url), "username", "password")
    refused = await person.http.post(
        form.action, data={**form.fields, "username": AN_CMND, "password": LEGACY_PASSWORD}
    )
    assert "1900.0368" in refused.text
    await person.close()
    person = Browser()
    attempt, back = await person.log_in(stack.broker_url, rp, CHAU, DEMO_PASSWORD)  # Case 2: a link
    assert (await redeem(http, stack.broker_url, rp, back.query["code"], attempt.verifier)).status_code == 200
    await person.close()

    text = (await http.get(f"{stack.broker_url}/metrics")).text
    allowed = dict(upstream="vneid", method="vneid", account_type="citizen", outcome="allowed", reason="none")
    assert value(text, "broker_login_attempts_total", **allowed) == 1
    refusals = [
        labels
        for (name, labels), count in samples(text).items()
        if name == "broker_login_attempts_total" and ("outcome", "refused") in labels and count == 1
    ]
    assert [dict(labels)["account_type"] for labels in refusals] == ["citizen"]
    assert dict(refusals[0])["upstream"] == "legacy" and dict(refusals[0])["reason"] != "none"
    assert sum(c for (n, _), c in samples(text).items() if n == "broker_links_total") == 1
    # The refused password went through the hashing pool (a fast legacy scheme also pays one slow
    # dummy verification there, so that timing tells nothing).
    assert value(text, "broker_password_hash_seconds_count") >= 1
    assert value(text, "broker_password_hash_waiting") == value(text, "broker_password_hash_running") == 0
    assert value(text, "broker_tokens_issued_total", kind="id_token", grant_type="authorization_code") == 1
    assert (
        value(text, "broker_upstream_call_seconds_count", upstream="vneid", endpoint="token", outcome="2xx")
        == 1
    )
    assert (
        value(text, "broker_upstream_call_seconds_count", upstream="vneid", endpoint="jwks", outcome="2xx")
        >= 1
    )
    assert (
        value(
            text,
            "broker_http_request_duration_seconds_count",
            method="GET",
            route="/authorize",
            status_class="2xx",  # both answered with the login page
        )
        == 2
    )
    assert (
        value(
            text,
            "broker_http_request_duration_seconds_count",
            method="POST",
            route="/token",
            status_class="2xx",
        )
        == 1
    )

    # The background gauges: clean-up classes from the database, refreshed without any scrape asking.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = (await http.get(f"{stack.broker_url}/metrics")).text
        if value(text, "broker_cleanup_accounts", account_type="citizen", **{"class": "linked"}) == 1:
            break
        await asyncio.sleep(0.2)
    assert value(text, "broker_cleanup_accounts", account_type="citizen", **{"class": "linked"}) == 1
    assert value(text, "broker_cleanup_accounts", account_type="citizen", **{"class": "not_linked"}) == 1
    assert value(text, "broker_database_up") == 1
    assert value(text, "broker_signing_key_age_seconds", alg="RS256") >= 0


async def test_random_paths_and_client_ids_do_not_grow_the_series(
    make_stack: StackFactory, http: httpx.AsyncClient
) -> None:
    stack = make_stack()
    await http.get(f"{stack.broker_url}/authorize", params={"client_id": "warm-up"})
    await http.get(f"{stack.broker_url}/no-such-page-warm-up")
    await http.get(f"{stack.broker_url}/static/warm-up.css")
    await http.get(f"{stack.broker_url}/metrics")  # the scrape's own series exist from now on
    # And the background gauges' series, once their first refresh ran (late on a loaded machine).
    before = len(samples(await after_first_refresh(http, stack.broker_url)))
    for _ in range(30):
        noise = uuid.uuid4().hex
        await http.get(f"{stack.broker_url}/authorize", params={"client_id": noise, "redirect_uri": noise})
        await http.get(f"{stack.broker_url}/no-such-page-{noise}")
        await http.get(f"{stack.broker_url}/static/{noise}.css")
    text = (await http.get(f"{stack.broker_url}/metrics")).text
    assert len(samples(text)) == before
    assert (
        value(
            text,
            "broker_http_request_duration_seconds_count",
            method="GET",
            route="unmatched",
            status_class="4xx",
        )
        == 31
    )
    assert (
        value(
            text,
            "broker_http_request_duration_seconds_count",
            method="GET",
            route="/static",
            status_class="4xx",
        )
        == 31
    )
    assert "no-such-page" not in text and "warm-up" not in text
    # Scrapes read what the background task computed (every 30 s by default); they compute nothing.
    scrapes = [(await http.get(f"{stack.broker_url}/metrics")).text for _ in range(3)]
    refreshed = {value(scrape, "broker_gauges_refreshed_timestamp_seconds") for scrape in scrapes}
    assert len(refreshed) == 1 and refreshed != {0.0}


async def test_the_pool_gauge_follows_connections_in_use(database_url: str) -> None:
    registry = build_registry(Settings(database_url=database_url))
    try:
        async with registry.db.read() as session:
            await session.connection()
            held = value(registry.metrics.exposition().decode(), "broker_db_pool_connections_in_use")
        after = value(registry.metrics.exposition().decode(), "broker_db_pool_connections_in_use")
    finally:
        await close_registry(registry)
    assert (held, after) == (1, 0)
    assert value(registry.metrics.exposition().decode(), "broker_db_pool_timeouts_total") == 0


async def test_the_hashing_pool_reports_its_queue() -> None:
    metrics = Metrics()
    pool = PasswordPool(workers=1, queue=64, observed=metrics.hash_queue)
    release = threading.Event()
    try:
        # Three attempts on one worker: the first holds it until released, two wait.
        attempts = [asyncio.ensure_future(pool._run(release.wait)) for _ in range(3)]
        await asyncio.sleep(0)
        text = metrics.exposition().decode()
        assert value(text, "broker_password_hash_running") == 1
        assert value(text, "broker_password_hash_waiting") == 2
        release.set()
        await asyncio.gather(*attempts)
    finally:
        release.set()
        pool.close()
    text = metrics.exposition().decode()
    assert value(text, "broker_password_hash_running") == value(text, "broker_password_hash_waiting") == 0
    assert value(text, "broker_password_hash_seconds_count") == 3


def test_several_workers_answer_metrics_for_all(tmp_path: Path, sqlite_databases) -> None:  # type: ignore[no-untyped-def]
    directory = tmp_path / "prometheus"
    settings = Settings(database_url=sqlite_databases.fresh(), issuer="http://127.0.0.1:1")
    env = broker_environment(
        settings, PROMETHEUS_MULTIPROC_DIR=str(directory), BROKER_BACKCHANNEL_WORKER="false"
    )
    broker = BrokerProcess(env, tmp_path / "log", None, "--workers", "2").wait_ready()
    route = dict(method="GET", route="/healthz", status_class="2xx")
    try:
        before = value(
            httpx.get(f"{broker.url}/metrics").text, "broker_http_request_duration_seconds_count", **route
        )
        for _ in range(40):
            with httpx.Client() as fresh_connection:  # a new connection each time: spread over the workers
                assert fresh_connection.get(f"{broker.url}/healthz").status_code == 200
        writers = {path.name.rsplit("_", 1)[-1] for path in directory.glob("*.db")}
        scrapes = [httpx.get(f"{broker.url}/metrics").text for _ in range(4)]
    finally:
        broker.stop()
    assert len(writers) >= 2, writers  # two worker processes recorded metrics
    # Every request counted once, whichever worker answers the scrape.
    for text in scrapes:
        assert value(text, "broker_http_request_duration_seconds_count", **route) - before == 40


async def test_the_pool_counts_its_waiters_and_timeouts(database_url: str) -> None:
    from sqlalchemy import exc
    from sqlalchemy.ext.asyncio import create_async_engine

    from broker.store.database import ObservedPool

    metrics = Metrics()
    engine = create_async_engine(
        database_url, poolclass=ObservedPool, pool_size=1, max_overflow=0, pool_timeout=1
    )
    engine.sync_engine.pool.metrics = metrics  # type: ignore[attr-defined]
    try:
        async with engine.connect():
            waiter = asyncio.create_task(engine.connect().__aenter__())
            await asyncio.sleep(0.3)
            waiting = value(metrics.exposition().decode(), "broker_db_pool_waiting")
            try:
                await waiter
            except exc.TimeoutError:
                pass
        text = metrics.exposition().decode()
    finally:
        await engine.dispose()
    assert waiting == 1
    assert value(text, "broker_db_pool_timeouts_total") == 1
    assert value(text, "broker_db_pool_waiting") == 0
