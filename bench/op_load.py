"""Issue 7's benchmark: the load. wrk for single requests, an async client for whole flows (aiohttp's,
``op_http``; the flows run as well on httpx's, which the other benches pass them).

Every phase reports requests/s, p50/p95/p99 latency, the server's CPU milliseconds per operation (from
/proc, the whole process tree) and how busy the server's core was: below 85 % the client, not the server,
was the bottleneck, and the phase says so.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import json
import re
import resource
import secrets
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urljoin, urlsplit

import aiohttp
import op_http
from op_servers import LOAD_CPU, SERVER_CPU, Server, core_busy_ms


class Page(Protocol):
    """What the flows read of a response (``httpx.Response`` and ``op_http.Answer`` both)."""

    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> Any: ...
    @property
    def text(self) -> str: ...
    @property
    def url(self) -> Any: ...
    def json(self) -> Any: ...


class Http(Protocol):
    """What the flows call of a client (``httpx.AsyncClient`` and ``op_http.Client`` both)."""

    async def get(self, url: str, *, params: Any = None) -> Any: ...

    async def post(self, url: str, *, data: Any = None, auth: Any = None) -> Any: ...


SATURATED = 0.85  # share of one core the server must use for its figure to be "server-bound"

WRK_SCRIPT = r"""
local body = os.getenv("WRK_BODY")
if body and #body > 0 then
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
local auth = os.getenv("WRK_AUTH")
if auth and #auth > 0 then wrk.headers["Authorization"] = auth end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p95_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


@dataclass
class Phase:
    target: str
    operation: str
    ops: int
    errors: int
    wall_s: float
    server_cpu_ms: float
    latencies_ms: list[float] = field(default_factory=list)
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    client_cpu_ms: float = 0.0
    round_trips_per_op: float | None = None
    upstream_cpu_ms: float | None = None  # mock VNeID's share, excluded from the broker's figure
    concurrency: int = 0
    core_busy_ms: float = 0.0  # the server's core, every process on it (other work on a shared machine)
    server_system_ms: float | None = None  # of server_cpu_ms, the kernel's (stime)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        if self.latencies_ms and self.p50_ms is None:
            ordered = sorted(self.latencies_ms)
            self.p50_ms, self.p95_ms, self.p99_ms = (
                ordered[int(q * (len(ordered) - 1))] for q in (0.5, 0.95, 0.99)
            )
        busy = self.server_cpu_ms / (self.wall_s * 1000) if self.wall_s else 0.0
        client_busy = self.client_cpu_ms / (self.wall_s * 1000) if self.wall_s else 0.0
        notes = list(self.notes)
        others = self.core_busy_ms / (self.wall_s * 1000) - busy if self.wall_s else 0.0
        if busy < SATURATED:
            cause = (
                f"other processes took {others:.0%} of that core"
                if others > 0.2
                else f"the client (its core {client_busy:.0%} busy) or latency bound the rate"
            )
            notes.append(f"server used {busy:.0%} of its core: {cause}")
        return {
            "target": self.target,
            "operation": self.operation,
            "concurrency": self.concurrency,
            "ops": self.ops,
            "errors": self.errors,
            "req_per_s": round(self.ops / self.wall_s, 1) if self.wall_s else 0.0,
            "p50_ms": _round(self.p50_ms),
            "p95_ms": _round(self.p95_ms),
            "p99_ms": _round(self.p99_ms),
            "cpu_ms_per_op": round(self.server_cpu_ms / self.ops, 3) if self.ops else None,
            "server_core_busy": round(busy, 2),
            "client_core_busy": round(client_busy, 2),
            "others_on_server_core": round(others, 2),
            "system_share": round(self.server_system_ms / self.server_cpu_ms, 2)
            if self.server_system_ms is not None and self.server_cpu_ms
            else None,
            "db_round_trips_per_op": _round(self.round_trips_per_op),
            "upstream_cpu_ms_per_op": round(self.upstream_cpu_ms / self.ops, 3)
            if self.upstream_cpu_ms is not None and self.ops
            else None,
            "notes": notes,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _children_cpu_ms() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000


def wrk(
    server: Server,
    operation: str,
    path: str,
    *,
    seconds: float,
    connections: int,
    auth: str = "",
    body: str = "",
    round_trips: float | None = None,
) -> Phase:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    argv = [
        "taskset",
        "-c",
        LOAD_CPU,
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{int(seconds)}s",
        "--timeout",
        "5s",
    ]
    argv += ["-s", script.name, server.url + path]
    env = {"WRK_AUTH": auth, "WRK_BODY": body, "PATH": "/usr/bin:/bin"}
    core_before = core_busy_ms(SERVER_CPU)
    client_before, cpu_before, started = _children_cpu_ms(), server.cpu_ms(), time.monotonic()
    output = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
    wall, cpu = time.monotonic() - started, server.cpu_ms() - cpu_before
    Path(script.name).unlink()
    found = re.search(r"WRKJSON (\{.*\})", output)
    if found is None:
        raise RuntimeError(f"wrk printed no summary:\n{output}")
    figures = json.loads(found.group(1))
    errors = figures["status_errors"] + figures["socket_errors"]
    phase = Phase(
        target=server.name,
        operation=operation,
        ops=figures["requests"],
        errors=errors,
        wall_s=figures["duration_us"] / 1e6,
        server_cpu_ms=cpu * (figures["duration_us"] / 1e6) / wall if wall else cpu,
        p50_ms=figures["p50_us"] / 1000,
        p95_ms=figures["p95_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        client_cpu_ms=_children_cpu_ms() - client_before,
        round_trips_per_op=round_trips,
        concurrency=connections,
        core_busy_ms=(core_busy_ms(SERVER_CPU) - core_before) * (figures["duration_us"] / 1e6) / wall
        if wall
        else 0.0,
    )
    if errors:
        phase.notes.append(f"{errors} requests failed or answered non-2xx")
    return phase


# ---- flows ---------------------------------------------------------------------------------------


# The forms' start tags found by regular expressions, not html.parser: that parser tokenises the whole page
# in Python, and was 40 % of the load generator's CPU in the login phases (twenty-second round), on the core
# it shares with mock VNeID. The pages are the servers' own, well formed; only <form> and <input> matter.
_FORM_OR_INPUT = re.compile(r"<(form|input)\b((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")


def _forms(page: str) -> list[tuple[str, dict[str, str]]]:
    forms: list[tuple[str, dict[str, str]]] = []
    for tag, attribute_text in _FORM_OR_INPUT.findall(page):
        attributes = {
            name.lower(): html.unescape(double or single or bare)
            for name, double, single, bare in _ATTRIBUTE.findall(attribute_text)
        }
        if tag.lower() == "form":
            forms.append((attributes.get("action", ""), {}))
        elif forms and "name" in attributes and attributes.get("type") != "submit":
            forms[-1][1][attributes["name"]] = attributes.get("value", "")
    return forms


def form_on(response: Page, needs: str) -> tuple[str, dict[str, str]]:
    for action, fields in _forms(response.text):
        if needs in fields or action.endswith(needs):
            return urljoin(str(response.url), action or str(response.url)), fields
    raise RuntimeError(
        f"no form with {needs} at {response.url} ({response.status_code}): {response.text[:300]}"
    )


def prepared_vneid_button(page: Page) -> tuple[str, dict[str, str]] | None:
    """The login page's VNeID button when /authorize prepared it: a GET form to the upstream itself."""
    try:
        # Its upstream ``state`` marks it (PKCE is an upstream's option); the page's POST forms carry ``flow``.
        action, fields = form_on(page, "state")
    except RuntimeError:
        return None  # it posts to the broker's /login/vneid (several upstreams, or before the eighth round)
    return action, fields


def _expect_redirect(response: Page) -> str:
    if response.status_code not in (302, 303):
        raise RuntimeError(
            f"{urlsplit(str(response.url)).path} answered {response.status_code}: {response.text[:300]}"
        )
    return urljoin(str(response.url), response.headers["location"])


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


BROKER_SCOPE = "openid profile identification account"


def authorization_query(
    client_id: str, redirect_uri: str, scope: str = BROKER_SCOPE
) -> tuple[str, dict[str, str]]:
    """A relying party's authorization request (code, PKCE S256, a fresh state and nonce): its PKCE
    verifier and its query's parameters."""
    verifier = secrets.token_urlsafe(48)
    return verifier, {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(16),
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }


@dataclass
class Tokens:
    access_token: str
    refresh_token: str | None


@dataclass
class Code:
    code: str
    verifier: str


class Op:
    """One OpenID Provider as the load generator sees it: its login and its token endpoint."""

    name: str
    url: str

    async def authorize(self, http: Http, who: str) -> tuple[Code, int]:
        raise NotImplementedError

    async def redeem(self, http: Http, code: Code) -> tuple[Tokens, int]:
        raise NotImplementedError

    async def refresh(self, http: Http, token: str) -> tuple[Tokens, int]:
        raise NotImplementedError

    def for_logins(self) -> Op:
        """The provider as the complete logins use it (``complete_login``)."""
        return self


def _trips(response: Page) -> int:
    return int(response.headers.get("x-db-round-trips", 0))


class BrokerOp(Op):
    def __init__(
        self,
        url: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        password: str,
        logins: BrokerOp | None = None,
    ) -> None:
        self.name, self.url = "broker", url
        self.client_id, self.client_secret, self.redirect_uri = client_id, client_secret, redirect_uri
        self.password = password
        self._logins = logins

    def for_logins(self) -> Op:
        """``logins``: the same broker through the relying party that the complete logins use, registered
        as the peer's client is (no refresh token issued: eighteenth round)."""
        return self._logins or self

    async def authorize(self, http: Http, who: str) -> tuple[Code, int]:
        verifier, params = authorization_query(self.client_id, self.redirect_uri)
        trips = 0
        response = await http.get(f"{self.url}/authorize", params=params)
        trips += _trips(response)
        if response.status_code == 200:  # the login page itself (since the eighth round)
            login_page = response
        else:
            login_page = await http.get(_expect_redirect(response))
            trips += _trips(login_page)
        prepared = prepared_vneid_button(login_page)
        if prepared is not None:
            vneid_page = await http.get(prepared[0], params=prepared[1])
        else:
            action, fields = form_on(login_page, "/login/vneid")
            started = await http.post(action, data=fields)
            trips += _trips(started)
            vneid_page = await http.get(_expect_redirect(started))
        action, fields = form_on(vneid_page, "password")
        signed_in = await http.post(action, data={**fields, "username": who, "password": self.password})
        callback = await http.get(_expect_redirect(signed_in))
        trips += _trips(callback)
        query = parse_qs(urlsplit(_expect_redirect(callback)).query)
        if "code" not in query:
            raise RuntimeError(f"no code: {query}")
        return Code(query["code"][0], verifier), trips

    async def redeem(self, http: Http, code: Code) -> tuple[Tokens, int]:
        response = await http.post(
            f"{self.url}/token",
            data={
                "grant_type": "authorization_code",
                "code": code.code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": code.verifier,
            },
            auth=(self.client_id, self.client_secret),
        )
        if response.status_code != 200:
            raise RuntimeError(f"token: {response.status_code} {response.text[:300]}")
        body = response.json()
        return Tokens(body["access_token"], body.get("refresh_token")), _trips(response)

    async def refresh(self, http: Http, token: str) -> tuple[Tokens, int]:
        response = await http.post(
            f"{self.url}/token",
            data={"grant_type": "refresh_token", "refresh_token": token},
            auth=(self.client_id, self.client_secret),
        )
        if response.status_code != 200:
            raise RuntimeError(f"refresh: {response.status_code} {response.text[:300]}")
        body = response.json()
        return Tokens(body["access_token"], body.get("refresh_token")), _trips(response)


class PeerOp(Op):
    """panva's oidc-provider as /work/shared/peers/node-oidc-provider serves it."""

    client_id = "bench-client"
    client_secret = "bench-secret-0123456789abcdef0123456789abcdef"
    redirect_uri = "http://127.0.0.1:4999/cb"

    def __init__(self, url: str) -> None:
        self.name, self.url = "peer_op", url

    async def authorize(self, http: Http, who: str) -> tuple[Code, int]:
        verifier, params = authorization_query(self.client_id, self.redirect_uri, "openid profile")
        response = await http.get(f"{self.url}/auth", params=params)
        form_page = await http.get(_expect_redirect(response))
        action, fields = form_on(form_page, "password")
        fields = {**fields, "username": "alice", "password": "correct horse battery staple"}
        done = await http.post(action, data=fields)
        back = await http.get(_expect_redirect(done))
        query = parse_qs(urlsplit(_expect_redirect(back)).query)
        return Code(query["code"][0], verifier), 0

    async def redeem(self, http: Http, code: Code) -> tuple[Tokens, int]:
        response = await http.post(
            f"{self.url}/token",
            data={
                "grant_type": "authorization_code",
                "code": code.code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": code.verifier,
            },
            auth=(self.client_id, self.client_secret),
        )
        if response.status_code != 200:
            raise RuntimeError(f"peer token: {response.status_code} {response.text[:300]}")
        return Tokens(response.json()["access_token"], None), 0


Job = Callable[[Http, int], Awaitable[int]]


def complete_login(op: Op, citizen_of: Callable[[int], str]) -> Job:
    """A flow's job: the ``index``-th login, of ``citizen_of(index)``, its code redeemed; its round trips."""

    provider = op.for_logins()

    async def login(http: Http, index: int) -> int:
        code, trips = await provider.authorize(http, citizen_of(index))
        _, more = await provider.redeem(http, code)
        return trips + more

    return login


async def drive(
    server: Server,
    operation: str,
    job: Job,
    *,
    concurrency: int,
    count: int,
    seconds: float,
    upstream: Server | None = None,
) -> Phase:
    """Runs ``job`` ``count`` times (or until ``seconds`` pass) by ``concurrency`` workers, each with its own
    cookie jar (one browser each, cleared before every job)."""
    latencies: list[float] = []
    errors: list[str] = []
    trips = 0
    next_index = 0
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal next_index, trips
        async with op_http.Client(connections=4) as http:
            while next_index < count and time.monotonic() < deadline:
                index = next_index
                next_index += 1
                http.clear_cookies()
                begun = time.perf_counter()
                try:
                    cost = await job(
                        http, index
                    )  # not `trips += await ...`: that reads trips before awaiting
                    trips += cost
                except (TimeoutError, aiohttp.ClientError, RuntimeError, KeyError) as exc:
                    errors.append(str(exc)[:200])
                    continue
                latencies.append((time.perf_counter() - begun) * 1000)

    upstream_before = upstream.cpu_ms() if upstream else None
    client_before = time.process_time()
    core_before = core_busy_ms(SERVER_CPU)
    (user_before, system_before), started = server.user_and_system_ms(), time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, (user, system) = time.monotonic() - started, server.user_and_system_ms()
    cpu, system = user + system - user_before - system_before, system - system_before
    phase = Phase(
        target=server.name,
        operation=operation,
        ops=len(latencies),
        errors=len(errors),
        wall_s=wall,
        server_cpu_ms=cpu,
        latencies_ms=latencies,
        client_cpu_ms=(time.process_time() - client_before) * 1000,
        round_trips_per_op=trips / len(latencies) if latencies and server.name.startswith("broker") else None,
        upstream_cpu_ms=upstream.cpu_ms() - upstream_before
        if upstream and upstream_before is not None
        else None,
        concurrency=concurrency,
        core_busy_ms=core_busy_ms(SERVER_CPU) - core_before,
        server_system_ms=system,
    )
    if errors:
        phase.notes.append(f"{len(errors)} failed, first: {errors[0]}")
    return phase
