"""Issue 7: the broker's CPU per upstream call, in-process (the code exchange's POST and userinfo's GET
through ``broker.upstream.http.UpstreamHttp`` as ``broker.wiring`` builds it), against a loopback server in
another process on another core, under uvloop as ``broker serve`` runs; ``time.process_time`` over N calls.

    .venv/bin/python bench/upstream_call_cpu.py --port 19001 [--calls 3000] [--out FILE]

Run it in two worktrees at once (different ports) to compare two versions: it imports the tree it runs in.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import uvloop

SERVER = r"""
import json, sys, uvicorn
TOKEN = json.dumps({"access_token": "a" * 43, "token_type": "Bearer", "expires_in": 300,
                    "id_token": "e" * 1200, "scope": "openid"}).encode()
INFO = json.dumps({"sub": "x" * 20, "name": "Nguyen Van A", "birthdate": "1990-01-01"}).encode()
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    body = TOKEN if scope["method"] == "POST" else INFO
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def client() -> object:
    from broker.clock import system_clock
    from broker.metrics import Metrics
    from broker.upstream.breaker import CircuitBreaker
    from broker.upstream.http import UpstreamHttp

    metrics = Metrics()
    options: dict[str, object] = {
        "metrics": metrics,
        "breaker": CircuitBreaker(system_clock, 5, timedelta(seconds=30)),
        "connect_timeout": 3.0,
        "read_timeout": 10.0,
        "on_breaker_change": lambda: None,
    }
    if "transport" in inspect.signature(UpstreamHttp).parameters:  # httpx's client, as wired before issue 7
        from broker.observed_http import ObservedTransport, vneid_endpoint  # type: ignore[attr-defined]

        options["transport"] = ObservedTransport(None, metrics, "vneid", vneid_endpoint)
    return UpstreamHttp(**options)  # type: ignore[arg-type]


def authorization() -> object:
    from broker.upstream.http import UpstreamHttp

    if "authorization" in inspect.signature(UpstreamHttp.post_token).parameters:
        import aiohttp

        return aiohttp.encode_basic_auth("broker", "secret")
    import httpx

    return httpx.BasicAuth("broker", "secret")


async def measure(url: str, calls: int) -> dict[str, float]:
    http = client()
    auth = authorization()
    form = {"grant_type": "authorization_code", "code": "c" * 43, "code_verifier": "v" * 43}
    userinfo = {"Authorization": "Bearer " + "a" * 43}

    async def post() -> None:
        await http.post_token(f"{url}/token", form, auth)  # type: ignore[attr-defined]

    async def get() -> None:
        await http.get_json("userinfo", f"{url}/userinfo", headers=userinfo, retries=0)  # type: ignore[attr-defined]

    for _ in range(200):
        await post()
        await get()
    result = {}
    for name, call in (("post_us", post), ("get_us", get)):
        started = time.process_time()
        for _ in range(calls):
            await call()
        result[name] = round((time.process_time() - started) / calls * 1e6, 1)
    await http.aclose()  # type: ignore[attr-defined]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    server = subprocess.Popen(["taskset", "-c", "1", sys.executable, "-c", SERVER, str(args.port)])
    try:
        time.sleep(2)
        os.sched_setaffinity(0, {0})
        rounds = [
            uvloop.run(measure(f"http://127.0.0.1:{args.port}", args.calls)) for _ in range(args.rounds)
        ]
    finally:
        server.terminate()
        server.wait()
    results = {"rounds": rounds, "load_average": list(os.getloadavg())}
    print(json.dumps(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
