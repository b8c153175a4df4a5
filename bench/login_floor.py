"""Issue 7: the floor of a login in CPython, served the way the broker serves it.

The broker's complete login does, per citizen: ``/authorize`` (one INSERT, a page with the VNeID button),
the callback (the flow read, VNeID's token call, its ID token checked, its userinfo call, the account
looked up, one statement writing the account, the audit row chained under the advisory lock, the session,
the code and the flow's move) and ``/token`` (the code read, then spent with its access token written,
an RS256 ID token). This module does exactly that work and nothing else: a bare ASGI app under the same
uvicorn, uvloop and httptools, asyncpg's prepared statements, the broker's connections to VNeID
(``broker.upstream.wire``, since the twentieth round; aiohttp's client before), PyJWT with
the keys parsed once; no framework, no ORM, no middleware, no policy, no templates, no metrics, no logs.

It is not a broker (it refuses nothing a citizen could get wrong beyond the protocol's checks): it is the
least CPU a Python server can spend on the broker's login with the broker's I/O (six round trips, two
upstream calls, one RSA signature, one RSA verification). ``op_bench.py --floor`` runs it beside the
broker and the peer, driven by the same load generator against the same mock VNeID, so that the distance
between the broker and the peer splits into what the broker's code costs above this floor and what the
floor itself costs above the peer.

    .venv/bin/python bench/login_floor.py --port 18002 --database-url postgresql://... --vneid-url http://...
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import html
import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import asyncpg
import jwt
import uvicorn
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from cryptography.hazmat.primitives.asymmetric import rsa

from broker.upstream import wire

CLIENT_ID, CLIENT_SECRET = "floor-rp", "floor-rp-secret"
VNEID_CLIENT_ID, VNEID_CLIENT_SECRET = "broker-dev", "broker-dev-secret"
_SECRET_DIGEST = hashlib.sha256(CLIENT_SECRET.encode()).digest()
_AUDIT_LOCK = 0x61756466  # any constant: one head for the chain, as the broker's

SCHEMA = """
CREATE TABLE IF NOT EXISTS floor_flow (
    id text PRIMARY KEY, client_id text NOT NULL, redirect_uri text NOT NULL, state text,
    nonce text, code_challenge text NOT NULL, scope text NOT NULL, browser text NOT NULL,
    upstream_state text NOT NULL UNIQUE, upstream_nonce text NOT NULL, upstream_verifier text NOT NULL,
    status text NOT NULL, account_id bigint, created_at timestamptz NOT NULL, expires_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS floor_account (
    id bigserial PRIMARY KEY, sub text NOT NULL UNIQUE, issuer text NOT NULL, subject text NOT NULL,
    identification_number text NOT NULL, name text, birthdate text, level int NOT NULL,
    created_at timestamptz NOT NULL, last_login_at timestamptz NOT NULL, UNIQUE (issuer, subject));
CREATE TABLE IF NOT EXISTS floor_audit (
    id bigserial PRIMARY KEY, at timestamptz NOT NULL, actor text NOT NULL, action text NOT NULL,
    sub text, details jsonb NOT NULL, prev_hash text, hash text NOT NULL);
CREATE TABLE IF NOT EXISTS floor_session (
    id text PRIMARY KEY, account_id bigint NOT NULL, auth_time timestamptz NOT NULL,
    created_at timestamptz NOT NULL, expires_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS floor_code (
    code_hash text PRIMARY KEY, client_id text NOT NULL, redirect_uri text NOT NULL,
    account_id bigint NOT NULL, sub text NOT NULL, nonce text, code_challenge text NOT NULL,
    scope text NOT NULL, auth_time timestamptz NOT NULL, acr text NOT NULL, amr jsonb NOT NULL,
    expires_at timestamptz NOT NULL, used_at timestamptz);
CREATE TABLE IF NOT EXISTS floor_access_token (
    token_hash text PRIMARY KEY, client_id text NOT NULL, account_id bigint NOT NULL, scope text NOT NULL,
    expires_at timestamptz NOT NULL);
"""

INSERT_FLOW = """INSERT INTO floor_flow (id, client_id, redirect_uri, state, nonce, code_challenge, scope,
browser, upstream_state, upstream_nonce, upstream_verifier, status, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending', now(), now() + interval '10 minutes')"""
READ_FLOW = """SELECT id, client_id, redirect_uri, state, nonce, code_challenge, scope, browser,
upstream_nonce, upstream_verifier, status, expires_at > now() AS live FROM floor_flow WHERE upstream_state = $1"""
READ_ACCOUNT = "SELECT id, sub FROM floor_account WHERE issuer = $1 AND subject = $2"
# The account (made or touched), the flow moved on only if still pending, the audit row chained under
# the lock, the session and the code: one statement, no BEGIN, as the broker's commit.
LOG_IN = """WITH account AS (
    INSERT INTO floor_account (sub, issuer, subject, identification_number, name, birthdate, level,
        created_at, last_login_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, now(), now())
    ON CONFLICT (issuer, subject) DO UPDATE SET last_login_at = now()
    RETURNING id, sub),
flow AS (
    UPDATE floor_flow SET status = 'completed', account_id = (SELECT id FROM account)
    WHERE id = $8 AND status = 'pending' RETURNING id),
locked AS (SELECT pg_advisory_xact_lock($9) AS held),
head AS (SELECT hash FROM floor_audit, locked ORDER BY id DESC LIMIT 1),
audit AS (
    INSERT INTO floor_audit (at, actor, action, sub, details, prev_hash, hash)
    SELECT now(), 'citizen:' || account.sub, 'login.vneid', account.sub, $10::jsonb,
        (SELECT hash FROM head),
        encode(sha256(convert_to(coalesce((SELECT hash FROM head), '') || $10, 'UTF8')), 'hex')
    FROM account, flow, locked),
session AS (
    INSERT INTO floor_session (id, account_id, auth_time, created_at, expires_at)
    SELECT $11, account.id, $12, now(), now() + interval '8 hours' FROM account, flow),
code AS (
    INSERT INTO floor_code (code_hash, client_id, redirect_uri, account_id, sub, nonce, code_challenge,
        scope, auth_time, acr, amr, expires_at)
    SELECT $13, $14, $15, account.id, account.sub, $16, $17, $18, $12, $19, $20::jsonb,
        now() + interval '60 seconds' FROM account, flow)
SELECT (SELECT id FROM flow) AS moved"""
READ_CODE = """SELECT client_id, redirect_uri, account_id, sub, nonce, code_challenge, scope, auth_time, acr,
amr, used_at IS NULL AND expires_at > now() AS live FROM floor_code WHERE code_hash = $1"""
SPEND_CODE = """WITH spent AS (
    UPDATE floor_code SET used_at = now() WHERE code_hash = $1 AND used_at IS NULL RETURNING account_id, scope)
INSERT INTO floor_access_token (token_hash, client_id, account_id, scope, expires_at)
SELECT $2, $3, account_id, scope, now() + interval '1 hour' FROM spent RETURNING 1"""

PAGE = (
    "<!doctype html><html lang=vi><meta charset=utf-8><title>Đăng nhập</title><body><h1>Đăng nhập</h1>"
    '<form method=get action="{action}">{fields}<button>Đăng nhập bằng VNeID</button></form></body></html>'
)


class Connections:
    """A fixed set of connections lent one statement at a time, as the broker's ``StatementPool`` lends
    them: nothing reset on return (nothing here opens a transaction or changes a setting). asyncpg's
    ``Pool`` resets each connection it takes back, a round trip per statement (fifteenth round: a quarter
    of the floor's CPU until then)."""

    def __init__(self) -> None:
        self._idle: asyncio.LifoQueue[asyncpg.Connection] = asyncio.LifoQueue()
        self._all: list[asyncpg.Connection] = []

    async def open(self, database_url: str, size: int) -> None:
        self._all = [await asyncpg.connect(database_url) for _ in range(size)]
        for connection in self._all:
            self._idle.put_nowait(connection)

    async def close(self) -> None:
        for connection in self._all:
            await connection.close()

    async def execute(self, sql: str, *arguments: Any) -> str:
        connection = await self._idle.get()
        try:
            return await connection.execute(sql, *arguments)
        finally:
            self._idle.put_nowait(connection)

    async def fetchrow(self, sql: str, *arguments: Any) -> Any:
        connection = await self._idle.get()
        try:
            return await connection.fetchrow(sql, *arguments)
        finally:
            self._idle.put_nowait(connection)

    async def fetchval(self, sql: str, *arguments: Any) -> Any:
        connection = await self._idle.get()
        try:
            return await connection.fetchval(sql, *arguments)
        finally:
            self._idle.put_nowait(connection)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _header(scope: dict[str, Any], wanted: bytes) -> str | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return value.decode("latin-1")
    return None


def _cookie(scope: dict[str, Any], name: str) -> str | None:
    raw = _header(scope, b"cookie")
    if raw:
        for part in raw.split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value
    return None


class Floor:
    def __init__(self, database_url: str, vneid_url: str, issuer: str, rp_redirect_uri: str) -> None:
        self.database_url, self.vneid_url, self.issuer = database_url, vneid_url, issuer
        self.rp_redirect_uri = rp_redirect_uri  # floor-rp's one redirect URI
        self.redirect_uri = f"{issuer}/login/vneid/callback"
        self.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_urlsafe(8)
        self.pool = Connections()
        self.http = wire.Connections(connect_timeout=5.0, read_timeout=10.0, pool_timeout=10.0)
        self.metadata: dict[str, Any] = {}
        self.vneid_key: Any = None
        self.vneid_auth = (
            "Basic " + base64.b64encode(f"{VNEID_CLIENT_ID}:{VNEID_CLIENT_SECRET}".encode()).decode()
        )

    async def start(self) -> None:
        await self.pool.open(self.database_url, 32)
        await self.pool.execute(SCHEMA)
        _, document, _ = await self.http.request(
            "GET", f"{self.vneid_url}/.well-known/openid-configuration", {}
        )
        self.metadata = json.loads(document)
        _, keys, _ = await self.http.request("GET", self.metadata["jwks_uri"], {})
        jwks = json.loads(keys)
        self.vneid_key = jwt.PyJWK(jwks["keys"][0]).key  # parsed once

    async def stop(self) -> None:
        await self.http.close()
        await self.pool.close()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await self.start()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.stop()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path = scope["path"]
        if path == "/authorize":
            status, headers, body = await self.authorize(scope)
        elif path == "/login/vneid/callback":
            status, headers, body = await self.callback(scope)
        elif path == "/token":
            status, headers, body = await self.token(scope, receive)
        elif path == "/healthz":
            status, headers, body = 200, [], b"ok"
        else:
            status, headers, body = 404, [], b"not found"
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def authorize(self, scope: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        query = dict(parse_qsl(scope["query_string"].decode("latin-1")))
        client_id, redirect_uri = query.get("client_id"), query.get("redirect_uri")
        if client_id != CLIENT_ID or redirect_uri != self.rp_redirect_uri:
            return 400, [], b"invalid_request"
        if (
            query.get("response_type") != "code"
            or "openid" not in query.get("scope", "").split()
            or query.get("code_challenge_method") != "S256"
            or not query.get("code_challenge")
        ):
            return 400, [], b"invalid_request"
        headers: list[tuple[bytes, bytes]] = [(b"content-type", b"text/html; charset=utf-8")]
        browser = _cookie(scope, "browser")
        if browser is None:
            browser = secrets.token_urlsafe(32)
            headers.append((b"set-cookie", f"browser={browser}; Path=/; HttpOnly; SameSite=Lax".encode()))
        upstream_state, upstream_nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(48)
        await self.pool.execute(
            INSERT_FLOW,
            secrets.token_urlsafe(16),
            client_id,
            redirect_uri,
            query.get("state"),
            query.get("nonce"),
            query["code_challenge"],
            query["scope"],
            _digest(browser),
            upstream_state,
            upstream_nonce,
            verifier,
        )
        fields = {
            "response_type": "code",
            "client_id": VNEID_CLIENT_ID,
            "redirect_uri": self.redirect_uri,
            "scope": "openid profile vneid",
            "state": upstream_state,
            "nonce": upstream_nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        hidden = "".join(
            f'<input type=hidden name="{name}" value="{html.escape(value)}">'
            for name, value in fields.items()
        )
        page = PAGE.format(action=html.escape(self.metadata["authorization_endpoint"]), fields=hidden)
        return 200, headers, page.encode()

    async def callback(self, scope: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        query = dict(parse_qsl(scope["query_string"].decode("latin-1")))
        browser = _cookie(scope, "browser")
        flow = await self.pool.fetchrow(READ_FLOW, query.get("state", ""))
        if (
            flow is None
            or browser is None
            or not hmac.compare_digest(flow["browser"], _digest(browser))
            or flow["status"] != "pending"
            or not flow["live"]
            or "code" not in query
        ):
            return 400, [], b"login_flow_error"
        form = {
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": self.redirect_uri,
            "code_verifier": flow["upstream_verifier"],
        }
        status, answer, _ = await self.http.request(
            "POST",
            self.metadata["token_endpoint"],
            {"Authorization": self.vneid_auth, "Content-Type": "application/x-www-form-urlencoded"},
            urlencode(form).encode(),
        )
        if status != 200:
            return 502, [], b"token_exchange_failed"
        tokens = json.loads(answer)
        try:
            claims = jwt.decode(
                tokens["id_token"],
                self.vneid_key,
                algorithms=["RS256"],
                audience=VNEID_CLIENT_ID,
                issuer=self.vneid_url,
                leeway=60,
            )
        except jwt.InvalidTokenError:
            return 502, [], b"id_token_invalid"
        if not hmac.compare_digest(claims.get("nonce", ""), flow["upstream_nonce"]):
            return 502, [], b"id_token_invalid"
        status, answer, _ = await self.http.request(
            "GET", self.metadata["userinfo_endpoint"], {"Authorization": f"Bearer {tokens['access_token']}"}
        )
        if status != 200:
            return 502, [], b"userinfo_failed"
        userinfo = json.loads(answer)
        if userinfo.get("sub") != claims["sub"] or not userinfo.get("identification_number"):
            return 502, [], b"userinfo_invalid"
        known = await self.pool.fetchrow(READ_ACCOUNT, self.vneid_url, claims["sub"])
        sub = known["sub"] if known else secrets.token_urlsafe(16)
        number = userinfo["identification_number"]
        code, session = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        auth_time = claims.get("auth_time", claims["iat"])
        level = 2 if claims.get("acr", "").endswith("level2") else 1
        details = json.dumps(
            {"identification_number": number[:3] + "*" * (len(number) - 6) + number[-3:], "level": level}
        )
        moved = await self.pool.fetchval(
            LOG_IN,
            sub,
            self.vneid_url,
            claims["sub"],
            number,
            userinfo.get("name"),
            userinfo.get("birthdate"),
            level,
            flow["id"],
            _AUDIT_LOCK,
            details,
            _digest(session),
            datetime.fromtimestamp(auth_time, UTC),
            _digest(code),
            flow["client_id"],
            flow["redirect_uri"],
            flow["nonce"],
            flow["code_challenge"],
            flow["scope"],
            f"urn:vneid:loa:level{level}",
            json.dumps(claims.get("amr") or ["pwd"]),
        )
        if moved is None:
            return 400, [], b"login_flow_error"
        location = flow["redirect_uri"] + "?" + urlencode({"code": code, "state": flow["state"] or ""})
        return (
            302,
            [
                (b"location", location.encode()),
                (b"set-cookie", f"session={session}; Path=/; HttpOnly; SameSite=Lax".encode()),
            ],
            b"",
        )

    async def token(
        self, scope: dict[str, Any], receive: Any
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        form = dict(parse_qsl(b"".join(chunks).decode()))
        client_id = self._client(_header(scope, b"authorization"))
        json_headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
        if client_id is None:
            return 401, json_headers, b'{"error":"invalid_client"}'
        if form.get("grant_type") != "authorization_code" or "code" not in form:
            return 400, json_headers, b'{"error":"invalid_request"}'
        code_hash = _digest(form["code"])
        code = await self.pool.fetchrow(READ_CODE, code_hash)
        if (
            code is None
            or not code["live"]
            or code["client_id"] != client_id
            or code["redirect_uri"] != form.get("redirect_uri")
            or create_s256_code_challenge(form.get("code_verifier", "")) != code["code_challenge"]
        ):
            return 400, json_headers, b'{"error":"invalid_grant"}'
        access = secrets.token_urlsafe(32)
        if await self.pool.fetchval(SPEND_CODE, code_hash, _digest(access), client_id) is None:
            return 400, json_headers, b'{"error":"invalid_grant"}'
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": code["sub"],
            "aud": client_id,
            "iat": now,
            "exp": now + 300,
            "auth_time": int(code["auth_time"].timestamp()),
            "acr": code["acr"],
            "amr": json.loads(code["amr"]),
        }
        if code["nonce"]:
            claims["nonce"] = code["nonce"]
        id_token = jwt.encode(claims, self.signing_key, algorithm="RS256", headers={"kid": self.kid})
        body = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": code["scope"],
            "id_token": id_token,
        }
        return 200, json_headers, json.dumps(body).encode()

    def _client(self, authorization: str | None) -> str | None:
        if not authorization or not authorization.startswith("Basic "):
            return None
        try:
            client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
        except ValueError:
            return None
        good = hmac.compare_digest(hashlib.sha256(secret.encode()).digest(), _SECRET_DIGEST)
        return client_id if good and client_id == CLIENT_ID else None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True, help="postgresql://… (asyncpg's own form)")
    parser.add_argument("--vneid-url", required=True)
    parser.add_argument("--redirect-uri", required=True, help="the relying party's, registered for floor-rp")
    args = parser.parse_args()
    floor = Floor(args.database_url, args.vneid_url, f"http://127.0.0.1:{args.port}", args.redirect_uri)
    uvicorn.run(
        floor,
        host="127.0.0.1",
        port=args.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
