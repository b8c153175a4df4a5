"""Structured logs with request ids, redaction in the formatter (tracebacks too), the last-resort handler,
and BROKER_LOG_LEVEL (issue 12 item 1, issue 8 item 10)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import secrets
import socket
import subprocess
import traceback
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from broker import logs
from broker.app import build_registry, close_registry, create_app
from broker.settings import Settings
from tests.support.databases import SqliteDatabases
from tests.support.processes import BROKER, BrokerProcess, broker_environment
from tests.support.servers import LiveServer, free_port

AN = "001085012345"
A_JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
A_CODE = "Qk9ZcGZ0c2V0LWNvZGUtdGhhdC1pcy00My1jaGFyYWN0ZXJz"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Everything the process logs while the test runs, through the broker's own JSON handler."""
    stream = io.StringIO()
    handler = logs.handler("json", stream)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)


def _lines(stream: io.StringIO) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_the_formatter_redacts_numbers_tokens_and_codes_in_messages_and_tracebacks() -> None:
    stream = io.StringIO()
    log = logging.getLogger("tests.redaction")
    log.addHandler(logs.handler("json", stream))
    log.propagate = False
    try:
        try:
            raise ValueError(f"no account for {AN} (CMND 012345678) with {A_JWT}")
        except ValueError:
            log.exception("GET /callback?code=%s&state=abc failed; password=%s", A_CODE, "Matkhau@123")
        log.warning("Authorization: Bearer %s and client_secret: 's3cr3t-value'", A_CODE)
    finally:
        log.propagate = True
    text = stream.getvalue()
    first, second = (json.loads(line) for line in text.splitlines())
    for secret in (AN, "012345678", A_JWT, A_CODE, "Matkhau@123", "s3cr3t-value"):
        assert secret not in text
    assert "001******345" in first["exc_info"] and "012***678" in first["exc_info"]
    assert first["message"].startswith("GET /callback?… failed") and first["level"] == "ERROR"
    assert second["message"].startswith("Authorization: Bearer [redacted]")


def test_the_text_format_redacts_too() -> None:
    stream = io.StringIO()
    log = logging.getLogger("tests.redaction.text")
    log.addHandler(logs.handler("text", stream))
    log.propagate = False
    try:
        try:
            raise RuntimeError(f"citizen {AN}")
        except RuntimeError:
            log.exception("failed with token=%s", A_CODE)
    finally:
        log.propagate = True
    text = stream.getvalue()
    assert AN not in text and A_CODE not in text
    assert "RuntimeError: citizen 001******345" in text


def test_log_level_accepts_any_case_and_a_bad_value_is_a_clear_error(tmp_path: Path) -> None:
    assert Settings(log_level="debug").log_level == "DEBUG"
    assert Settings(log_level=" Warning ").log_level == "WARNING"
    env = broker_environment(
        Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/b.db"), BROKER_LOG_LEVEL="loud"
    )
    result = subprocess.run([BROKER, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "BROKER_LOG_LEVEL" in result.stderr and "loud" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


async def test_every_response_carries_a_request_id_and_every_upstream_call_the_same(
    database_url: str, http: httpx.AsyncClient
) -> None:
    seen: list[dict[str, str]] = []
    upstream = FastAPI()
    port = free_port()
    upstream_url = f"http://127.0.0.1:{port}"

    @upstream.get("/.well-known/openid-configuration")
    async def discovery(request: Request) -> JSONResponse:
        seen.append(dict(request.headers))
        return JSONResponse(
            {
                "issuer": upstream_url,
                "authorization_endpoint": f"{upstream_url}/authorize",
                "token_endpoint": f"{upstream_url}/token",
                "jwks_uri": f"{upstream_url}/jwks",
            }
        )

    @upstream.get("/jwks")
    async def jwks(request: Request) -> JSONResponse:
        seen.append(dict(request.headers))
        return JSONResponse({"keys": []})

    recorder = LiveServer(upstream, port).start()
    broker_port = free_port()
    settings = Settings(
        database_url=database_url,
        issuer=f"http://127.0.0.1:{broker_port}",
        vneid_issuer=upstream_url,
        readyz_checks_upstream=True,
    )
    broker = LiveServer(create_app(settings), broker_port).start()
    try:
        mine = await http.get(f"{broker.url}/readyz", headers={"X-Request-ID": "desk-7.req-42"})
        assert mine.status_code == 200, mine.text
        assert mine.headers["x-request-id"] == "desk-7.req-42"
        assert seen[-1]["x-request-id"] == "desk-7.req-42"  # the upstream call carried the caller's id

        fresh = [await http.get(f"{broker.url}/healthz") for _ in range(2)]
        ids = [response.headers["x-request-id"] for response in fresh]
        assert ids[0] != ids[1] and all(len(i) >= 16 for i in ids)
        bad = await http.get(f"{broker.url}/healthz", headers={"X-Request-ID": "x" * 500})
        assert bad.headers["x-request-id"] != "x" * 500  # not an id we keep: a new one
        too_large = await http.post(f"{broker.url}/token", content=b"x" * 200_000)
        assert too_large.status_code == 413 and too_large.headers["x-request-id"]

        # Calls to relying parties carry it too (the same observed transport).
        registry = build_registry(settings)
        token = logs.request_id.set("rp-call-1")
        try:
            await registry.rp_http.get_json(f"{upstream_url}/jwks")
        finally:
            logs.request_id.reset(token)
            await close_registry(registry)
        assert seen[-1]["x-request-id"] == "rp-call-1"
    finally:
        broker.stop()
        recorder.stop()


async def test_a_bug_is_answered_500_and_logged_once_with_a_masked_traceback(
    sqlite_databases: SqliteDatabases, captured: io.StringIO, http: httpx.AsyncClient
) -> None:
    port = free_port()
    app = create_app(Settings(database_url=sqlite_databases.fresh(), issuer=f"http://127.0.0.1:{port}"))

    async def broken() -> None:
        raise RuntimeError(f"lookup failed for {AN}")

    app.add_api_route("/broken", broken)
    server = LiveServer(app, port).start()
    try:
        response = await http.get(f"{server.url}/broken", headers={"X-Request-ID": "bug-1"})
        assert response.status_code == 500
        assert "text/html" in response.headers["content-type"]
        assert response.headers["x-frame-options"] == "DENY"  # the page still gets the security headers
        assert AN not in response.text
    finally:
        server.stop()
    errors = [line for line in _lines(captured) if line["level"] == "ERROR"]
    assert len(errors) == 1, errors
    assert errors[0]["request_id"] == "bug-1"
    assert "RuntimeError: lookup failed for 001******345" in errors[0]["exc_info"]
    assert AN not in captured.getvalue()


async def test_a_client_that_goes_away_mid_body_is_not_an_error(
    sqlite_databases: SqliteDatabases, captured: io.StringIO, http: httpx.AsyncClient
) -> None:
    url = sqlite_databases.fresh()
    port = free_port()
    server = LiveServer(
        create_app(Settings(database_url=url, issuer=f"http://127.0.0.1:{port}")), port
    ).start()
    try:
        with socket.create_connection(("127.0.0.1", port)) as raw:
            raw.sendall(
                b"POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000\r\n\r\ngrant_type="
            )
        await asyncio.sleep(0.5)
        assert (await http.get(f"{server.url}/healthz")).status_code == 200
    finally:
        server.stop()
    lines = _lines(captured)
    assert [line for line in lines if line["level"] in ("ERROR", "CRITICAL")] == []
    assert any("client disconnected" in line["message"] for line in lines)


def test_json_logs_are_one_object_per_line_with_level_message_and_request_id(
    tmp_path: Path, database_url: str
) -> None:
    settings = Settings(database_url=database_url, issuer="http://127.0.0.1:1")
    broker = BrokerProcess(
        broker_environment(settings, BROKER_LOG_FORMAT="json", BROKER_LOG_LEVEL="info"), tmp_path / "log"
    ).wait_ready()
    try:
        httpx.get(f"{broker.url}/jwks", headers={"X-Request-ID": "json-check-1"})
        httpx.get(f"{broker.url}/healthz", headers={"X-Request-ID": "json-check-2"})
    finally:
        broker.stop()
    lines = [json.loads(line) for line in broker.log.splitlines() if line.strip()]
    assert lines and all({"level", "message", "time"} <= line.keys() for line in lines)
    served = [line for line in lines if line.get("request_id") == "json-check-1"]
    assert served and served[-1]["route"] == "/jwks" and served[-1]["status"] == 200
    assert not [line for line in lines if line.get("request_id") == "json-check-2"]  # probes: DEBUG only


async def test_database_errors_never_carry_the_statement_parameters(database_url: str) -> None:
    from sqlalchemy import text

    from broker.errors import StoreConflict
    from broker.store.database import Database

    database = Database(database_url)
    insert = text(
        "INSERT INTO signing_keys (kid, alg, private_pem, created_at) VALUES ('k1', 'RS256', :pem, :at)"
    )
    at = datetime(2024, 1, 1)
    first, second = (f"private-{secrets.token_hex(8)}" for _ in range(2))
    try:
        async with database.transaction() as session:
            await session.execute(insert, {"pem": first, "at": at})
        with pytest.raises(StoreConflict) as raised:
            async with database.transaction() as session:
                await session.execute(insert, {"pem": second, "at": at})
    finally:
        await database.dispose()
    traceback_text = "".join(traceback.format_exception(raised.value.__cause__))  # as a log would show it
    assert "INSERT INTO signing_keys" in traceback_text
    assert first not in traceback_text and second not in traceback_text


def test_generated_client_ids_survive_redaction_whole() -> None:
    """A client id is what an operator searches the logs for: never a digit run that masking would cut."""
    from broker.admin.clients import new_client_id

    stream = io.StringIO()
    logger = logging.getLogger("broker.test.client_ids")
    logger.addHandler(logs.handler("json", stream))
    logger.setLevel(logging.INFO)
    logger.propagate = False
    # 2,000 draws: with the former 16 hex digits in one run, about one in forty had a 9-digit run.
    generated = [new_client_id() for _ in range(2000)]
    for client_id in generated:
        logger.info("about a client", extra={"client_id": client_id})
    assert [line["client_id"] for line in _lines(stream)] == generated
