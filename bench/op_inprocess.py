"""Issue 7: a login's CPU in one process, step by step and function by function.

    .venv/bin/python bench/op_inprocess.py [--floor] [--logins 300] [--rounds 3]
        [--time MODULE:QUALNAME ...] [--profile STEP] [--port-base 21000]

Starts PostgreSQL's database and mock VNeID as ``op_bench.py`` does, then calls the broker's app (or the
floor's, ``--floor``) in this process, as uvicorn calls it (ASGI), one login at a time: ``/authorize``,
mock VNeID's form (over loopback, not counted), the callback, ``/token``. Each step's figure is this
thread's CPU time around the app's call, which with one request in flight is that request's own (its
database and VNeID I/O included, as the event loop serves it); no HTTP server and no other process is in
it, so it moves less from run to run than a server measured from outside (``op_login_steps.py``), and a
change of a few microseconds shows.

``--time broker.store.database:Database._by_asyncpg`` wraps a function (async or not) with the same timer
and prints its inclusive CPU per login: where a step's time goes, function by function, without a
profiler's own cost per call (sixteenth round: cProfile charged the small calls three times their cost).
Name a function where its callers look it up (a module's attribute, or a class's). ``--profile STEP``:
cProfile of that step's calls, the top functions printed and the stats kept in ``/tmp``.

``--bytecodes TOP`` (``bench/bytecodes.py``): the Python bytecodes the rounds' app calls executed, per login,
by package and for the ``TOP`` functions that executed most: which Python functions the interpreter's
instructions went to (twenty-first round). Tracing slows the calls tens of times: its CPU figures mean
nothing.

``--instructions`` (``bench/instructions.py``), under ``valgrind --tool=callgrind --collect-atstart=no``:
callgrind counts the instructions of the rounds' app calls only (``--count-step`` one step's), which
repeat to 0.02 % from run to run where the CPU time moves by a tenth; the total is in callgrind's output
file (``callgrind_annotate`` it):

    valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file=/tmp/cg.broker \
        .venv/bin/python bench/op_inprocess.py --instructions --rounds 1 --logins 200 --warm-up 60
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import functools
import gc
import importlib
import inspect
import json
import os
import pstats
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import uvloop
from bytecodes import Bytecodes
from instructions import Counting
from op_load import authorization_query, form_on, prepared_vneid_button
from op_servers import (
    FLOOR_CLIENT,
    QUIET_TIMERS,
    BrokerStack,
    drop_database,
    floor_port,
    pg_url,
    write_citizens,
)

STEPS = ("authorize", "callback", "token")
App = Callable[[dict[str, Any], Any, Any], Coroutine[Any, Any, None]]


class Answer:
    """What the app sent: status, headers, body."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""

    def header(self, name: str) -> str | None:
        return next((v.decode() for k, v in self.headers if k.decode().lower() == name), None)

    def cookies(self) -> str:
        pairs = [v.decode().split(";", 1)[0] for k, v in self.headers if k.decode().lower() == "set-cookie"]
        return "; ".join(pairs)

    def page(self, url: str) -> httpx.Response:
        return httpx.Response(self.status, content=self.body, request=httpx.Request("GET", url))


async def call(app: App, method: str, url: str, headers: list[tuple[str, str]], body: bytes = b"") -> Answer:
    """One request, as uvicorn's httptools protocol builds its scope."""
    parts = urlsplit(url)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": parts.path,
        "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(),
        "root_path": "",
        "headers": [(b"host", parts.netloc.encode())] + [(k.encode(), v.encode()) for k, v in headers],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client stays: no disconnect
        raise AssertionError("unreachable")

    answer = Answer()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.status, answer.headers = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    await app(scope, receive, send)
    return answer


def bracket(target: str, enter: Callable[[], Any], leave: Callable[[Any], None]) -> None:
    """Replaces ``target`` (``MODULE:QUALNAME``, where its callers look it up: a module's attribute or a
    class's) with a wrapper that calls ``enter()`` before each call, async or not, and ``leave`` with what
    ``enter`` returned after it."""
    module, _, qualname = target.partition(":")
    owner: Any = importlib.import_module(module)
    *path, name = qualname.split(".")
    for part in path:
        owner = getattr(owner, part)
    function = getattr(owner, name)
    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def bracketed_async(*args: Any, **kwargs: Any) -> Any:
            entered = enter()
            try:
                return await function(*args, **kwargs)
            finally:
                leave(entered)

        setattr(owner, name, bracketed_async)
        return

    @functools.wraps(function)
    def bracketed(*args: Any, **kwargs: Any) -> Any:
        entered = enter()
        try:
            return function(*args, **kwargs)
        finally:
            leave(entered)

    setattr(owner, name, bracketed)


class Timers:
    """Inclusive thread CPU of the functions ``--time`` names, per name."""

    def __init__(self) -> None:
        self.spent: dict[str, int] = defaultdict(int)

    def wrap(self, target: str) -> None:
        def leave(started: int) -> None:
            self.spent[target] += time.thread_time_ns() - started

        bracket(target, time.thread_time_ns, leave)


def count_in(counting: Counting, target: str) -> None:
    """``--count-in``: callgrind counts inside calls of ``target`` only (inclusive, outermost call), once
    ``counting`` is armed (the rounds)."""
    depth = [0]

    def enter() -> None:
        depth[0] += 1
        if depth[0] == 1 and counting.armed:
            counting.on()

    def leave(_: None) -> None:
        depth[0] -= 1
        if depth[0] == 0:
            counting.off()

    bracket(target, enter, leave)


class Logins:
    def __init__(self, app: App, stack: BrokerStack, base: str, client: tuple[str, str], args: Any) -> None:
        self.app, self.stack, self.base, self.args = app, stack, base, args
        self.client_id = client[0]
        self.basic = "Basic " + base64.b64encode(f"{client[0]}:{client[1]}".encode()).decode()
        self.cpu: dict[str, float] = defaultdict(float)
        self.profile: cProfile.Profile | None = None
        self.counting: Counting | None = None  # during the rounds only, under callgrind
        self.bytecodes: Bytecodes | None = None  # during the rounds only, with --bytecodes

    async def _timed(self, step: str, *request: Any, **more: Any) -> Answer:
        profiling = self.profile is not None and step == self.args.profile
        if profiling:
            assert self.profile is not None
            self.profile.enable()
        counted = (
            self.counting is not None and self.args.count_in is None and self.args.count_step in (None, step)
        )
        if counted:
            assert self.counting is not None
            self.counting.on()
        if self.bytecodes is not None:
            self.bytecodes.on()
        started = time.thread_time_ns()
        answer = await call(self.app, *request, **more)
        self.cpu[step] += (time.thread_time_ns() - started) / 1e6
        if self.bytecodes is not None:
            self.bytecodes.off()
        if counted:
            assert self.counting is not None
            self.counting.off()
        if profiling:
            assert self.profile is not None
            self.profile.disable()
        return answer

    async def login(self, http: httpx.AsyncClient, citizen: str) -> None:
        verifier, query = authorization_query(self.client_id, self.stack.redirect_uri)
        url = f"{self.base}/authorize?{urlencode(query)}"
        page = await self._timed("authorize", "GET", url, [])
        if page.status != 200:
            raise RuntimeError(f"/authorize answered {page.status}: {page.body[:300]!r}")
        cookies = page.cookies()
        prepared = prepared_vneid_button(page.page(url))
        if prepared is None:  # the button posts to /login/vneid (the upstream's discovery not read yet)
            action, fields = form_on(page.page(url), "/login/vneid")
            form = [("cookie", cookies), ("content-type", "application/x-www-form-urlencoded")]
            started = await self._timed("authorize", "POST", action, form, urlencode(fields).encode())
            vneid_page = await http.get(started.header("location") or "")
        else:
            vneid_page = await http.get(prepared[0], params=prepared[1])
        action, fields = form_on(vneid_page, "password")
        signed_in = await http.post(action, data={**fields, "username": citizen, "password": "Bench@2024"})
        callback = await self._timed("callback", "GET", signed_in.headers["location"], [("cookie", cookies)])
        location = callback.header("location")
        if callback.status not in (302, 303) or location is None:
            raise RuntimeError(f"the callback answered {callback.status}: {callback.body[:300]!r}")
        code = parse_qs(urlsplit(location).query)["code"][0]
        body = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.stack.redirect_uri,
            "code_verifier": verifier,
        }
        headers = [("authorization", self.basic), ("content-type", "application/x-www-form-urlencoded")]
        token = await self._timed("token", "POST", f"{self.base}/token", headers, urlencode(body).encode())
        if token.status != 200:
            raise RuntimeError(f"/token answered {token.status}: {token.body[:300]!r}")


async def lifespan(app: App) -> Callable[[], Awaitable[None]]:
    """The app started as uvicorn starts it; the function that shuts it down."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    task: asyncio.Task[None] = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put)
    )
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"the app did not start: {started}")

    async def shut_down() -> None:
        await inbox.put({"type": "lifespan.shutdown"})
        await task

    return shut_down


async def run(stack: BrokerStack, citizens: list[str], args: argparse.Namespace) -> dict[str, Any]:
    app: Any
    if args.floor:
        from login_floor import Floor

        issuer = f"http://127.0.0.1:{floor_port(args.port_base)}"
        app = Floor(pg_url(stack.database, "postgresql"), stack.vneid_url, issuer, stack.redirect_uri)
        base, client = issuer, FLOOR_CLIENT
    else:
        from broker.app import create_app
        from broker.settings import Settings

        # As `broker serve` makes it: the start-up heap frozen, young collections every 10,000 allocations.
        # Without that, this process collected as a test's does (700, its whole heap walked by every full
        # pass): a third of a millisecond per login, landing in whichever function allocated.
        app = create_app(Settings(), freeze_heap=True)
        login_client = stack.login_client  # registered as the peer's: no refresh token
        base, client = stack.broker_url, (login_client["client_id"], login_client["client_secret"])
    timers = Timers()
    for target in args.time:
        timers.wrap(target)
    counting = Counting() if args.instructions else None
    if counting is not None and not counting.active:
        raise SystemExit("--instructions: run under valgrind --tool=callgrind --collect-atstart=no")
    if counting is not None and args.count_in:
        count_in(counting, args.count_in)
    shut_down = await lifespan(app)
    if args.floor:  # collected as the broker is (create_app's freeze_heap), so that the steps compare code
        gc.freeze()
        gc.set_threshold(10_000, 10, 10)
    logins = Logins(app, stack, base, client, args)
    rounds: list[dict[str, Any]] = []
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            who = iter(citizens)
            for _ in range(args.warm_up):
                await logins.login(http, next(who))
            if counting is not None:
                logins.counting = counting
                counting.armed = True
            if args.bytecodes:
                logins.bytecodes = Bytecodes()
            for index in range(args.rounds):
                logins.cpu.clear()
                timers.spent.clear()
                logins.profile = cProfile.Profile() if args.profile else None
                for _ in range(args.logins):
                    await logins.login(http, citizens[0] if args.one_citizen else next(who))
                row = {step: round(logins.cpu[step] / args.logins, 3) for step in STEPS}
                row["login"] = round(sum(row.values()), 3)
                row["functions"] = {k: round(v / args.logins / 1e6, 3) for k, v in timers.spent.items()}
                print(json.dumps({"round": index + 1, **row}), flush=True)
                rounds.append(row)
    finally:
        await shut_down()
    if logins.profile is not None:
        path = (
            Path(tempfile.gettempdir()) / f"op_inprocess_{args.profile}{'_floor' if args.floor else ''}.prof"
        )
        logins.profile.dump_stats(path)
        pstats.Stats(str(path)).sort_stats("cumulative").print_stats(40)
        print(f"profile kept in {path}")
    medians = {step: statistics.median(row[step] for row in rounds) for step in (*STEPS, "login")}
    report: dict[str, Any] = {
        "target": "floor" if args.floor else "broker",
        "rounds": rounds,
        "median": medians,
    }
    if logins.bytecodes is not None:
        report["bytecodes"] = logins.bytecodes.report(args.logins * args.rounds, args.bytecodes)
        print(json.dumps(report["bytecodes"], indent=1))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--floor", action="store_true", help="bench/login_floor.py's app instead of the broker's"
    )
    parser.add_argument("--logins", type=int, default=300, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warm-up", type=int, default=100)
    parser.add_argument("--one-citizen", action="store_true", help="one citizen again and again")
    parser.add_argument("--time", action="append", default=[], metavar="MODULE:QUALNAME")
    parser.add_argument("--profile", choices=STEPS, default=None)
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="under valgrind --tool=callgrind --collect-atstart=no: count the rounds' app calls only",
    )
    parser.add_argument("--count-step", choices=STEPS, default=None, help="with --instructions: one step")
    parser.add_argument(
        "--count-in",
        default=None,
        metavar="MODULE:QUALNAME",
        help="with --instructions: inside this function's calls only (inclusive)",
    )
    parser.add_argument(
        "--bytecodes",
        type=int,
        default=0,
        metavar="TOP",
        help="the rounds' app calls' Python bytecodes per login, by package and the TOP functions",
    )
    parser.add_argument("--port-base", type=int, default=21000, help="mock VNeID on +100")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="op_inprocess_"))
    count = args.warm_up + args.logins * args.rounds + 1
    citizens = write_citizens(logs / "citizens.json", count)
    stack = BrokerStack(
        database=f"op_inprocess_{args.port_base}_{int(time.time())}",
        logs=logs,
        citizens_file=logs / "citizens.json",
        port=args.port_base,
        vneid_port=args.port_base + 100,
    )
    stack.up()
    assert stack.broker is not None
    stack.broker.stop()  # the app runs here instead
    stack.broker = None
    os.environ.update(stack.env())
    if args.instructions:
        os.environ.update(QUIET_TIMERS)
    try:
        uvloop.install()
        numbers = [str(citizen["identification_number"]) for citizen in citizens]
        report = asyncio.run(run(stack, numbers, args))
    finally:
        stack.down()
        drop_database(stack.database)
    print(json.dumps(report["median"]))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
