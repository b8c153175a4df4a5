"""The token endpoint alone, under wrk: code exchange and refresh with thousands of operations per phase.

    .venv/bin/python bench/op_token.py [--codes 3000] [--seconds 8] [--profile DIR [--profile-native]]

``op_bench.py`` measures the code exchange with 150 codes (the peer forgets older ones), driven by the
Python client, which saturates its own core before the broker's: too few operations, on a shared machine,
for an A/B of a change worth a tenth. Here the broker only (PostgreSQL, its core pinned as in op_bench):
a few citizens log in once, their SSO sessions then get ``--codes`` codes through ``/authorize`` alone,
and wrk (one thread, ``--concurrency`` connections, a Lua script) redeems each code once; then refresh
chains (each answer's refresh token is the next request's) run for ``--seconds``; userinfo and
introspection as in op_bench. Writes ``--out`` (JSON) and prints the table of op_bench.
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
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from op_bench import machine, profiler, round_trips, table
from op_load import LOAD_CPU, SERVER_CPU, BrokerOp, Code, Phase, core_busy_ms, s256, wrk
from op_servers import CLOCK_TICKS, BrokerStack, Server, _stat, drop_database, top_functions, write_citizens


def user_system_ms(server: Server) -> tuple[float, float]:
    """The server's own process (one worker): user and system CPU, in milliseconds."""
    fields = _stat(server.pid) or ["0"] * 13
    return int(fields[11]) * 1000 / CLOCK_TICKS, int(fields[12]) * 1000 / CLOCK_TICKS


# One Lua state per wrk thread (-t1): the queue of bodies is shared by its connections.
LUA = r"""
local queue, head, written = {}, 1, false
ok, bad = 0, 0  -- globals: done() reads them through thread:get
local path, auth, mode = os.getenv("WRK_PATH"), os.getenv("WRK_AUTH"), os.getenv("WRK_MODE")
for line in io.lines(os.getenv("WRK_BODIES")) do queue[#queue + 1] = line end
local total = #queue
local tail = total  -- not #queue: the border of a table with holes is undefined
local headers = {["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = auth}
local verified = false
function request()
  local body = queue[head]
  if not verified then  -- wrk calls request() once before it connects, to check it: nothing spent
    verified = true
    return wrk.format("POST", path, headers, body)
  end
  if body == nil then
    return wrk.format("GET", "/jwks")  -- the cheapest answer, until the last code's comes back
  end
  queue[head] = nil
  head = head + 1
  return wrk.format("POST", path, headers, body)
end
function response(status, _, body)
  if status == 200 then
    local token = body:match('"refresh_token":"([^"]+)"')
    if body:find('"access_token"', 1, true) then ok = ok + 1 end
    if mode == "refresh" and token then
      tail = tail + 1
      queue[tail] = "grant_type=refresh_token&refresh_token=" .. token
    end
  elseif status ~= 200 then
    bad = bad + 1
  end
  if mode == "code" and not written and ok + bad >= total then
    -- every code answered: the harness reads the server's CPU now and ends wrk
    written = true
    local marker = io.open(os.getenv("WRK_DONE"), "w")
    marker:write(string.format('{"ok":%d,"bad":%d}', ok, bad))
    marker:close()
  end
end
local threads = {}
function setup(thread) threads[#threads + 1] = thread end
function done(summary, latency, requests)
  local t = threads[1]
  io.write(string.format('WRKJSON {"ok":%d,"bad":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d}\n',
    t:get("ok"), t:get("bad"),
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


async def codes_by_sso(op: BrokerOp, citizens: list[str], count: int, concurrency: int) -> list[Code]:
    """Each worker logs one citizen in once, then asks its SSO session for codes (one request each)."""
    codes: list[Code] = []

    async def worker(who: str) -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            await op.authorize(http, who)  # the SSO session cookie stays in this client's jar
            while len(codes) < count:
                verifier = f"v{len(codes):06d}" + "x" * 50
                params = {
                    "response_type": "code",
                    "client_id": op.client_id,
                    "redirect_uri": op.redirect_uri,
                    "scope": "openid profile identification account",
                    "state": "s",
                    "nonce": "n",
                    "code_challenge": s256(verifier),
                    "code_challenge_method": "S256",
                }
                answer = await http.get(f"{op.url}/authorize", params=params)
                query = parse_qs(urlsplit(answer.headers["location"]).query)
                codes.append(Code(query["code"][0], verifier))

    await asyncio.gather(*(worker(who) for who in citizens[:concurrency]))
    return codes[:count]


def run_wrk(
    server: Server, operation: str, bodies: list[str], auth: str, mode: str, seconds: float, connections: int
) -> Phase:
    """``mode`` "code": every body once, then the phase ends (its CPU read as the last answer arrives);
    "refresh": each answer's refresh token is sent again, for ``seconds``."""
    directory = Path(tempfile.mkdtemp(prefix="op_token_"))
    script, listing, marker = directory / "token.lua", directory / "bodies.txt", directory / "done.json"
    script.write_text(LUA)
    listing.write_text("\n".join(bodies) + "\n")
    argv = ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s"]
    argv += ["--timeout", "10s", "-s", str(script), server.url + "/healthz"]
    env = {"WRK_PATH": "/token", "WRK_AUTH": auth, "WRK_MODE": mode, "WRK_BODIES": str(listing)}
    env |= {"WRK_DONE": str(marker), "PATH": "/usr/bin:/bin"}
    core_before, cpu_before, started = core_busy_ms(SERVER_CPU), server.cpu_ms(), time.monotonic()
    user_before, system_before = user_system_ms(server)
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
    if mode == "code":
        while not marker.exists() or not marker.read_text().endswith("}"):
            if process.poll() is not None:
                output, _ = process.communicate()
                raise RuntimeError(f"wrk ended before every code was answered:\n{output}")
            time.sleep(0.02)
        wall, cpu = time.monotonic() - started, server.cpu_ms() - cpu_before
        core = core_busy_ms(SERVER_CPU) - core_before
        user, system = user_system_ms(server)
        process.kill()
        process.wait()
        figures = json.loads(marker.read_text()) | {"p50_us": None, "p95_us": None, "p99_us": None}
    else:
        output, _ = process.communicate()
        wall, cpu = time.monotonic() - started, server.cpu_ms() - cpu_before
        core = core_busy_ms(SERVER_CPU) - core_before
        user, system = user_system_ms(server)
        figures = json.loads(output.split("WRKJSON ", 1)[1].splitlines()[0])
    phase = Phase(
        target=server.name,
        operation=operation,
        ops=figures["ok"],
        errors=figures["bad"],
        wall_s=wall,
        server_cpu_ms=cpu,
        p50_ms=figures["p50_us"] / 1000 if figures["p50_us"] else None,
        p95_ms=figures["p95_us"] / 1000 if figures["p95_us"] else None,
        p99_ms=figures["p99_us"] / 1000 if figures["p99_us"] else None,
        concurrency=connections,
        core_busy_ms=core,
    )
    if figures["bad"]:
        phase.notes.append(f"{figures['bad']} answers were not 200")
    if figures["ok"]:
        user_ms, system_ms = (user - user_before) / figures["ok"], (system - system_before) / figures["ok"]
        phase.notes.append(f"per operation: user {user_ms:.3f} ms, system {system_ms:.3f} ms")
    return phase


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--codes", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=8, help="refresh, userinfo, introspection")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--token-only", action="store_true", help="no userinfo and introspection phases")
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--profile-native", action="store_true")
    parser.add_argument("--profile-rate", type=int, default=250, help="py-spy's samples per second")
    parser.add_argument(
        "--profile-binaries", type=Path, default=None, help="perf (linux-perf) on the broker per phase"
    )
    parser.add_argument("--profile-top", type=int, default=40)
    parser.add_argument(
        "--port-base",
        type=int,
        default=18000,
        help="broker on this port, mock VNeID on +100 (an A/B runs two)",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "op_token.json")
    args = parser.parse_args()
    for folder in (args.profile, args.profile_binaries):
        if folder:
            folder.mkdir(parents=True, exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix="op_token_"))
    citizens_file = logs / "citizens.json"
    citizens = [str(c["identification_number"]) for c in write_citizens(citizens_file, 200)]
    database = f"perf_bench_token_{args.port_base}_{int(time.time())}"
    pool = {"BROKER_DATABASE_POOL_SIZE": str(max(20, args.concurrency))}
    stack = BrokerStack(
        database, logs, citizens_file, port=args.port_base, vneid_port=args.port_base + 100, extra_env=pool
    )
    results: list[Phase] = []
    load = [round(value, 2) for value in os.getloadavg()]
    try:
        stack.up()
        assert stack.broker is not None
        server = stack.broker
        op = BrokerOp(
            stack.broker_url,
            stack.client["client_id"],
            stack.client["client_secret"],
            stack.redirect_uri,
            "Bench@2024",
        )
        basic = httpx.BasicAuth(op.client_id, op.client_secret)._auth_header
        # Warm-up (not measured): every pooled connection prepares its statements once.
        warm = asyncio.run(codes_by_sso(op, citizens, args.concurrency * 4, args.concurrency))
        redeem = f"&redirect_uri={op.redirect_uri}"

        def bodies(codes: list[Code]) -> list[str]:
            return [
                urlencode({"grant_type": "authorization_code", "code": c.code, "code_verifier": c.verifier})
                + redeem
                for c in codes
            ]

        run_wrk(server, "warm-up", bodies(warm), basic, "code", 60, args.concurrency)
        codes = asyncio.run(codes_by_sso(op, citizens, args.codes, args.concurrency))
        trips: dict[str, float | None] = {}
        with profiler(server, args, "code_exchange"):
            results.append(
                run_wrk(server, "code_exchange", bodies(codes), basic, "code", 120, args.concurrency)
            )
        chains = asyncio.run(codes_by_sso(op, citizens, args.concurrency, args.concurrency))

        async def first_tokens() -> list[str]:
            async with httpx.AsyncClient(timeout=30) as http:
                return [(await op.redeem(http, code))[0].refresh_token or "" for code in chains]

        refresh_tokens = asyncio.run(first_tokens())
        starts = [f"grant_type=refresh_token&refresh_token={token}" for token in refresh_tokens]
        with profiler(server, args, "refresh"):
            results.append(
                run_wrk(server, "refresh", starts, basic, "refresh", args.seconds, args.concurrency)
            )
        code = asyncio.run(codes_by_sso(op, citizens, 2, 1))

        async def access_tokens() -> tuple[str, float, float]:
            async with httpx.AsyncClient(timeout=30) as http:
                first, trip = await op.redeem(http, code[0])
                _, again = await op.refresh(http, first.refresh_token or "")
                return first.access_token, trip, again

        access, trips["code_exchange"], trips["refresh"] = asyncio.run(access_tokens())
        trips["userinfo"] = asyncio.run(
            round_trips(f"{op.url}/userinfo", method="GET", headers={"Authorization": f"Bearer {access}"})
        )
        trips["introspection"] = asyncio.run(
            round_trips(
                f"{op.url}/introspect",
                method="POST",
                data={"token": access},
                auth=(op.client_id, op.client_secret),
            )
        )
        common = {"seconds": args.seconds, "connections": args.concurrency}
        if not args.token_only:
            with profiler(server, args, "userinfo"):
                results.append(
                    wrk(
                        server,
                        "userinfo",
                        "/userinfo",
                        auth=f"Bearer {access}",
                        round_trips=trips["userinfo"],
                        **common,
                    )
                )
            with profiler(server, args, "introspection"):
                results.append(
                    wrk(
                        server,
                        "introspection",
                        "/introspect",
                        auth=basic,
                        body=f"token={access}",
                        round_trips=trips["introspection"],
                        **common,
                    )
                )
        for phase in results:
            if phase.round_trips_per_op is None:
                phase.round_trips_per_op = trips.get(phase.operation)
    finally:
        stack.down()
        drop_database(database)
    rows = [phase.summary() for phase in results]
    print(table(rows, []))
    print(f"load average before the run: {load}; logs in {logs}")
    if args.profile:
        for path in sorted(args.profile.glob("broker_*.txt")):
            print(f"\nprofile {path.name}: function, % of samples on stack, % innermost")
            for function, inclusive, own in top_functions(path, args.profile_top):
                print(f"  {inclusive:5.1f} {own:5.1f}  {function}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine(), "load_average": load, "results": rows}, indent=2))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
